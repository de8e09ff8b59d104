"""Which alias set is live: the admin set, else the file (reloaded on change), else the env."""

from __future__ import annotations

import json
import os
from pathlib import Path

from spectrum.api.models.alias_sources import AliasSources

ENV = json.dumps({"from-env": {"targets": {"m": 1}}})


def write(path: Path, document: object, mtime: float) -> None:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    os.utime(path, (mtime, mtime))


def test_the_file_is_reread_when_it_changes_at_most_once_per_check(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    write(path, {"first": {"targets": {"m": 1}}}, mtime=1000)
    now = [0.0]
    sources = AliasSources(inline=ENV, path=str(path), check_s=1.0, clock=lambda: now[0])
    chosen = sources.select(None)
    assert (chosen.source, list(chosen.aliases)) == ("file", ["first"])

    write(path, {"second": {"targets": {"m": 1}}}, mtime=2000)
    now[0] = 0.5  # inside the check interval: not looked at
    assert list(sources.select(None).aliases) == ["first"]
    now[0] = 1.5
    assert list(sources.select(None).aliases) == ["second"]


def test_a_bad_file_keeps_the_previous_set(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    write(path, {"good": {"targets": {"m": 1}}}, mtime=1000)
    now = [0.0]
    sources = AliasSources(path=str(path), clock=lambda: now[0])
    assert list(sources.select(None).aliases) == ["good"]
    for bad, mtime in (("{broken", 2000), ({"good": {"targets": {"m": 0}}}, 3000)):
        write(path, bad, mtime=mtime)
        now[0] += 2
        assert list(sources.select(None).aliases) == ["good"]
    # An alias may not take a model's name: that file is refused too.
    write(path, {"m": {"targets": {"x": 1}}}, mtime=4000)
    now[0] += 2
    assert list(sources.select(None, models=["m"]).aliases) == ["good"]


def test_the_admin_set_wins_over_the_file_and_the_env(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    write(path, {"from-file": {"targets": {"m": 1}}}, mtime=1000)
    sources = AliasSources(inline=ENV, path=str(path), clock=lambda: 0.0)
    stored = json.dumps({"from-admin": {"targets": {"m": 1}}}).encode()
    chosen = sources.select(stored)
    assert (chosen.source, list(chosen.aliases)) == ("admin", ["from-admin"])
    assert sources.select(None).source == "file"


def test_without_a_file_the_env_set_is_live_and_a_bad_env_is_ignored(tmp_path: Path) -> None:
    assert list(AliasSources(inline=ENV).select(None).aliases) == ["from-env"]
    assert AliasSources(inline="{nope").select(None).source == "none"
    missing = AliasSources(inline=ENV, path=str(tmp_path / "not-there.json"))
    assert missing.select(None).source == "env"

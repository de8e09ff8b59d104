"""The default path runs where Linux-only calls are missing (macOS has no sched_getaffinity)."""

from __future__ import annotations

import os

import pytest

from spectrum.shared.config import Settings, usable_cores


def test_threads_follow_the_affinity_mask_where_there_is_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert usable_cores() == 4
    assert Settings(worker_processes=2).effective_threads == 2


def test_without_sched_getaffinity_every_core_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cores() == 6
    assert Settings(worker_processes=2).effective_threads == 3
    assert Settings(worker_processes=8).effective_threads == 1
    assert Settings(runtime_threads=5).effective_threads == 5


def test_an_unknown_core_count_still_gives_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores() == 1
    assert Settings().effective_threads == 1

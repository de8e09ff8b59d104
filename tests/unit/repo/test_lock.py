"""requirements/lock.txt pins every dependency the pyproject files ask for, and no CUDA."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scripts.lock import LOCK, SOURCES, cuda_pins, portable

ROOT = Path(__file__).resolve().parents[3]


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / LOCK).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = Version(version)
    return out


def requirements() -> list[Requirement]:
    """Every requirement of the server and the client, extras included."""
    found = []
    for source in SOURCES:
        project = tomllib.loads((ROOT / source).read_text(encoding="utf-8"))["project"]
        lists = [project.get("dependencies", [])]
        lists += project.get("optional-dependencies", {}).values()
        found += [Requirement(line) for group in lists for line in group]
    return found


def test_every_requirement_is_pinned_within_its_range() -> None:
    """Fails when a pyproject.toml changed without `make lock`."""
    locked = pins()
    stale = []
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = locked.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin, prereleases=True):
            stale.append(f"{requirement} (locked: {pin})")
    assert not stale, f"run `make lock`: {stale}"


def test_torch_is_the_cpu_release_and_nothing_of_cuda_is_pinned() -> None:
    text = (ROOT / LOCK).read_text(encoding="utf-8")
    assert cuda_pins(text) == []
    assert "torch==2.13.0\n" in text  # matches the CPU wheel here, PyPI's build elsewhere
    assert all(r.name != "torch" or str(r.specifier) == "==2.13.0" for r in requirements())


def test_the_lock_rules_catch_what_they_are_for() -> None:
    resolved = "sympy==1.14.0\ntorch==2.13.0+cpu\n    # via spectrum\nnvidia-cublas==13.1\n"
    assert portable(resolved) == resolved.replace("+cpu", "")
    assert cuda_pins(resolved) == ["nvidia-cublas"]
    assert cuda_pins("triton==3.5.0\ntorchvision==0.1\n") == ["triton"]

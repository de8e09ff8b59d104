"""`make help` (what `make` alone runs) lists every target with its line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


def phony_targets() -> list[str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    found = re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE)
    assert found, "the Makefile declares its targets .PHONY"
    return found.group(1).split()


def test_every_target_is_listed_with_its_description() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        [make, "--no-print-directory", "-f", str(MAKEFILE)],
        cwd=MAKEFILE.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    listed = dict(re.findall(r"^  make (\S+) +(\S.*)$", done.stdout, re.MULTILINE))
    assert sorted(listed) == sorted(phony_targets())
    assert listed["run"].startswith("install, start Redis")

"""What git tracks: project files at the root, no large files or per-run results; a short README."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Files allowed at the root (folders are always allowed).
ROOT_FILES = (
    "README.md",
    "Makefile",
    "pyproject.toml",
    "mkdocs.yml",
    "docker-compose.yml",
    "Dockerfile.*",
    ".gitignore",
    ".dockerignore",
)
MAX_BYTES = 2_000_000
# Larger files, each with its reason.
LARGE = {
    # The shipped model's weights and OpenVINO IR (~45 MB each): `make run` serves them
    # with no download (training/README.md).
    "models/sentiment-minilm/model.safetensors": "shipped weights",
    "models/sentiment-minilm/openvino_model.bin": "shipped OpenVINO weights",
    "models/sentiment-minilm-int8/openvino_model.bin": "int8 weights (make fast-model)",
}
README_MAX_LINES = 200


def tracked() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
    )
    return [p for p in done.stdout.decode().split("\0") if p]


def test_only_project_files_at_the_root() -> None:
    """Crash dumps, scratch files and stray outputs do not belong at the root."""
    at_root = [p for p in tracked() if "/" not in p]
    unexpected = [p for p in at_root if not any(fnmatch.fnmatch(p, g) for g in ROOT_FILES)]
    assert not unexpected, f"unexpected files at the repository root: {unexpected}"


def test_no_tracked_file_is_large() -> None:
    large = [
        f"{path} ({size:,} bytes)"
        for path in tracked()
        if path not in LARGE
        and (ROOT / path).is_file()
        and not (ROOT / path).is_symlink()
        and (size := (ROOT / path).stat().st_size) > MAX_BYTES
    ]
    assert not large, f"tracked files over {MAX_BYTES:,} bytes: {large}"


def test_per_run_results_are_not_tracked() -> None:
    """Runs write to loadtest/results/ (ignored); what the docs cite is under docs/results/."""
    results = [p for p in tracked() if p.startswith("loadtest/results/")]
    assert not results, f"per-run result files are tracked: {results[:10]}"
    scripts = [
        p for p in tracked() if p.startswith("docs/results/") and p.endswith((".sh", ".patch"))
    ]
    assert not scripts, f"scripts or patches among the results: {scripts}"


def test_the_readme_is_short() -> None:
    """The README is an overview; the documentation is docs/ (make docs)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"

"""tests/unit/ mirrors the source: a module's tests sit in the folder of the same path.

`tests/unit/api/predict/test_batcher.py` tests `api/predict/batcher.py`; the client's and
the dev harness's packages drop their distribution folder (`tests/unit/client/` is
`client/spectrum_client/`). `tests/unit/repo/` holds the checks of the repository as a
whole, which mirror no folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "tests" / "unit"
REPO_WIDE = "repo"
# The first folder under tests/unit/ and the source folder it stands for.
SOURCES = {
    "api": ROOT / "api",
    "shared": ROOT / "shared",
    "worker": ROOT / "worker",
    "training": ROOT / "training",
    "loadtest": ROOT / "loadtest",
    "scripts": ROOT / "scripts",
    "dev": ROOT / "dev" / "spectrum_dev",
    "client": ROOT / "client" / "spectrum_client",
}


def folders() -> list[Path]:
    return sorted(
        path
        for path in UNIT.rglob("*")
        if path.is_dir() and "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def source_of(folder: Path) -> Path | None:
    """The source folder that `folder` (under tests/unit/) mirrors, or None."""
    top, *rest = folder.relative_to(UNIT).parts
    return SOURCES[top].joinpath(*rest) if top in SOURCES else None


@pytest.mark.parametrize("folder", folders(), ids=lambda p: str(p.relative_to(UNIT)))
def test_every_folder_mirrors_a_source_folder(folder: Path) -> None:
    if folder.relative_to(UNIT).parts[0] == REPO_WIDE:
        assert folder == UNIT / REPO_WIDE, f"{folder.relative_to(ROOT)}: keep {REPO_WIDE}/ flat"
        return
    source = source_of(folder)
    assert source is not None, f"{folder.relative_to(ROOT)}: no source folder is called that"
    assert source.is_dir(), (
        f"{folder.relative_to(ROOT)} mirrors no source folder: move its tests beside the "
        f"module they test (tests/unit/<source folder>/test_<module>.py) or into "
        f"tests/unit/{REPO_WIDE}/"
    )


@pytest.mark.parametrize("folder", folders(), ids=lambda p: str(p.relative_to(UNIT)))
def test_every_folder_is_a_package(folder: Path) -> None:
    """Tests import as tests.unit.<path>: two test_routes.py in two folders never clash."""
    assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"


def test_no_test_sits_at_the_top() -> None:
    """tests/unit/'s top holds only helpers shared across folders (inprocess.py)."""
    assert sorted(p.name for p in UNIT.glob("test_*.py")) == []


def test_the_sources_exist() -> None:
    """A renamed source folder fails here first, not as an empty mirror."""
    assert [name for name, path in SOURCES.items() if not path.is_dir()] == []

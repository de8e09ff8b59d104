"""The version is written once (shared/__init__.py); the package and the API read it there."""

from __future__ import annotations

import tomllib
from pathlib import Path

from spectrum.api.app.factory import create_app
from spectrum.shared import __version__
from spectrum.shared.config import Settings

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_pyproject_takes_the_version_from_the_code() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "spectrum.shared.__version__"
    }


def test_the_api_reports_that_version() -> None:
    assert create_app(Settings(log_json=True)).version == __version__

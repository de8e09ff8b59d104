"""The docs' settings table must not drift from shared/config.py; the README's links must land."""

from __future__ import annotations

import re
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from scripts.docs_blocks import (
    PAGE,
    REGENERATE,
    headings,
    markers,
    render,
    replace_block,
    settings_table,
)

README = PAGE.parents[1] / "README.md"


def test_the_settings_page_is_what_its_sources_render() -> None:
    document = PAGE.read_text(encoding="utf-8")
    assert document == render(document), (
        f"{PAGE.name}'s settings table differs from shared/config.py: run {REGENERATE}"
    )


def test_every_relative_link_of_the_readme_lands_on_a_file_and_heading() -> None:
    """The site checks its own links (mkdocs build --strict); the README is not on it."""
    document = README.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", document):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        file = README.parent / path if path else README
        if not file.is_file():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            text = file.read_text(encoding="utf-8")
            if anchor not in {a for _level, _title, a in headings(text)}:
                broken.append(target)
    assert not broken, f"links to no file or heading: {broken}"


class Sample(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    lane: Literal["all", "interactive"] = "all"
    """Which | lanes
    to take."""
    wait_s: float = 2.0
    """Seconds."""
    name: str | None = None
    """A name."""
    on: bool = False
    """A switch."""


def test_a_row_per_field_with_the_declared_default() -> None:
    assert settings_table(Sample, prefix="X_").splitlines()[2:] == [
        "| `X_LANE` | `all` | Which \\| lanes to take. One of `all`, `interactive`. |",
        "| `X_WAIT_S` | `2` | Seconds. |",
        "| `X_NAME` | unset | A name. |",
        "| `X_ON` | `false` | A switch. |",
    ]


def test_a_field_without_a_docstring_is_refused() -> None:
    class Undocumented(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        size: int = 1

    with pytest.raises(ValueError, match="size: no docstring"):
        settings_table(Undocumented)


def test_a_computed_default_needs_words_not_this_machines_value() -> None:
    class Computed(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        cores: int = Field(default_factory=lambda: 7)
        """Cores."""

    class Shown(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        cores: int = Field(default_factory=lambda: 7, json_schema_extra={"shown_default": "all"})
        """Cores."""

    with pytest.raises(ValueError, match="cores: a computed default"):
        settings_table(Computed)
    assert "| `SPECTRUM_CORES` | all | Cores. |" in settings_table(Shown)


def test_only_the_marked_block_is_replaced() -> None:
    start, end = markers("settings")
    document = f"intro\n{start}\nold table\n{end}\noutro\n"
    assert replace_block(document, "settings", "new\n") == f"intro\n{start}\nnew\n{end}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", "settings", "new\n")

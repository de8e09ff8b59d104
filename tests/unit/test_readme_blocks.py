"""The README's generated blocks (contents, settings table) must not drift from their sources."""

from __future__ import annotations

import re
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from scripts.readme_blocks import (
    README,
    REGENERATE,
    contents,
    headings,
    markers,
    render,
    replace_block,
    settings_table,
)


def test_the_readme_is_what_its_sources_render() -> None:
    document = README.read_text(encoding="utf-8")
    assert document == render(document), (
        f"README.md's contents or settings table differ from their sources: run {REGENERATE}"
    )


def test_every_link_inside_the_readme_leads_to_a_heading() -> None:
    document = README.read_text(encoding="utf-8")
    anchors = {anchor for _level, _title, anchor in headings(document)}
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", document)) - anchors)
    assert not broken, f"links to no heading: {broken}"


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


def test_contents_list_sections_with_their_subsections_and_skip_code() -> None:
    document = (
        "# Title\n## First — one\n### `GET /a` — read\n### Second part\n"
        "```sh\n## not a heading\n```\n## First — one\n"
    )
    assert contents(document) == (
        "- [First — one](#first--one) — [`GET /a`](#get-a--read) · [Second part](#second-part)\n"
        "- [First — one](#first--one-1)\n"
    )


def test_only_the_marked_block_is_replaced() -> None:
    start, end = markers("settings")
    document = f"intro\n{start}\nold table\n{end}\noutro\n"
    assert replace_block(document, "settings", "new\n") == f"intro\n{start}\nnew\n{end}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", "settings", "new\n")

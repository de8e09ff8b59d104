"""The README's settings table is rendered from shared/config.py and must not drift."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from scripts.settings_doc import END, README, REGENERATE, START, render, replace_block


def test_the_readme_table_is_what_the_settings_render() -> None:
    document = README.read_text(encoding="utf-8")
    assert document == replace_block(document, render()), (
        f"README.md's settings table differs from shared/config.py: run {REGENERATE}"
    )


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
    assert render(Sample, prefix="X_").splitlines()[2:] == [
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
        render(Undocumented)


def test_a_computed_default_needs_words_not_this_machines_value() -> None:
    class Computed(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        cores: int = Field(default_factory=lambda: 7)
        """Cores."""
        shown: int = Field(default_factory=lambda: 7, json_schema_extra={"shown_default": "all"})
        """Cores, shown."""

    with pytest.raises(ValueError, match="cores: a computed default"):
        render(Computed)
    Computed.model_fields.pop("cores")
    assert "| `SPECTRUM_SHOWN` | all | Cores, shown. |" in render(Computed)


def test_only_the_marked_block_is_replaced() -> None:
    document = f"intro\n{START}\nold table\n{END}\noutro\n"
    assert replace_block(document, "new\n") == f"intro\n{START}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", "new\n")

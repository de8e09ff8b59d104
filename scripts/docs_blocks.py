"""The docs' generated block: the settings table of docs/configuration.md (`make docs`).

`python -m scripts.docs_blocks` rewrites the text between the block's markers in the
page; `--check` only says whether it is current (exit 1 when not), and so does a unit
test. The settings table is rendered from the `Settings` class, never from an
instance, so that neither this machine's environment nor a `.env` file leaks into it:
a default is the declared value, and a default computed at run time (a
default_factory) must carry the words to show instead. `headings` gives a Markdown
file's anchors as GitHub and the docs site (pymdownx's slugify) both make them, for
the test of the README's links into the docs.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from spectrum.shared.config import Settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
# Set on a field whose default is computed (json_schema_extra={SHOWN_DEFAULT: "..."}).
SHOWN_DEFAULT = "shown_default"
REGENERATE = "make docs (or .venv/bin/python -m scripts.docs_blocks)"


def markers(block: str) -> tuple[str, str]:
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


def shown_default(field: FieldInfo) -> str:
    """The default as a reader should type it in the environment, or `unset`."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and SHOWN_DEFAULT in extra:
        return str(extra[SHOWN_DEFAULT])
    if field.default_factory is not None:
        raise ValueError("a computed default needs json_schema_extra shown_default")
    value: Any = field.default
    if value is None or value == "":
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def choices(field: FieldInfo) -> list[str]:
    """The values a Literal field accepts, in declaration order (none for other types)."""
    if get_origin(field.annotation) is Literal:
        return [str(choice) for choice in get_args(field.annotation)]
    return []


def cell(text: str) -> str:
    """One table cell: the docstring's lines joined, pipes escaped."""
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def settings_table(model: type[BaseModel] = Settings, prefix: str = "SPECTRUM_") -> str:
    """The markdown table of every field of `model`, in declaration order.

    Raises ValueError naming the field when one has no description or a computed
    default without the words to show.
    """
    rows = ["| variable | default | what |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        if not field.description:
            raise ValueError(f"{name}: no docstring under the field")
        try:
            default = shown_default(field)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        what = field.description
        if options := choices(field):
            what += " One of " + ", ".join(f"`{option}`" for option in options) + "."
        rows.append(f"| {variables(field, prefix + name.upper())} | {default} | {cell(what)} |")
    return "\n".join(rows) + "\n"


def variables(field: FieldInfo, default: str) -> str:
    """The environment variables a field reads: its own names where it has aliases
    (the standard OTEL_* ones), else SPECTRUM_<NAME>."""
    alias = field.validation_alias
    names = [alias] if isinstance(alias, str) else getattr(alias, "choices", None) or [default]
    return ", ".join(f"`{name}`" for name in names)


def headings(document: str) -> list[tuple[int, str, str]]:
    """(level, title, anchor) of every heading outside code fences, as GitHub anchors them."""
    found, seen, fenced = [], dict[str, int](), False
    for line in document.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        heading = re.match(r"(#{1,6}) (.+)", line)
        if fenced or not heading:
            continue
        title = heading.group(2).strip()
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.append((len(heading.group(1)), title, f"{slug}-{count}" if count else slug))
    return found


BLOCKS: dict[str, Callable[[str], str]] = {
    "settings": lambda _document: settings_table(),
}


def replace_block(document: str, block: str, text: str) -> str:
    """`document` with the text between the block's markers replaced by `text`."""
    start_marker, end_marker = markers(block)
    start, end = document.find(start_marker), document.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"the page lacks the markers {start_marker} ... {end_marker}")
    return document[: start + len(start_marker)] + "\n" + text + document[end:]


def render(document: str) -> str:
    """`document` with every generated block as the current sources render it."""
    for block, make in BLOCKS.items():
        document = replace_block(document, block, make(document))
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    current = PAGE.read_text(encoding="utf-8")
    wanted = render(current)
    if current == wanted:
        return 0
    if args.check:
        sys.stderr.write(f"{PAGE.name}'s settings table is stale: run {REGENERATE}\n")
        return 1
    PAGE.write_text(wanted, encoding="utf-8")
    sys.stderr.write(f"{PAGE.name}: settings table rewritten\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The README's settings table, rendered from `shared/config.py` (`make docs`).

`python -m scripts.settings_doc` rewrites the block between the markers in README.md;
`--check` only says whether it is current (exit 1 when not). The table is rendered
from the class, never from an instance, so that neither this machine's environment
nor a `.env` file leaks into it: a default is the declared value, and a default
computed at run time (a default_factory) must carry the words to show instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from shared.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
# Set on a field whose default is computed (json_schema_extra={SHOWN_DEFAULT: "..."}).
SHOWN_DEFAULT = "shown_default"
REGENERATE = "make docs (or .venv/bin/python -m scripts.settings_doc)"


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
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return [str(choice) for choice in get_args(annotation)]
    return []


def cell(text: str) -> str:
    """One table cell: the docstring's lines joined, pipes escaped."""
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def render(model: type[BaseModel] = Settings, prefix: str = "SPECTRUM_") -> str:
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
        rows.append(f"| `{prefix}{name.upper()}` | {default} | {cell(what)} |")
    return "\n".join(rows) + "\n"


def replace_block(document: str, table: str) -> str:
    """`document` with the text between the markers replaced by `table`."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the markers {START} ... {END}")
    return document[: start + len(START)] + "\n" + table + document[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = replace_block(current, render())
    if current == wanted:
        return 0
    if args.check:
        sys.stderr.write(f"README.md's settings table is stale: run {REGENERATE}\n")
        return 1
    README.write_text(wanted, encoding="utf-8")
    sys.stderr.write("README.md: settings table rewritten from shared/config.py\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

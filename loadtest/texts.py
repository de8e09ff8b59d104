"""wrk's request bodies: one `POST /v1/predict` JSON body a line (texts: training/text_mix.py)."""

from __future__ import annotations

import json
from pathlib import Path


def write_bodies(texts: list[str], path: Path) -> Path:
    """One `POST /v1/predict` JSON body per line, for the wrk script."""
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    return path

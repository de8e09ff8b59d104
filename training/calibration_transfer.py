"""Does a calibration map carry from one source of text to another? Validation only.

`python -m training.calibration_transfer [--model DIR] [--out FILE]` runs the served
runtime once over the validation split (training/splits.py) at T = 1, then:

- **held out**: for each validation source, each kind of map is fitted on the other
  sources and its ECE measured on that one, as a source the map never saw;
- **in sample**: each kind fitted on all of validation, its ECE on each source beside
  the ECE a perfectly calibrated model shows there by chance (`ece_sampling_floor`).

The kinds: none; temperature alone; the served map (T and exponent of least NLL,
`fit_calibration`); and isotonic regression of "right" on the logit margin, the most
flexible map that keeps the order of confidence. Every fit weighs the sources the same,
as the served fit does. The test sets are not read, so the figures can choose a map.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spectrum.worker.runtimes.model_dir import Calibration
from training.calibration import (
    apply_calibration,
    ece_sampling_floor,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    log_probabilities,
    source_weights,
)
from training.data import DEFAULT_CACHE
from training.evaluate import DEFAULT_MODEL, serving_runtime
from training.splits import load_splits

Mapper = Callable[[np.ndarray], np.ndarray]
SERVED = "served (T, exponent)"
Fitter = Callable[[np.ndarray, np.ndarray, np.ndarray], Mapper]


def margins(probabilities: np.ndarray) -> np.ndarray:
    """Top log-probability less the second: the logit margin of a two-label model."""
    logs = np.sort(log_probabilities(probabilities), axis=1)
    return np.asarray(logs[:, -1] - logs[:, -2])


def isotonic(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares non-decreasing fit of y on x (pool adjacent violators): the sorted x
    and the fitted value at each."""
    order = np.argsort(x, kind="stable")
    values: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y[order], weights[order], strict=True):
        values.append(float(value))
        totals.append(float(weight))
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            weight = totals[-2] + totals[-1]
            values[-2] = (values[-2] * totals[-2] + values[-1] * totals[-1]) / weight
            totals[-2], sizes[-2] = weight, sizes[-2] + sizes[-1]
            del values[-1], totals[-1], sizes[-1]
    return x[order], np.repeat(values, sizes)


def isotonic_map(probabilities: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Mapper:
    """P(right) as a non-decreasing function of the margin, between 1/2 and 1 (two labels)."""
    right = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    knots, fitted = isotonic(margins(probabilities), right, weights)

    def apply(rows: np.ndarray) -> np.ndarray:
        confidence = np.clip(np.interp(margins(rows), knots, fitted), 0.5, 1.0)
        top = rows.argmax(axis=1)
        out = np.empty_like(rows, dtype=np.float64)
        out[np.arange(len(rows)), top] = confidence
        out[np.arange(len(rows)), 1 - top] = 1.0 - confidence
        return out

    return apply


def _two_numbers(calibration: Calibration) -> Mapper:
    return lambda rows: apply_calibration(rows, calibration)


FITTERS: dict[str, Fitter] = {
    "none": lambda _p, _y, _w: lambda rows: rows,
    "temperature": lambda p, y, w: _two_numbers(
        Calibration(fit_temperature(log_probabilities(p), y, weights=w, tolerance=1e-4), 1.0)
    ),
    SERVED: lambda p, y, w: _two_numbers(fit_calibration(log_probabilities(p), y, w)),
    "isotonic": isotonic_map,
}


@dataclass
class Transfer:
    """ECE per map kind and validation source; the sources' sizes and chance floors."""

    held_out: dict[str, dict[str, float]]
    in_sample: dict[str, dict[str, float]]
    texts: dict[str, int]
    floor: dict[str, float]


def transfer(probabilities: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> Transfer:
    """Every kind of map, fitted without each source and scored on it, then fitted on all."""
    names = sorted(set(sources.tolist()))
    held_out: dict[str, dict[str, float]] = {}
    in_sample: dict[str, dict[str, float]] = {}
    mapped_by: dict[str, np.ndarray] = {}
    for kind, fit in FITTERS.items():
        held_out[kind] = {}
        for source in names:
            rest = sources != source
            mapper = fit(probabilities[rest], labels[rest], source_weights(sources[rest].tolist()))
            held_out[kind][source] = expected_calibration_error(
                mapper(probabilities[~rest]), labels[~rest]
            )
        mapped = fit(probabilities, labels, source_weights(sources.tolist()))(probabilities)
        mapped_by[kind] = mapped
        in_sample[kind] = {
            source: expected_calibration_error(mapped[sources == source], labels[sources == source])
            for source in names
        }
    served = mapped_by[SERVED]
    return Transfer(
        held_out,
        in_sample,
        texts={source: int((sources == source).sum()) for source in names},
        floor={source: ece_sampling_floor(served[sources == source]) for source in names},
    )


def table(result: Transfer) -> str:
    names = list(result.texts)
    head = "| map | " + " | ".join(names) + " | mean |"
    lines = []
    for title, part in (("held out", result.held_out), ("in sample", result.in_sample)):
        rule = "|---|" + "---:|" * (len(names) + 1)
        lines += ["", f"{title}: ECE per validation source", head, rule]
        for kind, row in part.items():
            values = [row[n] for n in names]
            cells = " | ".join(f"{v:.3f}" for v in values)
            lines.append(f"| {kind} | {cells} | {float(np.mean(values)):.3f} |")
    lines.append("| texts | " + " | ".join(str(result.texts[n]) for n in names) + " | |")
    floor = " | ".join(f"{result.floor[n]:.3f}" for n in names)
    lines.append(f"| chance floor (served map) | {floor} | |")
    return "\n".join(lines)


def raw_validation(model_dir: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The served runtime's probabilities at T = 1 on the validation split, with labels and
    sources."""
    validation = load_splits(cache).validation
    _, served, _ = serving_runtime(model_dir)
    served.temperature, served.exponent = 1.0, 1.0
    probabilities = np.asarray(served.predict([e.text for e in validation]), dtype=np.float64)
    return (
        probabilities,
        np.array([e.label for e in validation]),
        np.array([e.source for e in validation]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    result = transfer(*raw_validation(args.model, args.cache))
    print(f"{args.model}: calibration maps fitted on validation, every source weighing the same")
    print(table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"model": str(args.model), **asdict(result)}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

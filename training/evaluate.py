"""`make eval`: accuracy and calibration of the committed model per test set, beside VADER.

The model is run through the worker's own runtime (`worker.runtimes`) with the
precision the worker would pick on this machine, so these are the answers the
service gives. The test sets are the held-out splits (training/splits.py) and
the two rounds of hand-written hard cases (training/sets/HARD.md), which no
training, validation or model choice ever reads.

Calibration: the runtime serves the softmax of the logits under the temperature T
and exponent of the model's `calibration.json` (worker/runtimes/model_dir.py
Calibration). Each set is run once uncalibrated, and the served probabilities are
derived from those (`apply_calibration`, the runtime's own softmax; checked against
the runtime itself on a sample). With `--fit`, both are fitted on the validation
split first, every source of it weighing the same, and written to
`calibration.json` (a new calibration is a new model version). With `--card`, the
figures go into the model card and the reliability diagrams next to it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import load_runtime
from spectrum.worker.runtimes.batching import BatchedRuntime
from spectrum.worker.runtimes.lexicon import LexiconRuntime
from spectrum.worker.runtimes.model_dir import Calibration, calibration_of
from training.calibration import (
    BINS,
    Bin,
    apply_calibration,
    calibrated_nll,
    ece_sampling_floor,
    expected_calibration_error,
    fit_calibration,
    log_probabilities,
    reliability_bins,
    source_weights,
    wilson_interval,
    write_calibration,
)
from training.card import write_card_markdown
from training.data import DEFAULT_CACHE, HARD_SET, LABELS, Example, read_hard2_set, read_hard_set
from training.reliability import plot_reliability
from training.splits import Splits, check_no_leakage, load_splits

DEFAULT_MODEL = Path("models/sentiment-minilm")
REQUIRED = {"rt": 0.84, "tweets": 0.93, "amazon": 0.90, "nyt": 0.86}
HARD = "hard"
HARD2 = "hard2"
VALIDATION = "validation"
# The target for the served runtime on every test set.
ECE_TARGET = 0.03
# How many served answers are compared with the calibrated T = 1 answers.
SERVED_CHECK = 32
FIGURES = "reliability"


def evaluation_sets(splits: Splits, hard_file: Path = HARD_SET) -> dict[str, list[Example]]:
    """The held-out splits and both rounds of hard cases; LeakageError if any text is in
    train or validation."""
    sets = {**splits.test, HARD: read_hard_set(hard_file), HARD2: read_hard2_set()}
    check_no_leakage(Splits(train=splits.train, validation=splits.validation, test=sets))
    return sets


def accuracy(predicted: list[int], examples: list[Example]) -> float:
    hits = sum(int(p == e.label) for p, e in zip(predicted, examples, strict=True))
    return hits / len(examples) if examples else float("nan")


def argmax_labels(rows: list[list[float]] | np.ndarray) -> list[int]:
    return [int(np.argmax(row)) for row in rows]


@dataclass
class Served:
    """What the serving runtime answered: probabilities at T = 1 per set, and its T."""

    runtime: str
    calibration: Calibration
    raw: dict[str, np.ndarray]
    fp32_labels: dict[str, list[int]]


def serving_runtime(model_dir: Path, threads: int = 2) -> tuple[Settings, BatchedRuntime, str]:
    """The runtime a worker would load for `model_dir` here, its settings and its name;
    TypeError if it is not a model runtime with logits (a lexicon, say)."""
    settings = Settings(
        model_id=str(model_dir), model_name=model_dir.name, runtime_threads=threads, max_tokens=64
    )
    served, card = load_runtime(settings)
    if not isinstance(served, BatchedRuntime):
        raise TypeError(f"{card.runtime} is not a model runtime with logits")
    return settings, served, card.runtime


def serving_predictions(
    model_dir: Path,
    sets: dict[str, list[Example]],
    *,
    threads: int = 2,
    validation: list[Example] | None = None,
    fit: bool = False,
) -> Served:
    """Run every set once through the runtime the worker picks here (at T = 1), and
    through PyTorch fp32 for the label agreement; with `fit`, fit T on `validation`
    and write it to the model directory before checking the runtime serves it."""
    from spectrum.worker.runtimes.hf import load_torch  # torch: only when a model runs

    settings, served, runtime_name = serving_runtime(model_dir, threads)
    calibration = Calibration(served.temperature, served.exponent)
    served.temperature, served.exponent = 1.0, 1.0  # as trained: calibrated below
    texts = {name: [e.text for e in items] for name, items in sets.items()}
    if validation is not None:
        texts[VALIDATION] = [e.text for e in validation]
    raw = {name: np.asarray(served.predict(t), dtype=np.float64) for name, t in texts.items()}
    if fit:
        if validation is None:
            raise ValueError("fitting a calibration needs the validation split")
        labels = np.array([e.label for e in validation])
        weights = source_weights([e.source for e in validation])
        calibration = fit_calibration(log_probabilities(raw[VALIDATION]), labels, weights)
        facts = {
            "method": "logits * margin ** (exponent - 1) / T before the softmax (margin: top "
            "logit less the second); T and exponent of least NLL, every source weighing the same",
            "fitted_on": f"validation split of training/splits.py ({len(validation)} texts)",
            "runtime": runtime_name,
        }
        write_calibration(model_dir, calibration, facts)
        calibration = calibration_of(model_dir)  # as stored (rounded), as workers read it
    # A worker loading the directory now serves what this evaluation scores.
    fresh, _ = load_runtime(settings)
    first = next(iter(texts))
    got = np.asarray(fresh.predict(texts[first][:SERVED_CHECK]), dtype=np.float64)
    want = apply_calibration(raw[first][: len(got)], calibration)
    if not np.allclose(got, want, atol=1e-3):
        raise RuntimeError(f"{runtime_name} does not serve the calibration {calibration}")
    reference, _ = load_torch(
        str(model_dir), model_dir.name, precision="fp32", threads=threads, max_tokens=64
    )
    fp32 = {name: argmax_labels(reference.predict(texts[name])) for name in sets}
    return Served(runtime_name, calibration, raw, fp32)


def lexicon_predictions(sets: dict[str, list[Example]]) -> dict[str, list[int]]:
    lexicon = LexiconRuntime()
    return {name: argmax_labels(lexicon.predict([e.text for e in i])) for name, i in sets.items()}


@dataclass
class SetScores:
    texts: int
    accuracy: float
    interval: tuple[float, float]
    lexicon: float
    lexicon_interval: tuple[float, float]
    agreement: float  # served labels equal to torch fp32's
    ece_before: float
    ece_after: float
    ece_floor: float  # median ECE of a perfectly calibrated model on as many texts
    nll_before: float
    nll_after: float
    bins_before: list[Bin] = field(default_factory=list)
    bins_after: list[Bin] = field(default_factory=list)


@dataclass
class Report:
    model: str
    runtime: str
    calibration: Calibration
    sets: dict[str, SetScores]
    validation: dict[str, float]  # ECE and NLL before/after on the split T was fitted on
    validation_bins: dict[str, list[Bin]] = field(default_factory=dict)  # before, after
    groups: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    def accuracies(self) -> dict[str, float]:
        return {name: s.accuracy for name, s in self.sets.items()}


def evaluate(
    model_dir: Path,
    splits: Splits,
    *,
    fit: bool = False,
    figures: Path | None = None,
    threads: int = 2,
) -> Report:
    """Accuracy, interval, ECE before/after per test set; figures written to `figures`."""
    sets = evaluation_sets(splits)
    served = serving_predictions(
        model_dir, sets, threads=threads, validation=splits.validation, fit=fit
    )
    lexicon = lexicon_predictions(sets)
    scores: dict[str, SetScores] = {}
    report = Report(model_dir.name, served.runtime, served.calibration, scores, {})
    calibrated = served.calibration
    uncalibrated = Calibration()
    for name, items in sets.items():
        labels = np.array([e.label for e in items])
        before = served.raw[name]
        after = apply_calibration(before, calibrated)
        predicted = argmax_labels(after)
        hits = sum(int(p == e.label) for p, e in zip(predicted, items, strict=True))
        lexicon_hits = sum(int(p == e.label) for p, e in zip(lexicon[name], items, strict=True))
        scores[name] = SetScores(
            texts=len(items),
            accuracy=hits / len(items),
            interval=wilson_interval(hits, len(items)),
            lexicon=lexicon_hits / len(items),
            lexicon_interval=wilson_interval(lexicon_hits, len(items)),
            agreement=sum(
                int(a == b) for a, b in zip(predicted, served.fp32_labels[name], strict=True)
            )
            / len(items),
            ece_before=expected_calibration_error(before, labels),
            ece_after=expected_calibration_error(after, labels),
            ece_floor=ece_sampling_floor(after),
            nll_before=calibrated_nll(log_probabilities(before), labels, uncalibrated),
            nll_after=calibrated_nll(log_probabilities(before), labels, calibrated),
            bins_before=reliability_bins(before, labels),
            bins_after=reliability_bins(after, labels),
        )
        if figures is not None:
            title = (
                f"{model_dir.name} on {name} ({len(items)} texts, {served.runtime})\n"
                f"ECE {scores[name].ece_before:.3f} as trained, "
                f"{scores[name].ece_after:.3f} calibrated"
            )
            path = plot_reliability(
                scores[name].bins_before,
                scores[name].bins_after,
                title=title,
                labels=("as trained", f"calibrated ({describe(calibrated)})"),
                path=figures / f"{name}.png",
            )
            report.figures[name] = str(path)
    validation_labels = np.array([e.label for e in splits.validation])
    before = served.raw[VALIDATION]
    after = apply_calibration(before, calibrated)
    report.validation = {
        "texts": float(len(validation_labels)),
        "ece_before": expected_calibration_error(before, validation_labels),
        "ece_after": expected_calibration_error(after, validation_labels),
        "ece_floor": ece_sampling_floor(after),
        "nll_before": calibrated_nll(log_probabilities(before), validation_labels, uncalibrated),
        "nll_after": calibrated_nll(log_probabilities(before), validation_labels, calibrated),
    }
    report.validation_bins = {
        "before": reliability_bins(before, validation_labels),
        "after": reliability_bins(after, validation_labels),
    }
    hard, hard_after = sets[HARD], apply_calibration(served.raw[HARD], calibrated)
    report.groups = hard_groups(hard, argmax_labels(hard_after), lexicon[HARD])
    report.mistakes = [
        {
            "text": e.text,
            "label": LABELS[e.label],
            "group": e.group,
            "answer": LABELS[int(np.argmax(row))],
            "p": round(float(row.max()), 3),
        }
        for e, row in zip(hard, hard_after, strict=True)
        if int(np.argmax(row)) != e.label
    ]
    report.mistakes.sort(key=lambda m: -float(m["p"]))
    return report


def describe(calibration: Calibration) -> str:
    if calibration.exponent == 1.0:
        return f"T = {calibration.temperature:.3f}"
    return f"T = {calibration.temperature:.3f}, exponent {calibration.exponent:.2f}"


def hard_groups(
    hard: list[Example], model: list[int], lexicon: list[int]
) -> dict[str, dict[str, tuple[int, int, int]]]:
    """(texts, model right, lexicon right) per phenomenon and per domain of the hard set."""
    found: dict[str, dict[str, tuple[int, int, int]]] = {"phenomenon": {}, "domain": {}}
    for example, ours, theirs in zip(hard, model, lexicon, strict=True):
        domain, phenomenon = example.group.split("/", 1)
        for kind, key in (("phenomenon", phenomenon), ("domain", domain)):
            n, right, lex = found[kind].get(key, (0, 0, 0))
            found[kind][key] = (
                n + 1,
                right + int(ours == example.label),
                lex + int(theirs == example.label),
            )
    return found


def _with_interval(value: float, interval: tuple[float, float]) -> str:
    return f"{value:.3f} ({interval[0]:.3f}-{interval[1]:.3f})"


def accuracy_table(report: Report) -> str:
    runtime = report.runtime
    lines = [
        f"| test set | texts | model ({runtime}), 95% CI | VADER lexicon, 95% CI | required "
        f"| {runtime} labels = torch fp32 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in report.sets.items():
        need = f"{REQUIRED[name]:.2f}" if name in REQUIRED else "-"
        lines.append(
            f"| {name} | {s.texts} | {_with_interval(s.accuracy, s.interval)} "
            f"| {_with_interval(s.lexicon, s.lexicon_interval)} | {need} | {s.agreement:.2%} |"
        )
    return "\n".join(lines)


def calibration_table(report: Report) -> str:
    t = describe(report.calibration)
    lines = [
        f"| set | texts | ECE as trained | ECE calibrated ({t}) "
        f"| ECE of a calibrated model by chance | NLL as trained | NLL calibrated |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    v = report.validation
    lines.append(
        f"| validation (fitted here) | {int(v['texts'])} | {v['ece_before']:.3f} "
        f"| {v['ece_after']:.3f} | {v['ece_floor']:.3f} | {v['nll_before']:.3f} "
        f"| {v['nll_after']:.3f} |"
    )
    for name, s in report.sets.items():
        mark = f" (> {ECE_TARGET})" if s.ece_after > ECE_TARGET else ""
        lines.append(
            f"| {name} | {s.texts} | {s.ece_before:.3f} | {s.ece_after:.3f}{mark} "
            f"| {s.ece_floor:.3f} | {s.nll_before:.3f} | {s.nll_after:.3f} |"
        )
    return "\n".join(lines)


def hard_table(report: Report) -> str:
    lines = [
        "| hard set by | group | texts | model | VADER lexicon |",
        "|---|---|---:|---:|---:|",
    ]
    for kind, groups in report.groups.items():
        for key, (n, right, lex) in groups.items():
            lines.append(f"| {kind} | {key} | {n} | {right / n:.3f} | {lex / n:.3f} |")
    return "\n".join(lines)


def mistakes_table(report: Report, limit: int = 12) -> str:
    lines = [
        "| text | domain / phenomenon | truth | model says (calibrated p) |",
        "|---|---|---|---|",
    ]
    for m in report.mistakes[:limit]:
        text = str(m["text"]).replace("|", "\\|")
        lines.append(f"| {text} | {m['group']} | {m['label']} | {m['answer']} ({m['p']:.2f}) |")
    return "\n".join(lines)


def card_fields(report: Report) -> dict[str, Any]:
    """What the model card records of an evaluation (training/build.py writes it too)."""
    sets = report.sets
    return {
        "served_runtime": report.runtime,
        "served_agreement_with_fp32": {name: s.agreement for name, s in sets.items()},
        "test_accuracy": report.accuracies(),
        "test_accuracy_interval95": {name: list(s.interval) for name, s in sets.items()},
        "lexicon_accuracy": {name: s.lexicon for name, s in sets.items()},
        "accuracy_table": accuracy_table(report),
        "calibration": {
            "temperature": report.calibration.temperature,
            "exponent": report.calibration.exponent,
            "bins": BINS,
            "ece_before": {name: s.ece_before for name, s in sets.items()},
            "ece_after": {name: s.ece_after for name, s in sets.items()},
            "ece_sampling_floor": {name: s.ece_floor for name, s in sets.items()},
            "validation": report.validation,
            "table": calibration_table(report),
            "figures": {name: Path(path).name for name, path in report.figures.items()},
            # Per set and non-empty bin: [low, high, texts, mean probability, share right].
            "reliability": {
                VALIDATION: {k: _bins(v) for k, v in report.validation_bins.items()},
                **{
                    name: {"before": _bins(s.bins_before), "after": _bins(s.bins_after)}
                    for name, s in sets.items()
                },
            },
        },
        "hard_set": {
            "file": "training/sets/hard.jsonl",
            "table": hard_table(report),
            "mistakes": len(report.mistakes),
            "mistakes_table": mistakes_table(report),
        },
    }


def _bins(bins: list[Bin]) -> list[list[float]]:
    return [
        [b.low, b.high, b.count, round(b.confidence, 4), round(b.accuracy, 4)]
        for b in bins
        if b.count
    ]


def write_card(model_dir: Path, report: Report) -> None:
    """Merge the evaluation into model_card.json and render MODEL_CARD.md again."""
    card_file = model_dir / "model_card.json"
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.exists() else {}
    card.update(card_fields(report))
    card_file.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_card_markdown(card, model_dir / "MODEL_CARD.md")


def speed_mix(splits: Splits, n: int = 512, seed: int = 7) -> list[str]:
    """Real held-out texts of 5 to 60 words, a fixed sample: the length mix users send."""
    pool = [
        e.text for items in splits.test.values() for e in items if 5 <= len(e.text.split()) <= 60
    ]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def print_report(report: Report) -> None:
    print(f"Accuracy of {report.model} per test set (|rating| > 1 for VADER sets):\n")
    print(accuracy_table(report))
    t = describe(report.calibration)
    print(f"\nCalibration ({BINS}-bin ECE of the top-class probability), {t}:\n")
    print(calibration_table(report))
    print("\nHard set by phenomenon and domain:\n")
    print(hard_table(report))
    print(f"\nHard-set mistakes, most confident first ({len(report.mistakes)} in all):\n")
    print(mistakes_table(report, limit=20))
    for name, path in report.figures.items():
        print(f"reliability diagram of {name}: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--runtimes", action="store_true", help="measure every candidate runtime again"
    )
    parser.add_argument(
        "--fit", action="store_true", help="fit T on the validation split, write calibration.json"
    )
    parser.add_argument("--card", action="store_true", help="write the figures into the model card")
    parser.add_argument(
        "--figures", type=Path, default=None, help=f"default: MODEL/{FIGURES} with --card"
    )
    args = parser.parse_args(argv)

    splits = load_splits(args.cache)
    figures = args.figures or (args.model / FIGURES if args.card else Path("build") / FIGURES)
    report = evaluate(args.model, splits, fit=args.fit, figures=figures)
    print_report(report)
    if args.card:
        write_card(args.model, report)
        print(f"\nwrote {args.model / 'model_card.json'} and MODEL_CARD.md")
    card_file = args.model / "model_card.json"
    if card_file.exists():
        card = json.loads(card_file.read_text(encoding="utf-8"))
        print("\nRuntimes measured when the model was built (from its model card):\n")
        print(card.get("runtime_table", "(none recorded)"))
    if args.runtimes:
        from training.candidates import format_table, measure_runtimes  # torch: --runtimes only

        results = measure_runtimes(
            args.model,
            {name: [e.text for e in items] for name, items in splits.test.items()},
            speed_mix(splits),
            workdir=Path("build/runtimes"),
        )
        print("\nRuntimes measured now:\n")
        print(format_table(results))
    accuracies = report.accuracies()
    missed = [name for name, need in REQUIRED.items() if accuracies.get(name, 0.0) < need]
    if missed:
        print(f"\nbelow the required accuracy on: {', '.join(missed)}")
    disagree = [name for name, s in report.sets.items() if s.agreement < 0.99]
    if disagree:
        print(f"\n{report.runtime} agrees with fp32 on < 99% of: {', '.join(disagree)}")
    over = [name for name, s in report.sets.items() if not s.ece_after <= ECE_TARGET]
    if over:
        print(f"\nECE above {ECE_TARGET} after calibration on: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

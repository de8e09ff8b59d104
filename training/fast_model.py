"""`make fast-model`: the shipped model in static int8, served under a name of its own.

    python -m training.fast_model [--recipe plain] [--out models/sentiment-minilm-int8]

1. Quantize the default's OpenVINO IR to static int8 (NNCF post-training quantization,
   `training.quantize.quantize_int8`, calibrated on a fixed sample of training texts),
   into a directory of its own with the default's tokenizer, label config and
   calibration: a worker serves it with the OpenVINO runtime as it serves the default.
2. Score both models, each through the runtime a worker loads, on every held-out set:
   accuracy with its 95% (Wilson) interval, the share of labels equal to the
   default's, and ECE. The rule a fast variant ships by: on every set its accuracy
   lies inside the default's interval (the default itself keeps the stricter rule of
   labels equal to fp32 on at least 99% of every set, which int8 does not meet).
3. Speed, in alternating rounds (each model once per round, the order turned every
   round, so a noisy moment slows one pass of each): one sentence's median latency
   and sentences/s in tasks of 32 texts of the bench's mix, at 1 and 2 threads.
4. Write `model_card.json` and `MODEL_CARD.md` into the directory. The command exits 1
   when the rule fails, and the card says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectrum.worker.runtimes.batching import BatchedRuntime
from spectrum.worker.runtimes.model_dir import CALIBRATION_FILE, OPENVINO_FILE
from training.calibration import expected_calibration_error, wilson_interval
from training.data import DEFAULT_CACHE
from training.evaluate import DEFAULT_MODEL, evaluation_sets, serving_runtime
from training.quantize import calibration_texts, cpu_name, quantize_int8, recipes
from training.splits import load_splits
from training.text_mix import SEED, text_mix

FAST_MODEL = Path("models/sentiment-minilm-int8")
# What the fast directory takes from the default besides the weights.
COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json", CALIBRATION_FILE)
SPEED_TASK = 32
FAST_ALIAS = "sentiment-fast"


def build_directory(default: Path, target: Path, recipe: str, train_texts: list[str]) -> float:
    """Write the int8 IR and the default's other serving files into `target`; seconds taken."""
    started = time.perf_counter()
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (default / name).is_file():
            shutil.copyfile(default / name, target / name)
    options = recipes(default)[recipe]
    quantize_int8(default, train_texts, target=target / OPENVINO_FILE, **options)
    return time.perf_counter() - started


def score(
    runtime: BatchedRuntime, sets: dict[str, list[tuple[str, int]]]
) -> dict[str, dict[str, Any]]:
    """Per set: the served probabilities' labels, accuracy, its interval and ECE."""
    out: dict[str, dict[str, Any]] = {}
    for name, items in sets.items():
        rows = np.asarray(runtime.predict([text for text, _ in items]), dtype=np.float64)
        labels = np.array([label for _, label in items])
        predicted = rows.argmax(axis=1)
        hits = int((predicted == labels).sum())
        out[name] = {
            "labels": predicted.tolist(),
            "accuracy": hits / len(items),
            "interval": wilson_interval(hits, len(items)),
            "ece": expected_calibration_error(rows, labels),
        }
    return out


def compare(default: dict[str, dict[str, Any]], fast: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rule per set (fast accuracy inside the default's interval) and label agreement."""
    rows = {}
    for name, want in default.items():
        got = fast[name]
        low, high = want["interval"]
        agree = np.mean(np.array(got["labels"]) == np.array(want["labels"]))
        rows[name] = {
            "texts": len(want["labels"]),
            "default": round(want["accuracy"], 4),
            "default_interval95": [round(low, 4), round(high, 4)],
            "fast": round(got["accuracy"], 4),
            "fast_interval95": [round(v, 4) for v in got["interval"]],
            "agreement_with_default": round(float(agree), 4),
            "ece_default": round(want["ece"], 4),
            "ece_fast": round(got["ece"], 4),
            "inside": bool(low <= got["accuracy"] <= high),
        }
    return {"sets": rows, "rule_met": all(row["inside"] for row in rows.values())}


def speed(
    runtimes: dict[str, BatchedRuntime], texts: Sequence[str], rounds: int, singles: int
) -> dict[str, dict[str, float]]:
    """Median over rounds of one sentence's latency (ms) and of sentences/s in tasks of 32."""
    for runtime in runtimes.values():  # first calls compile kernels and allocate
        runtime.predict(list(texts[:SPEED_TASK]))
        for text in texts[:singles]:
            runtime.predict([text])
    found: dict[str, dict[str, list[float]]] = {n: {"single": [], "rate": []} for n in runtimes}
    order = list(runtimes)
    for turn in range(rounds):
        for name in order[turn % len(order) :] + order[: turn % len(order)]:
            runtime = runtimes[name]
            latencies = []
            for text in texts[:singles]:
                started = time.perf_counter()
                runtime.predict([text])
                latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            for start in range(0, len(texts), SPEED_TASK):
                runtime.predict(list(texts[start : start + SPEED_TASK]))
            found[name]["single"].append(statistics.median(latencies) * 1000)
            found[name]["rate"].append(len(texts) / (time.perf_counter() - started))
    return {
        name: {
            "single_sentence_ms": round(statistics.median(v["single"]), 2),
            "sentences_per_s": round(statistics.median(v["rate"]), 1),
        }
        for name, v in found.items()
    }


def card_markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# {card['name']}",
        "",
        card["summary"],
        "",
        "Serve it: `SPECTRUM_MODELS=models/sentiment-minilm-int8` beside the default (or in its",
        "place); it answers to `sentiment-fast` too (its card declares that alias; a configured",
        "alias of the same name wins: docs/many-models.md).",
        "",
        f"Rebuilt by `{card['command']}` ({card['built']}, {card['machine']}).",
        "",
        "## Accuracy against the default",
        "",
        f"The rule: on every set the int8 model's accuracy lies inside the default's 95% "
        f"interval. Met: **{'yes' if card['comparison']['rule_met'] else 'no'}**.",
        "",
        "| set | texts | default (95% interval) | int8 | labels equal to the default's |"
        " ECE default | ECE int8 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in card["comparison"]["sets"].items():
        low, high = row["default_interval95"]
        lines.append(
            f"| {name} | {row['texts']} | {row['default']:.3f} ({low:.3f}-{high:.3f}) | "
            f"{row['fast']:.3f}{'' if row['inside'] else ' (outside)'} | "
            f"{row['agreement_with_default']:.1%} | {row['ece_default']:.3f} | "
            f"{row['ece_fast']:.3f} |"
        )
    lines += [
        "",
        "## Speed on the machine that built it",
        "",
        f"Median of {card['speed_rounds']} alternating rounds, {card['speed_texts']} texts of "
        f"the bench's mix; tasks of {SPEED_TASK} texts through the worker's own batching.",
        "",
        "| model | threads | one sentence, ms | sentences/s |",
        "|---|---:|---:|---:|",
    ]
    for threads, rows in card["speed"].items():
        for name, row in rows.items():
            lines.append(
                f"| {name} | {threads} | {row['single_sentence_ms']:.1f} | "
                f"{row['sentences_per_s']:.0f} |"
            )
    lines += [
        "",
        "## What it is not",
        "",
        "Its answers are not the default's: the table gives the share of labels that differ.",
        "It is the default's weights and calibration in int8, not a model trained anew, so it",
        "shares the default's mistakes (its card: models/sentiment-minilm/MODEL_CARD.md).",
        "On a CPU with AMX the default runs in bf16 and the gap between them narrows.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the default")
    parser.add_argument("--out", type=Path, default=FAST_MODEL)
    parser.add_argument("--recipe", default="plain", help="training.quantize.recipes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--texts", type=int, default=512, help="bench-mix texts per round")
    parser.add_argument("--singles", type=int, default=60)
    parser.add_argument("--skip-quantize", action="store_true", help="reuse --out's IR")
    args = parser.parse_args(argv)

    splits = load_splits(args.cache)
    if not args.skip_quantize:
        calibration = calibration_texts(splits.train)
        seconds = build_directory(args.model, args.out, args.recipe, calibration)
        print(f"wrote {args.out / OPENVINO_FILE} in {seconds:.0f} s", flush=True)
    sets = {
        name: [(e.text, e.label) for e in items] for name, items in evaluation_sets(splits).items()
    }
    _, default_runtime, default_kind = serving_runtime(args.model, threads=2)
    _, fast_runtime, fast_kind = serving_runtime(args.out, threads=2)
    comparison = compare(score(default_runtime, sets), score(fast_runtime, sets))
    texts = text_mix(args.texts, seed=SEED)
    timed: dict[str, dict[str, dict[str, float]]] = {}
    for threads in (1, 2):
        runtimes = {
            args.model.name: serving_runtime(args.model, threads=threads)[1],
            args.out.name: serving_runtime(args.out, threads=threads)[1],
        }
        timed[str(threads)] = speed(runtimes, texts, args.rounds, args.singles)
        print(f"threads {threads}: {json.dumps(timed[str(threads)])}", flush=True)
    card = {
        "name": args.out.name,
        "summary": (
            f"{args.model.name} in static int8 (NNCF post-training quantization, recipe "
            f"{args.recipe!r}): the default's weights, tokenizer and calibration, faster "
            "on CPUs with int8 instructions (AVX-512 VNNI, AMX), answers close to the "
            "default's."
        ),
        "labels": json.loads((args.model / "config.json").read_text(encoding="utf-8"))["id2label"],
        "derived_from": str(args.model),
        # The name a user asks for without knowing the directory (api/models/catalog.py).
        "aliases": [FAST_ALIAS],
        "recipe": args.recipe,
        "served_runtime": fast_kind,
        "default_runtime": default_kind,
        "test_accuracy": {n: row["fast"] for n, row in comparison["sets"].items()},
        "comparison": comparison,
        "speed": timed,
        "speed_rounds": args.rounds,
        "speed_texts": len(texts),
        "machine": cpu_name(),
        "command": "make fast-model",
        "built": datetime.date.today().isoformat(),
    }
    (args.out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", "utf-8")
    (args.out / "MODEL_CARD.md").write_text(card_markdown(card), encoding="utf-8")
    print(card_markdown(card))
    return 0 if comparison["rule_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

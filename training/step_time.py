"""Seconds per training step and sentences/s of inference for an encoder, before a long build.

`python -m training.step_time --teacher` times a few steps of the teacher's
fine-tuning exactly as training/train.py runs them (its batches of similar length
from the real training split, its optimizer, bf16 autocast where the CPU has AMX
or AVX512-BF16), extrapolates the whole run for the spec's epochs, and, with
`--openvino`, exports the untrained classifier to OpenVINO IR and measures
inference at batch 32 on one thread (bf16 where the CPU has it): the speed the
built model would serve at, since training does not change the graph.
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

from training.evaluate import DEFAULT_CACHE, load_splits
from training.specs import SPECS, encoder_for
from training.train import _batches, _collate, load_classifier, make_optimizer, train_step
from worker.runtimes.cpu import bf16_support


def step_seconds(
    encoder: Path, texts: list[str], labels: list[int], *, spec: str, steps: int, warmup: int = 2
) -> list[float]:
    config = SPECS[spec].config(bf16_autocast=bf16_support()[0])
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
    return times[warmup:]


def openvino_speed(encoder: Path, texts: list[str], *, max_length: int, batch: int = 32) -> float:
    """Sentences/s of the OpenVINO IR on one thread, length-sorted batches of `batch`."""
    import openvino as ov

    from training.export import export_openvino

    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work) / "model"
        tokenizer, model = load_classifier(encoder)
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        xml = export_openvino(model_dir, Path(work) / "export", max_tokens=max_length)
        hint = "bf16" if bf16_support()[0] else "f32"
        compiled = ov.Core().compile_model(
            str(xml), "CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": hint}
        )
        names = [port.get_any_name() for port in compiled.inputs]
        ordered = sorted(texts, key=len)
        chunks = [ordered[i : i + batch] for i in range(0, len(ordered), batch)]

        def run(chunk: list[str]) -> None:
            feeds = tokenizer(chunk, truncation=True, max_length=max_length, padding=True)
            compiled({n: torch.tensor(feeds[n]).numpy() for n in names})

        run(chunks[0])
        started = time.perf_counter()
        for chunk in chunks:
            run(chunk)
        return len(ordered) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teacher", action="store_true", help="the teacher's spec and encoder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--openvino", action="store_true", help="also inference sentences/s")
    parser.add_argument("--speed-texts", type=int, default=512)
    args = parser.parse_args(argv)

    spec = "mpnet" if args.teacher else "minilm"
    encoder = encoder_for(spec, args.cache)
    splits = load_splits(args.cache)
    texts = [e.text for e in splits.train]
    labels = [e.label for e in splits.train]
    config = SPECS[spec].config(bf16_autocast=bf16_support()[0])
    times = step_seconds(encoder, texts, labels, spec=spec, steps=args.steps)
    per_step = sum(times) / len(times)
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    result: dict[str, object] = {
        "spec": spec,
        "config": {k: getattr(config, k) for k in ("batch_size", "max_length", "epochs")},
        "bf16_autocast": config.bf16_autocast,
        "steps_timed": len(times),
        "seconds_per_step": round(per_step, 3),
        "slowest_step": round(max(times), 3),
        "steps_per_epoch": steps_per_epoch,
        "training_minutes": round(per_step * steps_per_epoch * config.epochs / 60, 1),
    }
    if args.openvino:
        mix = random.Random(0).sample([e.text for e in splits.validation], args.speed_texts)
        result["openvino_1_thread_sentences_per_s"] = round(
            openvino_speed(encoder, mix, max_length=config.max_length), 1
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

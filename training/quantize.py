"""Static int8 of the shipped model's OpenVINO IR, and whether it pays on this machine.

    python -m training.quantize [--recipe plain] [--rounds 3] [--texts 512] [--extra-set JSONL]

Needs nncf (`pip install nncf==3.4.0` in a venv of its own, with the lock's openvino
and numpy), which no extra of the project installs: static int8 is not served. Plain
PTQ flipped more than 1% of the labels of some test sets, and on a CPU with AMX it
ran slower than bf16; this script's output is the evidence, rerun it to check anew.

1. Quantize: NNCF post-training quantization (`model_type=TRANSFORMER`) of the IR
   `make model` writes, calibrated on `CALIBRATION_TEXTS` training texts drawn with a
   fixed seed (never a test text), written to `--target` (under build/). `--recipe`
   names what is kept in floating point when plain PTQ flips too many labels
   (`recipes`); `--validation` adds the validation split, the set to choose a
   recipe on, to the agreement table.
2. Agreement: labels of every candidate against PyTorch fp32 (`make model`'s
   reference) on every held-out test set, and the largest |Δp|. The rule: a
   runtime is served only where its labels equal fp32's on >= 99% of every set.
3. Speed, alternating rounds (every candidate once per round, the order turned each
   round, so a noisy minute of this shared machine slows one pass of each), at one
   thread (one worker of `make run` on 2 cores) and two: the median single-sentence
   latency, and sentences/s for tasks of 1 to 64 texts of the bench's mix
   (`training.text_mix.text_mix`) through the worker's own `BatchedRuntime` path
   (length-sorted, token-budgeted passes, the worker's batch size and budget).

Prints Markdown tables and writes the raw figures as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectrum.shared.config import Settings
from spectrum.worker.runtimes.batching import BatchedRuntime, Feeds
from spectrum.worker.runtimes.model_dir import OPENVINO_FILE
from spectrum.worker.runtimes.tokenizer import FastTokenizer
from training.data import DEFAULT_CACHE, Example
from training.evaluate import DEFAULT_MODEL
from training.splits import load_splits
from training.text_mix import SEED, text_mix

INT8_FILE = "openvino_model_int8.xml"
# A few hundred training texts: NNCF's statistics settle well before that, and the
# result is the same on every machine (fixed sample, fixed order).
CALIBRATION_TEXTS = 300
CALIBRATION_SEED = 13
# The window the model was trained with (training/train.py) and `make model` measures at.
MAX_TOKENS = 64
AGREEMENT_RULE = 0.99
TASK_SIZES = (1, 4, 8, 16, 32, 64)


def calibration_texts(
    train: Sequence[Example], n: int = CALIBRATION_TEXTS, seed: int = CALIBRATION_SEED
) -> list[str]:
    """A fixed sample of training texts (the test sets never calibrate)."""
    return [e.text for e in random.Random(seed).sample(list(train), min(n, len(train)))]


def samples(
    model_dir: Path, names: Sequence[str], texts: Sequence[str], max_tokens: int = MAX_TOKENS
) -> list[Feeds]:
    """One unpadded feed per text, as NNCF's statistics want them."""
    encoded = FastTokenizer(model_dir)(list(texts), truncation=True, max_length=max_tokens)
    return [
        {name: np.asarray([encoded[name][i]], dtype=np.int64) for name in names}
        for i in range(len(texts))
    ]


def quantize_int8(
    model_dir: Path,
    texts: Sequence[str],
    *,
    target: Path | None = None,
    max_tokens: int = MAX_TOKENS,
    **options: Any,
) -> Path:
    """Quantize `model_dir`'s OpenVINO IR to static int8, calibrated on `texts`, one per sample.

    `options` go to `nncf.quantize` as they are (an ignored scope, advanced parameters).
    """
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(model_dir / OPENVINO_FILE))
    names = [port.get_any_name() for port in model.inputs]
    calibration = samples(model_dir, names, texts, max_tokens)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(calibration),
        **options,
    )
    target = target or model_dir / INT8_FILE
    ov.save_model(quantized, str(target), compress_to_fp16=True)
    return target


def recipes(model_dir: Path) -> dict[str, dict[str, Any]]:
    """NNCF options by name: which operations stay in floating point.

    Node names are read from the IR: the feed-forward output projections (MatMuls
    fed by Gelu), the attention's activation-by-activation products (MatMuls with
    no weight input), the pooler and classifier (the last two MatMuls).
    """
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        AdvancedSmoothQuantParameters,
    )

    model = ov.Core().read_model(str(model_dir / OPENVINO_FILE))
    matmuls = [op for op in model.get_ordered_ops() if op.get_type_name() == "MatMul"]

    def fed_by(op: Any, port: int) -> str:
        return str(op.input_value(port).get_node().get_type_name())

    def has_weight(op: Any) -> bool:
        source = op.input_value(1).get_node()
        while source.get_type_name() in {"Convert", "Transpose", "Reshape"}:
            source = source.input_value(0).get_node()
        return bool(source.get_type_name() == "Constant")

    ffn_down = [op.get_friendly_name() for op in matmuls if fed_by(op, 0) == "Gelu"]
    attention = [op.get_friendly_name() for op in matmuls if not has_weight(op)]
    head = [op.get_friendly_name() for op in matmuls[-2:]]

    def keep(names: list[str]) -> dict[str, Any]:
        return {"ignored_scope": nncf.IgnoredScope(names=names)}

    no_smooth_quant = AdvancedQuantizationParameters(
        smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1)
    )
    return {
        "plain": {},
        "no_head": keep(head),
        "no_ffn_down": keep(ffn_down),
        "no_attention": keep(attention),
        "no_ffn_down_attention": keep(ffn_down + attention),
        "no_smooth_quant": {"advanced_parameters": no_smooth_quant},
    }


class _Candidate(BatchedRuntime):
    """One IR compiled as worker/runtimes/ov.py compiles it, with a given inference precision."""

    def __init__(
        self,
        model_dir: Path,
        xml: str,
        hint: str,
        *,
        threads: int,
        max_tokens: int,
        batch_size: int,
        token_budget: int,
    ) -> None:
        import openvino as ov

        from spectrum.worker.runtimes.ov import compile_config  # openvino, as above

        self._tokenizer = FastTokenizer(model_dir)
        core = ov.Core()
        compiled = core.compile_model(
            core.read_model(str(model_dir / xml)), "CPU", compile_config(threads, hint, 200)
        )
        self._request = compiled.create_infer_request()
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self.max_tokens, self.batch_size, self.token_budget = max_tokens, batch_size, token_budget

    def _run(self, feeds: Feeds) -> np.ndarray:
        self._request.infer({name: feeds[name] for name in self._inputs})
        return np.array(self._request.get_output_tensor(0).data)


Candidates = dict[str, tuple[str, str]]  # name -> (IR file, precision of what is not int8)


def candidates(int8_ir: str = INT8_FILE) -> Candidates:
    return {
        "openvino-fp32": (OPENVINO_FILE, "f32"),
        "openvino-bf16": (OPENVINO_FILE, "bf16"),
        "openvino-int8": (int8_ir, "f32"),
        "openvino-int8+bf16": (int8_ir, "bf16"),
    }


def load_candidates(
    model_dir: Path, chosen: Candidates, *, threads: int, max_tokens: int
) -> dict[str, BatchedRuntime]:
    defaults = Settings()
    return {
        name: _Candidate(
            model_dir,
            *files,
            threads=threads,
            max_tokens=max_tokens,
            batch_size=defaults.batch_size,
            token_budget=defaults.token_budget,
        )
        for name, files in chosen.items()
    }


def agreement(
    model_dir: Path, sets: dict[str, list[str]], chosen: Candidates, *, threads: int = 2
) -> dict[str, dict[str, Any]]:
    """Per candidate: share of labels equal to PyTorch fp32's per set, and max |Δp| overall."""
    from spectrum.worker.runtimes.hf import load_torch  # torch: the fp32 reference only

    reference, _ = load_torch(
        str(model_dir), model_dir.name, precision="fp32", threads=threads, max_tokens=MAX_TOKENS
    )
    want = {key: np.asarray(reference.predict(texts)) for key, texts in sets.items()}
    runtimes = load_candidates(model_dir, chosen, threads=threads, max_tokens=MAX_TOKENS)
    found: dict[str, dict[str, Any]] = {}
    for name, runtime in runtimes.items():
        got = {key: np.asarray(runtime.predict(texts)) for key, texts in sets.items()}
        shares = {
            key: float(np.mean(got[key].argmax(axis=1) == want[key].argmax(axis=1))) for key in sets
        }
        found[name] = {
            "agreement": shares,
            "flipped": {
                key: int(np.sum(got[key].argmax(axis=1) != want[key].argmax(axis=1)))
                for key in sets
            },
            "max_abs_dp": max(float(np.abs(got[key] - want[key]).max()) for key in sets),
            # The rule is about the test sets; the validation split only chooses a recipe.
            "passes_rule": min(v for k, v in shares.items() if k != "validation") >= AGREEMENT_RULE,
        }
    return found


def _task_rate(runtime: BatchedRuntime, texts: Sequence[str], size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), size):
        runtime.predict(texts[start : start + size])
    return len(texts) / (time.perf_counter() - started)


def _single_ms(runtime: BatchedRuntime, texts: Sequence[str]) -> float:
    latencies = []
    for text in texts:
        started = time.perf_counter()
        runtime.predict([text])
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies) * 1000


def speed(
    model_dir: Path,
    texts: Sequence[str],
    chosen: Candidates,
    *,
    threads: int,
    rounds: int,
    singles: int,
) -> dict[str, list[dict[str, float]]]:
    """Per candidate, one row per round: single-sentence ms and sentences/s per task size.

    Each task size runs two passes over `texts` in a row. The first (`bN`) meets the
    shapes of the sizes before it in the runtime's kernel cache (a worker's cache of
    SPECTRUM_OPENVINO_CACHE_CAPACITY shapes sees the same churn under mixed traffic),
    so it includes compiling kernels for shapes pushed out since; the second
    (`bN_warm`) finds its own shapes compiled: the engine's compute alone.
    """
    settings = Settings()
    runtimes = load_candidates(model_dir, chosen, threads=threads, max_tokens=settings.max_tokens)
    for runtime in runtimes.values():  # warm-up: first calls allocate
        runtime.predict(texts[:128])
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    order = list(chosen)
    for turn in range(rounds):
        for name in order[turn % len(order) :] + order[: turn % len(order)]:
            runtime = runtimes[name]
            row: dict[str, float] = {}
            for size in TASK_SIZES:
                row[f"b{size}"] = _task_rate(runtime, texts, size)
                row[f"b{size}_warm"] = _task_rate(runtime, texts, size)
                if size == 1:  # the shapes of single texts are compiled now
                    row["single_ms"] = _single_ms(runtime, texts[:singles])
            rows[name].append(row)
            print(f"  threads {threads} round {turn + 1} {name}: {_brief(row)}", flush=True)
    return rows


def _brief(row: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.1f}" for k, v in row.items())


def speed_table(rows: dict[str, list[dict[str, float]]], threads: int, *, warm: bool) -> str:
    suffix = "_warm" if warm else ""
    keys = ["single_ms", *(f"b{size}{suffix}" for size in TASK_SIZES)]
    header = ["runtime", "1 sentence, ms"] + [f"tasks of {size}" for size in TASK_SIZES]
    kind = "second pass of a size (its shapes compiled)" if warm else "first pass of a size"
    lines = [
        f"{threads} thread(s), sentences/s, {kind}; median of the rounds (min-max)",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for name, runs in rows.items():
        cells = [name]
        for key in keys:
            values = [run[key] for run in runs]
            digits = 1 if key == "single_ms" else 0
            cells.append(
                f"{statistics.median(values):.{digits}f} "
                f"({min(values):.{digits}f}-{max(values):.{digits}f})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_table(found: dict[str, dict[str, Any]]) -> str:
    sets = list(next(iter(found.values()))["agreement"])
    header = [
        "runtime",
        *(f"agree {s}" for s in sets),
        "max abs Δp",
        f"every test set >= {AGREEMENT_RULE:.0%}",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, result in found.items():
        cells = [name]
        cells += [f"{result['agreement'][s]:.2%} ({result['flipped'][s]})" for s in sets]
        cells += [f"{result['max_abs_dp']:.2e}", "yes" if result["passes_rule"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_extra_set(path: Path) -> list[str]:
    """Texts of a JSONL set (one object with a `text` a line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [str(json.loads(line)["text"]) for line in lines if line.strip()]


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--texts", type=int, default=512, help="bench-mix texts per pass")
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--extra-set", type=Path, action="append", default=[])
    parser.add_argument("--recipe", default="plain", help="see `recipes`")
    parser.add_argument("--target", type=Path, default=Path("build/int8") / INT8_FILE)
    parser.add_argument("--skip-quantize", action="store_true", help="reuse --target")
    parser.add_argument("--validation", action="store_true", help="also the validation split")
    parser.add_argument(
        "--speed-runtimes",
        default="openvino-fp32,openvino-bf16,openvino-int8",
        help="the candidates timed (all of them are checked for agreement)",
    )
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("build/quantize.json"))
    args = parser.parse_args(argv)

    splits = load_splits(args.cache)
    report: dict[str, Any] = {"machine": cpu_name(), "recipe": args.recipe}
    if not args.skip_quantize:
        started = time.perf_counter()
        args.target.parent.mkdir(parents=True, exist_ok=True)
        options = recipes(args.model)[args.recipe]
        texts = calibration_texts(splits.train)
        quantize_int8(args.model, texts, target=args.target, **options)
        report["quantize_seconds"] = time.perf_counter() - started
        print(f"wrote {args.target} in {report['quantize_seconds']:.0f} s", flush=True)
    sets = {name: [e.text for e in items] for name, items in splits.test.items()}
    sets |= {path.stem: read_extra_set(path) for path in args.extra_set}
    if args.validation:
        sets["validation"] = [e.text for e in splits.validation]
    every = candidates(str(args.target.resolve()))
    found = agreement(args.model, sets, every)
    report["agreement"] = found
    print("\nLabels equal to torch fp32 (flipped labels in brackets):\n")
    print(agreement_table(found), flush=True)
    if not args.skip_speed:
        texts = text_mix(args.texts, seed=SEED)
        report["speed"] = {}
        for threads in (int(t) for t in args.threads.split(",")):
            rows = speed(
                args.model,
                texts,
                {name: every[name] for name in args.speed_runtimes.split(",")},
                threads=threads,
                rounds=args.rounds,
                singles=args.singles,
            )
            report["speed"][str(threads)] = rows
            for warm in (False, True):
                print("\n" + speed_table(rows, threads, warm=warm), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

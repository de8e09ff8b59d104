"""The candidate runtimes of a sequence-classification model, measured on this machine.

Not the runtimes a worker serves with (worker/runtimes/): the candidates the build
weighs to choose the worker's default. Which runtime is fastest depends on the model
and the CPU (docs/models.md, "The model"), so the worker's default is chosen by
measurement. Every candidate predicts through the same
procedure (`predict`: length-sorted batches, each padded to its own longest item) and is
compared with PyTorch fp32, the reference: throughput on a realistic mix, and agreement
of labels and probabilities on test sets.

    python -m training.candidates MODEL_DIR
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

from spectrum.worker.runtimes.batching import BatchRun, Feeds
from spectrum.worker.runtimes.batching import predict_sorted as predict
from spectrum.worker.runtimes.cpu import bf16_support

REFERENCE = "torch-fp32"
# An exported graph whose logits differ more than this from torch is wrong, not just rounded.
EXPORT_TOLERANCE = 1e-3
# Throughput is the best of this many passes: the machine is shared and noisy.
TIMED_PASSES = 3


@dataclass(frozen=True)
class RuntimeResult:
    name: str
    available: bool
    reason: str  # why it was skipped, or ""
    sentences_per_s: float  # 0.0 when unavailable
    agreement: dict[str, float]  # per test set: share of labels equal to torch-fp32's
    max_prob_diff: float  # largest |p - p_fp32| over all test texts and labels


class Unavailable(Exception):
    """A candidate cannot run here; the message says why."""


def measure_runtimes(
    model_dir: Path,
    test_sets: dict[str, list[str]],
    speed_texts: list[str],
    *,
    batch_size: int = 32,
    threads: int = 2,
    max_tokens: int = 64,
    workdir: Path,
    progress: bool = True,
) -> list[RuntimeResult]:
    """Measure every candidate on this machine; torch-fp32 first, as the reference.

    Each candidate predicts every test set (for agreement with torch-fp32) and makes one
    warm-up pass over `speed_texts`; then all of them take turns at the timed passes and
    each keeps its best. So all candidates are loaded at once (about 1.5 GB for
    MiniLM-L6). One that cannot run here (missing package, no fast bf16, failed export)
    is returned with `available=False` and the reason. ONNX files go under `workdir`.
    """
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not tokenizer.is_fast:
        raise ValueError(f"{model_dir} has no fast tokenizer")
    workdir.mkdir(parents=True, exist_ok=True)
    setup = _Setup(model_dir, tokenizer, threads, max_tokens, workdir)

    def probabilities(run: BatchRun, texts: Sequence[str]) -> np.ndarray:
        return predict(tokenizer, run, texts, batch_size=batch_size, max_tokens=max_tokens)

    ready: dict[str, BatchRun] = {}
    skipped: dict[str, str] = {}
    outputs: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        bar = tqdm(_CANDIDATES, desc="runtimes", unit="runtime", disable=not progress)
        for name, build in bar:
            bar.set_postfix_str(name)
            try:
                run = build(setup)
            except Unavailable as exc:
                skipped[name] = str(exc)
                continue
            outputs[name] = {key: probabilities(run, texts) for key, texts in test_sets.items()}
            probabilities(run, speed_texts)  # warm-up: lazy allocation, kernel selection
            ready[name] = run
        # Timed passes go round-robin: a noisy minute on this shared machine then slows
        # one pass of every candidate instead of every pass of one candidate.
        for _ in tqdm(range(TIMED_PASSES), desc="timed rounds", disable=not progress):
            for name, run in ready.items():
                elapsed = _seconds(partial(probabilities, run, speed_texts))
                seconds[name] = min(seconds.get(name, float("inf")), elapsed)
    finally:
        torch.set_num_threads(previous_threads)
    results: list[RuntimeResult] = []
    for name, _ in _CANDIDATES:
        if name in skipped:
            results.append(RuntimeResult(name, False, skipped[name], 0.0, {}, 0.0))
            continue
        speed = len(speed_texts) / seconds[name] if seconds[name] > 0 else 0.0
        agreement, max_diff = _compare(outputs[name], outputs[REFERENCE])
        results.append(RuntimeResult(name, True, "", speed, agreement, max_diff))
    return results


def format_table(results: list[RuntimeResult]) -> str:
    """Render a Markdown table, fastest available runtime first, skipped ones last."""
    set_names = list(dict.fromkeys(key for r in results for key in r.agreement))
    base = next((r.sentences_per_s for r in results if r.name == REFERENCE and r.available), 0.0)
    header = ["runtime", "sentences/s", f"vs {REFERENCE}"]
    header += [f"agree {name}" for name in set_names] + ["max abs Δp", "note"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 2) + "---|"]
    ranked = sorted(results, key=lambda r: (not r.available, -r.sentences_per_s))
    for r in ranked:
        if not r.available:
            cells = [r.name, "-", "-"] + ["-"] * len(set_names) + ["-", r.reason]
        else:
            ratio = f"{r.sentences_per_s / base:.2f}" if base else "-"
            cells = [r.name, f"{r.sentences_per_s:.0f}", ratio]
            cells += [f"{r.agreement.get(name, float('nan')):.2%}" for name in set_names]
            cells += [f"{r.max_prob_diff:.2e}", ""]
        lines.append("| " + " | ".join(" ".join(c.split()).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


# --- candidates -----------------------------------------------------------------------


@dataclass
class _Setup:
    model_dir: Path
    tokenizer: PreTrainedTokenizerBase
    threads: int
    max_tokens: int
    workdir: Path
    _onnx: Path | Unavailable | None = None  # exported once, shared by ORT and OpenVINO

    def onnx_fp32(self) -> Path:
        if self._onnx is None:
            try:
                self._onnx = _export_onnx(self, self.workdir / "model.onnx")
            except Unavailable as exc:
                self._onnx = exc
        if isinstance(self._onnx, Unavailable):
            raise self._onnx
        return self._onnx


def _load_torch(model_dir: Path, dtype: torch.dtype = torch.float32) -> Any:
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    return model.to(dtype).eval()


def _torch_run(model: Any) -> BatchRun:
    def run(feeds: Feeds) -> np.ndarray:
        with torch.inference_mode():
            logits = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits
        result: np.ndarray = logits.float().numpy()
        return result

    return run


def _torch_fp32(setup: _Setup) -> BatchRun:
    return _torch_run(_load_torch(setup.model_dir))


def _torch_bf16(setup: _Setup) -> BatchRun:
    fast, reason = bf16_support()
    if not fast:
        raise Unavailable(reason)
    return _torch_run(_load_torch(setup.model_dir, torch.bfloat16))


def _onnxruntime_session(path: Path, threads: int) -> BatchRun:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise Unavailable(f"onnxruntime not installed ({exc})") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]

    def run(feeds: Feeds) -> np.ndarray:
        return np.asarray(session.run(None, {n: feeds[n] for n in inputs})[0])

    return run


def _onnxruntime_fp32(setup: _Setup) -> BatchRun:
    return _onnxruntime_session(setup.onnx_fp32(), setup.threads)


def _onnxruntime_int8(setup: _Setup) -> BatchRun:
    source = setup.onnx_fp32()
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise Unavailable(f"onnx/onnxruntime not installed ({exc})") from exc
    # The dynamo exporter's shape annotations fail the quantizer's strict shape
    # inference ("Inferred shape and existing shape differ"); they are only hints.
    model = onnx.load(str(source))
    del model.graph.value_info[:]
    plain, target = setup.workdir / "model.noshapes.onnx", setup.workdir / "model.int8.onnx"
    onnx.save(model, str(plain))
    try:
        with _quiet():
            quantize_dynamic(plain, target, weight_type=QuantType.QInt8)
    except Exception as exc:  # the quantizer raises many types; any of them means "no int8"
        raise Unavailable(f"int8 quantization failed: {_first_line(exc)}") from exc
    return _onnxruntime_session(target, setup.threads)


def _openvino(setup: _Setup, precision: str) -> BatchRun:
    try:
        import openvino as ov
    except ImportError as exc:
        raise Unavailable(f"openvino not installed ({exc})") from exc
    if precision == "bf16":
        fast, reason = bf16_support()
        if not fast:
            raise Unavailable(reason)
    source = setup.onnx_fp32()
    core = ov.Core()
    try:
        model = core.read_model(str(source))
        # OpenVINO defaults to bf16 on AMX CPUs: ask for the precision explicitly.
        config = {
            "INFERENCE_NUM_THREADS": setup.threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision,
        }
        compiled = core.compile_model(model, "CPU", config)
    except Exception as exc:  # converter errors come in many types; all mean "no OpenVINO"
        raise Unavailable(f"OpenVINO could not convert the ONNX model: {_first_line(exc)}") from exc
    request = compiled.create_infer_request()
    inputs = [port.get_any_name() for port in compiled.inputs]

    def run(feeds: Feeds) -> np.ndarray:
        request.infer({n: feeds[n] for n in inputs})
        return np.array(request.get_output_tensor(0).data)

    return run


_CANDIDATES: list[tuple[str, Callable[[_Setup], BatchRun]]] = [
    (REFERENCE, _torch_fp32),
    ("torch-bf16", _torch_bf16),
    ("onnxruntime-fp32", _onnxruntime_fp32),
    ("onnxruntime-int8", _onnxruntime_int8),
    ("openvino-fp32", lambda setup: _openvino(setup, "f32")),
    ("openvino-bf16", lambda setup: _openvino(setup, "bf16")),
]


def export_onnx(model_dir: Path, path: Path, *, threads: int = 2, max_tokens: int = 64) -> Path:
    """Export `model_dir` to an fp32 ONNX file at `path`, checked against torch."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return _export_onnx(_Setup(model_dir, tokenizer, threads, max_tokens, path.parent), path)


def _export_onnx(setup: _Setup, path: Path) -> Path:
    """Export an fp32 ONNX graph with dynamic batch and sequence axes, checked against torch.

    The dynamo exporter (the default since torch 2.9) is tried first, the TorchScript
    exporter if it fails. Either way the graph must reproduce torch's probabilities on a
    probe of two batches of different shapes, or it is refused: a wrong graph would
    otherwise be measured as a fast runtime.
    """
    try:
        import onnxruntime  # noqa: F401  (only to tell the reason early)
    except ImportError as exc:
        raise Unavailable(f"onnxruntime not installed ({exc})") from exc
    model = _load_torch(setup.model_dir)
    sample = setup.tokenizer(
        ["a short one", "and a somewhat longer sentence to pad the first one against"],
        padding=True,
        return_tensors="pt",
    )
    # Graph inputs are named by position: keep forward()'s order, not the tokenizer's.
    names = [n for n in inspect.signature(model.forward).parameters if n in sample]
    kwargs = {n: sample[n] for n in names}
    window = int(getattr(model.config, "max_position_embeddings", 512))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence", max=window)
    common: dict[str, Any] = {"input_names": names, "output_names": ["logits"]}
    try:
        with _quiet():
            torch.onnx.export(
                model,
                (),
                str(path),
                kwargs=kwargs,
                **common,
                opset_version=18,
                dynamic_shapes={n: {0: batch, 1: sequence} for n in names},
                dynamo=True,
                external_data=False,
            )
    except Exception as first:  # exporters raise many types; any of them means "try the other"
        axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
        try:
            with _quiet():
                torch.onnx.export(
                    model,
                    (),
                    str(path),
                    kwargs=kwargs,
                    **common,
                    opset_version=17,
                    dynamic_axes=axes,
                    dynamo=False,
                )
        except Exception as second:
            raise Unavailable(
                f"ONNX export failed: dynamo: {_first_line(first)}; "
                f"dynamo=False: {_first_line(second)}"
            ) from second
    probe = ["yes", "a longer probe sentence, with punctuation and more than ten tokens"] * 3
    exported, eager = _onnxruntime_session(path, setup.threads), _torch_run(model)
    ours, theirs = (
        predict(setup.tokenizer, run, probe, batch_size=4, max_tokens=setup.max_tokens)
        for run in (exported, eager)
    )
    gap = float(np.abs(ours - theirs).max())
    if gap > EXPORT_TOLERANCE:
        raise Unavailable(f"exported ONNX graph disagrees with torch (max |Δp| {gap:.3g})")
    return path


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """Exporter errors run to pages; a table cell needs the gist."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:limit]


# --- measurement ------------------------------------------------------------------------


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _compare(
    outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> tuple[dict[str, float], float]:
    agreement: dict[str, float] = {}
    max_diff = 0.0
    for name, probs in outputs.items():
        ref = reference[name]
        if len(probs) == 0:
            agreement[name] = 1.0
            continue
        agreement[name] = float(np.mean(probs.argmax(axis=1) == ref.argmax(axis=1)))
        max_diff = max(max_diff, float(np.abs(probs - ref).max()))
    return agreement, max_diff


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter and quantizer chatter (prints, warnings, log lines) for a call."""
    loggers = [logging.getLogger(), logging.getLogger("torch")]
    levels = [logger.level for logger in loggers]
    # The dynamo exporter print()s its steps to stdout even with verbose=False.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


# --- manual run -------------------------------------------------------------------------


def _random_texts(words: list[str], count: int, low: int, high: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=rng.randint(low, high))) + "." for _ in range(count)]


def main(argv: list[str]) -> None:
    model_dir = Path(argv[1])
    vocab = AutoTokenizer.from_pretrained(model_dir).get_vocab()
    words = sorted(w for w in vocab if w.isascii() and w.isalpha() and w.islower() and len(w) > 2)
    speed = _random_texts(words, 512, 5, 60, seed=1)
    tests = {
        "short": _random_texts(words, 200, 3, 15, seed=2),
        "long": _random_texts(words, 200, 20, 60, seed=3),
    }
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        results = measure_runtimes(model_dir, tests, speed, workdir=Path(tmp))
        elapsed = time.perf_counter() - start
    print(format_table(results))
    print(f"\nmeasured in {elapsed:.0f} s")


if __name__ == "__main__":
    main(sys.argv)

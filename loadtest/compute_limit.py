"""The engine's ceiling on this machine: what the cores could do if every FLOP counted.

The limit in sentences/s is the measured fp32 matrix-multiply peak of every core
(`gemm_peak_gflops`: OpenVINO's own MatMul kernel on one thread, a shape large enough
to run at its best, times the cores) over the FLOPs of one sentence of the bench's
mix (`flops_per_sentence`: the encoder's matrix products at the mix's mean token
count). The engine can only approach it: attention, normalisation, softmax and
padding cost time but are not counted, and small matrices (a 384-wide model on a
lone sentence) use a core less well than the peak's shape does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from spectrum.worker.runtimes.tokenizer import FastTokenizer

# The peak's shape: large enough for the kernel's best blocking on any current core.
PEAK_ROWS, PEAK_DEPTH, PEAK_COLS = 512, 1024, 1024


def flops_per_sentence(config: dict[str, Any], tokens: float) -> float:
    """Multiply-adds x 2 of one BERT-style encoder pass over `tokens` tokens.

    Per layer and token: the Q, K, V and output projections (4 d^2), the feed-forward
    pair (2 d i), and attention's scores and weighted sum over the sentence (2 d t).
    The classifier head is a rounding error and left out.
    """
    d = int(config["hidden_size"])
    i = int(config["intermediate_size"])
    layers = int(config["num_hidden_layers"])
    per_token = 2 * layers * (4 * d * d + 2 * d * i + 2 * d * tokens)
    return float(per_token * tokens)


def gemm_peak_gflops(threads: int = 1, rounds: int = 5, calls: int = 10) -> float:
    """Best GFLOP/s of an fp32 MatMul compiled as the worker compiles its model."""
    import openvino as ov  # the worker's engine: only where the bench measures it
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    data = ops.parameter([PEAK_ROWS, PEAK_DEPTH], np.float32, name="x")
    weights = ops.constant(rng.random((PEAK_DEPTH, PEAK_COLS), dtype=np.float32))
    model = ov.Model([ops.matmul(data, weights, False, False)], [data])
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
    x = rng.random((PEAK_ROWS, PEAK_DEPTH), dtype=np.float32)
    for _ in range(3):
        request.infer({0: x})
    flops = 2 * PEAK_ROWS * PEAK_DEPTH * PEAK_COLS * calls
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            request.infer({0: x})
        best = max(best, flops / (time.perf_counter() - started) / 1e9)
    return best


def compute_limit(model_dir: Path, mean_tokens: float, cores: int) -> dict[str, Any]:
    """The limit's parts: FLOPs a sentence, the peak of one core and of all, sentences/s."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    flops = flops_per_sentence(config, mean_tokens)
    per_core = gemm_peak_gflops(threads=1)
    return {
        "mean_tokens": mean_tokens,
        "gflop_per_sentence": flops / 1e9,
        "gemm_gflops_one_core": per_core,
        "cores": cores,
        "sentences_per_s": cores * per_core * 1e9 / flops,
    }


def mean_tokens(model_dir: Path, texts: list[str], max_tokens: int) -> float:
    """Mean token count of `texts` as the worker's tokenizer cuts them."""
    ids = FastTokenizer(model_dir)(texts, truncation=True, max_length=max_tokens)["input_ids"]
    return float(np.mean([len(row) for row in ids]))

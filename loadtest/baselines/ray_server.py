"""Baseline: Ray Serve's batching tutorial design, one replica with `@serve.batch`.

    var/bench/ray-venv/bin/python -m loadtest.baselines.ray_server \
        --port P --temp-dir DIR --num-cpus 2 --threads 2

Runs in the Ray venv that loadtest/ray_env.py builds (Ray is no dependency of
Spectrum), from the repository root. It starts a local-only Ray (head on 127.0.0.1,
no dashboard, `num_cpus` bounded, its temp dir where the bench says; usage stats off
through RAY_USAGE_STATS_ENABLED=0 and HOME inside the bench's workdir, where Ray's
auth token goes, in its environment), Serve's HTTP proxy on
127.0.0.1:P, and one replica that runs the transformers pipeline of
pipeline_server.py (PyTorch fp32, the shipped model) on batches of up to 32 texts
gathered for at most 10 ms, one padded forward pass per batch. Same `POST /predict`
body and answer as the other baselines; `GET /ready` answers once the replica has
loaded the model. On SIGTERM it shuts Serve and Ray down; the bench also kills by
PID whatever of Ray is left (loadtest/measure_baselines.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from ray import serve
from starlette.requests import Request

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "sentiment-minilm"
MAX_BATCH_SIZE = 32
BATCH_WAIT_TIMEOUT_S = 0.01


@serve.deployment(
    num_replicas=1,
    # Ray's default (5) would cap every batch at 5 texts; the replica takes as many
    # requests at once as a batch can hold.
    max_ongoing_requests=MAX_BATCH_SIZE,
    ray_actor_options={"num_cpus": 1},
)
class Classifier:
    def __init__(self, threads: int) -> None:
        import torch
        from transformers import pipeline

        torch.set_num_threads(threads)
        self.pipe = pipeline(
            "text-classification", model=str(MODEL_DIR), dtype=torch.float32, top_k=None
        )

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S)
    async def classify(self, texts: list[str]) -> list[Any]:
        # One padded forward pass for the whole batch, as Serve's batching guide does.
        return list(self.pipe(texts, batch_size=len(texts)))

    async def __call__(self, request: Request) -> Any:
        if request.method == "GET":
            return {"ready": True}
        body = await request.json()
        return await self.classify(body["text"])


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--temp-dir", type=Path, required=True)
    parser.add_argument("--num-cpus", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    ray.init(
        address="local",
        num_cpus=args.num_cpus,
        # Bounded: the default is 30% of the machine's memory, for objects this never stores.
        object_store_memory=256 * 1024**2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(args.temp_dir),
        log_to_driver=False,
    )
    # After ray.init, which installs handlers of its own.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        # Imported by its module name, so Ray's workers load the class from this file
        # rather than from a pickle of `__main__`.
        from loadtest.baselines.ray_server import Classifier as Deployment

        serve.run(Deployment.bind(args.threads), name="baseline", route_prefix="/")
        print(f"ray serve baseline on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()

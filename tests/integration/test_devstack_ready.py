"""`make run` says ready only once every worker it started consumes every queue it was given.

Before, it said ready at the first 200 from /readyz, which needs one worker of the
gateway's model on its interactive lane: a job sent then got 503 NoWorkerAvailable
(the model's both-lanes worker had not announced the bulk lane), and `toxicity` or
`emotion` were not known yet.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from spectrum_dev.harness import Harness, child_env, wait_for
from spectrum_dev.private_redis import free_port

READY = "[spectrum] ready:"
# `make run`'s models: the shipped one (two workers, the first interactive-only), then one
# light worker each for the built-in models.
MODELS = ["sentiment-minilm", "toxicity", "emotion"]


async def first_requests(base_url: str) -> list[httpx.Response]:
    """A job and a prediction for each model, all sent at once."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        sends = []
        for model in MODELS:
            job = {"texts": ["a fine day", "a dreadful day"], "model": model}
            sends.append(client.post("/v1/jobs", json=job))
            sends.append(client.post("/v1/predict", json={"text": "a fine day", "model": model}))
        return list(await asyncio.gather(*sends))


def test_a_job_and_a_prediction_for_every_model_sent_at_ready_are_taken(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{(port := free_port())}"
    env = child_env(
        {
            # Nothing answers here, so the stack runs its own Redis: its registry holds
            # only its own workers, and `toxicity` is nobody else's.
            "broker_url": f"redis://127.0.0.1:{free_port()}/0",
            "result_backend_url": f"redis://127.0.0.1:{free_port()}/0",
            "cache_url": f"redis://127.0.0.1:{free_port()}/0",
            "worker_processes": 2,
            "worker_interactive_only": 1,
            "runtime_threads": 1,
            "port": port,
            "flower_port": free_port(),
            "worker_metrics_port": free_port(),
            "prediction_log": "false",
            "task_events": "false",
        }
    )
    env["TMPDIR"] = str(tmp_path)  # the private Redis's directory
    with Harness(tmp_path) as harness:
        stack = harness.start("devstack", [sys.executable, "-m", "scripts.devstack"], env)

        def ready() -> bool:
            assert stack.alive(), stack.log()[-3000:]
            return READY in stack.log()

        wait_for(ready, 90, "make run to say ready")
        responses = asyncio.run(first_requests(base_url))

        refused = [(r.request.url.path, r.status_code, r.text) for r in responses if r.is_error]
        assert not refused, stack.log()[-3000:]
        # The jobs finish too: their bulk lanes are consumed, not only announced.
        jobs = [r.json()["id"] for r in responses if r.request.url.path == "/v1/jobs"]
        for model, job_id in zip(MODELS, jobs, strict=True):

            def ended(job_id: str = job_id) -> bool:
                state = httpx.get(f"{base_url}/v1/jobs/{job_id}").json()["state"]
                return state not in ("queued", "running")

            wait_for(ended, 20, f"{model}'s job")
            assert httpx.get(f"{base_url}/v1/jobs/{job_id}").json()["state"] == "succeeded"

"""The gateway and the worker ride out a Redis restart without being restarted themselves."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from scripts.private_redis import PrivateRedis
from tests.integration.stack import Stack


def test_service_recovers_after_redis_restarts(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    restarted = PrivateRedis(tmp_path / "redis", port=redis.port)
    stack = Stack(tmp_path / "stack", redis.url, request_timeout_s=4, worker_stale_s=3)
    stack.workdir.mkdir()
    try:
        stack.start_worker()
        stack.start_api()
        with stack.client() as client:
            assert client.post("/v1/predict", json={"text": "before"}).status_code == 200

            redis.stop()
            started = time.monotonic()
            down = client.post("/v1/predict", json={"text": "during"})
            assert down.status_code == 503, down.text
            assert time.monotonic() - started < 4
            assert client.get("/readyz").status_code == 503

            restarted.start()
            back = time.monotonic()
            answer: httpx.Response | None = None
            while time.monotonic() - back < 10:
                answer = client.post("/v1/predict", json={"text": f"after {time.monotonic()}"})
                if answer.status_code == 200:
                    break
                time.sleep(0.25)
            assert answer is not None
            assert answer.status_code == 200, stack.logs()[-4000:]
            assert client.get("/readyz").status_code == 200
    finally:
        stack.stop()
        redis.stop()
        restarted.stop()

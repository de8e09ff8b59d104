"""`make scale`'s set-up, small: a stand-in worker in a network namespace of its own,
reaching a private Redis over the bridge, answers a real request through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectrum.worker.runtimes.fixed import positive_share
from spectrum_dev.netns import NetnsLan, NetnsUnavailable
from spectrum_dev.private_redis import PrivateRedis
from tests.integration.stack import Stack


def test_a_stand_in_worker_on_its_own_namespace_answers_through_the_bridge(
    tmp_path: Path,
) -> None:
    try:
        lan = NetnsLan(1, delay_ms=0.5).create()
    except NetnsUnavailable as exc:
        pytest.skip(f"no network namespaces here: {exc}")
    server: PrivateRedis | None = None
    stack: Stack | None = None
    try:
        server = PrivateRedis(tmp_path / "redis", extra_bind=(lan.host_address,)).start()
        (tmp_path / "stack").mkdir()
        stack = Stack(tmp_path / "stack", server.url, model_id="fixed")
        inside = f"redis://{lan.host_address}:{server.port}/0"
        # Only the bridge leads out of the namespace: the worker cannot reach 127.0.0.1's Redis.
        stack.start_worker(
            prefix=lan.prefix(0),
            broker_url=inside,
            result_backend_url=inside,
            cache_url=inside,
            fixed_pass_ms=2,
            fixed_text_ms=1,
        )
        stack.start_api()
        texts = ["a stand-in reads no word of this", "nor of this one"]

        with stack.client() as client:
            answer = client.post("/v1/predict", json={"texts": texts})
            models = client.get("/v1/models").json()["models"]

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"]["version"] == "fixed-2ms-1ms"
        for text, prediction in zip(texts, body["predictions"], strict=True):
            positive = positive_share(text)
            assert prediction["probabilities"]["POSITIVE"] == pytest.approx(positive, abs=1e-4)
            assert prediction["label"] == ("POSITIVE" if positive > 0.5 else "NEGATIVE")
            assert prediction["cached"] is False
        assert [m["runtime"] for m in models if m["name"] == stack.model_name] == ["fixed"]
    finally:
        if stack is not None:
            stack.stop()
        if server is not None:
            server.stop()
        lan.remove()

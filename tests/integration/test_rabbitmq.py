"""The same round trip with RabbitMQ as the broker (Redis stays the result backend)."""

from __future__ import annotations

import pytest

from scripts.private_redis import tcp_reachable
from tests.integration.stack import Stack

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def test_round_trip_with_rabbitmq_as_broker(make_stack: type[Stack]) -> None:
    if not tcp_reachable(RABBITMQ_URL):
        pytest.skip(f"RabbitMQ is not reachable at {RABBITMQ_URL}: start it to run this test")
    stack = make_stack(broker_url=RABBITMQ_URL)
    stack.start_worker()
    stack.start_api()

    with stack.client() as client:
        answer = client.post("/v1/predict", json={"text": "a lovely, warm and funny film"})
        ready = client.get("/readyz")

    assert answer.status_code == 200, answer.text
    (prediction,) = answer.json()["predictions"]
    assert prediction["label"] == "POSITIVE"
    assert prediction["cached"] is False
    assert ready.status_code == 200, ready.text

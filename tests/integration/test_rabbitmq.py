"""The same round trip with RabbitMQ as the broker (Redis stays the result backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectrum_dev import rabbitmq_node
from spectrum_dev.private_redis import tcp_reachable
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


def test_a_private_node_keeps_durable_messages_across_a_restart(tmp_path: Path) -> None:
    """The fixture fault test 3 (RabbitMQ restarted with jobs queued) builds on."""
    if not rabbitmq_node.available():
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    from kombu import Connection, Exchange, Queue

    node = rabbitmq_node.PrivateRabbitMQ(tmp_path / "rabbitmq").start()
    try:
        queue = Queue("spectrum-restart-check", Exchange("spectrum-restart-check"), durable=True)
        with Connection(node.url, connect_timeout=5) as connection:
            producer = connection.Producer()
            producer.publish(
                {"n": 1},
                exchange=queue.exchange,
                declare=[queue],
                delivery_mode=2,
                serializer="json",
            )
        node.stop()
        node.start()
        with Connection(node.url, connect_timeout=5) as connection:
            message = queue(connection.default_channel).get(no_ack=True)
        assert message is not None
        assert message.payload == {"n": 1}
    finally:
        node.stop()

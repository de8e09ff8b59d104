"""Queue depth read from a real RabbitMQ: counts, a missing queue, one kept connection."""

from __future__ import annotations

import uuid

import pytest

from spectrum.api.edge.admission import QueueDepth
from spectrum_dev.private_redis import tcp_reachable

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


async def test_depths_come_over_one_kept_connection() -> None:
    if not tcp_reachable(RABBITMQ_URL):
        pytest.skip(f"RabbitMQ is not reachable at {RABBITMQ_URL}: start it to run this test")
    from kombu import Connection, Exchange, Queue

    name = f"depth-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name), routing_key=name, auto_delete=False)
    missing = f"{name}-missing"
    # Confirmed publishes: each is in the queue (and counted) before publish returns; an
    # unconfirmed one may still be on its way when the depth is read.
    confirmed = {"confirm_publish": True}
    with Connection(RABBITMQ_URL, connect_timeout=5, transport_options=confirmed) as connection:
        producer = connection.Producer()
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])
    depth = QueueDepth(RABBITMQ_URL, timeout=2.0)
    try:
        first = await depth.read([name, missing])
        kept = depth._amqp
        second = await depth.read([name, missing])

        assert first == second == {name: 3, missing: 0}
        # The same connection served both reads (and the missing queue did not break it).
        assert kept is not None
        assert depth._amqp is kept
    finally:
        await depth.close()
        with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(name)
    assert depth._amqp is None

"""The Redis broker transport frees a worker's prefetch slot when an ack cannot reach Redis.

Each test holds one message with prefetch 1 (as a bulk-lane worker does), makes its own
private Redis deaf for longer than the socket timeout (CLIENT PAUSE, which would stall
every other test on a shared Redis), and acks or rejects. kombu's stock transport is
run too: it keeps the slot, which is the bug shared/redis_transport.py is there for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import Settings
from spectrum.shared.redis_transport import TRANSPORT
from spectrum_dev.private_redis import PrivateRedis

STOCK = "kombu.transport.redis:Transport"
SOCKET_TIMEOUT_S = 0.3
VISIBILITY_S = 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    private = PrivateRedis(tmp_path / "redis").start()
    try:
        yield private
    finally:
        private.stop()


class Held:
    """One message received and not yet acked, on a channel with prefetch 1."""

    def __init__(self, url: str, transport: str) -> None:
        self.connection = Connection(
            url,
            transport=transport,
            transport_options={
                "socket_timeout": SOCKET_TIMEOUT_S,
                "visibility_timeout": VISIBILITY_S,
            },
        )
        self.channel = self.connection.channel()
        name = f"test-{uuid.uuid4().hex[:8]}"
        self.queue = Queue(name, Exchange(name, "direct"), routing_key=name)
        Producer(self.channel).publish(
            {"n": 1}, exchange=self.queue.exchange, routing_key=name, declare=[self.queue]
        )
        self.received: list[Any] = []
        self.consumer = Consumer(
            self.channel,
            [self.queue],
            callbacks=[lambda _body, message: self.received.append(message)],
            prefetch_count=1,
        )
        self.consumer.consume()
        self.connection.drain_events(timeout=5)
        assert len(self.received) == 1
        assert not self.channel.qos.can_consume()  # the one slot is taken

    def close(self) -> None:
        self.connection.release()


def deaf(server: PrivateRedis, seconds: float) -> redis.Redis:
    """Make the server answer nobody for `seconds`; the client returned waits it out."""
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("CLIENT", "PAUSE", int(seconds * 1000))
    return admin


@pytest.mark.parametrize("settle", ["ack", "reject"])
def test_a_failed_settle_frees_the_slot_and_the_message_comes_back(
    server: PrivateRedis, settle: str
) -> None:
    held = Held(server.url, TRANSPORT)
    try:
        message = held.received[0]
        settle_it = message.ack if settle == "ack" else lambda: message.reject(requeue=True)
        admin = deaf(server, 4 * SOCKET_TIMEOUT_S)
        with pytest.raises(redis.RedisError):
            settle_it()
        # The worker can take its next message.
        assert held.channel.qos.can_consume()
        # Nothing lost: Redis still holds it as unacked, so once its visibility timeout
        # has passed a scan puts it back, and it is delivered again.
        assert admin.hexists(held.channel.unacked_key, message.delivery_tag)
        time.sleep(VISIBILITY_S + 0.1)
        held.channel.qos.restore_visible(interval=1)
        held.connection.drain_events(timeout=5)
        assert len(held.received) == 2
        assert held.received[1].delivery_info["redelivered"] is True
        assert held.received[1].payload == {"n": 1}
        held.received[1].ack()
        assert not admin.hexists(held.channel.unacked_key, message.delivery_tag)
    finally:
        held.close()


def test_kombu_alone_keeps_the_slot_of_a_failed_ack(server: PrivateRedis) -> None:
    """If this fails, kombu frees the slot itself and the override can go."""
    held = Held(server.url, STOCK)
    try:
        deaf(server, 4 * SOCKET_TIMEOUT_S)
        with pytest.raises(redis.RedisError):
            held.received[0].ack()
        assert not held.channel.qos.can_consume()
    finally:
        held.close()


def test_a_redis_broker_url_gets_the_transport_and_still_reads_redis() -> None:
    redis_app = create_celery(Settings(broker_url="redis://127.0.0.1:6379/0"))
    rabbit_app = create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    try:
        with redis_app.connection_for_write() as connection:
            assert type(connection.transport).__module__ == "spectrum.shared.redis_transport"
            # Flower chooses its broker client by this scheme.
            assert connection.as_uri().startswith("redis://")
        with rabbit_app.connection_for_write() as connection:
            assert type(connection.transport).__module__ == "kombu.transport.pyamqp"
    finally:
        redis_app.close()
        rabbit_app.close()

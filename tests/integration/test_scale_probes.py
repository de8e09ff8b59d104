"""`make scale`'s broker and result-backend probes against real servers, small."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from loadtest.scale_probes import measure_backend, measure_broker
from spectrum_dev import rabbitmq_node
from spectrum_dev.private_redis import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> PrivateRedis:
    server = PrivateRedis(tmp_path / "redis").start()
    yield server  # type: ignore[misc]
    server.stop()


def redis_pid(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def test_every_message_is_delivered_once_through_redis(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    url = private_redis.url
    row = measure_broker("redis", url, url, redis_pid(url), 300, tmp_path)

    assert row["messages"] == 300
    assert row["messages_per_s"] > 0
    assert row["server_cpu_s"] >= 0
    client = redis.Redis.from_url(url)
    try:  # the probe's queue is drained and gone, and nothing is left unacked
        assert list(client.scan_iter("scale-probe-*")) == []
        assert client.hlen("unacked") == 0
    finally:
        client.close()


def test_every_message_is_delivered_once_through_rabbitmq(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    if not rabbitmq_node.available():
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    node = rabbitmq_node.PrivateRabbitMQ(tmp_path / "rabbitmq").start()
    try:
        # Each consumer must get its own stop message, whatever it had prefetched.
        row = measure_broker("rabbitmq", node.url, private_redis.url, node.vm_pid(), 300, tmp_path)
    finally:
        node.stop()

    assert row["messages"] == 300


def test_results_are_stored_with_their_commands_counted(private_redis: PrivateRedis) -> None:
    url = private_redis.url
    row = measure_backend(url, redis_pid(url), 200)

    assert row["results"] == 200
    client = redis.Redis.from_url(url)
    try:
        assert len(list(client.scan_iter("celery-task-meta-probe-*"))) == 200
    finally:
        client.close()
    # Celery's store is a few commands (a read of the state, then SET and PUBLISH).
    assert 2 <= row["commands_per_result"] <= 10

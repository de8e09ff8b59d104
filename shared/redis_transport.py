"""kombu's Redis transport, with a worker's prefetch slot freed when an ack cannot reach Redis.

kombu's Redis QoS acks (or rejects) a message in two steps: first it removes the
message from Redis's unacked indices, then it frees the worker's prefetch slot. When
the first step fails (Redis unreachable for longer than the socket timeout), the
second never runs: Celery logs "Couldn't ack" and goes on, but its QoS still counts
the message as held. A worker with prefetch 1 (every worker on the bulk lane) then
never takes another message, while its heartbeat says it is alive. Found by
tests/integration/test_chaos.py (a worker partitioned from Redis for 10 s).

Here the slot is freed whatever Redis answers, and the error still goes up to Celery.
The message itself is still in Redis's unacked hash, so it comes back after the
visibility timeout, as it would had the worker died: a job chunk run twice is counted
once (shared/jobs.py), a sync answer stored twice is the same answer.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

# What `broker_transport` names for a Redis broker URL (shared/celery_app.py).
TRANSPORT = "shared.redis_transport:Transport"


class QoS(kombu_redis.QoS):
    def ack(self, delivery_tag: str) -> None:
        try:
            self._remove_from_indices(delivery_tag).execute()  # type: ignore[attr-defined]
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            else:
                self._remove_from_indices(delivery_tag).execute()  # type: ignore[attr-defined]
        finally:
            virtual.QoS.ack(self, delivery_tag)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel

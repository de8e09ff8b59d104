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

from kombu import transport as kombu_transport
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

TRANSPORT = "spectrum.shared.redis_transport:Transport"
SCHEMES = ("redis", "rediss")


def install() -> None:
    """Make redis:// and rediss:// broker URLs use this transport, in this process.

    kombu's alias table rather than Celery's `broker_transport` setting, so that a
    connection's URL still reads redis://: Flower picks its broker client (queue
    lengths) by that scheme, and the workers' logs show it.
    """
    for scheme in SCHEMES:
        kombu_transport.TRANSPORT_ALIASES[scheme] = TRANSPORT
        # A connection made before this resolved (and kombu cached) the stock class.
        kombu_transport._transport_cache.pop(scheme, None)  # type: ignore[attr-defined]


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

"""The poison-message guard: a task whose worker keeps dying is failed, not run again.

With `acks_late` and `task_reject_on_worker_lost`, a message whose worker died
mid-task goes back to the queue. That loses no work, but a message that itself
kills the worker (a pathological input, a runtime bug) would do so forever,
taking down every worker that takes it. So every delivery of a task id is
counted in Redis (INCR, with a TTL), before the task runs; past
`task_max_deliveries` the task is not run: it raises `PoisonMessage`, which
Celery stores as the task's failure (the caller gets an error, not silence) and
acks, so the message leaves the queue for good. Each such drop is logged and
counted (`spectrum_worker_poison_messages_total`).

When Redis cannot count, the task runs (fail open): refusing all work over a
counter would turn a Redis hiccup into an outage.
"""

from __future__ import annotations

import redis
import structlog

from spectrum.shared.errors import PoisonMessage
from spectrum.worker import metrics

log = structlog.get_logger(__name__)

KEY_PREFIX = "spectrum:deliveries"


class DeliveryGuard:
    """Counts deliveries per task id; `admit` raises PoisonMessage past the limit."""

    def __init__(self, client: redis.Redis, *, max_deliveries: int, ttl_s: int) -> None:
        self._client = client
        self.max_deliveries = max_deliveries
        self._ttl_s = ttl_s

    def admit(self, task_id: str, task_name: str) -> int:
        """Count this delivery; return its number, or raise PoisonMessage past the limit."""
        key = f"{KEY_PREFIX}:{task_id}"
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self._ttl_s)
                delivery = int(pipe.execute()[0])
        except redis.RedisError as exc:
            log.warning("delivery count unavailable, task runs", error=type(exc).__name__)
            return 0
        if delivery > self.max_deliveries:
            metrics.POISON.labels(task=task_name).inc()
            log.error(
                "poison message dropped",
                task=task_name,
                deliveries=delivery,
                max_deliveries=self.max_deliveries,
            )
            raise PoisonMessage(
                f"delivered {delivery} times, its worker died the {delivery - 1} times before; "
                f"dropped after {self.max_deliveries} deliveries"
            )
        if delivery > 1:
            log.warning("task delivered again", task=task_name, deliveries=delivery)
        return delivery

    def close(self) -> None:
        self._client.close()

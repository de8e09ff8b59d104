"""Where workers announce the model they serve and that they are alive.

Each worker writes its model card to `spectrum:models` (a hash keyed by model
name) and refreshes its entry in `spectrum:workers:<queue>` for each queue it
consumes (a sorted set scored by the time of its last heartbeat). The gateway
reads both: the card gives the version for cache keys and `/v1/models`; a fresh
heartbeat on a lane's queue means somebody will take that lane's task. Both
live in the result backend's Redis, which must not evict. Workers also keep
their running totals in `spectrum:worker-stats`.
"""

from __future__ import annotations

MODELS_KEY = "spectrum:models"
# The alias set stored by PUT /v1/admin/aliases (a JSON document), read by every gateway.
ALIASES_KEY = "spectrum:aliases"
# Each worker's running totals (tasks, texts, time inside the runtime), keyed by
# member, refreshed with its heartbeat: what the benchmark subtracts to find the
# stack's own overhead.
STATS_KEY = "spectrum:worker-stats"


def workers_key(queue: str) -> str:
    return f"spectrum:workers:{queue}"


def worker_member(hostname: str, pid: int) -> str:
    return f"{hostname}:{pid}"


def model_queue(model: str, lane: str) -> str:
    """The Celery queue of `model`'s lane (`interactive` or `bulk`): `<model>.<lane>`."""
    return f"{model}.{lane}"

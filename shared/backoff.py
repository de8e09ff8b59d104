"""Retry delays: exponential backoff with full jitter, through Celery's own helper.

Full jitter (a uniform draw in [0, min(cap, base * 2**tries)]) spreads the retries
of tasks that failed together, as after a Redis blip, instead of sending them all
back at the same instant. Celery's helper draws whole numbers with randrange, so
it is fed milliseconds: sub-second bases (tests, short outages) keep their jitter.
"""

from __future__ import annotations

from celery.utils.time import get_exponential_backoff_interval


def full_jitter(base_s: float, tries: int, cap_s: float) -> float:
    """Seconds to wait before try `tries + 1` (tries counts from 0)."""
    millis = get_exponential_backoff_interval(
        factor=round(base_s * 1000), retries=tries, maximum=round(cap_s * 1000), full_jitter=True
    )
    return millis / 1000

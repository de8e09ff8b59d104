"""Chunk retry delays: exponential, capped, and spread by full jitter."""

from __future__ import annotations

import random

from spectrum.shared.backoff import full_jitter
from spectrum.shared.config import Settings
from spectrum.worker.jobs import chunk_retry_delay, webhook_retry_delay

DRAWS = 2000


def test_retries_of_the_same_try_spread_over_zero_to_the_doubled_delay() -> None:
    """After a Redis blip every chunk fails at once: their retries must not coincide."""
    settings = Settings(job_chunk_retry_s=0.5, job_chunk_retry_max_s=30)
    random.seed(13)
    for tries, ceiling in ((0, 0.5), (1, 1.0), (3, 4.0)):
        delays = [chunk_retry_delay(settings, tries) for _ in range(DRAWS)]

        assert all(0 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > min(DRAWS, ceiling * 1000) / 4  # not one instant
        # Full jitter is uniform over [0, ceiling]: each quarter gets about a quarter.
        quarters = [
            sum(q * ceiling / 4 <= d < (q + 1) * ceiling / 4 for d in delays) for q in range(4)
        ]
        assert all(DRAWS * 0.2 < count < DRAWS * 0.3 for count in quarters), quarters


def test_the_cap_bounds_late_tries() -> None:
    random.seed(7)
    delays = [full_jitter(0.5, 30, cap_s=2.0) for _ in range(DRAWS)]

    assert max(delays) <= 2.0
    assert max(delays) > 1.9
    assert min(delays) < 0.1


def test_a_zero_base_retries_at_once() -> None:
    assert full_jitter(0.0, 5, cap_s=30) == 0.0


def test_the_same_seed_gives_the_same_delays() -> None:
    random.seed(1)
    first = [full_jitter(0.05, 2, cap_s=1) for _ in range(10)]
    random.seed(1)
    assert [full_jitter(0.05, 2, cap_s=1) for _ in range(10)] == first


def test_webhook_retries_spread_too() -> None:
    """Webhooks of jobs that ended together, failed by one receiver's outage, come back apart."""
    settings = Settings(webhook_backoff_s=1.0, webhook_backoff_max_s=60)
    random.seed(5)
    delays = [webhook_retry_delay(settings, 2) for _ in range(DRAWS)]

    assert all(0 <= delay <= 4.0 for delay in delays)
    assert min(delays) < 0.5 < 3.5 < max(delays)
    assert len(set(delays)) > DRAWS / 4

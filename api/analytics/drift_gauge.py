"""spectrum_drift_psi{model}: each model's label drift, refreshed at scrape time, at most once
per `every_s`.

Invariants: one refresh costs two grouped queries (label counts per model over the
recent window and over the reference window), whatever the number of models, and
runs in a worker thread; between refreshes a scrape costs nothing. A model appears
when it has rows in both windows; when the database cannot be read the gauge is
cleared (no figure rather than a stale one) and the failure counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from spectrum.api.analytics.figures import psi
from spectrum.api.analytics.pool import in_analytics_thread
from spectrum.api.analytics.queries import label_counts_by_model
from spectrum.api.analytics.window import TooManyRows, Window
from spectrum.api.observability.metrics import DRIFT_PSI, SCRAPE_ERRORS

log = structlog.get_logger(__name__)

RECENT = timedelta(hours=1)
# A week: every weekday and hour of the day in the reference, so a daily rhythm in
# the traffic is not read as drift.
REFERENCE = timedelta(days=7)
REFRESH_EVERY_S = 60.0


def drift_by_model(engine: Engine, now: datetime) -> dict[str, float]:
    """PSI per model of the last RECENT against the REFERENCE before it."""
    recent = Window(now - RECENT, now)
    reference = Window(recent.since - REFERENCE, recent.since)
    before = label_counts_by_model(engine, reference)
    after = label_counts_by_model(engine, recent)
    figures = {}
    for model in sorted(set(before) & set(after)):
        index = psi(before[model], after[model])
        if index is not None:
            figures[model] = index
    return figures


class DriftGauge:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float],
        every_s: float = REFRESH_EVERY_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._every_s = every_s
        self._now = now
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Recompute the gauge if the last refresh is older than `every_s`."""
        async with self._lock:  # concurrent scrapes share one refresh
            started = self._clock()
            if self._last is not None and started - self._last < self._every_s:
                return
            self._last = started
            try:
                figures = await in_analytics_thread(drift_by_model, self._engine, self._now())
            except (DBAPIError, TooManyRows) as exc:
                DRIFT_PSI.clear()
                SCRAPE_ERRORS.labels(source="predlog").inc()
                log.warning("drift not computed", error=type(exc).__name__)
                return
            DRIFT_PSI.clear()
            for model, index in figures.items():
                DRIFT_PSI.labels(model=model).set(index)

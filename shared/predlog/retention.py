"""Retention of the prediction log: rows older than SPECTRUM_PREDICTION_LOG_DAYS go."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete

from spectrum.shared.predlog.schema import prediction_log


def cutoff(now: datetime, days: int) -> datetime:
    """Rows answered before this instant are past retention."""
    return now - timedelta(days=days)


def delete_expired(engine: Engine, now: datetime, days: int) -> int:
    """Delete the rows answered before `cutoff(now, days)`; how many went."""
    with engine.begin() as connection:
        result = connection.execute(
            delete(prediction_log).where(prediction_log.c.at < cutoff(now, days))
        )
    return result.rowcount

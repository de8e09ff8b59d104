"""The bounds every analytics query is held to: a window, a bucket width, a result size.

Invariants: a window is half-open, `since <= at < until`, both ends in UTC; it spans
at most `MAX_WINDOW`; a bucketed query has at most `MAX_BUCKETS` buckets, each
starting at a whole minute, hour or day (UTC). Anything beyond these is refused with
InvalidInput (422) and the reason, before a query runs, so that one request cannot
make the database read or the gateway hold more than a bounded amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from spectrum.shared.errors import InvalidInput

Bucket = Literal["minute", "hour", "day"]
BUCKET_SECONDS: dict[Bucket, int] = {"minute": 60, "hour": 3600, "day": 86400}

MAX_WINDOW = timedelta(days=31)
# A chart of 1,500 points is already wider than a screen; more only costs memory.
MAX_BUCKETS = 1500
# A window without `since`: the last day.
DEFAULT_SPAN = timedelta(days=1)


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is taken to be UTC already (as SQLite returns it)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """The half-open interval [since, until) in UTC, and whose rows: every key's, or only
    those of the key id `key_id` (a client key's own view)."""

    since: datetime
    until: datetime
    key_id: str | None = None

    @classmethod
    def of(
        cls,
        since: datetime | None,
        until: datetime | None,
        *,
        now: datetime,
        default_span: timedelta = DEFAULT_SPAN,
        name: str = "since",
        key_id: str | None = None,
    ) -> Window:
        """The window asked for; absent ends default to `now` and `default_span` before it."""
        try:
            end = as_utc(until) if until is not None else as_utc(now)
            start = as_utc(since) if since is not None else end - default_span
        except OverflowError:  # within a day of year 1 or 9999: no window to speak of
            raise refused(name, "a time out of range (years 1 to 9999, UTC)") from None
        if start >= end:
            raise refused(name, f"{name} must be before until: {start:%Y-%m-%dT%H:%M:%SZ}")
        if end - start > MAX_WINDOW:
            raise refused(name, f"a window spans at most {MAX_WINDOW.days} days")
        return cls(start, end, key_id)

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()

    def buckets(self, bucket: Bucket) -> int:
        """How many buckets of `bucket` width the window touches (partial ones included)."""
        width = BUCKET_SECONDS[bucket]
        first = bucket_start(self.since, bucket)
        return math.ceil((self.until - first).total_seconds() / width)

    def check_buckets(self, bucket: Bucket) -> None:
        """Refuse a window that holds more than MAX_BUCKETS buckets of this width."""
        count = self.buckets(bucket)
        if count > MAX_BUCKETS:
            raise refused(
                "bucket",
                f"{count} {bucket} buckets asked for, at most {MAX_BUCKETS}: "
                "a shorter window or a wider bucket",
            )


def bucket_start(at: datetime, bucket: Bucket) -> datetime:
    """The start (UTC) of the bucket that holds `at`."""
    at = as_utc(at)
    if bucket == "minute":
        return at.replace(second=0, microsecond=0)
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def refused(field: str, msg: str) -> InvalidInput:
    return InvalidInput(msg, [{"loc": ["query", field], "msg": msg}])


class TooManyRows(InvalidInput):
    """A query's answer would exceed the bound on what one request may return."""

    def __init__(self, limit: int) -> None:
        msg = (
            f"the answer would hold more than {limit} rows: "
            "a shorter window, a wider bucket or one model"
        )
        super().__init__(msg, [{"loc": ["query"], "msg": msg}])

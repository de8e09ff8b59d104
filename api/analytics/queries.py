"""The analytics queries: SQLAlchemy Core over `prediction_log`, one function per answer.

Each function is synchronous (the routes run it in a thread), reads within one
Window, and fetches at most its bound of rows plus one, raising TooManyRows when
the bound is passed: the database does the counting, the gateway only arranges
already-grouped rows. Buckets are computed in SQL in UTC (strftime on SQLite,
date_trunc on PostgreSQL), so both databases group the same rows the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from spectrum.api.analytics.figures import percentile, psi, shares
from spectrum.api.analytics.window import Bucket, TooManyRows, Window, as_utc
from spectrum.shared.predlog.schema import prediction_log as log

# Grouped rows one answer may hold (series x buckets x labels).
MAX_GROUP_ROWS = 50_000
# Latencies read into the gateway for one answer's percentiles (floats: ~1 MB).
MAX_LATENCY_ROWS = 100_000
# API keys listed, busiest first.
MAX_KEYS = 100
PERCENTILES = (50.0, 90.0, 99.0)

_SQLITE_FORMATS: dict[Bucket, str] = {
    "minute": "%Y-%m-%d %H:%M:00",
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d 00:00:00",
}


def bucket_column(engine: Engine, bucket: Bucket) -> ColumnElement[Any]:
    """The start of each row's bucket, in UTC, as the database computes it."""
    if engine.dialect.name == "sqlite":
        return func.strftime(_SQLITE_FORMATS[bucket], log.c.at)
    return func.date_trunc(bucket, func.timezone("UTC", log.c.at))


def bucket_value(value: datetime | str) -> datetime:
    """A bucket start as read back: a string from SQLite, a naive UTC datetime from PostgreSQL."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def in_window(window: Window, model: str | None = None, version: str | None = None) -> Any:
    """The WHERE clause of a window (its key's rows only when it names one; a model, a
    version): the (model, at) index serves it."""
    clauses = [log.c.at >= window.since, log.c.at < window.until]
    if window.key_id is not None:
        clauses.append(log.c.key_id == window.key_id)
    if model is not None:
        clauses.append(log.c.model == model)
    if version is not None:
        clauses.append(log.c.version == version)
    return and_(*clauses)


def fetch_bounded(engine: Engine, query: Select[Any], limit: int) -> list[tuple[Any, ...]]:
    """The query's rows, at most `limit` of them: one more raises TooManyRows."""
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query.limit(limit + 1))]
    if len(rows) > limit:
        raise TooManyRows(limit)
    return rows


@dataclass
class Point:
    start: datetime
    total: int = 0
    cached: int = 0
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class Series:
    model: str
    version: str
    points: dict[datetime, Point] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.points.values())

    @property
    def cached(self) -> int:
        return sum(p.cached for p in self.points.values())

    @property
    def labels(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for point in self.points.values():
            for label, n in point.labels.items():
                counts[label] += n
        return dict(sorted(counts.items()))


def volume(engine: Engine, window: Window, bucket: Bucket, model: str | None) -> list[Series]:
    """Texts answered per model, version, bucket and label; cached ones counted apart."""
    start = bucket_column(engine, bucket).label("start")
    cached = func.sum(case((log.c.cached, 1), else_=0))
    query = (
        select(start, log.c.model, log.c.version, log.c.label, func.count(), cached)
        .where(in_window(window, model))
        .group_by(start, log.c.model, log.c.version, log.c.label)
        .order_by(log.c.model, log.c.version, start, log.c.label)
    )
    series: dict[tuple[str, str], Series] = {}
    for at, name, version, label, count, hits in fetch_bounded(engine, query, MAX_GROUP_ROWS):
        one = series.setdefault((name, version), Series(name, version))
        begins = bucket_value(at)
        point = one.points.setdefault(begins, Point(begins))
        point.total += count
        point.cached += int(hits or 0)
        point.labels[label] = count
    return list(series.values())


@dataclass
class LatencyPoint:
    start: datetime
    count: int
    percentiles: dict[str, float]


@dataclass
class LatencySeries:
    model: str
    version: str
    count: int
    percentiles: dict[str, float]
    points: list[LatencyPoint]


def latency_percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    figures = {f"p{p:g}": percentile(ordered, p) for p in PERCENTILES}
    figures["max"] = ordered[-1]
    return figures


def latency(
    engine: Engine, window: Window, bucket: Bucket, model: str | None
) -> list[LatencySeries]:
    """Exact nearest-rank latency percentiles per model, version and bucket (rows with one).

    Computed in the gateway from the window's latencies (SQLite has no percentile
    function), so the window may hold at most MAX_LATENCY_ROWS of them.
    """
    start = bucket_column(engine, bucket).label("start")
    query = (
        select(log.c.model, log.c.version, start, log.c.latency_ms)
        .where(in_window(window, model), log.c.latency_ms.is_not(None))
        .order_by(log.c.model, log.c.version, start)
    )
    grouped: dict[tuple[str, str], dict[datetime, list[float]]] = {}
    for name, version, at, ms in fetch_bounded(engine, query, MAX_LATENCY_ROWS):
        grouped.setdefault((name, version), {}).setdefault(bucket_value(at), []).append(ms)
    answer = []
    for (name, version), buckets in grouped.items():
        every = [ms for values in buckets.values() for ms in values]
        points = [
            LatencyPoint(begins, len(values), latency_percentiles(values))
            for begins, values in sorted(buckets.items())
        ]
        answer.append(LatencySeries(name, version, len(every), latency_percentiles(every), points))
    return answer


@dataclass
class KeyVolume:
    key_id: str | None
    total: int
    models: dict[str, int]


def key_volume(engine: Engine, window: Window, model: str | None) -> list[KeyVolume]:
    """Texts answered per API key id (None: keys off, or a job's rows), busiest first."""
    totals = (
        select(log.c.key_id, func.count().label("n"))
        .where(in_window(window, model))
        .group_by(log.c.key_id)
        .order_by(func.count().desc(), log.c.key_id)
    )
    with engine.connect() as conn:
        top = conn.execute(totals.limit(MAX_KEYS)).all()
        keys = {key_id: KeyVolume(key_id, n, {}) for key_id, n in top}
        per_model = (
            select(log.c.key_id, log.c.model, func.count())
            .where(in_window(window, model))
            .group_by(log.c.key_id, log.c.model)
            .order_by(log.c.key_id, log.c.model)
        )
        for key_id, name, n in conn.execute(per_model):
            if key_id in keys:
                keys[key_id].models[name] = n
    return list(keys.values())


@dataclass
class Side:
    model: str
    version: str | None


@dataclass
class VersionPair:
    a_version: str
    b_version: str
    texts: int
    agreed: int


@dataclass
class Agreement:
    pairs: list[VersionPair]
    confusion: dict[str, dict[str, int]]

    @property
    def texts(self) -> int:
        return sum(p.texts for p in self.pairs)

    @property
    def agreed(self) -> int:
        return sum(p.agreed for p in self.pairs)


def agreement(engine: Engine, window: Window, a: Side, b: Side) -> Agreement:
    """How often A and B gave the same label to the same text within the window.

    A text is its text_hash. Each side is its distinct (text_hash, version, label)
    rows, so a text asked a hundred times counts once per version and label; the
    sides are joined on text_hash. Canary, shadow and compare traffic all leave
    rows of both models for the same texts.
    """
    side_a = (
        select(log.c.text_hash, log.c.version, log.c.label)
        .where(in_window(window, a.model, a.version))
        .distinct()
        .subquery("a")
    )
    side_b = (
        select(log.c.text_hash, log.c.version, log.c.label)
        .where(in_window(window, b.model, b.version))
        .distinct()
        .subquery("b")
    )
    query = (
        select(side_a.c.version, side_b.c.version, side_a.c.label, side_b.c.label, func.count())
        .select_from(side_a.join(side_b, side_a.c.text_hash == side_b.c.text_hash))
        .group_by(side_a.c.version, side_b.c.version, side_a.c.label, side_b.c.label)
        .order_by(side_a.c.version, side_b.c.version, side_a.c.label, side_b.c.label)
    )
    pairs: dict[tuple[str, str], VersionPair] = {}
    confusion: dict[str, dict[str, int]] = {}
    for va, vb, la, lb, n in fetch_bounded(engine, query, MAX_GROUP_ROWS):
        pair = pairs.setdefault((va, vb), VersionPair(va, vb, 0, 0))
        pair.texts += n
        pair.agreed += n if la == lb else 0
        row = confusion.setdefault(la, {})
        row[lb] = row.get(lb, 0) + n
    return Agreement(list(pairs.values()), confusion)


@dataclass
class Distribution:
    total: int
    labels: dict[str, int]
    mean_confidence: float | None

    @property
    def shares(self) -> dict[str, float]:
        return shares(self.labels)


def distribution(
    engine: Engine, window: Window, model: str, version: str | None = None
) -> Distribution:
    """A model's label counts and mean top-label probability within a window."""
    query = (
        select(log.c.label, func.count(), func.sum(log.c.score))
        .where(in_window(window, model, version))
        .group_by(log.c.label)
        .order_by(log.c.label)
    )
    rows = fetch_bounded(engine, query, MAX_GROUP_ROWS)
    total = sum(n for _, n, _ in rows)
    score = sum(float(s or 0.0) for _, _, s in rows)
    labels = {label: n for label, n, _ in rows}
    return Distribution(total, labels, score / total if total else None)


@dataclass
class Drift:
    reference: Distribution
    recent: Distribution

    @property
    def psi(self) -> float | None:
        return psi(self.reference.labels, self.recent.labels)


def drift(
    engine: Engine, model: str, version: str | None, reference: Window, recent: Window
) -> Drift:
    return Drift(
        distribution(engine, reference, model, version),
        distribution(engine, recent, model, version),
    )


def label_counts_by_model(engine: Engine, window: Window) -> dict[str, dict[str, int]]:
    """Label counts of every model in the window, in one grouped query."""
    query = (
        select(log.c.model, log.c.label, func.count())
        .where(in_window(window))
        .group_by(log.c.model, log.c.label)
        .order_by(log.c.model, log.c.label)
    )
    counts: dict[str, dict[str, int]] = {}
    for name, label, n in fetch_bounded(engine, query, MAX_GROUP_ROWS):
        counts.setdefault(name, {})[label] = n
    return counts

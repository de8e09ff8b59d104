"""The prediction log's writer: `python -m spectrum.shared.predlog.writer`.

Reads the stream (shared/predlog/stream.py) with a consumer group, inserts rows in
bulk, acknowledges (and deletes) entries only after their rows are committed, and
deletes rows past retention every SPECTRUM_PREDICTION_LOG_RETENTION_EVERY_S.

Outage behaviour, the invariant the tests check: every row sent is either in the
table or counted in `spectrum_prediction_log_dropped_rows_total`. While the database
is down the writer keeps reading into its backlog (bounded by
SPECTRUM_PREDICTION_LOG_BUFFER rows; entries that do not fit are counted as dropped
and acknowledged), retries with jittered exponential backoff, and writes the backlog
when the database answers again. Entries read but not committed stay pending in the
consumer group, so a writer that dies is caught up by the next one: it first
re-reads its consumer's pending entries, then new ones. Entries never read (writer
down) wait in the stream, bounded by SPECTRUM_PREDICTION_LOG_STREAM_MAX.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import redis
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from spectrum.shared.backoff import full_jitter
from spectrum.shared.config import Settings, get_settings
from spectrum.shared.logs import configure_logging
from spectrum.shared.predlog import migrate, retention
from spectrum.shared.predlog.backlog import Backlog, Entry
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.rows import ROWS_FIELD, decode_rows, for_insert
from spectrum.shared.predlog.schema import prediction_log

log = structlog.get_logger(__name__)

GROUP = "predlog-writer"
CONSUMER = "writer"  # one writer per deployment: a restart resumes the same consumer's pending
READ_COUNT = 200  # entries per XREADGROUP
BLOCK_MS = 200
LINGER_S = 0.5  # a row waits at most this long for its batch to fill (while the database is up)
RETRY_BASE_S = 0.5
RETRY_CAP_S = 10.0  # a database back after an outage is written to within 10 s


class WriterMetrics:
    """The writer's own registry (it is its own process with its own /metrics port)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.written = Counter(
            "spectrum_prediction_log_rows_written",
            "Prediction log rows committed to the database.",
            registry=self.registry,
        )
        self.dropped = Counter(
            "spectrum_prediction_log_dropped_rows",
            "Prediction log rows dropped: buffer_full (database down past the bound), "
            "malformed (an unreadable entry), rejected (the database refused the rows).",
            ["reason"],
            registry=self.registry,
        )
        self.trimmed = Counter(
            "spectrum_prediction_log_trimmed_entries",
            "Pending stream entries found already trimmed (the stream's bound was passed; "
            "their rows are unknown).",
            registry=self.registry,
        )
        self.buffered = Gauge(
            "spectrum_prediction_log_buffered_rows",
            "Rows read from the stream and not yet committed.",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "spectrum_prediction_log_database_up",
            "1 when the last write or retention pass reached the database.",
            registry=self.registry,
        )
        for reason in ("buffer_full", "malformed", "rejected"):
            self.dropped.labels(reason=reason)


class Writer:
    def __init__(
        self,
        settings: Settings,
        *,
        client: redis.Redis | None = None,
        engine: Engine | None = None,
        metrics: WriterMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._redis = client or redis.Redis.from_url(
            settings.result_backend_url, socket_timeout=5, socket_connect_timeout=2
        )
        self._engine = engine or engine_for(settings.database_url)
        self.metrics = metrics or WriterMetrics()
        self._clock = clock
        self._stream = settings.prediction_log_stream
        self.backlog = Backlog(settings.prediction_log_buffer)
        self._migrated = False
        self._failures = 0
        self._retry_at = 0.0
        self._retention_at = 0.0  # the first pass runs at start
        self._read_id = "0"  # this consumer's pending entries first (catch-up), then ">"
        self._group_ready = False
        self._held_since = 0.0  # when the backlog's oldest entry was read

    # The loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        log.info("prediction log writer started", stream=self._stream, group=GROUP)
        while not stop.is_set():
            self.step()
        # Write what is held while the database answers; the rest stays pending in the
        # consumer group, and the next writer re-reads it.
        while self.backlog and self._clock() >= self._retry_at:
            self._write_batch()
        log.info("prediction log writer stopped", backlog_rows=self.backlog.rows)

    def step(self) -> None:
        """One turn: read what arrived, write a batch when one is due and the database may
        be tried. A batch is due when it is full or its oldest row has waited LINGER_S:
        fewer, larger transactions cost the writer (and the cores it shares) less."""
        now = self._clock()
        database_ready = now >= self._retry_at
        due_at = self._due_at()
        wait_s = BLOCK_MS / 1000
        if database_ready and due_at is not None:
            wait_s = min(wait_s, max(due_at - now, 0.0))
        if not database_ready:
            wait_s = min(wait_s, max(self._retry_at - now, 0.001))
        try:
            if not self._group_ready:
                self._ensure_group()
            self._read(block_ms=max(int(wait_s * 1000), 1) if wait_s else None)
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # a restarted Redis without its data: make it again
                self._group_ready = False
            else:
                log.warning("prediction log stream refused a read", error=str(exc))
                time.sleep(0.5)
        except (redis.RedisError, OSError) as exc:
            log.warning("prediction log stream read failed", error=type(exc).__name__)
            time.sleep(0.5)
        due_at = self._due_at()
        if due_at is not None and self._clock() >= max(due_at, self._retry_at):
            self._write_batch()
        if self._clock() >= self._retention_at and self._clock() >= self._retry_at:
            self._retain()
        self.metrics.buffered.set(self.backlog.rows)

    def _due_at(self) -> float | None:
        """When the backlog's next batch is due (None: nothing held)."""
        if not self.backlog:
            return None
        if self.backlog.rows >= self._settings.prediction_log_batch:
            return 0.0
        return self._held_since + LINGER_S

    # Reading ----------------------------------------------------------------------------

    def _ensure_group(self) -> None:
        try:
            self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, block_ms: int | None) -> None:
        catching_up = self._read_id != ">"
        reply: Any = self._redis.xreadgroup(
            GROUP,
            CONSUMER,
            {self._stream: self._read_id},
            count=READ_COUNT,
            # A pending re-read answers at once; blocking applies to new entries only.
            block=None if catching_up else block_ms,
        )
        entries = reply[0][1] if reply else []
        if catching_up and not entries:
            self._read_id = ">"  # every pending entry was re-read: now the new ones
            return
        refused: list[str] = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            if catching_up:
                self._read_id = entry_id
            if fields is None or not fields:  # pending, but trimmed from the stream
                self.metrics.trimmed.inc()
                refused.append(entry_id)
                continue
            raw = fields.get(ROWS_FIELD.encode()) or fields.get(ROWS_FIELD)
            try:
                rows = decode_rows(raw)
            except (ValueError, TypeError):
                log.warning("unreadable prediction log entry", entry=entry_id)
                self.metrics.dropped.labels(reason="malformed").inc()
                refused.append(entry_id)
                continue
            if not self.backlog:
                self._held_since = self._clock()
            if not self.backlog.offer(Entry(entry_id, rows)):
                self.metrics.dropped.labels(reason="buffer_full").inc(len(rows))
                refused.append(entry_id)
        if refused:
            self._forget(refused)

    def _forget(self, entry_ids: list[str]) -> None:
        """Acknowledge and delete entries: written, or dropped and counted."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(self._stream, GROUP, *entry_ids)
            pipe.xdel(self._stream, *entry_ids)
            pipe.execute()

    # Writing ----------------------------------------------------------------------------

    def _write_batch(self) -> None:
        entries = self.backlog.batch(self._settings.prediction_log_batch)
        try:
            self._ensure_migrated()
            self._insert([row for entry in entries for row in entry.rows])
        except DBAPIError as exc:
            if _is_outage(exc):
                self._outage(exc)
                return
            # The database refused the data itself: find the entries it refuses, keep the rest.
            log.warning("prediction log batch refused", error=type(exc.orig).__name__)
            self._write_one_by_one(entries)
            return
        except SQLAlchemyError as exc:
            self._outage(exc)
            return
        self.metrics.written.inc(sum(len(e.rows) for e in entries))
        self._committed(entries)

    def _write_one_by_one(self, entries: list[Entry]) -> None:
        """Each entry in its own transaction; the ones refused are dropped and counted."""
        done: list[Entry] = []
        for entry in entries:
            try:
                self._insert(entry.rows)
            except DBAPIError as exc:
                if _is_outage(exc):
                    break  # the rest stays in the backlog
                self.metrics.dropped.labels(reason="rejected").inc(len(entry.rows))
            else:
                self.metrics.written.inc(len(entry.rows))
            done.append(entry)
        if done:
            self._committed(done)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(prediction_log), [for_insert(row) for row in rows])

    def _committed(self, entries: list[Entry]) -> None:
        """The first entries of the backlog are settled (written or counted): let them go."""
        self.backlog.remove(entries)
        self._held_since = self._clock()  # what is left waits from now
        self._ack(entries)
        self._recovered()

    def _ack(self, entries: list[Entry]) -> None:
        try:
            self._forget([e.id for e in entries])
        except (redis.RedisError, OSError) as exc:
            # Committed but not acknowledged: a restart would write these rows twice.
            log.warning("prediction log ack failed", error=type(exc).__name__)

    def _ensure_migrated(self) -> None:
        if not self._migrated:
            migrate.upgrade(self._settings.database_url)
            self._migrated = True

    def _outage(self, exc: Exception) -> None:
        delay = full_jitter(RETRY_BASE_S, self._failures, RETRY_CAP_S)
        self._failures += 1
        self._retry_at = self._clock() + max(delay, 0.05)
        self.metrics.database_up.set(0)
        log.warning(
            "prediction log database unavailable",
            error=type(exc).__name__,
            retry_in_s=round(delay, 2),
            backlog_rows=self.backlog.rows,
        )

    def _recovered(self) -> None:
        if self._failures:
            log.info("prediction log database back", backlog_rows=self.backlog.rows)
        self._failures = 0
        self._retry_at = 0.0
        self.metrics.database_up.set(1)

    def _retain(self) -> None:
        self._retention_at = self._clock() + self._settings.prediction_log_retention_every_s
        try:
            self._ensure_migrated()
            gone = retention.delete_expired(
                self._engine, datetime.now(UTC), self._settings.prediction_log_days
            )
        except SQLAlchemyError as exc:
            self._outage(exc)
            self._retention_at = 0.0  # try again once the database is back
            return
        self._recovered()
        if gone:
            log.info("prediction log retention", deleted=gone)


def _is_outage(exc: DBAPIError) -> bool:
    """Whether the database is unreachable (retry) rather than refusing the data (drop)."""
    return exc.connection_invalidated or isinstance(exc, OperationalError)


def main() -> None:
    settings = get_settings()
    configure_logging(settings, "predlog-writer")
    writer = Writer(settings)
    if settings.prediction_log_metrics_port:
        start_http_server(
            settings.prediction_log_metrics_port,
            addr=settings.prediction_log_metrics_host,
            registry=writer.metrics.registry,
        )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    writer.run(stop)


if __name__ == "__main__":
    main()

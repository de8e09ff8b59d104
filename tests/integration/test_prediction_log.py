"""The prediction log end to end: a real gateway, worker, writer process, Redis and database.

The same tests run over SQLite and the machine's PostgreSQL (each run in its own schema);
the outage tests stop and start a private PostgreSQL of their own, never the shared one.
Invariant checked throughout: every row sent is in the table or counted as dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url

from spectrum.shared.config import Settings
from spectrum.shared.predictions import Answer
from spectrum.shared.predlog.backlog import Backlog
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.migrate import upgrade
from spectrum.shared.predlog.rows import rows_for
from spectrum.shared.predlog.schema import prediction_log
from spectrum.shared.predlog.stream import send_sync
from spectrum.shared.predlog.writer import Writer
from spectrum_dev.harness import Process
from spectrum_dev.private_redis import free_port
from tests.integration import postgres_node
from tests.integration.job_runs import submit, texts, wait_until_ended
from tests.integration.stack import Stack

SHARED_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY = "log19-test-key-" + "x" * 20
# The server secret key ids are an HMAC under (SPECTRUM_KEY_ID_SECRET).
SECRET = "log-test-key-id-secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty prediction log database: an SQLite file, or a fresh schema in the local
    PostgreSQL (dropped afterwards: other runs share that database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
        return
    schema = f"predlog_{uuid.uuid4().hex[:10]}"
    admin = engine_for(SHARED_POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # no PostgreSQL on this machine
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {SHARED_POSTGRES}: {type(exc).__name__}")
    try:
        yield f"{SHARED_POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def private_postgres() -> Iterator[postgres_node.PrivatePostgres]:
    if not postgres_node.available():
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    node = postgres_node.PrivatePostgres().start()
    try:
        yield node
    finally:
        node.remove()


def count_rows(url: str, **where: Any) -> int:
    engine = engine_for(url)
    try:
        query = select(func.count()).select_from(prediction_log)
        for column, value in where.items():
            query = query.where(prediction_log.c[column] == value)
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    except Exception:  # not migrated yet, or the database is down
        return -1
    finally:
        engine.dispose()


def all_rows(url: str) -> list[dict[str, Any]]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            result = connection.execute(select(prediction_log).order_by(prediction_log.c.id))
            return [dict(row._mapping) for row in result]
    finally:
        engine.dispose()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start_writer(stack: Stack, **overrides: Any) -> Process:
    return stack.harness.start_writer(stack.env(**overrides))


def writer_metric(port: int, name: str) -> float:
    """A sample's value (summed over labels) from the writer's /metrics."""
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def predict(client: httpx.Client, batch: list[str], request_id: str) -> None:
    answer = client.post(
        "/v1/predict",
        json={"texts": batch},
        headers={"X-Request-ID": request_id, "Authorization": f"Bearer {KEY}"},
    )
    assert answer.status_code == 200, answer.text


def test_every_answered_text_is_logged_once_with_its_fields(
    make_stack: Any, database_url: str
) -> None:
    stack: Stack = make_stack(database_url=database_url, api_keys=KEY, key_id_secret=SECRET)
    stack.start_worker()
    writer = start_writer(stack)
    stack.start_api()
    batch = texts(3)
    with stack.client() as client:
        predict(client, batch, "req-computed")
        predict(client, batch, "req-cached")  # the same texts: answered from the cache
        client.headers["Authorization"] = f"Bearer {KEY}"
        job_id = submit(client, texts(4))
        wait_until_ended(client, job_id)

    wait_until(lambda: count_rows(database_url) >= 10, 60, "10 rows")
    time.sleep(0.5)  # nothing more arrives: each text was logged once
    rows = all_rows(database_url)
    assert len(rows) == 10
    computed = [r for r in rows if r["request_id"] == "req-computed"]
    cached = [r for r in rows if r["request_id"] == "req-cached"]
    jobs = [r for r in rows if r["job_id"] == job_id]
    assert [r["cached"] for r in computed] == [False] * 3
    assert [r["cached"] for r in cached] == [True] * 3
    assert len(jobs) == 4
    assert {r["source"] for r in jobs} == {"job"}
    assert {r["source"] for r in computed + cached} == {"predict"}
    # The key's id: HMAC-SHA256 of its digest under the server's secret, 16 hex digits.
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    key_id = hmac.new(SECRET.encode(), digest.encode(), hashlib.sha256).hexdigest()[:16]
    assert {r["key_id"] for r in computed} == {key_id}  # identifies the key
    assert {r["key_id"] for r in jobs} == {key_id}  # the job's rows name it too
    assert all(KEY not in str(r.values()) for r in rows)  # never the key itself
    assert all(r["text"] is None for r in rows)  # texts are not kept by default
    hashes = {hashlib.sha256(t.encode()).hexdigest() for t in batch}
    assert {r["text_hash"] for r in computed} == hashes
    first = computed[0]
    assert first["model"] == stack.model_name
    assert first["version"]
    assert first["label"] in first["probabilities"]
    assert first["score"] == max(first["probabilities"].values())
    assert first["latency_ms"] > 0
    assert first["truncated"] is False
    at = first["at"] if first["at"].tzinfo else first["at"].replace(tzinfo=UTC)
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=5)
    assert writer.alive()


def test_texts_are_kept_only_when_asked(make_stack: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'texts.db'}"
    stack: Stack = make_stack(database_url=url, log_texts="true")
    stack.start_worker()
    start_writer(stack)
    stack.start_api()
    batch = texts(2)
    with stack.client() as client:
        assert client.post("/v1/predict", json={"texts": batch}).status_code == 200
    wait_until(lambda: count_rows(url) == 2, 60, "2 rows")
    assert sorted(r["text"] for r in all_rows(url)) == sorted(batch)
    assert {r["key_id"] for r in all_rows(url)} == {None}  # keys are off


def test_a_database_outage_fails_no_prediction_and_loses_only_counted_rows(
    make_stack: Any, private_postgres: postgres_node.PrivatePostgres
) -> None:
    """PostgreSQL stops mid-traffic and starts again: every answer is a 200, the writer's
    bound is hit (rows dropped and counted), and every row not counted is in the table."""
    url = private_postgres.url
    port = free_port()
    stack: Stack = make_stack(
        database_url=url,
        api_keys=KEY,
        prediction_log_buffer=60,
        prediction_log_metrics_port=port,
    )
    stack.start_worker()
    start_writer(stack)
    stack.start_api()
    sent: dict[str, int] = {}
    with stack.client() as client:

        def traffic(requests: int, label: str) -> None:
            for i in range(requests):
                request_id = f"{label}-{i}"
                predict(client, texts(3), request_id)  # a 200 whatever the database does
                sent[request_id] = 3

        traffic(10, "before")
        wait_until(lambda: count_rows(url) == 30, 60, "the first rows")
        private_postgres.stop()
        traffic(40, "during")  # 120 rows against a 60-row buffer
        wait_until(
            lambda: writer_metric(port, "spectrum_prediction_log_dropped_rows_total") > 0,
            60,
            "the bound to be hit",
        )
        private_postgres.start()
        wait_until(
            lambda: (
                writer_metric(port, "spectrum_prediction_log_database_up") == 1
                and writer_metric(port, "spectrum_prediction_log_buffered_rows") == 0
            ),
            60,
            "the writer to reach the database again",
        )
        traffic(10, "after")

    total = sum(sent.values())
    wait_until(
        lambda: (
            count_rows(url) + writer_metric(port, "spectrum_prediction_log_dropped_rows_total")
            == total
        ),
        90,
        "the backlog to be written",
    )
    dropped = writer_metric(port, "spectrum_prediction_log_dropped_rows_total")
    assert 0 < dropped <= 120  # only rows sent during the outage, past the buffer's 60
    assert total - count_rows(url) == dropped
    found: dict[str, int] = {}
    for row in all_rows(url):
        found[row["request_id"]] = found.get(row["request_id"], 0) + 1
    assert all(found.get(f"before-{i}") == 3 for i in range(10))
    assert all(found.get(f"after-{i}") == 3 for i in range(10))
    # A request's rows travel together: each is whole in the table or whole dropped.
    assert set(found.values()) == {3}
    assert total - sum(found.values()) == dropped
    assert writer_metric(port, "spectrum_prediction_log_database_up") == 1


def test_a_writer_killed_during_an_outage_is_caught_up_by_the_next_one(
    make_stack: Any, private_postgres: postgres_node.PrivatePostgres
) -> None:
    """Entries read but never committed stay pending in the stream: a new writer writes
    them, and what arrived while no writer ran, without losing or doubling a row."""
    url = private_postgres.url
    stack: Stack = make_stack(database_url=url)
    stack.start_worker()
    writer = start_writer(stack)
    stack.start_api()
    with stack.client() as client:
        for i in range(3):
            assert (
                client.post(
                    "/v1/predict", json={"texts": texts(2)}, headers={"X-Request-ID": f"a-{i}"}
                ).status_code
                == 200
            )
        wait_until(lambda: count_rows(url) == 6, 60, "the first rows")
        private_postgres.stop()
        for i in range(5):
            assert (
                client.post(
                    "/v1/predict", json={"texts": texts(2)}, headers={"X-Request-ID": f"b-{i}"}
                ).status_code
                == 200
            )
        pending = redis.Redis.from_url(stack.settings["result_backend_url"])
        stream = stack.settings["prediction_log_stream"]

        def all_held() -> bool:  # every entry in the stream read by the writer, none acked
            held = pending.xpending(stream, "predlog-writer")["pending"]
            return bool(held) and held == pending.xlen(stream)

        wait_until(all_held, 30, "the writer to hold the outage's entries")
        writer.send(signal.SIGKILL)
        writer.wait(10)
        for i in range(2):  # no writer at all: the stream holds them
            assert (
                client.post(
                    "/v1/predict", json={"texts": texts(2)}, headers={"X-Request-ID": f"c-{i}"}
                ).status_code
                == 200
            )
        private_postgres.start()
        start_writer(stack)
        wait_until(lambda: count_rows(url) == 20, 60, "all 20 rows")
        time.sleep(0.5)
        rows = all_rows(url)
        pending.close()
    assert len(rows) == 20
    assert len({(r["request_id"], r["text_hash"]) for r in rows}) == 20  # none twice


# The writer in-process, over the real Redis and both databases: batching and retention.


def writer_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        env_file="",
        database_url=database_url,
        prediction_log_stream=f"spectrum:predlog:test-{uuid.uuid4().hex[:8]}",
        **overrides,
    )


def some_rows(count: int, *, at: float) -> list[dict[str, Any]]:
    answer = Answer("POSITIVE", 0.7, {"NEGATIVE": 0.3, "POSITIVE": 0.7}, False, False)
    return rows_for(
        [f"text {uuid.uuid4().hex}" for _ in range(count)],
        [answer] * count,
        ["v1"] * count,
        model="m",
        source="predict",
        at=at,
        latency_ms=1.0,
        log_texts=False,
    )


def inserts_of(engine: Engine) -> list[int]:
    """The row count of every INSERT the engine runs, recorded as they run."""
    sizes: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PREDICTION_LOG"):
            sizes.append(len(params) if many else 1)

    return sizes


def test_the_writer_inserts_in_batches_of_at_most_its_batch_size(
    redis_url: str, database_url: str
) -> None:
    settings = writer_settings(database_url, prediction_log_batch=25)
    client = redis.Redis.from_url(redis_url)
    engine = engine_for(database_url)
    sizes = inserts_of(engine)
    writer = Writer(settings, client=client, engine=engine)
    try:
        writer.step()  # creates the group, migrates (retention's first pass)
        for _ in range(20):  # 20 requests of 4 rows
            send_sync(
                client,
                some_rows(4, at=time.time()),
                stream_max=1000,
                stream=settings.prediction_log_stream,
            )
        for _ in range(50):
            writer.step()
            if sum(sizes) == 80:
                break
        assert sum(sizes) == 80
        assert count_rows(database_url) == 80
        assert max(sizes) <= 25
        assert len(sizes) >= 4
        assert sizes[0] > 1
        assert client.xlen(settings.prediction_log_stream) == 0  # written entries are deleted
    finally:
        client.delete(settings.prediction_log_stream)
        client.close()
        engine.dispose()


def test_retention_deletes_rows_past_their_days_and_keeps_the_rest(
    redis_url: str, database_url: str
) -> None:
    settings = writer_settings(
        database_url, prediction_log_days=30, prediction_log_retention_every_s=0.2
    )
    client = redis.Redis.from_url(redis_url)
    engine = engine_for(database_url)
    writer = Writer(settings, client=client, engine=engine)
    now = time.time()
    try:
        writer.step()
        for age_days in (40, 31, 29, 1):
            send_sync(
                client,
                some_rows(2, at=now - age_days * 86400),
                stream_max=1000,
                stream=settings.prediction_log_stream,
            )
        wait_until(lambda: (writer.step(), count_rows(database_url))[1] >= 4, 30, "rows")
        deadline = time.monotonic() + 30
        while count_rows(database_url) != 4:
            assert time.monotonic() < deadline, "retention did not run"
            writer.step()
        kept = all_rows(database_url)
        oldest = min(r["at"] if r["at"].tzinfo else r["at"].replace(tzinfo=UTC) for r in kept)
        assert datetime.now(UTC) - oldest < timedelta(days=30)
    finally:
        client.delete(settings.prediction_log_stream)
        client.close()
        engine.dispose()


def test_migrations_are_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # a second run changes nothing and does not fail
    assert count_rows(database_url) == 0
    assert make_url(engine_for(database_url).url).get_backend_name() in {"sqlite", "postgresql"}


def test_the_bound_holds_while_the_database_is_unreachable(redis_url: str, tmp_path: Path) -> None:
    """Nothing listens at the URL: the writer keeps reading, holds at most its buffer, counts
    the rest as dropped, and writes what it held once a database answers."""
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    settings = writer_settings(dead, prediction_log_buffer=10)
    client = redis.Redis.from_url(redis_url)
    writer = Writer(settings, client=client)
    try:
        writer.step()
        for _ in range(6):
            send_sync(
                client,
                some_rows(3, at=time.time()),
                stream_max=1000,
                stream=settings.prediction_log_stream,
            )
        for _ in range(20):
            writer.step()
        assert writer.backlog.rows == 9  # three entries of 3 fit under 10
        assert writer.metrics.dropped.labels(reason="buffer_full")._value.get() == 9
        assert writer.metrics.database_up._value.get() == 0
        # The database answers again (here: another URL): the held rows are written.
        url = f"sqlite:///{tmp_path / 'back.db'}"
        writer._settings = writer_settings(url)
        writer._engine = engine_for(url)
        writer._retry_at = 0.0
        for _ in range(10):
            writer.step()
        assert count_rows(url) == 9
        assert writer.backlog.rows == 0
        assert isinstance(writer.backlog, Backlog)
    finally:
        client.delete(settings.prediction_log_stream)
        client.close()

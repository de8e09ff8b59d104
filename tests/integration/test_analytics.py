"""/v1/analytics against known rows in a real SQLite file and the real PostgreSQL.

Rows are inserted straight into `prediction_log` (each test its own model names);
every figure the API answers is checked against a direct SQL count of the same rows.
The gateway runs in-process (tests/unit/inprocess.py) on a real engine: what is under
test is the SQL and its arithmetic, which no fake could stand in for. PostgreSQL is
the development machine's (postgresql+psycopg://postgres@127.0.0.1:5432/test; skipped
where none answers); each run gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import OperationalError

from spectrum.api.analytics import export
from spectrum.api.analytics.drift_gauge import DriftGauge
from spectrum.api.app.factory import create_app
from spectrum.api.app.resources import Resources
from spectrum.api.edge.keys import KeyIds, digest
from spectrum.api.observability.metrics import REGISTRY
from spectrum.shared.config import Settings
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.schema import metadata, prediction_log
from spectrum_client import cli
from spectrum_dev.private_redis import free_port
from tests.unit.inprocess import resources, serve

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # the known traffic's window starts here
SINCE, UNTIL = T0, T0 + timedelta(hours=3)
WINDOW = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = engine_for(f"sqlite:///{tmp_path / 'spectrum.db'}")
        metadata.create_all(made)
        yield made
        made.dispose()
        return
    schema = f"analytics_{uuid.uuid4().hex[:12]}"
    admin = engine_for(POSTGRES)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:  # a machine without PostgreSQL: SQLite still runs
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {type(exc).__name__}")
    made = engine_for(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    try:
        metadata.create_all(made)
        yield made
    finally:
        made.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(resources(Settings(log_json=True), log_db=engine)) as client:
        yield client


def model_name(role: str) -> str:
    return f"an-{role}-{uuid.uuid4().hex[:8]}"


def row(model: str, at: datetime, label: str, **fields: Any) -> dict[str, Any]:
    score = fields.pop("score", 0.9)
    other = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
    values = {
        "at": at,
        "model": model,
        "version": "1",
        "label": label,
        "score": score,
        "probabilities": {label: score, other: round(1 - score, 6)},
        "latency_ms": None,
        "cached": False,
        "truncated": False,
        "source": "predict",
        "alias": None,
        "request_id": None,
        "job_id": None,
        "key_id": None,
        "text_hash": uuid.uuid4().hex,
        "text": None,
    }
    values.update(fields)
    return values


def put(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(prediction_log), rows)


def sql(engine: Engine, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(statement), params)]


def known_traffic(model: str) -> list[dict[str, Any]]:
    """Three hours of two versions: labels, cache hits, latencies and keys all varied,
    plus rows just outside the window on both sides (the window is half-open)."""
    rows = []
    for i in range(180):
        at = T0 + timedelta(minutes=i, seconds=17)
        version = "1" if i % 4 else "2"
        label = "NEGATIVE" if i % 3 == 0 else "POSITIVE"
        rows.append(
            row(
                model,
                at,
                label,
                version=version,
                cached=i % 5 == 0,
                latency_ms=float((i * 37) % 101) + 0.5,
                key_id=("key-a" if i % 2 else "key-b") if i % 7 else None,
                score=0.6 + (i % 4) / 10,
            )
        )
    rows.append(row(model, SINCE - timedelta(microseconds=1), "POSITIVE", latency_ms=1e6))
    rows.append(row(model, UNTIL, "NEGATIVE", latency_ms=1e6))
    return rows


async def test_volume_equals_direct_counts_per_version_hour_and_label(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    model = model_name("volume")
    put(engine, known_traffic(model))
    put(engine, known_traffic(model_name("other")))  # another model: not in a filtered answer
    answer = await api.get("/v1/analytics/volume", params={**WINDOW, "model": model})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["bucket"] == "hour"
    series = {s["version"]: s for s in body["series"]}
    assert {s["model"] for s in body["series"]} == {model}
    counted = sql(
        engine,
        "SELECT version, label, count(*) FROM prediction_log "
        "WHERE model = :m AND at >= :s AND at < :u GROUP BY version, label",
        m=model,
        s=SINCE,
        u=UNTIL,
    )
    assert {(v, label): n for v, label, n in counted} == {
        (v, label): n for v, s in series.items() for label, n in s["labels"].items()
    }
    for version, s in series.items():
        [(total, hits)] = sql(
            engine,
            "SELECT count(*), sum(CASE WHEN cached THEN 1 ELSE 0 END) FROM prediction_log "
            "WHERE model = :m AND at >= :s AND at < :u AND version = :v",
            m=model,
            s=SINCE,
            u=UNTIL,
            v=version,
        )
        assert (s["total"], s["cached"]) == (total, hits)
        assert s["cache_hit_share"] == pytest.approx(hits / total)
        assert sum(s["shares"].values()) == pytest.approx(1.0)
        assert [p["start"] for p in s["points"]] == [
            (T0 + timedelta(hours=h)).isoformat().replace("+00:00", "Z") for h in range(3)
        ]
        for point in s["points"]:
            start = datetime.fromisoformat(point["start"])
            [(n,)] = sql(
                engine,
                "SELECT count(*) FROM prediction_log WHERE model = :m AND version = :v "
                "AND at >= :s AND at < :u",
                m=model,
                v=version,
                s=start,
                u=start + timedelta(hours=1),
            )
            assert point["total"] == n == sum(point["labels"].values())


async def test_minute_buckets_cover_each_minute_with_traffic(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    model = model_name("minutes")
    put(engine, known_traffic(model))
    answer = await api.get(
        "/v1/analytics/volume", params={**WINDOW, "model": model, "bucket": "minute"}
    )
    assert answer.status_code == 200, answer.text
    points = [p for s in answer.json()["series"] for p in s["points"]]
    assert len(points) == 180  # one row a minute, each in its own bucket
    assert sum(p["total"] for p in points) == 180


async def test_latency_percentiles_equal_the_nearest_ranks_in_sql(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    model = model_name("latency")
    put(engine, known_traffic(model))
    put(engine, [row(model, T0 + timedelta(minutes=5), "POSITIVE", version="1")])  # no latency
    answer = await api.get("/v1/analytics/latency", params={**WINDOW, "model": model})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"].startswith("exact nearest-rank")
    for s in body["series"]:
        args = {"m": model, "v": s["version"], "s": SINCE, "u": UNTIL}
        [(count, top)] = sql(
            engine,
            "SELECT count(*), max(latency_ms) FROM prediction_log WHERE model = :m "
            "AND version = :v AND at >= :s AND at < :u AND latency_ms IS NOT NULL",
            **args,
        )
        assert s["count"] == count
        assert s["percentiles"]["max"] == top
        for p in (50, 90, 99):
            [(value,)] = sql(
                engine,
                "SELECT latency_ms FROM prediction_log WHERE model = :m AND version = :v "
                "AND at >= :s AND at < :u AND latency_ms IS NOT NULL "
                "ORDER BY latency_ms LIMIT 1 OFFSET :k",
                k=math.ceil(p / 100 * count) - 1,
                **args,
            )
            assert s["percentiles"][f"p{p}"] == value
        assert sum(point["count"] for point in s["points"]) == count


async def test_volume_per_key_equals_direct_counts(api: httpx.AsyncClient, engine: Engine) -> None:
    model = model_name("keys")
    put(engine, known_traffic(model))
    answer = await api.get("/v1/analytics/keys", params={**WINDOW, "model": model})
    assert answer.status_code == 200, answer.text
    keys = answer.json()["keys"]
    counted = sql(
        engine,
        "SELECT key_id, count(*) FROM prediction_log WHERE model = :m AND at >= :s AND at < :u "
        "GROUP BY key_id",
        m=model,
        s=SINCE,
        u=UNTIL,
    )
    assert {k["key_id"]: k["total"] for k in keys} == dict(counted)
    assert [k["total"] for k in keys] == sorted((k["total"] for k in keys), reverse=True)
    assert all(k["models"] == {model: k["total"]} for k in keys)


async def test_agreement_on_shared_texts_equals_a_direct_join(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    a, b = model_name("primary"), model_name("shadow")
    rows = []
    for i in range(40):
        text_hash = f"{i:064x}"
        at = T0 + timedelta(minutes=i)
        label_a = "POSITIVE" if i % 2 else "NEGATIVE"
        label_b = label_a if i % 5 else ("NEGATIVE" if label_a == "POSITIVE" else "POSITIVE")
        rows.append(row(a, at, label_a, text_hash=text_hash))
        rows.append(row(a, at + timedelta(seconds=1), label_a, text_hash=text_hash))  # asked twice
        if i < 30:  # ten of A's texts have no answer of B's
            rows.append(row(b, at, label_b, text_hash=text_hash, source="shadow", version="7"))
    rows.append(row(b, T0, "POSITIVE", source="shadow", version="7"))  # a text only B saw
    put(engine, rows)
    answer = await api.get("/v1/analytics/agreement", params={**WINDOW, "a": a, "b": b})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    joined = (
        "SELECT x.label, y.label FROM "
        "(SELECT DISTINCT text_hash, label FROM prediction_log "
        "WHERE model = :a AND at >= :s AND at < :u) x JOIN "
        "(SELECT DISTINCT text_hash, label FROM prediction_log "
        "WHERE model = :b AND at >= :s AND at < :u) y ON x.text_hash = y.text_hash"
    )
    pairs = sql(engine, joined, a=a, b=b, s=SINCE, u=UNTIL)
    texts, agreed = len(pairs), sum(1 for x, y in pairs if x == y)
    assert (body["texts"], body["agreed"]) == (texts, agreed) == (30, 24)
    assert body["agreement"] == pytest.approx(24 / 30)
    assert body["versions"] == [
        {"a_version": "1", "b_version": "7", "texts": 30, "agreed": 24, "agreement": 0.8}
    ]
    assert sum(n for row_ in body["confusion"].values() for n in row_.values()) == 30
    nothing = await api.get("/v1/analytics/agreement", params={**WINDOW, "a": a, "b": "nobody"})
    assert nothing.json()["texts"] == 0
    assert nothing.json()["agreement"] is None


def shifted(model: str, start: datetime, positive: int, negative: int) -> list[dict[str, Any]]:
    labels = ["POSITIVE"] * positive + ["NEGATIVE"] * negative
    return [
        row(model, start + timedelta(seconds=i), label, score=0.8 if label == "POSITIVE" else 0.7)
        for i, label in enumerate(labels)
    ]


async def test_drift_of_a_constructed_shift_and_of_the_same_distribution(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    drifting, steady = model_name("drifting"), model_name("steady")
    reference = T0 - timedelta(days=2)
    put(engine, shifted(drifting, reference, 80, 20) + shifted(drifting, T0, 20, 80))
    put(engine, shifted(steady, reference, 80, 20) + shifted(steady, T0, 40, 10))
    params = {
        **WINDOW,
        "reference_since": reference.isoformat(),
        "reference_until": (reference + timedelta(days=1)).isoformat(),
    }
    answer = await api.get("/v1/analytics/drift", params={**params, "model": drifting})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reference"]["labels"] == {"NEGATIVE": 20, "POSITIVE": 80}
    assert body["recent"]["labels"] == {"NEGATIVE": 80, "POSITIVE": 20}
    assert body["reference"]["mean_confidence"] == pytest.approx((80 * 0.8 + 20 * 0.7) / 100)
    assert body["recent"]["mean_confidence"] == pytest.approx((20 * 0.8 + 80 * 0.7) / 100)
    assert body["psi"] == pytest.approx(2 * 0.6 * math.log(4))
    assert body["psi"] > 0.2
    same = (await api.get("/v1/analytics/drift", params={**params, "model": steady})).json()
    assert same["psi"] == pytest.approx(0.0, abs=1e-12)
    assert same["recent"]["shares"] == same["reference"]["shares"]


async def test_the_drift_gauge_is_refreshed_at_most_once_per_interval(engine: Engine) -> None:
    drifting, steady = model_name("gauge-drift"), model_name("gauge-steady")
    now = T0 + timedelta(hours=1)
    week_ago = now - timedelta(days=3)
    put(engine, shifted(drifting, week_ago, 80, 20) + shifted(drifting, T0, 20, 80))
    put(engine, shifted(steady, week_ago, 80, 20) + shifted(steady, T0, 80, 20))
    ticks = [0.0]
    gauge = DriftGauge(engine, clock=lambda: ticks[0], every_s=60, now=lambda: now)

    def value(model: str) -> float | None:
        return REGISTRY.get_sample_value("spectrum_drift_psi", {"model": model})

    await gauge.refresh()
    assert value(drifting) == pytest.approx(2 * 0.6 * math.log(4))
    assert value(steady) == pytest.approx(0.0, abs=1e-12)
    put(engine, shifted(steady, T0 + timedelta(minutes=30), 0, 500))
    ticks[0] = 59.0
    await gauge.refresh()  # within the interval: no query, the old figure
    assert value(steady) == pytest.approx(0.0, abs=1e-12)
    ticks[0] = 60.0
    await gauge.refresh()
    assert (value(steady) or 0.0) > 0.2


async def test_the_export_streams_every_row_of_the_window_as_csv_and_ndjson(
    api: httpx.AsyncClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PAGE_ROWS", 7)  # 182 rows: many pages, one partial
    model = model_name("export")
    put(engine, known_traffic(model))
    put(engine, [row(model, T0, "POSITIVE", text="kept", alias="sentiment", request_id="r1")])
    stored = {
        r[0]: r
        for r in sql(
            engine,
            "SELECT id, model, version, label, score, latency_ms, cached, key_id, text_hash, "
            "text FROM prediction_log WHERE model = :m AND at >= :s AND at < :u",
            m=model,
            s=SINCE,
            u=UNTIL,
        )
    }
    assert len(stored) == 181

    answer = await api.get("/v1/analytics/export", params={**WINDOW, "model": model})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="prediction-log.csv"' in answer.headers["content-disposition"]
    records = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["id"]) for r in records] == sorted(stored)
    for r in records:
        _, name, version, label, score, latency, cached, key_id, text_hash, text_ = stored[
            int(r["id"])
        ]
        assert (r["model"], r["version"], r["label"]) == (name, version, label)
        assert float(r["score"]) == score
        assert (float(r["latency_ms"]) if r["latency_ms"] else None) == latency
        assert r["cached"] == ("true" if cached else "false")
        assert (r["key_id"] or None, r["text_hash"], r["text"] or None) == (
            key_id,
            text_hash,
            text_,
        )
        assert json.loads(r["probabilities"])[label] == score
        assert SINCE <= datetime.fromisoformat(r["at"]) < UNTIL

    ndjson = await api.get(
        "/v1/analytics/export", params={**WINDOW, "model": model, "format": "ndjson"}
    )
    assert ndjson.status_code == 200, ndjson.text
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [line["id"] for line in lines] == sorted(stored)
    for line in lines:
        _, name, version, label, score, latency, cached, key_id, text_hash, text_ = stored[
            line["id"]
        ]
        assert (line["model"], line["label"], line["score"], line["latency_ms"]) == (
            name,
            label,
            score,
            latency,
        )
        assert (line["cached"], line["key_id"], line["text"]) == (cached, key_id, text_)
    assert sum(1 for line in lines if line["alias"] == "sentiment") == 1


async def test_windows_buckets_and_formats_beyond_the_bounds_are_422_with_a_reason(
    api: httpx.AsyncClient,
) -> None:
    cases = [
        ("/v1/analytics/volume", {"since": UNTIL.isoformat(), "until": SINCE.isoformat()}),
        ("/v1/analytics/volume", {"since": (UNTIL - timedelta(days=32)).isoformat()}),
        ("/v1/analytics/volume", {**WINDOW, "bucket": "week"}),
        (
            "/v1/analytics/latency",
            {
                "since": SINCE.isoformat(),
                "until": (SINCE + timedelta(days=2)).isoformat(),
                "bucket": "minute",
            },
        ),
        ("/v1/analytics/export", {**WINDOW, "format": "xml"}),
        ("/v1/analytics/drift", WINDOW),  # no model
        ("/v1/analytics/volume", {"since": "yesterday"}),
    ]
    for path, params in cases:
        answer = await api.get(path, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
        assert answer.json()["error"] == "InvalidInput"
        assert answer.json()["detail"]


async def test_analytics_need_a_key_when_keys_are_on(engine: Engine) -> None:
    settings = Settings(log_json=True, api_keys="analytics-key", key_id_secret="s")
    async with serve(resources(settings, log_db=engine)) as client:
        refused = await client.get("/v1/analytics/volume", params=WINDOW)
        assert refused.status_code == 401
        refused = await client.get("/v1/analytics/export", params=WINDOW)
        assert refused.status_code == 401
        allowed = await client.get(
            "/v1/analytics/volume",
            params=WINDOW,
            headers={"Authorization": "Bearer analytics-key"},
        )
        assert allowed.status_code == 200, allowed.text


async def test_a_client_key_sees_only_its_own_rows_and_an_admin_key_every_keys(
    engine: Engine,
) -> None:
    secret = "scope-secret"
    ids = KeyIds.from_settings(Settings(key_id_secret=secret), backend=None)  # type: ignore[arg-type]
    alice, bob = await ids.of(digest("alice")), await ids.of(digest("bob"))
    model = model_name("scope")
    at = T0 + timedelta(minutes=5)
    put(
        engine,
        [row(model, at, "POSITIVE", key_id=alice, text="alice's words") for _ in range(3)]
        + [row(model, at, "NEGATIVE", key_id=bob, text="bob's words") for _ in range(5)]
        + [row(model, at, "NEGATIVE")],  # a job row, or keys off: no key
    )
    settings = Settings(log_json=True, api_keys="alice,bob,root:admin", key_id_secret=secret)
    params = {**WINDOW, "model": model}
    async with serve(resources(settings, log_db=engine)) as client:

        async def seen(key: str) -> tuple[Any, Any, Any, str]:
            headers = {"X-API-Key": key}
            keys = (await client.get("/v1/analytics/keys", params=params, headers=headers)).json()
            volume = await client.get("/v1/analytics/volume", params=params, headers=headers)
            latency = await client.get("/v1/analytics/latency", params=params, headers=headers)
            exported = await client.get(
                "/v1/analytics/export", params={**params, "format": "ndjson"}, headers=headers
            )
            totals = sum(s["total"] for s in volume.json()["series"])
            return keys["keys"], totals, latency.status_code, exported.text

        alice_keys, alice_total, _, alice_export = await seen("alice")
        root_keys, root_total, _, root_export = await seen("root")

    assert [(k["key_id"], k["total"]) for k in alice_keys] == [(alice, 3)]
    assert alice_total == 3
    assert "bob's words" not in alice_export
    assert {json.loads(line)["key_id"] for line in alice_export.splitlines()} == {alice}
    assert {(k["key_id"], k["total"]) for k in root_keys} == {(alice, 3), (bob, 5), (None, 1)}
    assert root_total == 9
    assert len(root_export.splitlines()) == 9


async def test_analytics_answer_404_when_the_log_is_off() -> None:
    async with serve(resources(Settings(log_json=True, prediction_log=False))) as client:
        answer = await client.get("/v1/analytics/volume")
    assert answer.status_code == 404
    assert answer.json()["error"] == "PredictionLogOff"
    assert "SPECTRUM_PREDICTION_LOG" in answer.json()["detail"]


@pytest.fixture
def served_log(engine: Engine) -> Iterator[str]:
    """The gateway on a real port (uvicorn in a thread), reading `engine`: its base URL."""

    async def open_given(settings: Settings, _stack: AsyncExitStack) -> Resources:
        return resources(settings, log_db=engine)

    app = create_app(Settings(log_json=True), open_resources=open_given)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_spectrum_export_writes_csv_ndjson_and_parquet_of_the_rows(
    served_log: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PAGE_ROWS", 50)
    model = model_name("cli")
    put(engine, known_traffic(model))
    ids = sorted(
        i
        for (i,) in sql(
            engine,
            "SELECT id FROM prediction_log WHERE model = :m AND at >= :s AND at < :u",
            m=model,
            s=SINCE,
            u=UNTIL,
        )
    )
    window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--model", model]
    for name in ("log.csv", "log.ndjson"):
        assert cli.main(["--url", served_log, "export", *window, "-o", str(tmp_path / name)]) == 0
    with (tmp_path / "log.csv").open(encoding="utf-8") as handle:
        assert [int(r["id"]) for r in csv.DictReader(handle)] == ids
    lines = (tmp_path / "log.ndjson").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids
    assert not list(tmp_path.glob("*.part"))

    parquet = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "log.parquet"
    assert cli.main(["--url", served_log, "export", *window, "-o", str(target)]) == 0
    table = parquet.read_table(target).to_pylist()
    assert [r["id"] for r in table] == ids
    by_id = {json.loads(line)["id"]: json.loads(line) for line in lines}
    for r in table:
        assert r["at"] == datetime.fromisoformat(by_id[r["id"]]["at"])
        assert json.loads(r["probabilities"]) == by_id[r["id"]]["probabilities"]
        assert (r["label"], r["latency_ms"], r["key_id"]) == (
            by_id[r["id"]]["label"],
            by_id[r["id"]]["latency_ms"],
            by_id[r["id"]]["key_id"],
        )


def test_spectrum_export_to_parquet_without_pyarrow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    # No server at this URL: the check comes before any request.
    code = cli.main(["--url", "http://127.0.0.1:9", "export", "-o", str(tmp_path / "x.parquet")])
    assert code == 2
    assert "pip install 'spectrum-client[parquet]'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


async def test_a_database_without_the_table_is_a_503_that_says_what_to_do(
    tmp_path: Path,
) -> None:
    bare = engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        async with serve(resources(Settings(log_json=True), log_db=bare)) as client:
            answer = await client.get("/v1/analytics/volume", params=WINDOW)
            exported = await client.get("/v1/analytics/export", params=WINDOW)
    finally:
        bare.dispose()
    for refused in (answer, exported):
        assert refused.status_code == 503
        assert refused.json()["error"] == "DatabaseUnavailable"
        assert "make migrate" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1"

"""Analytics of real traffic: a real gateway, worker and writer; predictions sent over HTTP,
logged by the writer into SQLite, then read back by /v1/analytics, /metrics and the export.

What this adds to test_analytics.py (rows inserted by hand): the rows the analytics count
are the ones the gateway and writer really produce (cache hits, latencies, key ids), and
the drift gauge appears on the gateway's real /metrics.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text

from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.schema import prediction_log
from tests.integration.stack import Stack

KEY = "analytics19-test-key-" + "y" * 20
TEXTS = [f"review {i}: {'a wonderful film' if i % 3 else 'a dreadful bore'}" for i in range(12)]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_analytics_of_real_traffic_equal_what_was_sent(make_stack: Any) -> None:
    stack: Stack = make_stack(api_keys=KEY)
    stack.start_worker()
    stack.harness.start_writer(stack.env())
    stack.start_api()
    model = stack.model_name
    since = datetime.now(UTC) - timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {KEY}"}
    with stack.client() as client:
        for batch in (TEXTS[:8], TEXTS[4:]):  # 4 texts twice: the second time from the cache
            answer = client.post("/v1/predict", json={"texts": batch}, headers=headers)
            assert answer.status_code == 200, answer.text
        sent = 16
        window = {
            "since": since.isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            "model": model,
        }

        def volume() -> dict[str, Any]:
            got = client.get("/v1/analytics/volume", params=window, headers=headers)
            assert got.status_code == 200, got.text
            body: dict[str, Any] = got.json()
            return body

        wait_until(lambda: sum(s["total"] for s in volume()["series"]) == sent, 60, f"{sent} rows")
        [series] = volume()["series"]
        assert series["cached"] == 4
        expected = {"POSITIVE": 0, "NEGATIVE": 0}
        for text_ in TEXTS[:8] + TEXTS[4:]:
            expected["NEGATIVE" if "dreadful" in text_ else "POSITIVE"] += 1
        assert series["labels"] == expected  # VADER reads these texts unambiguously

        latency = client.get("/v1/analytics/latency", params=window, headers=headers).json()
        assert [s["count"] for s in latency["series"]] == [sent]  # every predict row has one
        keys = client.get("/v1/analytics/keys", params=window, headers=headers).json()["keys"]
        assert [k["total"] for k in keys] == [sent]
        assert keys[0]["key_id"] is not None
        assert KEY not in str(keys)
        exported = client.get("/v1/analytics/export", params=window, headers=headers)
        records = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(records) == sent
        assert {r["text"] for r in records} == {""}  # texts are not kept by default

        # A reference week of other labels, inserted by hand: the drift gauge shows it.
        engine = engine_for(stack.settings["database_url"])
        try:
            old = datetime.now(UTC) - timedelta(days=2)
            rows = [
                {
                    "at": old + timedelta(seconds=i),
                    "model": model,
                    "version": "old",
                    "label": "NEGATIVE",
                    "score": 0.9,
                    "probabilities": {"NEGATIVE": 0.9, "POSITIVE": 0.1},
                    "latency_ms": None,
                    "cached": False,
                    "truncated": False,
                    "source": "predict",
                    "text_hash": f"{i:064x}",
                }
                for i in range(50)
            ]
            with engine.begin() as conn:
                conn.execute(insert(prediction_log), rows)
                [(in_table,)] = conn.execute(
                    text("SELECT count(*) FROM prediction_log WHERE model = :m"), {"m": model}
                )
        finally:
            engine.dispose()
        assert in_table == sent + 50
        metrics = client.get("/metrics", headers=headers)
        assert metrics.status_code == 200
        line = next(
            (
                sample
                for sample in metrics.text.splitlines()
                if sample.startswith(f'spectrum_drift_psi{{model="{model}"}}')
            ),
            None,
        )
        assert line is not None, metrics.text[-2000:]
        assert float(line.split()[-1]) > 0.2

        refused = httpx.get(f"{stack.base_url}/v1/analytics/volume", params=window)
        assert refused.status_code == 401

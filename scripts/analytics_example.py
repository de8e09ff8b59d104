"""`python -m scripts.analytics_example`: the Analytics examples of docs/prediction-log.md.

Fills a fresh SQLite prediction log with constructed traffic (seeded, so every run
gives the same figures): three hours of `sentiment-minilm` answers (cache hits,
latencies, three API keys), `sentiment-vader` shadowing the same texts, and a
reference day whose label mix differs from the last hour's. Then starts a real
`python -m spectrum.api` on a free port reading that file, makes the page's requests over
HTTP, and writes each request and its answer to loadtest/results/analytics-example.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.schema import metadata, prediction_log
from spectrum_dev.harness import ROOT
from spectrum_dev.private_redis import free_port

RESULT = ROOT / "loadtest" / "results" / "analytics-example.md"
UNTIL = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=3)
KEYS = ("3f9a0c1de2b4a617", "b71e09c4d5a28f30", "0c5d7e2a9b14f6e8")


def answer_of(label: str, score: float) -> dict[str, float]:
    other = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
    return {label: round(score, 4), other: round(1 - score, 4)}


def traffic(rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(model: str, version: str, at: datetime, label: str, **fields: Any) -> None:
        score = fields.pop("score", rng.uniform(0.55, 0.99))
        rows.append(
            {
                "at": at,
                "model": model,
                "version": version,
                "label": label,
                "score": score,
                "probabilities": answer_of(label, score),
                "latency_ms": fields.pop("latency_ms", None),
                "cached": fields.pop("cached", False),
                "truncated": False,
                "source": fields.pop("source", "predict"),
                "alias": fields.pop("alias", None),
                "request_id": None,
                "job_id": None,
                "key_id": fields.pop("key_id", None),
                "text_hash": fields.pop("text_hash"),
                "text": None,
            }
        )

    # The reference day (24 h before the window): 70 % POSITIVE.
    for i in range(600):
        at = SINCE - timedelta(days=1) + timedelta(seconds=i * 144)
        label = "POSITIVE" if rng.random() < 0.7 else "NEGATIVE"
        add("sentiment-minilm", "2", at, label, text_hash=f"ref-{i}", latency_ms=20.0)
    # The window: two hours like the reference, then an hour of 40 % POSITIVE.
    for i in range(900):
        at = SINCE + timedelta(seconds=i * 12)
        share = 0.7 if at < UNTIL - timedelta(hours=1) else 0.4
        label = "POSITIVE" if rng.random() < share else "NEGATIVE"
        text_hash = hashlib.sha256(f"text {i}".encode()).hexdigest()
        cached = rng.random() < 0.25
        latency = round(rng.lognormvariate(3.0, 0.4) if not cached else rng.uniform(1, 3), 2)
        add(
            "sentiment-minilm",
            "2" if i % 10 else "3",  # a 10 % canary of version 3
            at,
            label,
            text_hash=text_hash,
            cached=cached,
            latency_ms=latency,
            key_id=KEYS[min(int(rng.expovariate(1.0)), 2)],
            alias="sentiment",
        )
        shadow = (
            label if rng.random() < 0.85 else ("NEGATIVE" if label == "POSITIVE" else "POSITIVE")
        )
        add("sentiment-vader", "3.3.2", at, shadow, text_hash=text_hash, source="shadow")
    return rows


REQUESTS = [
    (
        "/v1/analytics/volume",
        {"since": SINCE, "until": UNTIL, "bucket": "hour", "model": "sentiment-minilm"},
    ),
    (
        "/v1/analytics/latency",
        {"since": SINCE, "until": UNTIL, "bucket": "hour", "model": "sentiment-minilm"},
    ),
    ("/v1/analytics/keys", {"since": SINCE, "until": UNTIL}),
    (
        "/v1/analytics/agreement",
        {"since": SINCE, "until": UNTIL, "a": "sentiment-minilm", "b": "sentiment-vader"},
    ),
    (
        "/v1/analytics/drift",
        {
            "model": "sentiment-minilm",
            "since": UNTIL - timedelta(hours=1),
            "until": UNTIL,
            "reference_since": SINCE - timedelta(days=1),
            "reference_until": SINCE - timedelta(days=1) + timedelta(days=1),
        },
    ),
    (
        "/v1/analytics/volume",
        {"since": UNTIL - timedelta(days=3), "until": UNTIL, "bucket": "minute"},
    ),
]


def query(params: dict[str, Any]) -> dict[str, str]:
    return {
        k: v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else str(v)
        for k, v in params.items()
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="spectrum-analytics-") as home:
        url = f"sqlite:///{home}/spectrum.db"
        engine = engine_for(url)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(prediction_log), traffic(random.Random(19)))
        engine.dispose()
        port = free_port()
        env = {
            **os.environ,
            "SPECTRUM_PORT": str(port),
            "SPECTRUM_DATABASE_URL": url,
            "SPECTRUM_PREDICTION_LOG": "true",
            "SPECTRUM_LOG_JSON": "true",
        }
        api = subprocess.Popen(
            [sys.executable, "-m", "spectrum.api"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out = ["# Analytics example (python -m scripts.analytics_example)", ""]
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                for _ in range(300):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                for path, params in REQUESTS:
                    answer = client.get(path, params=query(params))
                    shown = httpx.URL(path, params=query(params))
                    out += [f"## GET {shown}", "", f"{answer.status_code}", "", "```json"]
                    out += [json.dumps(answer.json(), indent=2), "```", ""]
                exported = client.get(
                    "/v1/analytics/export",
                    params=query(
                        {
                            "since": UNTIL - timedelta(seconds=36),
                            "until": UNTIL,
                            "model": "sentiment-minilm",
                        }
                    ),
                )
                out += [
                    "## GET /v1/analytics/export (last 36 s, CSV)",
                    "",
                    "```csv",
                    exported.text.rstrip(),
                    "```",
                    "",
                ]
        finally:
            api.terminate()
            api.wait(10)
    RESULT.write_text("\n".join(out), encoding="utf-8")
    print(f"written to {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

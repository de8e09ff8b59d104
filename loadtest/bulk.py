"""The bulk scenario of `make bench`: synchronous latency while a big job runs.

On a private Redis, the stack as `make run` starts it (same settings, same
worker count; every worker consumes both lanes, interactive first):

1. `POST /v1/predict` (one uncached text per request) at 4 connections for
   `sync_s` seconds with nothing else running: p50 and p99;
2. `POST /v1/jobs` with `job_texts` unique texts; once the job is running, the
   same sync load again (other unique texts) while the job's chunks occupy the
   bulk lane; the job must still be running when the load stops, so every
   request was measured against it;
3. the job's sentences/s, from its started_at to finished_at, next to the
   engine-alone figure of the same run (with `--quick`: the job is cancelled when
   the load ends and its rate so far is reported, to keep the run short).

Criterion: sync p99 during the job <= 2 x sync p99 without it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtest.local_stack import local_stack
from loadtest.progress import say
from loadtest.texts import write_bodies
from loadtest.wrk import run_wrk
from spectrum.shared.config import Settings

SYNC_CONCURRENCY = 4
P99_RATIO_LIMIT = 2.0


def _request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
        return result


def measure_bulk(
    *,
    job_texts: list[str],
    sync_texts: tuple[list[str], list[str]],
    sync_s: float,
    workers: int,
    workdir: Path,
    engine_sentences_per_s: float | None,
    finish_job: bool = True,
) -> dict[str, Any]:
    settings = {"job_chunk_size": str(Settings().job_chunk_size)}
    with local_stack(workdir, workers, "bulk", **settings) as stack:
        url = stack.url
        warm = write_bodies(sync_texts[0][:200], workdir / "bulk-warm.jsonl")
        run_wrk("bulk-warm-up", f"{url}/v1/predict", warm, SYNC_CONCURRENCY, 2, workdir)
        alone_bodies = write_bodies(sync_texts[0][200:], workdir / "bulk-alone.jsonl")
        during_bodies = write_bodies(sync_texts[1], workdir / "bulk-during.jsonl")

        time.sleep(1.0)
        alone = run_wrk(
            "sync alone", f"{url}/v1/predict", alone_bodies, SYNC_CONCURRENCY, sync_s, workdir
        )
        say(f"sync c4 alone: p50 {alone.p50_ms:.1f} ms, p99 {alone.p99_ms:.1f} ms")

        submitted_at = time.monotonic()
        job = _request("POST", f"{url}/v1/jobs", {"texts": job_texts})
        accepted_s = time.monotonic() - submitted_at
        status_url = f"{url}{job['status_url']}"
        # Bounded: at 5 sentences/s a job is broken, not slow.
        deadline = time.monotonic() + max(300.0, len(job_texts) / 5)
        while _request("GET", status_url)["state"] == "queued":
            if time.monotonic() > deadline:
                raise RuntimeError("the bulk job never started")
            time.sleep(0.1)
        during = run_wrk(
            "sync during job",
            f"{url}/v1/predict",
            during_bodies,
            SYNC_CONCURRENCY,
            sync_s,
            workdir,
        )
        state_after_load = _request("GET", status_url)
        say(f"sync c4 during the job: p50 {during.p50_ms:.1f} ms, p99 {during.p99_ms:.1f} ms")
        if finish_job:
            while (final := _request("GET", status_url))["state"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bulk job did not end: {final['progress']}")
                time.sleep(0.5)
            seconds = final["finished_at"] - final["started_at"]
        else:
            # --quick: the rate so far (measured under the sync load), then cancel.
            final = _request("DELETE", status_url)
            seconds = final["finished_at"] - final["started_at"]
        rate = final["progress"]["done"] / seconds if seconds > 0 else 0.0
        say(f"job of {len(job_texts)} texts: {final['state']}, {rate:.0f} sentences/s")
        return {
            "sync_concurrency": SYNC_CONCURRENCY,
            "sync_alone": asdict(alone),
            "sync_during_job": asdict(during),
            "p99_ratio": during.p99_ms / alone.p99_ms if alone.p99_ms else None,
            "p99_ratio_limit": P99_RATIO_LIMIT,
            "job": {
                "texts": len(job_texts),
                "state": final["state"],
                "progress": final["progress"],
                "accepted_s": round(accepted_s, 3),
                "seconds": round(seconds, 2),
                "sentences_per_s": rate,
                "running_through_the_load": state_after_load["state"] == "running",
                "progress_when_load_ended": state_after_load["progress"],
            },
            "engine_sentences_per_s": engine_sentences_per_s,
        }

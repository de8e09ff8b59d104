"""What the job tests share: unique texts, a submit that must be accepted, a wait for the end."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx


def texts(count: int) -> list[str]:
    """Unique texts (never cached before), alternately positive and negative."""
    run = uuid.uuid4().hex[:8]
    words = ("a wonderful, brilliant film", "an awful, boring mess")
    return [f"{words[i % 2]} {run} {i}" for i in range(count)]


def submit(client: httpx.Client, batch: list[str]) -> str:
    """The id of an accepted (202) job of these texts."""
    created = client.post("/v1/jobs", json={"texts": batch})
    assert created.status_code == 202, created.text
    job_id: str = created.json()["id"]
    return job_id


def wait_until_ended(client: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """The job once it has ended and every chunk is accounted for (a cancel ends it first)."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        progress = job["progress"]
        if (
            job["state"] in ("succeeded", "failed", "cancelled")
            and progress["chunks_finished"] == progress["chunks"]
        ):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {progress}"
        time.sleep(0.05)

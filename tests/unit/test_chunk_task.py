"""worker/tasks.py: a job chunk is never acked without being counted.

A chunk acked uncounted never counts, and its job stays `running` for ever. The
integration drill (tests/integration/test_chaos.py) shows the job-store case with real
processes; these cover each way out of `_run_chunk` without a broker.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery.exceptions import Reject, Retry

from shared.contracts import JobChunkPayload
from worker import tasks

CHUNK = JobChunkPayload(job_id="0" * 32, chunk=3, start=75, texts=["a", "b"], model="m")


class FakeTask:
    """Stands in for the bound Celery task: records its retries, or fails to publish them
    as Celery's `Task.retry` does (it raises `Reject(exc, requeue=False)` when the retry
    message cannot be sent: celery/app/task.py)."""

    def __init__(self, *, publishes: bool) -> None:
        self.publishes = publishes
        self.retries: list[dict[str, Any]] = []

    def retry(self, **options: Any) -> Retry:
        self.retries.append(options)
        if not self.publishes:
            raise Reject(OSError("broker unreachable"), requeue=False)
        raise Retry("retry", options.get("exc"))


@pytest.fixture(autouse=True)
def worker_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model and no store (the tests replace what would use them), and no pause."""
    monkeypatch.setattr(tasks, "state", SimpleNamespace(service=None, jobs=None))
    monkeypatch.setattr(tasks.settings, "job_chunk_retry_s", 0.0)


def failing(error: Exception) -> Any:
    def run(*_: Any) -> None:
        raise error

    return run


def test_a_chunk_whose_retry_cannot_be_published_is_requeued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "run_chunk", failing(RuntimeError("the runtime failed")))
    task = FakeTask(publishes=False)

    with pytest.raises(Reject) as given_back:
        tasks._run_chunk(task, CHUNK, 0, 0)  # type: ignore[arg-type]

    assert given_back.value.requeue is True
    assert len(task.retries) == 1


def test_a_chunk_that_cannot_reach_its_job_store_is_requeued_without_spending_a_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "run_chunk", failing(redis.ConnectionError("refused")))
    task = FakeTask(publishes=True)

    with pytest.raises(Reject) as given_back:
        tasks._run_chunk(task, CHUNK, 0, 0)  # type: ignore[arg-type]

    assert given_back.value.requeue is True
    assert task.retries == []


def test_a_failure_the_store_cannot_record_is_requeued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "run_chunk", failing(RuntimeError("the runtime failed")))
    monkeypatch.setattr(tasks, "fail_chunk", failing(redis.ConnectionError("refused")))
    last_try = tasks.settings.job_chunk_retries

    with pytest.raises(Reject) as given_back:
        tasks._run_chunk(FakeTask(publishes=True), CHUNK, last_try, 0)  # type: ignore[arg-type]

    assert given_back.value.requeue is True


def test_a_chunk_still_retries_and_then_fails_on_its_own_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "run_chunk", failing(RuntimeError("the runtime failed")))
    recorded: list[str] = []
    monkeypatch.setattr(tasks, "fail_chunk", lambda _, __, reason: recorded.append(reason))
    task = FakeTask(publishes=True)

    with pytest.raises(Retry):
        tasks._run_chunk(task, CHUNK, 0, 0)  # type: ignore[arg-type]
    tasks._run_chunk(task, CHUNK, tasks.settings.job_chunk_retries, 0)  # type: ignore[arg-type]

    assert len(task.retries) == 1
    assert recorded == [f"RuntimeError after {tasks.settings.job_chunk_retries + 1} tries"]

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

from spectrum.shared.contracts import JOB_WEBHOOK_TASK, JobChunkPayload
from spectrum.shared.jobs import JobSummary, new_record
from spectrum.worker import tasks

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


class FakeStore:
    """The job-store calls `_queue_webhook` makes, over one ended job with a callback."""

    def __init__(self, *, state: str = "succeeded", webhook_state: str = "pending") -> None:
        record = new_record(
            job_id=CHUNK.job_id,
            model="m",
            labels=["NEGATIVE", "POSITIVE"],
            total=2,
            chunk_size=2,
            fingerprint="f",
            callback_url="https://hooks.example/job",
            now=1.0,
        )
        record.update(state=state, webhook_state=webhook_state)
        self.record = record
        self.marked = False

    def summary(self, job_id: str) -> JobSummary:
        return JobSummary.from_hash(self.record)

    def webhook_queued(self, job_id: str) -> bool:
        return self.marked

    def mark_webhook_queued(self, job_id: str) -> None:
        self.marked = True


def broker(sent: list[str], *, up: bool) -> Any:
    def send_task(name: str, **_: Any) -> None:
        if not up:
            raise OSError("broker unreachable")
        sent.append(name)

    return send_task


def test_a_webhook_the_broker_refuses_goes_back_with_its_chunk_and_is_queued_once_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chunk that ends a job cannot queue its webhook: acked, the webhook was lost."""
    store = FakeStore()
    monkeypatch.setattr(tasks, "state", SimpleNamespace(service=None, jobs=store))
    sent: list[str] = []
    monkeypatch.setattr(tasks.app, "send_task", broker(sent, up=False))

    with pytest.raises(Reject) as given_back:
        tasks._queue_webhook(CHUNK.job_id)
    assert given_back.value.requeue is True
    assert not store.marked

    # The redelivered chunk is a counted duplicate: it queues the webhook, once.
    monkeypatch.setattr(tasks.app, "send_task", broker(sent, up=True))
    tasks._queue_webhook(CHUNK.job_id)
    tasks._queue_webhook(CHUNK.job_id)
    assert sent == [JOB_WEBHOOK_TASK]
    assert store.marked


@pytest.mark.parametrize(
    ("state", "webhook_state"), [("running", "pending"), ("failed", "delivered")]
)
def test_no_webhook_for_a_running_job_or_one_already_delivered(
    monkeypatch: pytest.MonkeyPatch, state: str, webhook_state: str
) -> None:
    store = FakeStore(state=state, webhook_state=webhook_state)
    monkeypatch.setattr(tasks, "state", SimpleNamespace(service=None, jobs=store))
    sent: list[str] = []
    monkeypatch.setattr(tasks.app, "send_task", broker(sent, up=True))

    tasks._queue_webhook(CHUNK.job_id)

    assert sent == []

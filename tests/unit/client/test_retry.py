"""The client's retries: Retry-After honoured, bounded twice, only what is safe to repeat.

Against an in-memory API (httpx.MockTransport); the sleep function is injected, so
no test sleeps and each checks the exact waits.
"""

from __future__ import annotations

import email.utils

import httpx
import pytest

from spectrum_client import AsyncSpectrumClient, Retry, SpectrumClient, SpectrumError
from spectrum_client.retry import retry_after_s
from tests.unit.client.fake_api import JOB_ID, FakeApi, Sleeps, error, job

BASE = "http://spectrum.test"


def sync_client(api: FakeApi, sleeps: Sleeps, retry: Retry | None = None) -> SpectrumClient:
    http = httpx.Client(base_url=BASE, transport=api.transport())
    return SpectrumClient(http=http, retry=retry, sleep=sleeps)


def async_client(api: FakeApi, sleeps: Sleeps, retry: Retry | None = None) -> AsyncSpectrumClient:
    http = httpx.AsyncClient(base_url=BASE, transport=api.transport())
    return AsyncSpectrumClient(http=http, retry=retry, sleep=sleeps.sleep)


def overloaded(retry_after: str | None = "2") -> httpx.Response:
    extra = {} if retry_after is None else {"retry_after": retry_after}
    return error(503, "Overloaded", "the queue is full", **extra)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    date = email.utils.formatdate(1_000_030, usegmt=True)

    assert retry_after_s("3") == 3
    assert retry_after_s(date, now=lambda: 1_000_000) == 30
    assert retry_after_s(email.utils.formatdate(5, usegmt=True), now=lambda: 10) == 0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None


def test_a_503_and_a_429_are_retried_after_their_retry_after() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].extend(
        [overloaded("2"), error(429, "RateLimited", "slow down", retry_after="1")]
    )

    with sync_client(api, sleeps) as client:
        answer = client.predict(["good"])

    assert answer["predictions"][0]["label"] == "good"
    assert sleeps.asked == [2, 1]
    assert api.paths() == ["POST /v1/predict"] * 3


def test_without_retry_after_the_wait_doubles() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/models"].extend([overloaded(None)] * 3)

    with sync_client(api, sleeps, Retry(backoff_s=0.5)) as client:
        client.models()

    assert sleeps.asked == [0.5, 1.0, 2.0]


def test_retries_stop_after_the_attempts_with_the_last_error() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/models"].extend([overloaded("1")] * 10)

    with (
        sync_client(api, sleeps, Retry(attempts=3)) as client,
        pytest.raises(SpectrumError) as caught,
    ):
        client.models()

    assert caught.value.status == 503
    assert len(api.calls) == 3
    assert sleeps.asked == [1, 1]


def test_retries_stop_when_the_next_wait_would_pass_the_budget() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/models"].extend([overloaded("4"), overloaded("4"), overloaded("4")])

    with sync_client(api, sleeps, Retry(max_wait_s=10)) as client, pytest.raises(SpectrumError):
        client.models()

    assert sleeps.asked == [4, 4]  # a third 4 s would make 12 s > 10 s


def test_a_retry_after_past_the_budget_is_not_waited_for_at_all() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].append(error(429, "RateLimited", "slow down", retry_after="3600"))

    with sync_client(api, sleeps) as client, pytest.raises(SpectrumError) as caught:
        client.predict("good")

    assert caught.value.status == 429
    assert sleeps.asked == []


def test_other_errors_are_not_retried() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].append(error(422, "InvalidInput", "texts[0]: empty"))

    with sync_client(api, sleeps) as client, pytest.raises(SpectrumError):
        client.predict(" ")

    assert len(api.calls) == 1
    assert sleeps.asked == []


def test_a_dropped_connection_is_retried_but_a_slow_answer_is_not() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].extend(
        [httpx.ConnectError("refused"), httpx.RemoteProtocolError("closed")]
    )
    api.script["/v1/models"].append(httpx.ReadTimeout("no answer in time"))

    with sync_client(api, sleeps) as client:
        assert client.predict("good")["predictions"][0]["label"] == "good"
        with pytest.raises(httpx.ReadTimeout):
            client.models()

    assert sleeps.asked == [0.5, 1.0]


def keys(api: FakeApi) -> list[str]:
    return [r.headers["Idempotency-Key"] for r in api.calls if r.url.path == "/v1/jobs"]


def test_a_submit_is_retried_under_one_idempotency_key() -> None:
    """A lost answer may hide a job made: the retry's key makes the server answer that job."""
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/jobs"].extend([httpx.ReadError("reset"), overloaded("1")])

    with sync_client(api, sleeps) as client:
        assert client.submit(["good"])["id"] == JOB_ID
        client.submit(["good"])
        client.submit(["good"], idempotency_key="run-1")

    sent = keys(api)
    assert len(sent) == 5
    assert sent[0] == sent[1] == sent[2]  # the first call's three tries: one key
    assert len(sent[0]) == 32
    assert sent[3] != sent[0]  # another call: another job
    assert sent[4] == "run-1"  # the caller's own key as given


def test_retries_can_be_turned_off() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].append(overloaded("1"))

    with sync_client(api, sleeps, Retry(attempts=1)) as client, pytest.raises(SpectrumError):
        client.predict("good")

    assert sleeps.asked == []


def test_wait_survives_a_503_while_polling() -> None:
    api, sleeps = FakeApi(), Sleeps()
    # The second poll meets a 503 (a gateway restarting behind its balancer), then goes on.
    api.script[f"/v1/jobs/{JOB_ID}"].extend(
        [
            httpx.Response(200, json=job("running", 1)),
            overloaded("1"),
            httpx.Response(200, json=job("running", 2)),
        ]
    )

    with sync_client(api, sleeps) as client:
        final = client.wait(JOB_ID, poll_s=0.25)

    assert final["state"] == "succeeded"
    assert sleeps.asked == [0.25, 1, 0.25]


def test_health_takes_a_503_as_its_answer_without_retrying() -> None:
    api, sleeps = FakeApi(), Sleeps()
    not_ready = {"status": "not ready", "checks": {"broker": "ok", "workers": "no worker"}}
    api.script["/readyz"].append(httpx.Response(503, json=not_ready))

    with sync_client(api, sleeps) as client:
        health = client.health()

    assert health == not_ready
    assert sleeps.asked == []


def test_streamed_results_are_retried_before_the_first_byte() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script[f"/v1/jobs/{JOB_ID}/results"].append(overloaded("1"))

    with sync_client(api, sleeps) as client:
        items = list(client.results(JOB_ID))

    assert [item["index"] for item in items] == [0, 1, 2, 3]
    assert sleeps.asked == [1]


async def test_the_async_client_retries_the_same_way() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/predict"].extend([overloaded("2"), httpx.ConnectError("refused")])
    api.script[f"/v1/jobs/{JOB_ID}"].append(overloaded("1"))
    api.script["/v1/jobs"].append(httpx.ReadError("reset"))

    async with async_client(api, sleeps) as client:
        answer = await client.predict(["good"])
        final = await client.wait(JOB_ID, poll_s=0.25)
        created = await client.submit(["good"])

    assert answer["predictions"][0]["label"] == "good"
    assert final["state"] == "succeeded"
    assert created["id"] == JOB_ID
    assert len(set(keys(api))) == 1
    assert sleeps.asked == [2, 1.0, 1, 0.5]  # the second wait is the doubled backoff


async def test_the_async_client_gives_up_within_the_budget() -> None:
    api, sleeps = FakeApi(), Sleeps()
    api.script["/v1/models"].extend([overloaded("5")] * 5)

    async with async_client(api, sleeps, Retry(max_wait_s=12)) as client:
        with pytest.raises(SpectrumError) as caught:
            await client.models()

    assert caught.value.status == 503
    assert sleeps.asked == [5, 5]

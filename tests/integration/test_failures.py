"""Missing parts give a 503 with a reason inside the deadline: never a hang, never a 500."""

from __future__ import annotations

import signal
import time

import pytest

from spectrum_dev.private_redis import free_port
from tests.integration.stack import Stack

TIMEOUT_S = 4.0


def post(stack: Stack, text: str) -> tuple[int, dict[str, object], float, dict[str, str]]:
    with stack.client() as client:
        started = time.monotonic()
        answer = client.post("/v1/predict", json={"text": text})
        return answer.status_code, answer.json(), time.monotonic() - started, dict(answer.headers)


def test_no_worker_at_all_is_a_503_and_not_ready(make_stack: type[Stack]) -> None:
    stack = make_stack(request_timeout_s=TIMEOUT_S)
    stack.start_api()

    status, body, elapsed, headers = post(stack, "is anybody there")

    assert status == 503
    assert body["error"] == "NoWorkerAvailable"
    assert stack.queue in str(body["detail"])
    assert headers["retry-after"] == "1"
    assert elapsed < TIMEOUT_S
    with stack.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["workers"].startswith("no worker is consuming")
    assert ready.json()["checks"]["broker"] == "ok"


def test_a_stopped_worker_gives_503_within_the_deadline(make_stack: type[Stack]) -> None:
    stack = make_stack(request_timeout_s=TIMEOUT_S, worker_stale_s=2)
    worker = stack.start_worker()
    stack.start_api()
    assert post(stack, "warm up please")[0] == 200

    worker.stop(signal.SIGTERM)  # a warm shutdown withdraws its heartbeat
    status, body, elapsed, _ = post(stack, "after a clean stop")
    assert (status, body["error"]) == (503, "NoWorkerAvailable")
    assert elapsed < TIMEOUT_S

    stack.start_worker()
    assert post(stack, "a new worker took over")[0] == 200


def test_a_killed_worker_gives_503_within_the_deadline(make_stack: type[Stack]) -> None:
    stack = make_stack(request_timeout_s=TIMEOUT_S, worker_stale_s=2)
    worker = stack.start_worker()
    stack.start_api()
    assert post(stack, "warm up please")[0] == 200

    worker.stop(signal.SIGKILL)  # its heartbeat is still fresh: the task is sent, nobody runs it
    status, body, elapsed, _ = post(stack, "after a crash")

    assert (status, body["error"]) == (503, "NoWorkerAvailable"), body
    # Answered at the deadline, not after it (HTTP on a loaded machine gets some slack).
    assert TIMEOUT_S - 1.0 < elapsed < TIMEOUT_S + 0.5


def test_an_unreachable_broker_is_a_503_with_a_reason(make_stack: type[Stack]) -> None:
    stack = make_stack(request_timeout_s=TIMEOUT_S, broker_timeout_s=1)
    stack.start_worker()
    # The API's broker points at a closed port; backend and worker are fine.
    stack.start_api(broker_url=f"redis://127.0.0.1:{free_port()}/0")

    status, body, elapsed, _ = post(stack, "will never be queued")

    assert (status, body["error"]) == (503, "BrokerUnavailable"), body
    assert elapsed < TIMEOUT_S
    with stack.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"].startswith("unreachable")


@pytest.mark.parametrize("dead", ["result_backend_url"])
def test_an_unreachable_backend_is_a_503_with_a_reason(make_stack: type[Stack], dead: str) -> None:
    stack = make_stack(request_timeout_s=TIMEOUT_S)
    stack.start_api(**{dead: f"redis://127.0.0.1:{free_port()}/0"})

    status, body, elapsed, _ = post(stack, "nowhere to wait")

    assert (status, body["error"]) == (503, "BackendUnavailable"), body
    assert elapsed < TIMEOUT_S
    with stack.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["backend"].startswith("unreachable")

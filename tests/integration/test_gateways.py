"""Two gateways on one Redis and one real worker: nothing lost, nothing answered twice.

Each gateway is a whole `python -m spectrum.api`: its own micro-batcher, in-flight cap and result
waiter; the rate limits and the broker queue they read are shared. Most tests start two
gateways on two ports; the last runs the real setting, SPECTRUM_API_PROCESSES=2 on one
port. The lexicon worker is deterministic, so every answer is checked against what the
runtime computes in-process for that request's own text.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from spectrum.shared.registry import STATS_KEY, worker_member
from spectrum.worker.runtimes.lexicon import load_lexicon
from spectrum_dev.harness import Process, StackFailed, start_time, wait_for
from tests.integration.job_runs import submit, wait_until_ended
from tests.integration.metrics_scrape import scrape, total, value
from tests.integration.stack import Stack

POSITIVE = ["good", "great", "wonderful", "brilliant", "lovely"]
POSITIVE += ["superb", "delightful", "nice", "fun", "charming"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dreadful"]
NEGATIVE += ["horrible", "dull", "ugly", "sad", "weak"]


def texts(major: list[str], minor: list[str], count: int) -> list[str]:
    """`count` texts no run has cached, with many different scores: p words of one
    polarity, q < p of the other, up to three exclamation marks."""
    made = []
    for i in range(count):
        p, bang = i % 10 + 1, (i // 100) % 4
        q = (i // 10) % p
        words = " ".join(major[:p] + minor[:q])
        made.append(f"{words}{'!' * bang} #{uuid.uuid4().hex[:10]}")
    return made


def expected(sent: list[str]) -> dict[str, list[float]]:
    runtime, _ = load_lexicon("any")
    return dict(zip(sent, runtime.predict(sent), strict=True))


def probabilities(answer: httpx.Response) -> list[float]:
    """The one prediction's probabilities, in the lexicon's label order."""
    assert answer.status_code == 200, answer.text
    (prediction,) = answer.json()["predictions"]
    return [prediction["probabilities"][label] for label in ("NEGATIVE", "POSITIVE")]


def post(url: str, text: str, **headers: str) -> httpx.Response:
    # A connection per request, as independent clients would open them.
    return httpx.post(f"{url}/v1/predict", json={"text": text}, headers=headers, timeout=30)


def post_all(jobs: list[tuple[str, str]], threads: int = 16) -> list[httpx.Response]:
    """POST each (gateway URL, text) concurrently; the answers in the order of `jobs`."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: post(*job), jobs))


def start_gateways(stack: Stack, count: int = 2) -> list[str]:
    urls = []
    for _ in range(count):
        stack.start_api()
        urls.append(stack.base_url)
    return urls


def worker_totals(stack: Stack, worker: Process) -> dict[str, float]:
    """The worker's running totals (tasks, texts), as its last heartbeat published them."""
    client = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        raw = client.hget(STATS_KEY, worker_member(socket.gethostname(), worker.pid))
    finally:
        client.close()
    return {} if raw is None else dict(json.loads(raw))


def computed_texts(stack: Stack, worker: Process, at_least: int) -> dict[str, float]:
    """The worker's totals once they count `at_least` texts (heartbeats publish them)."""
    wait_for(
        lambda: worker_totals(stack, worker).get("texts", 0) >= at_least,
        30,
        f"the worker's totals to count {at_least} texts",
    )
    return worker_totals(stack, worker)


def batches(url: str) -> tuple[float, float, float]:
    """This gateway's tasks sent, texts in them, and tasks of a single text."""
    samples = scrape(f"{url}/metrics")
    return (
        value(samples, "spectrum_batch_size_count"),
        value(samples, "spectrum_batch_size_sum"),
        value(samples, "spectrum_batch_size_bucket", le="1.0"),
    )


def test_concurrent_requests_on_two_gateways_are_each_answered_once_with_their_own_text(
    make_stack: type[Stack],
) -> None:
    # A longer wait than the default gives the batcher of each gateway time to coalesce.
    stack = make_stack(batch_max_wait_ms=50)
    worker = stack.start_worker()
    first, second = start_gateways(stack)
    # Each gateway gets texts of its own (mostly positive on one, negative on the other),
    # interleaved: an answer delivered to the wrong waiter would carry another text's score.
    ones, others = texts(POSITIVE, NEGATIVE, 80), texts(NEGATIVE, POSITIVE, 80)
    jobs = [
        job
        for pair in zip(ones, others, strict=True)
        for job in ((first, pair[0]), (second, pair[1]))
    ]
    answers = post_all(jobs)

    truth = expected(ones + others)
    for (_, text), answer in zip(jobs, answers, strict=True):
        assert probabilities(answer) == pytest.approx(truth[text]), text
        assert answer.json()["predictions"][0]["cached"] is False
    # Each gateway sent exactly its own 80 texts, in batches of more than one text.
    tasks = 0.0
    for url in (first, second):
        sent, texts_sent, singles = batches(url)
        assert texts_sent == 80
        assert sent < 80
        assert singles < sent
        tasks += sent
        samples = scrape(f"{url}/metrics")
        assert value(samples, "spectrum_waiter_pending_results") == 0
        assert value(samples, "spectrum_requests_expired_total") == 0
    # The worker computed each text once, in exactly the tasks the two gateways sent.
    totals = computed_texts(stack, worker, at_least=160)
    assert totals["texts"] == 160
    assert totals["tasks"] == tasks


def test_the_same_texts_sent_to_both_gateways_at_once_get_the_same_answers(
    make_stack: type[Stack],
) -> None:
    stack = make_stack()
    worker = stack.start_worker()
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 40)
    jobs = [(url, text) for text in sent for url in (first, second)]
    answers = post_all(jobs)

    truth = expected(sent)
    by_gateway: dict[str, dict[str, list[float]]] = {first: {}, second: {}}
    for (url, text), answer in zip(jobs, answers, strict=True):
        by_gateway[url][text] = probabilities(answer)
        assert by_gateway[url][text] == pytest.approx(truth[text])
    assert by_gateway[first] == by_gateway[second]
    # Each text was computed once or, when both gateways missed the cache at once, twice;
    # every gateway resolved every one of its waits.
    uncached = sum(not answer.json()["predictions"][0]["cached"] for answer in answers)
    totals = computed_texts(stack, worker, at_least=40)
    assert 40 <= totals["texts"] <= min(uncached, 80)
    for url in (first, second):
        assert value(scrape(f"{url}/metrics"), "spectrum_waiter_pending_results") == 0


def test_the_rate_limit_of_a_key_is_shared_by_both_gateways(
    make_stack: type[Stack],
) -> None:
    key = f"gateways-{uuid.uuid4().hex}"  # its own counter in the shared Redis
    per_s, burst = 0.2, 5
    stack = make_stack(api_keys=key, rate_limit_per_s=per_s, rate_limit_burst=burst)
    stack.start_worker()
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 24)
    started = time.time()
    answers = [
        post((first, second)[i % 2], text, authorization=f"Bearer {key}")
        for i, text in enumerate(sent)
    ]
    elapsed = time.time() - started

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) == {200, 429}, statuses
    # GCRA: a burst at once from rest, then one request per interval. Each gateway alone
    # would have let `burst` through, twice as many in all.
    assert burst <= statuses[200] <= burst + per_s * elapsed
    for url in (first, second):
        assert (
            value(
                scrape(f"{url}/metrics"), "spectrum_requests_rejected_total", reason="RateLimited"
            )
            > 0
        )


@contextmanager
def frozen(worker: Process) -> Iterator[None]:
    """The worker stopped (its heartbeat stays fresh under worker_stale_s=60)."""
    worker.popen.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        worker.popen.send_signal(signal.SIGCONT)


class Held:
    """A request sent in the background, kept for its answer."""

    def __init__(self, url: str, text: str) -> None:
        self.text = text
        self.answer: httpx.Response | None = None
        self.error: httpx.TransportError | None = None  # its gateway process died
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        try:
            self.answer = post(url, self.text)
        except httpx.TransportError as exc:
            self.error = exc

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> httpx.Response:
        self._thread.join(timeout=60)
        assert self.answer is not None, f"no answer for {self.text!r}"
        return self.answer


def in_flight(url: str) -> float:
    return value(scrape(f"{url}/metrics"), "spectrum_http_requests_in_flight")


def pending(url: str) -> float:
    return value(scrape(f"{url}/metrics"), "spectrum_waiter_pending_results")


def overloaded(url: str) -> float:
    return value(scrape(f"{url}/metrics"), "spectrum_requests_rejected_total", reason="Overloaded")


def queue_depth(stack: Stack) -> int:
    client = redis.Redis.from_url(stack.settings["broker_url"])
    try:
        return int(client.llen(stack.queue))
    finally:
        client.close()


def test_both_gateways_shed_once_the_shared_queue_is_full(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(
        max_queue_depth=3, queue_depth_ttl_ms=0, request_timeout_s=30, worker_stale_s=60
    )
    worker = stack.start_worker(worker_prefetch=1)
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 4)
    held: list[Held] = []
    with frozen(worker):
        # Every message through the first gateway, one batch each (the next is sent once
        # the previous is awaited), until three wait in the queue (the frozen worker's
        # connection may have taken the first).
        for text in sent:
            if queue_depth(stack) >= 3:
                break
            held.append(Held(first, text))
            wait_for(lambda: pending(first) == len(held), 10, f"{len(held)} batches sent")
        wait_for(lambda: queue_depth(stack) >= 3, 10, "three batches in the queue")
        # The second gateway sent nothing, and still sees the queue at its cap.
        refused = [post(url, f"one too many #{uuid.uuid4().hex}") for url in (second, first)]
    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "Overloaded"
        assert stack.queue in answer.json()["detail"]
    # Nothing queued was lost: once the worker runs again each held request is answered.
    truth = expected(sent)
    for request in held:
        assert probabilities(request.result()) == pytest.approx(truth[request.text])


def test_the_in_flight_cap_is_per_gateway_process(make_stack: type[Stack]) -> None:
    stack = make_stack(max_in_flight=2, request_timeout_s=30, worker_stale_s=60)
    worker = stack.start_worker()
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 4)
    held: list[Held] = []
    with frozen(worker):
        for url, pair in ((first, sent[:2]), (second, sent[2:])):
            held += [Held(url, text) for text in pair]
            wait_for(lambda url=url: in_flight(url) == 2, 10, f"two requests held by {url}")
            # Full: this gateway refuses the next at once ...
            refused = post(url, f"one too many #{uuid.uuid4().hex}")
            assert refused.status_code == 503, refused.text
            assert "serving its limit of 2" in refused.json()["detail"]
        # ... while the other gateway took its own two: four in flight, two per process.
        assert overloaded(first) == overloaded(second) == 1
    truth = expected(sent)
    for request in held:
        assert probabilities(request.result()) == pytest.approx(truth[request.text])


def ready_processes(api: Process) -> set[int]:
    """The gateway processes under `api` that have logged `api ready`."""
    return {line["process"] for line in log_lines(api) if line.get("event") == "api ready"}


def log_lines(api: Process) -> list[dict[str, object]]:
    return [json.loads(row) for row in api.log().splitlines() if row.startswith("{")]


def test_two_api_processes_on_one_port_serve_correctly_and_stop_together(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(batch_max_wait_ms=50)
    worker = stack.start_worker()
    api = stack.start_api(api_processes=2)
    wait_for(lambda: len(ready_processes(api)) == 2, 30, "both gateway processes ready")
    children = ready_processes(api)
    url = stack.base_url
    for _ in range(4):  # whichever process answers
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    ones, others = texts(POSITIVE, NEGATIVE, 60), texts(NEGATIVE, POSITIVE, 60)
    sent = [text for pair in zip(ones, others, strict=True) for text in pair]
    answers = post_all([(url, text) for text in sent])

    truth = expected(sent)
    for text, answer in zip(sent, answers, strict=True):
        assert probabilities(answer) == pytest.approx(truth[text]), text
    # Both processes served predictions (the access log names the process of each line).
    served = Counter(
        line["process"]
        for line in log_lines(api)
        if line.get("event") == "request" and line.get("route") == "/v1/predict"
    )
    assert set(served) == children
    assert sum(served.values()) == len(sent)
    # /metrics, whichever process answers, counts the requests and batches of both.
    totals = computed_texts(stack, worker, at_least=len(sent))
    for _ in range(4):
        samples = scrape(f"{url}/metrics")
        answered = total(samples, "spectrum_http_requests_total", route="/v1/predict")
        assert answered == len(sent)
        assert value(samples, "spectrum_batch_size_sum") == len(sent) == totals["texts"]
        assert value(samples, "spectrum_batch_size_count") == totals["tasks"] < len(sent)
        assert value(samples, "spectrum_waiter_pending_results") == 0
        assert not any(name.startswith("process_") for name, _ in samples)
    # SIGTERM to the supervisor stops both processes; none is left holding the port.
    started = {pid: start_time(pid) for pid in children}
    api.stop()
    assert api.popen.returncode == 0
    assert all(start_time(pid) != at for pid, at in started.items())
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)


def connections(pid: int, port: int) -> int:
    """Established TCP connections to `port` held by process `pid` (Linux /proc)."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                sockets.add(target[len("socket:[") : -1])
    count = 0
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        count += local_port == port and state == "01" and inode in sockets  # 01: ESTABLISHED
    return count


def test_a_killed_api_process_is_replaced_and_its_counts_stay_but_its_in_flight_goes(
    make_stack: type[Stack],
) -> None:
    # One text a task: each held request is one result its process waits for.
    stack = make_stack(request_timeout_s=30, worker_stale_s=60, batch_max_texts=1)
    worker = stack.start_worker()
    api = stack.start_api(api_processes=2)
    wait_for(lambda: len(ready_processes(api)) == 2, 30, "both gateway processes ready")
    url, port = stack.base_url, int(stack.base_url.rsplit(":", 1)[1])
    warm = texts(POSITIVE, NEGATIVE, 20)
    assert all(answer.status_code == 200 for answer in post_all([(url, t) for t in warm]))
    sent = texts(NEGATIVE, POSITIVE, 10)
    with frozen(worker):
        held = [Held(url, text) for text in sent]
        # Both gauges are summed over the processes, each kept current by its own.
        wait_for(lambda: in_flight(url) == pending(url) == len(sent), 10, "every request in flight")
        # The process holding most of them dies as an out-of-memory kill would end it.
        busiest = max(ready_processes(api), key=lambda pid: connections(pid, port))
        assert connections(busiest, port) > 0
        os.kill(busiest, signal.SIGKILL)
        wait_for(lambda: len(ready_processes(api)) == 3, 30, "the supervisor's replacement")
        # In flight now: exactly the requests the survivor holds; the dead one's are gone.
        wait_for(
            lambda: (
                in_flight(url) == pending(url) == sum(not request.finished() for request in held)
            ),
            10,
            "the dead process's in-flight requests to leave the gauge",
        )
    lost = [request for request in held if request.error is not None]
    assert lost  # the killed process's clients saw their connection end
    truth = expected(sent)
    for request in held:
        if request.error is None:
            assert probabilities(request.result()) == pytest.approx(truth[request.text])
    # The dead process's counts stay in the totals: a counter never goes back.
    samples = scrape(f"{url}/metrics")
    answered = total(samples, "spectrum_http_requests_total", route="/v1/predict")
    assert answered == len(warm) + len(sent) - len(lost)


def test_a_job_submitted_to_one_gateway_is_followed_through_the_other(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(job_chunk_size=8)
    stack.start_worker()
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 40)
    with (
        httpx.Client(base_url=first, timeout=30) as one,
        httpx.Client(base_url=second, timeout=30) as other,
    ):
        job_id = submit(one, sent)
        job = wait_until_ended(other, job_id)
        streamed = other.get(f"/v1/jobs/{job_id}/results")
    assert job["state"] == "succeeded", job
    assert streamed.status_code == 200, streamed.text
    items = [json.loads(row) for row in streamed.text.splitlines()]
    truth = expected(sent)
    assert [item["index"] for item in items] == list(range(len(sent)))
    for item, text in zip(items, sent, strict=True):
        got = [item["probabilities"][label] for label in ("NEGATIVE", "POSITIVE")]
        assert got == pytest.approx(truth[text])


def test_one_idempotency_key_sent_to_both_gateways_at_once_makes_one_job(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(job_chunk_size=8)
    stack.start_worker()
    first, second = start_gateways(stack)
    sent = texts(POSITIVE, NEGATIVE, 16)
    headers = {"Idempotency-Key": f"gateways-{uuid.uuid4().hex}"}

    def submit_to(url: str) -> httpx.Response:
        return httpx.post(f"{url}/v1/jobs", json={"texts": sent}, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(submit_to, [first, second] * 4))
    # Every submission names the one job, or is asked to retry while it is being created.
    accepted = [answer for answer in answers if answer.status_code == 202]
    assert accepted, [answer.text for answer in answers]
    assert {answer.status_code for answer in answers} <= {202, 409}
    (job_id,) = {answer.json()["id"] for answer in accepted}
    created = [a for a in accepted if a.headers.get("idempotent-replayed") != "true"]
    assert len(created) == 1  # the others are replays of the one that created it
    with httpx.Client(base_url=second, timeout=30) as client:
        job = wait_until_ended(client, job_id)
    assert job["state"] == "succeeded", job
    again = [submit_to(url) for url in (first, second)]
    assert all(answer.headers["idempotent-replayed"] == "true" for answer in again)
    assert [answer.json()["id"] for answer in again] == [job_id, job_id]


def test_a_gateway_process_that_cannot_start_stops_its_supervisor_with_the_error(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(env="production")  # and no API keys: the app refuses to be built
    with pytest.raises(StackFailed, match=r"api exited \(3\)[\s\S]*gateway process did not start"):
        stack.start_api(api_processes=2)

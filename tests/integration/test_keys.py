"""Keys that keep clients apart, and limits that slow or greedy clients cannot beat:
real API processes over real sockets, traffic to 127.0.0.1 only, each test bounded in
connections and time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from spectrum.shared.config import Settings
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.schema import metadata
from tests.integration.stack import Stack

ALICE = "alice-key-" + "a" * 30
BOB = "bob-key-" + "b" * 32
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

SLOW_SENDERS = 30
SLOW_READERS = 10
ALICE_PREDICTS = 20


def port_of(stack: Stack) -> int:
    return int(stack.base_url.rsplit(":", 1)[1])


def slow_sender(port: int, key: str) -> socket.socket:
    """A request whose 100-byte body stops after its first byte."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=15)
    conn.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"X-API-Key: {key}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    return conn


def slow_reader(port: int, key: str, path: str) -> socket.socket:
    """A request whose answer is never read (a tiny receive buffer, soon full)."""
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    conn.settimeout(15)
    conn.connect(("127.0.0.1", port))
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n".encode())
    return conn


def status_of(conn: socket.socket) -> int | None:
    """The status the server answered on `conn` (None: closed without an answer)."""
    try:
        head = conn.recv(64)
    except OSError:
        return None
    if not head.startswith(b"HTTP/1.1 "):
        return None
    return int(head.split(b" ", 2)[1])


def test_slow_senders_and_readers_on_one_key_leave_another_keys_predicts_at_200(
    make_stack: Any,
) -> None:
    stack: Stack = make_stack(
        api_keys=f"{ALICE},{BOB}",
        max_in_flight=24,
        max_in_flight_per_key=8,
        body_timeout_s=3,
        response_timeout_s=3,
    )
    stack.start_worker()
    stack.start_api()
    port = port_of(stack)
    with stack.client() as client:
        bob = {"X-API-Key": BOB}
        texts = [f"bob's review number {i}, quite a good film" for i in range(2000)]
        job = client.post("/v1/jobs", json={"texts": texts}, headers=bob)
        assert job.status_code == 202, job.text
        status_url = job.json()["status_url"]
        deadline = time.monotonic() + 60
        while client.get(status_url, headers=bob).json()["state"] != "succeeded":
            assert time.monotonic() < deadline, "Bob's job did not finish"
            time.sleep(0.2)

        with ExitStack() as held:
            senders = [slow_sender(port, BOB) for _ in range(SLOW_SENDERS)]
            readers = [slow_reader(port, BOB, f"{status_url}/results") for _ in range(SLOW_READERS)]
            for conn in senders + readers:
                held.callback(conn.close)
            time.sleep(0.5)  # every one of them has reached the gateway

            alice = {"X-API-Key": ALICE}

            def predict(i: int) -> int:
                text_ = f"alice {uuid.uuid4().hex} {i}: a lovely day"
                return client.post("/v1/predict", json={"text": text_}, headers=alice).status_code

            with ThreadPoolExecutor(4) as pool:
                codes = list(pool.map(predict, range(ALICE_PREDICTS)))
            ready = client.get("/readyz")
            healthy = client.get("/healthz")
            sent = [status_of(conn) for conn in senders]

    assert codes == [200] * ALICE_PREDICTS
    assert ready.status_code == 200, ready.text
    assert healthy.status_code == 200
    # Beyond Bob's cap his senders were refused at once (429); those let in were cut
    # off at the body deadline (408).
    assert set(sent) <= {408, 429}, sent
    assert 408 in sent
    assert 429 in sent


def vm_peak_mib(pid: int) -> float:
    """The process's resident-set high-water mark (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# What one API process may hold at its peak with the shipped limits (a 32 MiB job body):
# its base, the body, then its texts (4 bytes a character with an emoji), then their
# normalized copies as the raw ones are freed (docs/security.md).
RSS_BOUND_MIB = 400  # measured ~320 (docs/security.md); a 512 MiB pod limit above
UPLOAD = Settings().job_max_upload_bytes


def worst_bodies() -> Iterator[tuple[str, bytes, str]]:
    tiny = UPLOAD // 4 - 8  # the body limit's worth of the smallest values
    yield "tiny strings", b'{"texts": [' + b'"a",' * tiny + b'"a"]}', "application/json"
    yield "empty lists", b'{"texts": [' + b"[]," * tiny + b"[]]}", "application/json"
    # Texts at the per-text limit, each with an emoji (4 bytes a character in Python),
    # filling the body limit: the largest job that is accepted and parsed whole.
    text_ = "a" * 3998 + "\U0001f600"
    one = json.dumps(text_).encode()
    count = (UPLOAD - 64) // (len(one) + 2)
    yield (
        "a whole job of emoji texts",
        b'{"texts": [' + b", ".join([one] * count) + b"]}",
        ("application/json"),
    )
    yield "one JSONL line", b'{"text": "' + b"x" * (UPLOAD - 32) + b'"}\n', "application/x-ndjson"
    yield "one CSV field", b"text\n" + b"\xf0\x9f\x98\x80" * (UPLOAD // 4 - 8) + b"\n", "text/csv"


def test_the_worst_bodies_allowed_keep_the_api_under_its_memory_bound(make_stack: Any) -> None:
    stack: Stack = make_stack()
    api = stack.start_api()  # no worker: a job parsed whole is then refused with 503
    pid = api.popen.pid
    with httpx.Client(base_url=stack.base_url, timeout=120) as client:
        answers = {}
        for name, body, media in worst_bodies():
            answer = client.post("/v1/jobs", content=body, headers={"Content-Type": media})
            answers[name] = answer.status_code
            del body
            assert 400 <= answer.status_code < 600, (name, answer.text[:300])
            assert answer.status_code != 500, (name, answer.text[:300])
        peak = vm_peak_mib(pid)
    print(f"API peak RSS {peak:.0f} MiB; answers {answers}")
    assert answers["tiny strings"] == answers["empty lists"] == 422
    assert answers["one JSONL line"] == answers["one CSV field"] == 422
    assert answers["a whole job of emoji texts"] == 503  # parsed whole; no worker
    assert peak < RSS_BOUND_MIB, f"the API reached {peak:.0f} MiB"


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"keys_{uuid.uuid4().hex[:12]}"
    admin = engine_for(POSTGRES)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {type(exc).__name__}")
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    made = engine_for(url)
    try:
        metadata.create_all(made)
        yield url
    finally:
        made.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


SLOW_QUERIES = 6
PREDICTS = 8


def test_six_slow_analytics_queries_leave_uncached_predicts_at_200(make_stack: Any) -> None:
    with postgres_schema() as url:
        stack: Stack = make_stack(database_url=url)
        stack.start_worker()
        stack.start_api()
        locker = engine_for(url)
        try:
            with locker.connect() as lock, stack.client() as client:
                # Every analytics query now waits on the table lock, as a slow one would.
                lock.execute(text("LOCK TABLE prediction_log IN ACCESS EXCLUSIVE MODE"))
                answered: list[int] = []

                def analytics(_: int) -> None:
                    got = httpx.get(f"{stack.base_url}/v1/analytics/volume", timeout=120)
                    answered.append(got.status_code)

                threads = [
                    threading.Thread(target=analytics, args=(i,)) for i in range(SLOW_QUERIES)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(1.0)  # the six are in the gateway, waiting on the database
                codes = [
                    client.post(
                        "/v1/predict", json={"text": f"uncached {uuid.uuid4().hex}: fine"}
                    ).status_code
                    for _ in range(PREDICTS)
                ]
                waiting = SLOW_QUERIES - len(answered)
                lock.rollback()  # the lock goes: the queries finish
                for thread in threads:
                    thread.join(timeout=60)
        finally:
            locker.dispose()
    assert codes == [200] * PREDICTS
    assert waiting == SLOW_QUERIES  # the predicts completed while every query still waited
    assert answered == [200] * SLOW_QUERIES

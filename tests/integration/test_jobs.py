"""Async jobs over real HTTP, through a real broker, worker (both lanes) and Redis."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from standardwebhooks import Webhook, WebhookVerificationError

from spectrum.shared.contracts import JOB_CHUNK_TASK, JobChunkPayload
from spectrum.shared.jobs import chunks_done_key, job_key, known_key, new_job_id, new_record
from spectrum.worker.runtimes.lexicon import load_lexicon
from spectrum_client import AsyncSpectrumClient, SpectrumClient, SpectrumError, cli
from tests.integration.job_runs import texts, wait_until_ended
from tests.integration.stack import Stack

# A Standard Webhooks key (whsec_ and base64), as a receiver would be given it.
SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcy0u"
CHUNK = 25


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("jobs"),
        redis_url,
        job_chunk_size=CHUNK,
        job_chunk_retries=1,
        job_chunk_retry_s=0.05,
        webhook_secret=SECRET,
        webhook_retries=3,
        webhook_backoff_s=0.2,
        webhook_allow_private=True,  # the receiver listens on 127.0.0.1
    )
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def results(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/jobs/{job_id}/results")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in answer.text.splitlines()]


def test_a_2000_text_job_is_answered_once_each_in_order(client: httpx.Client, stack: Stack) -> None:
    batch = texts(2000)
    created = client.post("/v1/jobs", json={"texts": batch})

    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    assert created.json()["state"] == "queued"
    assert created.headers["location"] == f"/v1/jobs/{job_id}"
    seen = ["queued"]
    deadline = time.monotonic() + 60
    while seen[-1] != "succeeded":
        state = client.get(f"/v1/jobs/{job_id}").json()["state"]
        assert state in ("queued", "running", "succeeded"), state
        if state != seen[-1]:
            seen.append(state)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen in (["queued", "succeeded"], ["queued", "running", "succeeded"])

    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["progress"] == {
        "total": 2000,
        "done": 2000,
        "failed": 0,
        "skipped": 0,
        "cached": 0,
        "chunks": 2000 // CHUNK,
        "chunks_finished": 2000 // CHUNK,
    }
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    assert job["results"] is None  # above the inline limit: streamed instead
    # Every chunk was counted exactly once.
    store = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        assert store.scard(chunks_done_key(job_id)) == 2000 // CHUNK
    finally:
        store.close()
    items = results(client, job_id)
    assert [item["index"] for item in items] == list(range(2000))
    runtime, card = load_lexicon(stack.model_name)
    expected = runtime.predict(batch)
    for item, row in zip(items, expected, strict=True):
        assert [item["probabilities"][label] for label in card.labels] == pytest.approx(row)
        assert item["cached"] is False
    assert [item["label"] for item in items[:4]] == ["POSITIVE", "NEGATIVE"] * 2


def test_cached_texts_are_answered_without_compute(client: httpx.Client) -> None:
    batch = texts(10)
    client.post("/v1/predict", json={"texts": batch[:4]}).raise_for_status()

    job_id = client.post("/v1/jobs", json={"texts": batch}).json()["id"]
    job = wait_until_ended(client, job_id)

    assert job["state"] == "succeeded"
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 409  # too late to cancel
    assert job["progress"]["cached"] == 4
    assert [item["cached"] for item in job["results"]] == [True] * 4 + [False] * 6
    csv_lines = client.get(f"/v1/jobs/{job_id}/results", params={"format": "csv"}).text
    header, *rows = csv_lines.splitlines()
    assert header == "index,label,score,p_NEGATIVE,p_POSITIVE,cached,truncated,error"
    assert [row.split(",")[0] for row in rows] == [str(i) for i in range(10)]


def test_cancel_mid_way_skips_the_remaining_chunks(client: httpx.Client) -> None:
    total = 20_000
    job_id = client.post("/v1/jobs", json={"texts": texts(total)}).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/jobs/{job_id}").json()["progress"]["done"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    cancelled = client.delete(f"/v1/jobs/{job_id}")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    job = wait_until_ended(client, job_id)
    progress = job["progress"]
    assert job["state"] == "cancelled"
    assert progress["skipped"] > 0, progress
    assert progress["done"] + progress["skipped"] == total
    assert progress["done"] < total
    # What was done stays readable, in order.
    items = results(client, job_id)
    assert len(items) == progress["done"]
    indexes = [item["index"] for item in items]
    assert indexes == sorted(indexes)
    # Cancelling is idempotent.
    assert client.delete(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"


def test_same_idempotency_key_and_body_give_the_same_job(client: httpx.Client) -> None:
    key = uuid.uuid4().hex
    body = {"texts": texts(30)}

    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    other = client.post("/v1/jobs", json={"texts": texts(3)}, headers={"Idempotency-Key": key})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["error"] == "JobConflict"
    wait_until_ended(client, first.json()["id"])


def test_unknown_and_expired_jobs(client: httpx.Client, stack: Stack) -> None:
    for path in (
        f"/v1/jobs/{new_job_id()}",
        "/v1/jobs/not-an-id",
        f"/v1/jobs/{new_job_id()}/results",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"] == "JobNotFound"
    assert client.delete(f"/v1/jobs/{new_job_id()}").status_code == 404

    job_id = client.post("/v1/jobs", json={"texts": texts(3)}).json()["id"]
    wait_until_ended(client, job_id)
    store = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        store.delete(job_key(job_id))  # what its TTL does
    finally:
        store.close()
    answer = client.get(f"/v1/jobs/{job_id}")
    assert answer.status_code == 410
    assert answer.json()["error"] == "JobExpired"


def test_a_csv_upload_becomes_a_job(client: httpx.Client) -> None:
    rows = texts(5)
    data = "id,review\n" + "".join(f'{i},"{text}"\n' for i, text in enumerate(rows))

    created = client.post(
        "/v1/jobs",
        params={"text_column": "review"},
        files={"file": ("reviews.csv", data.encode(), "text/csv")},
    )

    assert created.status_code == 202, created.text
    job = wait_until_ended(client, created.json()["id"])
    assert [item["label"] for item in job["results"]] == ["POSITIVE", "NEGATIVE"] * 2 + ["POSITIVE"]


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        ({"content": b"id,body\n1,x\n", "headers": {"content-type": "text/csv"}}, 422, "column"),
        ({"content": b"", "headers": {"content-type": "text/csv"}}, 422, "empty"),
        ({"content": b"<a/>", "headers": {"content-type": "application/xml"}}, 415, "cannot read"),
        ({"json": {"texts": []}}, 422, "no texts"),
        ({"json": {"texts": ["ok"], "callback_url": "file:///etc"}}, 422, "callback_url"),
        ({"content": b"{bad", "headers": {"content-type": "application/json"}}, 422, "JSON"),
        (
            {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data"}},
            422,
            "multipart",
        ),
    ],
)
def test_bad_submissions_are_4xx_with_a_reason(
    client: httpx.Client, kwargs: dict[str, Any], status: int, detail: str
) -> None:
    answer = client.post("/v1/jobs", **kwargs)

    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


def test_raw_csv_and_jsonl_bodies_become_jobs(client: httpx.Client) -> None:
    rows = texts(4)
    # U+2028/U+2029/U+0085 are legal unescaped in JSON text and must not end a line.
    odd = [f"{rows[0]}\u2028", f"{rows[1]}\u2029", f"{rows[2]}\x85", rows[3]]
    jsonl = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\r\n" for t in odd)
    csv_body = "\ufefftext\r\n" + "".join(f'"{t}"\r\n' for t in rows)
    submissions = [
        {"content": csv_body.encode(), "headers": {"content-type": "text/csv"}},
        {"content": jsonl.encode(), "headers": {"content-type": "application/x-ndjson"}},
        {"files": {"file": ("rows.jsonl", jsonl.encode(), "application/octet-stream")}},
    ]
    for submission in submissions:
        created = client.post("/v1/jobs", **submission)  # type: ignore[arg-type]

        assert created.status_code == 202, created.text
        job = wait_until_ended(client, created.json()["id"])
        assert job["progress"]["done"] == 4
        assert [item["label"] for item in job["results"]] == ["POSITIVE", "NEGATIVE"] * 2


def multipart(boundary: str, name: str, data: bytes) -> Iterator[bytes]:
    """A multipart body of one file part, sent in small pieces (chunked, no length)."""
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
    yield f'filename="{name}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
    for at in range(0, len(data), 1000):
        yield data[at : at + 1000]
    yield f"\r\n--{boundary}--\r\n".encode()


def test_uploads_over_the_job_limit_are_413_and_refusals_name_the_place(
    make_stack: type[Stack],
) -> None:
    # Below SPECTRUM_MAX_BODY_BYTES: the route's own cap is the one that answers.
    stack = make_stack(job_max_upload_bytes=4096, job_max_texts=2, max_text_chars=3)
    stack.start_api()  # no worker: every answer here comes before a job would be queued
    big = b"text\n" + b"a fine line of text\n" * 1000

    def pieces(data: bytes) -> Iterator[bytes]:
        for at in range(0, len(data), 1000):
            yield data[at : at + 1000]

    csv_type = {"content-type": "text/csv"}
    with stack.client() as client:
        declared = client.post("/v1/jobs", content=big, headers=csv_type)
        assert declared.status_code == 413, declared.text
        assert declared.json()["detail"] == (
            f"the body is {len(big)} bytes, at most 4096 (SPECTRUM_JOB_MAX_UPLOAD_BYTES): "
            "split the texts over several jobs"
        )
        for body, media in (
            (pieces(big), "text/csv"),
            (pieces(b'{"texts": ["' + b"x" * 9000 + b'"]}'), "application/json"),
            (multipart("b0undary", "rows.csv", big), "multipart/form-data; boundary=b0undary"),
        ):
            answer = client.post("/v1/jobs", content=body, headers={"content-type": media})
            assert answer.status_code == 413, answer.text
            assert answer.json()["error"] == "PayloadTooLarge"
            assert answer.json()["detail"].startswith(
                "the body is larger than 4096 bytes (SPECTRUM_JOB_MAX_UPLOAD_BYTES)"
            )
        for data, media, reason in (
            # The offset is the byte's in the file, its BOM counted.
            ("\ufefftext\nok\né".encode() + b"\xff\n", "text/csv", "not UTF-8 (byte 13)"),
            (b'"a"\n"b\n', "application/x-ndjson", "line 2: not valid JSON"),
            (b'"a"\n"b"\n"c"\n', "application/x-ndjson", "more than 2 rows"),
            (b"text\nok\n\n\nxxxx\n", "text/csv", "row 2: 4 characters, at most 3"),
        ):
            answer = client.post("/v1/jobs", content=pieces(data), headers={"content-type": media})
            assert answer.status_code == 422, answer.text
            assert reason in answer.json()["detail"]


def test_a_bad_line_is_refused_before_the_rest_of_the_body_is_sent(
    make_stack: type[Stack],
) -> None:
    # The file is read as it arrives: the 422 comes while the body is still open.
    stack = make_stack()
    stack.start_api()
    address = httpx.URL(stack.base_url)
    with socket.create_connection((address.host, address.port), timeout=15) as conn:
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: spectrum\r\n"
            b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        line = b'"fine"\n{bad\n'
        conn.sendall(b"%x\r\n%s\r\n" % (len(line), line))  # and no last chunk
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = conn.recv(65536)
            assert received, f"connection closed after {answer!r}"
            answer += received
    assert answer.startswith(b"HTTP/1.1 422 "), answer


class Receiver:
    """A local webhook receiver that checks each delivery with the standardwebhooks
    verifier under SECRET, and fails its first `failures` deliveries with a 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[int, dict[str, str], bytes]] = []
        self.verified: list[bool] = []
        owner = self
        verifier = Webhook(SECRET)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                try:
                    verifier.verify(body, headers)
                    owner.verified.append(True)
                except WebhookVerificationError:
                    owner.verified.append(False)
                status = 500 if len(owner.calls) < owner.failures else 200
                owner.calls.append((status, headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_callbacks_to_private_addresses_are_refused(redis_url: str, tmp_path: Path) -> None:
    # The default: a callback may not reach this machine or its network (SSRF).
    stack = Stack(tmp_path, redis_url, webhook_secret=SECRET, webhook_retries=3)
    try:
        # A worker under the default, behind a gateway that lets the job through.
        stack.start_worker()
        stack.start_api(webhook_allow_private=True)
        with Receiver(failures=0) as receiver, stack.client() as lenient:
            job_id = lenient.post(
                "/v1/jobs", json={"texts": texts(3), "callback_url": receiver.url}
            ).json()["id"]
            wait_until_ended(lenient, job_id)
            deadline = time.monotonic() + 20
            while (job := lenient.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == (
                "pending"
            ):
                assert time.monotonic() < deadline, job["webhook"]
                time.sleep(0.05)
        # Refused at delivery, once, and never sent.
        assert job["state"] == "succeeded"
        assert job["webhook"]["state"] == "failed"
        assert job["webhook"]["attempts"] == 1
        assert "127.0.0.1" in job["webhook"]["last_error"]
        assert "not a public address" in job["webhook"]["last_error"]
        assert receiver.calls == []

        # A gateway under the default refuses it at submit, naming the setting.
        stack.start_api()
        with stack.client() as strict:
            for url in (receiver.url, "http://169.254.169.254/latest/meta-data", "http://[::1]/h"):
                answer = strict.post("/v1/jobs", json={"texts": ["ok"], "callback_url": url})
                assert answer.status_code == 422, answer.text
                assert "SPECTRUM_WEBHOOK_ALLOW_PRIVATE" in answer.json()["detail"]
    finally:
        stack.stop()


def test_the_webhook_is_signed_and_retried_until_delivered(client: httpx.Client) -> None:
    with Receiver(failures=1) as receiver:
        # By name: resolved once by the worker, the connection pinned to an address of
        # it (127.0.0.1, where the receiver listens), the name kept in Host.
        named = receiver.url.replace("127.0.0.1", "localhost")
        job_id = client.post("/v1/jobs", json={"texts": texts(60), "callback_url": named}).json()[
            "id"
        ]
        wait_until_ended(client, job_id)
        deadline = time.monotonic() + 20
        while (job := client.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == "pending":
            assert time.monotonic() < deadline, job["webhook"]
            time.sleep(0.05)

    assert job["webhook"]["state"] == "delivered"
    assert job["webhook"]["attempts"] == 2
    assert job["webhook"]["last_status"] == 200
    assert [status for status, _, _ in receiver.calls] == [500, 200]
    assert receiver.verified == [True, True]
    # One event, one message id on every try (receivers de-duplicate by it).
    assert {headers["webhook-id"] for _, headers, _ in receiver.calls} == {f"job_{job_id}_ended"}
    for _, headers, body in receiver.calls:
        assert headers["Host"] == named.split("/")[2]
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "d3Jvbmc=").verify(body, headers)  # another key: refused
    summary = json.loads(receiver.calls[-1][2])
    assert summary["id"] == job_id
    assert summary["state"] == "succeeded"
    assert summary["progress"]["done"] == 60


def test_a_chunk_failing_after_its_retries_fails_the_job_with_reasons(
    client: httpx.Client, stack: Stack
) -> None:
    # A job whose one chunk names a model no worker serves: the worker raises every time.
    job_id = new_job_id()
    record = new_record(
        job_id=job_id,
        model=stack.model_name,
        labels=["NEGATIVE", "POSITIVE"],
        total=3,
        chunk_size=CHUNK,
        fingerprint="x",
        callback_url=None,
        now=time.time(),
    )
    store = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        store.hset(job_key(job_id), mapping=record)  # type: ignore[arg-type]
        store.expire(job_key(job_id), 600)
        store.set(known_key(job_id), "1", ex=600)
    finally:
        store.close()
    payload = JobChunkPayload(
        job_id=job_id, chunk=0, start=0, texts=["a", "b", "c"], model="not-this-model"
    )
    app = Celery(broker=stack.settings["broker_url"])
    try:
        app.send_task(JOB_CHUNK_TASK, args=[payload.model_dump()], queue=stack.bulk_queue)
    finally:
        app.close()

    job = wait_until_ended(client, job_id)

    assert job["state"] == "failed"
    assert job["progress"]["failed"] == 3
    assert [item["index"] for item in job["results"]] == [0, 1, 2]
    assert all(item["error"] == "WrongModel after 2 tries" for item in job["results"])


def test_the_cli_submits_waits_and_writes_results(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = texts(120)
    source = tmp_path / "reviews.csv"
    source.write_text("review\n" + "".join(f'"{text}"\n' for text in rows))
    url = ["--url", stack.base_url]

    assert (
        cli.main([*url, "submit", str(source), "--column", "review", "--wait", "--poll", "0.05"])
        == 0
    )
    out, err = capsys.readouterr()
    job_id = out.strip()
    assert "120/120 100% succeeded" in err
    assert cli.main([*url, "status", job_id]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "succeeded"
    target = tmp_path / "out.csv"
    assert cli.main([*url, "results", job_id, "-o", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert lines[0].startswith("index,label,score")
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(120)]
    capsys.readouterr()
    assert cli.main([*url, "predict", "What a wonderful, lovely film"]) == 0
    assert capsys.readouterr().out.startswith("POSITIVE\t")
    assert cli.main([*url, "status", new_job_id()]) == 1
    assert "404 JobNotFound" in capsys.readouterr().err


async def test_the_async_client_round_trip(stack: Stack) -> None:
    batch = texts(40)
    async with AsyncSpectrumClient(stack.base_url) as client:
        job = await client.submit(batch, idempotency_key=uuid.uuid4().hex)
        seen: list[str] = []
        final = await client.wait(
            job["id"], poll_s=0.05, on_progress=lambda j: seen.append(j["state"])
        )
        items = [item async for item in client.results(job["id"])]
        with pytest.raises(SpectrumError) as caught:
            await client.status(new_job_id())

    assert final["state"] == "succeeded"
    assert seen[-1] == "succeeded"
    assert [item["index"] for item in items] == list(range(40))
    assert caught.value.status == 404


def test_the_sync_client_reads_results_in_order(stack: Stack) -> None:
    batch = texts(30)
    with SpectrumClient(stack.base_url) as client:
        job = client.submit(batch)
        client.wait(job["id"], poll_s=0.05, timeout=30)
        labels = [item["label"] for item in client.results(job["id"])]

    assert labels == ["POSITIVE", "NEGATIVE"] * 15

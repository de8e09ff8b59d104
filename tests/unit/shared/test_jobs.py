"""The job contract's pure parts: chunking, fingerprints, the record, CSV rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from spectrum.api.jobs.results import render
from spectrum.shared.jobs import (
    JobSummary,
    answered,
    chunk_bounds,
    failed_item,
    fingerprint,
    idempotency_key,
    is_job_id,
    new_job_id,
    new_record,
    submission,
)
from spectrum.shared.predictions import Answer


def test_chunks_cover_every_index_once_in_order() -> None:
    bounds = chunk_bounds(2003, 16)

    assert bounds[0] == (0, 16)
    assert bounds[-1] == (2000, 2003)
    covered = [i for start, end in bounds for i in range(start, end)]
    assert covered == list(range(2003))
    assert chunk_bounds(16, 16) == [(0, 16)]
    with pytest.raises(ValueError, match="at least 1"):
        chunk_bounds(3, 0)


def test_fingerprint_depends_on_texts_order_and_callback() -> None:
    base = fingerprint(["a", "b"], None)

    assert fingerprint(["a", "b"], None) == base
    assert fingerprint(["b", "a"], None) != base
    assert fingerprint(["a", "b"], "https://x/") != base
    assert fingerprint(["a b"], None) != fingerprint(["a", "b"], None)


@pytest.mark.parametrize("callback", [None, 'https://x/é?q="1"'])
@pytest.mark.parametrize("count", [0, 1, 1024, 2500])
def test_fingerprint_is_the_hash_of_the_whole_json(count: int, callback: str | None) -> None:
    # Hashed in slices, but the same digest as before: stored Idempotency-Keys still match.
    odd = ["", 'quote " and \\', "é😀\u2028", "\x01\n\t", "\uff5a"]
    texts = [f"{odd[i % len(odd)]} {i}" for i in range(count)]
    whole = json.dumps({"texts": texts, "callback_url": callback}, ensure_ascii=False)

    assert fingerprint(texts, callback) == hashlib.sha256(whole.encode()).hexdigest()


def test_job_ids_and_idempotency_keys() -> None:
    job_id = new_job_id()
    assert is_job_id(job_id)
    assert not is_job_id("../etc")
    assert idempotency_key("k") != idempotency_key("k2")
    assert ":" not in idempotency_key("a:b:c").removeprefix("spectrum:job-key:")


def test_a_new_record_reads_back_as_a_queued_summary() -> None:
    record = new_record(
        job_id="f" * 32,
        model="m",
        labels=["NEG", "POS"],
        total=33,
        chunk_size=16,
        fingerprint="d",
        callback_url="https://example.com/h",
        now=100.5,
    )
    raw = {key.encode(): value.encode() for key, value in record.items()}  # as redis-py gives it

    job = JobSummary.from_hash(raw)

    assert job.state == "queued"
    assert job.progress.total == 33
    assert job.progress.chunks == 3
    assert job.labels == ["NEG", "POS"]
    assert job.created_at == 100.5
    assert job.started_at is None
    assert job.webhook is not None
    assert job.webhook.state == "pending"


def test_a_record_is_visible_once_sealed_and_never_after_an_abort() -> None:
    def record(**sealing: float | None) -> dict[str, str]:
        return new_record(
            job_id="f" * 32,
            model="m",
            labels=["NEG", "POS"],
            total=3,
            chunk_size=16,
            fingerprint="d",
            callback_url=None,
            now=100.0,
            **sealing,
        )

    publishing = record(seal_by=160.0)
    assert submission(publishing, now=150.0) == "unsealed"
    assert submission(publishing, now=161.0) == "aborted"  # its gateway died mid-submit
    assert JobSummary.from_hash(publishing).state == "queued"
    assert submission({**publishing, "sealed": "1"}, now=161.0) == "sealed"
    assert submission({**publishing, "sealed": "aborted"}, now=150.0) == "aborted"
    assert submission(record(seal_by=None), now=1e12) == "sealed"
    older = {k: v for k, v in record(seal_by=None).items() if k not in ("sealed", "seal_by")}
    assert submission(older, now=1e12) == "sealed"  # written before sealing existed


def test_result_items() -> None:
    item = answered(7, Answer("POS", 0.75, {"NEG": 0.25, "POS": 0.75}, True, False))

    assert item == {
        "index": 7,
        "label": "POS",
        "score": 0.75,
        "probabilities": {"NEG": 0.25, "POS": 0.75},
        "cached": True,
        "truncated": False,
    }
    assert failed_item(8, "boom") == {"index": 8, "error": "boom"}


async def _chunks(*chunks: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    for chunk in chunks:
        yield chunk


async def test_results_render_as_csv_and_ndjson() -> None:
    first = [answered(0, Answer("POS", 0.75, {"NEG": 0.25, "POS": 0.75}, False, False))]
    second = [failed_item(1, "WrongModel after 2 tries")]

    csv_text = "".join([p async for p in render(_chunks(first, second), "csv", ["NEG", "POS"])])
    ndjson = "".join([p async for p in render(_chunks(first, second), "ndjson", ["NEG", "POS"])])

    assert csv_text.splitlines() == [
        "index,label,score,p_NEG,p_POS,cached,truncated,error",
        "0,POS,0.75,0.25,0.75,false,false,",
        "1,,,,,,,WrongModel after 2 tries",
    ]
    assert [json.loads(line) for line in ndjson.splitlines()] == [*first, *second]

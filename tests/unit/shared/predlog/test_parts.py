"""The prediction log's pure parts: rows, the writer's bounded backlog, the retention cutoff,
and the gateway's buffered sender (over a recording stand-in for the Redis pipeline)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spectrum.api.models.aliases import Alias
from spectrum.api.predict.predictor import Answered, Placed, Predictor
from spectrum.shared.config import Settings
from spectrum.shared.predictions import Answer
from spectrum.shared.predlog.backlog import Backlog, Entry
from spectrum.shared.predlog.retention import cutoff
from spectrum.shared.predlog.rows import decode_rows, encode_rows, for_insert, rows_for
from spectrum.shared.predlog.stream import ENTRY_ROWS, PENDING_ROWS_MAX, StreamLog

POSITIVE = Answer("POSITIVE", 0.9, {"NEGATIVE": 0.1, "POSITIVE": 0.9}, False, False)
NEGATIVE = Answer("NEGATIVE", 0.8, {"NEGATIVE": 0.8, "POSITIVE": 0.2}, True, True)


def two_rows(*, log_texts: bool) -> list[dict[str, Any]]:
    return rows_for(
        ["good film", "bad film"],
        [POSITIVE, NEGATIVE],
        ["v1", "v2"],
        model="m",
        source="predict",
        at=1_700_000_000.5,
        latency_ms=12.5,
        log_texts=log_texts,
        alias="sentiment",
        request_id="req-1",
        key="0123456789abcdef",
    )


def test_rows_carry_the_answer_and_the_texts_hash_but_not_the_text_by_default() -> None:
    first, second = two_rows(log_texts=False)

    assert first["label"] == "POSITIVE"
    assert first["score"] == 0.9
    assert first["probabilities"] == {"NEGATIVE": 0.1, "POSITIVE": 0.9}
    assert (first["version"], second["version"]) == ("v1", "v2")
    assert (second["cached"], second["truncated"]) == (True, True)
    assert first["text_hash"] == hashlib.sha256(b"good film").hexdigest()
    assert "text" not in first
    assert "good film" not in json.dumps(first)
    assert first["key_id"] == "0123456789abcdef"
    assert (first["alias"], first["request_id"], first["source"]) == (
        "sentiment",
        "req-1",
        "predict",
    )


def test_rows_keep_the_text_only_when_asked() -> None:
    assert [row["text"] for row in two_rows(log_texts=True)] == ["good film", "bad film"]


def test_an_entry_round_trips_and_becomes_insertable() -> None:
    rows = decode_rows(encode_rows(two_rows(log_texts=False)))
    row = for_insert(rows[0])

    assert row["at"] == datetime.fromtimestamp(1_700_000_000.5, tz=UTC)
    assert row["text"] is None
    assert row["job_id"] is None
    assert row["model"] == "m"


def test_for_insert_cuts_strings_to_their_columns() -> None:
    row = two_rows(log_texts=False)[0] | {"request_id": "r" * 100}

    assert for_insert(row)["request_id"] == "r" * 64


@pytest.mark.parametrize("raw", ['{"a": 1}', "[1, 2]", "not json"])
def test_an_entry_that_is_not_a_list_of_rows_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"JSON|Expecting"):
        decode_rows(raw)


def entry(name: str, rows: int) -> Entry:
    return Entry(name, [{"n": i} for i in range(rows)])


def test_the_backlog_refuses_an_entry_that_would_pass_its_bound() -> None:
    backlog = Backlog(max_rows=10)

    assert backlog.offer(entry("1", 6))
    assert not backlog.offer(entry("2", 5))  # 11 > 10: refused whole
    assert backlog.offer(entry("3", 4))  # exactly 10 fits
    assert backlog.rows == 10
    assert len(backlog) == 2
    assert not backlog.has_room()


def test_batches_take_the_oldest_entries_up_to_the_row_limit_and_at_least_one() -> None:
    backlog = Backlog(max_rows=100)
    for name, rows in (("a", 3), ("b", 4), ("c", 50), ("d", 1)):
        backlog.offer(entry(name, rows))

    assert [e.id for e in backlog.batch(8)] == ["a", "b"]
    assert [e.id for e in backlog.batch(2)] == ["a"]  # larger than the limit: alone
    batch = backlog.batch(57)
    assert [e.id for e in batch] == ["a", "b", "c"]
    backlog.remove(batch)
    assert backlog.rows == 1
    assert [e.id for e in backlog.batch(10)] == ["d"]


def test_the_retention_cutoff_is_days_before_now() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    assert cutoff(now, 30) == now - timedelta(days=30)


class RecordingPipeline:
    def __init__(self, sent: list[list[dict[str, Any]]], fail: bool) -> None:
        self.sent, self.fail, self.queued = sent, fail, []  # type: ignore[var-annotated]

    async def __aenter__(self) -> RecordingPipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def xadd(self, stream: str, fields: dict[str, str], **_: Any) -> None:
        self.queued.append(decode_rows(fields["rows"]))

    async def execute(self) -> None:
        if self.fail:
            raise OSError("redis is down")
        self.sent.extend(self.queued)


class RecordingRedis:
    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.fail = False
        self.pipelines = 0

    def pipeline(self, transaction: bool = True) -> RecordingPipeline:
        self.pipelines += 1
        return RecordingPipeline(self.sent, self.fail)


def sender(redis_client: RecordingRedis, dropped: list[int]) -> StreamLog:
    return StreamLog(
        redis_client,  # type: ignore[arg-type]
        stream_max=1000,
        flush_s=3600,  # flushed by hand below
        stream="s",
        on_dropped=dropped.append,
    )


def test_appended_requests_leave_in_one_pipeline_packed_whole_into_entries() -> None:
    async def scenario() -> tuple[RecordingRedis, list[int]]:
        client, dropped = RecordingRedis(), []
        log = sender(client, dropped)
        log.append(two_rows(log_texts=False))
        log.append(two_rows(log_texts=False)[:1])
        log.append([])  # nothing answered: nothing sent
        for _ in range(ENTRY_ROWS // 2):  # 256 rows more: they spill into a second entry
            log.append(two_rows(log_texts=False))
        assert client.sent == []  # append never sends
        await log.close()
        return client, dropped

    client, dropped = asyncio.run(scenario())

    # 3 + 254 rows overflow 256: the request that does not fit starts the next entry.
    assert [len(rows) for rows in client.sent] == [ENTRY_ROWS - 1, 4]
    assert client.pipelines == 1
    assert dropped == []
    assert [row["request_id"] for row in client.sent[0][:3]] == ["req-1"] * 3


def test_a_failed_send_and_a_full_buffer_are_counted_not_raised() -> None:
    async def scenario() -> list[int]:
        client, dropped = RecordingRedis(), []
        log = sender(client, dropped)
        client.fail = True
        log.append(two_rows(log_texts=False))
        await log.flush()  # Redis down: the two rows are counted
        big = [two_rows(log_texts=False)[0]] * PENDING_ROWS_MAX
        log.append(big)
        log.append(two_rows(log_texts=False))  # over the process buffer's bound
        await log.close()
        return dropped

    assert asyncio.run(scenario()) == [2, 2, PENDING_ROWS_MAX]


class RecordingLog:
    def __init__(self) -> None:
        self.entries: list[list[dict[str, Any]]] = []

    def append(self, rows: list[dict[str, Any]]) -> None:
        self.entries.append(rows)


def test_an_alias_requests_rows_name_the_model_and_text_each_part_answered() -> None:
    """Parts answer texts at their positions: each row gets its own text's hash and model."""
    settings = Settings(log_json=True, model_name="a")
    recorded = RecordingLog()
    nothing: Any = None
    predictor = Predictor(settings, nothing, nothing, nothing, nothing, nothing, recorded)  # type: ignore[arg-type]
    normalized = ["first", "second", "third"]
    parts = [
        Placed(Answered("a", [POSITIVE, POSITIVE], ["va", "va"]), [0, 2]),
        Placed(Answered("b", [NEGATIVE], ["vb"]), [1]),
    ]
    alias = Alias("sentiment", (("a", 50), ("b", 50)))

    predictor.log_parts(parts, normalized, "predict", alias, "req-9", 0.0123)

    (rows,) = recorded.entries  # one entry for the whole request
    by_model = {(r["model"], r["text_hash"]) for r in rows}
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    assert by_model == {("a", digest("first")), ("a", digest("third")), ("b", digest("second"))}
    assert {r["alias"] for r in rows} == {"sentiment"}
    assert {r["latency_ms"] for r in rows} == {12.3}
    assert {r["version"] for r in rows if r["model"] == "b"} == {"vb"}

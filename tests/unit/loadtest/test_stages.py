"""The per-stage table's arithmetic on hand-made spans: disjoint stages adding up to the total."""

from __future__ import annotations

from loadtest.stages import STAGES, medians, request_stages, table
from spectrum_dev.otlp import SpanRecord

MS = 1_000_000


def span(
    span_id: str,
    parent: str,
    name: str,
    start_ms: float,
    end_ms: float,
    links: list[str] | None = None,
) -> SpanRecord:
    return SpanRecord(
        trace_id="t" + span_id[0],
        span_id=span_id,
        parent_id=parent,
        name=name,
        service="x",
        start_ns=int(start_ms * MS),
        end_ns=int(end_ms * MS),
        links=links or [],
    )


def one_batch_of_two() -> list[SpanRecord]:
    """Requests a (first) and b, batched: the batch hangs from a and links both."""
    return [
        span("a0", "", "POST /v1/predict", 0, 20),
        span("a1", "a0", "validate", 0, 1),
        span("a2", "a0", "cache read", 1, 2),
        span("a3", "a0", "batch wait", 2, 4),
        span("b0", "", "POST /v1/predict", 1, 21),
        span("b1", "b0", "validate", 1, 1.5),
        span("b2", "b0", "cache read", 1.5, 2),
        span("b3", "b0", "batch wait", 2, 4),
        span("a4", "a0", "batch", 4, 19, links=["a0", "b0"]),
        span("a5", "a4", "publish", 4, 5),
        span("a6", "a4", "wait for result", 5, 19),
        span("a7", "a5", "spectrum.predict", 6, 17),
        span("a8", "a7", "queue wait", 5, 6),
        span("a9", "a7", "delivery guard", 6, 7),
        span("aa", "a7", "runtime pass", 7, 14),
        span("ab", "a7", "cache write", 14, 15),
        span("ac", "a7", "result store", 15, 17),
        # A cache hit: no batch, so not one of the hop's requests.
        span("c0", "", "POST /v1/predict", 0, 2),
        span("c1", "c0", "validate", 0, 1),
    ]


def test_each_member_of_a_batch_gets_the_batch_s_stages_and_its_own() -> None:
    first, second = request_stages(one_batch_of_two())

    assert first == {
        "validate": 1.0,
        "cache read": 1.0,
        "batch wait": 2.0,
        "publish": 1.0,
        "queue wait": 1.0,
        "delivery guard": 1.0,
        "runtime pass": 7.0,
        "cache write": 1.0,
        "result store": 2.0,
        "result back": 2.0,
        "other": 1.0,
        "total": 20.0,
    }
    assert second["validate"] == 0.5
    assert second["runtime pass"] == 7.0
    assert second["other"] == 20.0 - sum(second[s] for s in STAGES[:-2])


def test_the_table_shows_medians_per_concurrency_and_the_counts() -> None:
    measured = request_stages(one_batch_of_two())

    assert medians(measured)["validate"] == 0.75
    assert medians([]) == {}
    printed = table({1: measured, 32: []}).splitlines()
    assert printed[0].split() == ["stage", "(median", "ms)", "c1", "c32"]
    assert printed[2].split() == ["validate", "0.75", "-"]
    assert printed[-1].split() == ["requests", "2", "0"]


def test_a_result_the_gateway_had_before_the_store_ended_counts_the_store_up_to_then() -> None:
    spans = [
        span("a0", "", "POST /v1/predict", 0, 10),
        span("a1", "a0", "validate", 0, 1),
        span("a4", "a0", "batch", 1, 9, links=["a0"]),
        span("a5", "a4", "publish", 1, 2),
        span("a6", "a4", "wait for result", 2, 8),
        span("a7", "a5", "spectrum.predict", 3, 9.5),
        span("ac", "a7", "result store", 6, 9.5),
    ]

    (stages,) = request_stages(spans)

    assert (stages["result store"], stages["result back"]) == (2.0, 0.0)

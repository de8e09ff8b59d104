"""The span tree of one batched hop, in an in-memory exporter; and the off path making nothing."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spectrum.shared import tracing
from spectrum.shared.config import Settings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    close = tracing.configure(Settings(tracing=True), "test", exporter=exporter)
    try:
        yield exporter
    finally:
        close()


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def parent_of(span: ReadableSpan) -> int:
    assert span.parent is not None, span.name
    return span.parent.span_id


def hexid(span: ReadableSpan) -> str:
    return format(span.context.span_id, "016x")


def test_off_every_helper_is_the_shared_no_op() -> None:
    assert not tracing.on()
    assert tracing.span("validate") is tracing.OFF
    assert tracing.started("wait for result") is tracing.OFF
    assert tracing.server_span("GET", {"traceparent": TRACEPARENT}, {}) is tracing.OFF
    assert tracing.batch([], 1) is tracing.OFF
    assert tracing.runtime_pass(3) is tracing.OFF
    assert tracing.wait_in_batch() is None
    assert tracing.message_headers() is None
    tracing.forward_pass(0.01, 2, 8, 10)  # nothing to add to
    tracing.task_started("t", "spectrum.predict", {"traceparent": TRACEPARENT})
    tracing.task_ended("t", "SUCCESS")


def test_two_batched_requests_are_two_traces_and_the_batch_links_both(
    exported: InMemorySpanExporter,
) -> None:
    members = []
    for caller in ("first", "second"):
        headers = {"traceparent": TRACEPARENT} if caller == "first" else {}
        with tracing.server_span(f"POST {caller}", headers, {}):
            with tracing.span("validate"):
                pass
            waiting = tracing.wait_in_batch()
            assert waiting is not None
            members.append(waiting)
    with tracing.batch(members, texts=2):
        with tracing.span("publish"):
            headers = tracing.message_headers()
        assert headers is not None
        # The worker, under the context the message carried.
        tracing.task_started("task-1", "spectrum.predict", headers)
        with tracing.runtime_pass(2):
            tracing.forward_pass(0.004, rows=2, width=12, tokens=20)
        tracing.store_begins("task-1")
        tracing.store_ended("task-1")
        tracing.task_ended("task-1", "SUCCESS")

    spans = exported.get_finished_spans()
    first, second = by_name(spans, "POST first")[0], by_name(spans, "POST second")[0]
    # The caller's traceparent is continued; the second request starts its own trace.
    assert format(first.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    assert second.context.trace_id != first.context.trace_id
    (batch,) = by_name(spans, "batch")
    assert parent_of(batch) == first.context.span_id
    assert [link.context.span_id for link in batch.links] == [
        first.context.span_id,
        second.context.span_id,
    ]
    assert batch.attributes == {"spectrum.requests": 2, "spectrum.texts": 2}
    waits = by_name(spans, "batch wait")
    assert {w.context.trace_id for w in waits} == {first.context.trace_id, second.context.trace_id}
    assert all(w.end_time is not None and w.end_time <= batch.start_time for w in waits)
    (publish,) = by_name(spans, "publish")
    (task,) = by_name(spans, "spectrum.predict")
    assert parent_of(task) == publish.context.span_id
    assert task.context.trace_id == first.context.trace_id
    for name in ("queue wait", "runtime pass", "result store"):
        (child,) = by_name(spans, name)
        assert parent_of(child) == task.context.span_id, name
    (runtime,) = by_name(spans, "runtime pass")
    assert runtime.attributes == {
        "spectrum.texts": 2,
        "spectrum.passes": 1,
        "spectrum.tokens": 20,
        "spectrum.padded_tokens": 24,
        "spectrum.padded_width": 12,
    }
    (forward,) = by_name(spans, "forward pass")
    assert parent_of(forward) == runtime.context.span_id
    (queue_wait,) = by_name(spans, "queue wait")
    assert queue_wait.start_time == int(headers[tracing.SENT_AT_HEADER])
    assert hexid(task) != hexid(publish)


def test_without_the_otel_extra_tracing_stays_off_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules: importing the SDK raises ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)

    close = tracing.configure(Settings(tracing=True), "test")

    assert not tracing.on()
    assert tracing.span("validate") is tracing.OFF
    with tracing.server_span("GET", {}, {}) as span:  # what the middleware then gets
        span.update_name("GET /v2")
        span.set_attribute("http.route", "/v2")
    close()

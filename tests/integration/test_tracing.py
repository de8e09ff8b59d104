"""One request, one trace across the hop: checked from what a real OTLP/HTTP receiver got.

The gateway and the worker export to the receiver (dev/spectrum_dev/otlp.py) over
OTLP/HTTP, as a collector would receive them; the request carries a W3C traceparent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from spectrum_dev.harness import wait_for
from spectrum_dev.otlp import Receiver, SpanRecord, receiver
from tests.integration.stack import Stack

TRACE_ID = uuid.uuid4().hex
CALLER_SPAN = uuid.uuid4().hex[:16]
GATEWAY = {"validate", "cache read", "batch wait", "batch", "publish", "wait for result"}
WORKER = {
    "spectrum.predict",
    "queue wait",
    "delivery guard",
    "runtime pass",
    "cache write",
    "result store",
}


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with receiver() as received:
        # The standard variables, inherited by the stack's processes.
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", received.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        yield received


def trace(received: Receiver, trace_id: str) -> list[SpanRecord]:
    return [span for span in received.spans() if span.trace_id == trace_id]


def test_one_request_is_one_trace_from_the_gateway_through_the_worker(
    make_stack: type[Stack], exported: Receiver
) -> None:
    stack = make_stack(tracing="true")
    stack.start_worker()
    stack.start_api()
    body = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [1], "data": [f"fine {uuid.uuid4()}"]}
        ]
    }
    headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "tracestate": "vendor=1"}
    with stack.client() as client:
        answer = client.post(f"/v2/models/{stack.model_name}/infer", json=body, headers=headers)
    assert answer.status_code == 200, answer.text

    def complete() -> bool:
        names = {span.name for span in trace(exported, TRACE_ID)}
        return names >= GATEWAY | WORKER and any(n.startswith("POST ") for n in names)

    wait_for(complete, 15, "the gateway's and the worker's spans at the receiver")
    spans = trace(exported, TRACE_ID)
    by_id = {span.span_id: span for span in spans}
    (server,) = [span for span in spans if span.name.startswith("POST ")]
    assert server.name == "POST /v2/models/{model_name}/infer"
    assert server.parent_id == CALLER_SPAN  # the caller's trace, continued
    assert server.service == "spectrum-api"
    assert server.attributes["http.response.status_code"] == 200
    assert {s.service for s in spans if s.name in WORKER} == {"spectrum-worker"}
    assert {s.service for s in spans if s.name in GATEWAY} == {"spectrum-api"}
    # Every span but the server span hangs from a span of this same trace.
    assert all(s.parent_id in by_id for s in spans if s is not server)
    (task,) = [s for s in spans if s.name == "spectrum.predict"]
    assert by_id[task.parent_id].name == "publish"
    (batch,) = [s for s in spans if s.name == "batch"]
    assert batch.links == [server.span_id]
    (runtime,) = [s for s in spans if s.name == "runtime pass"]
    assert runtime.attributes["spectrum.texts"] == 1
    # The worker's stages lie inside the gateway's batch, on one machine's clock.
    assert batch.start_ns <= runtime.start_ns <= runtime.end_ns <= batch.end_ns

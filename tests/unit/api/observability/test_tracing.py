"""The server span in-process: the caller's traceparent continued, named by route template."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spectrum.shared import tracing
from spectrum.shared.config import Settings
from tests.unit.inprocess import FakeModels, FakePredictor, resources, serve

CALLER_TRACE, CALLER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


async def test_a_request_continues_the_caller_s_trace_under_its_route_template() -> None:
    exporter = InMemorySpanExporter()
    settings = Settings(log_json=True, tracing=True)
    close = tracing.configure(settings, "spectrum-api", exporter=exporter)
    try:
        given = resources(settings, predictor=FakePredictor(), models=FakeModels())
        async with serve(given) as client:
            answer = await client.get(
                "/v2/models/m",
                headers={
                    "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                    "X-Request-ID": "r9",
                },
            )
    finally:
        close()

    assert answer.status_code == 200
    (server,) = [s for s in exporter.get_finished_spans() if s.name.startswith("GET ")]
    assert server.name == "GET /v2/models/{model_name}"
    assert format(server.context.trace_id, "032x") == CALLER_TRACE
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["spectrum.request_id"] == "r9"

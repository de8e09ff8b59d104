"""A tiny OTLP/HTTP trace receiver: what the tests, `python -m loadtest.stages` and the
waterfall read the services' spans from.

It accepts `POST /v1/traces` (protobuf `ExportTraceServiceRequest`, gzip or not, as the
OpenTelemetry exporters send with `OTEL_EXPORTER_OTLP_ENDPOINT=<endpoint>`), decodes it
with `opentelemetry-proto` (the dev extra) and keeps every span as a plain `SpanRecord`.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SpanRecord:
    """One exported span: ids as hex, times in ns since the epoch."""

    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # the span ids it links to

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def decode_export(body: bytes) -> list[SpanRecord]:
    """The spans of one OTLP `ExportTraceServiceRequest`."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        service=service,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        links=[link.span_id.hex() for link in span.links],
                    )
                )
    return spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


class Receiver:
    """Collects the spans posted to it; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._spans: list[SpanRecord] = []
        self.endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    def add(self, spans: list[SpanRecord]) -> None:
        with self._lock:
            self._spans += spans

    def spans(self) -> list[SpanRecord]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port, served from a thread until the block ends."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            holder[0].add(decode_export(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def save(spans: list[SpanRecord], path: Path) -> None:
    """The spans as JSON lines, one span a line (what `load` and the waterfall read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(span)) + "\n" for span in spans))


def load(path: Path) -> list[SpanRecord]:
    return [SpanRecord(**json.loads(line)) for line in path.read_text().splitlines() if line]

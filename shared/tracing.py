"""OpenTelemetry traces across the hop: gateway, broker, worker, result. Off by default.

Off (SPECTRUM_TRACING=false, the default, or the `otel` extra not installed) every
helper here reads one module global and returns the shared no-op `OFF`: no span, no
context, no header is made, and nothing of OpenTelemetry is imported. On, a process
has its own TracerProvider (never the global one, so tests can turn it on and off)
whose spans go to the OTLP exporter the standard `OTEL_*` variables describe.

The shape of one request's trace (docs/protocols.md draws one):

- gateway, in the request's trace: the server span (api/observability/tracing.py),
  `validate`, `cache read`, `batch wait` (from joining a batch until it leaves);
- gateway, per batch: `batch`, with `publish` and `wait for result` under it;
- worker, under `publish` (the context rides in the task message's headers as W3C
  `traceparent`/`tracestate`): the task span, `queue wait` (from the publish to the
  task's start, on the gateway's clock), `delivery guard`, `runtime pass` (texts, tokens,
  padded tokens, widest pass) with one `forward pass` per padded batch, `cache write`,
  and `result store` (Celery storing and publishing the result).

One request is one trace even when its texts ride in a batch with other requests':
a batch's spans are children of its first request's span, and link to every member
request's span (OpenTelemetry's rule for batch work), so each member's trace holds
its own stages and points, through the link, at the batch that carried it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from spectrum.shared.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = structlog.get_logger(__name__)

# The message header holding the wall-clock time (ns) the gateway published the task:
# the worker's `queue wait` starts there.
SENT_AT_HEADER = "spectrum_sent_ns"
# The W3C Trace Context headers (https://www.w3.org/TR/trace-context/).
TRACE_HEADERS = ("traceparent", "tracestate")

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


class SpanLike(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class _Off:
    """What the helpers return while tracing is off: a context manager and span doing nothing."""

    __slots__ = ()

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def update_name(self, name: str) -> None:
        return None

    def end(self) -> None:
        return None


OFF = _Off()

# The tracer while tracing is on in this process; None: off. The one thing the off path reads.
_tracer: Any = None


def on() -> bool:
    return _tracer is not None


def configure(
    settings: Settings, service: str, exporter: SpanExporter | None = None
) -> Callable[[], None]:
    """Turn tracing on in this process, exporting to `exporter` (synchronously: tests pass
    an in-memory one) or to the OTLP exporter of `settings.otlp_protocol` (in batches).

    Returns the function that flushes what is left and turns tracing off again. Without
    the `otel` extra it logs why and leaves tracing off.
    """
    global _tracer
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning(
            "SPECTRUM_TRACING is on but OpenTelemetry is not installed "
            "(pip install 'spectrum[otel]'): tracing stays off"
        )
        return _nothing
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win: the SDK reads them here.
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings.otlp_protocol)))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _tracer = provider.get_tracer("spectrum")
    log.info("tracing on", service=service, protocol=settings.otlp_protocol)

    def close() -> None:
        global _tracer
        _tracer = None
        provider.shutdown()

    return close


def _nothing() -> None:
    return None


def _otlp_exporter(protocol: str) -> SpanExporter:
    """The OTLP exporter for `protocol`; its endpoint, headers and timeout come from OTEL_*."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


def span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None
) -> AbstractContextManager[SpanLike]:
    """A span under the current one, current while the `with` runs; OFF when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return OFF
    span: AbstractContextManager[SpanLike] = tracer.start_as_current_span(
        name, attributes=attributes
    )
    return span


def started(name: str) -> Any:
    """A span under the current one that the caller ends (`.end()`); OFF when off."""
    tracer = _tracer
    return OFF if tracer is None else tracer.start_span(name)


def server_span(
    name: str, headers: Mapping[str, str], attributes: Mapping[str, AttributeValue]
) -> AbstractContextManager[Any]:
    """A request's server span, continuing the caller's trace when `headers` carry
    W3C traceparent/tracestate (a new trace otherwise)."""
    tracer = _tracer
    if tracer is None:
        return OFF
    from opentelemetry.trace import SpanKind

    server: AbstractContextManager[Any] = tracer.start_as_current_span(
        name, context=_extract(headers), kind=SpanKind.SERVER, attributes=attributes
    )
    return server


def _extract(carrier: Mapping[str, str]) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(carrier)


@dataclass
class Waiting:
    """One request's texts waiting in a batch: its `batch wait` span and the context
    (the request's span) its batch hangs from or links to."""

    span: Any
    context: Any
    request_span: Any


def wait_in_batch() -> Waiting | None:
    """Start the current request's `batch wait`; None when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return None
    from opentelemetry import context, trace

    current = context.get_current()
    return Waiting(
        tracer.start_span("batch wait", context=current),
        current,
        trace.get_current_span(current),
    )


@contextmanager
def _batch(tracer: Any, members: Sequence[Waiting], texts: int) -> Iterator[SpanLike]:
    from opentelemetry.trace import Link

    links = [Link(member.request_span.get_span_context()) for member in members]
    for member in members:
        member.span.end()
    with tracer.start_as_current_span(
        "batch",
        context=members[0].context,
        links=links,
        attributes={"spectrum.requests": len(members), "spectrum.texts": texts},
    ) as batch:
        yield batch


def batch(members: Sequence[Waiting], texts: int) -> AbstractContextManager[SpanLike]:
    """The span of one batch leaving the gateway: it ends each member's `batch wait`,
    hangs from the first member's request and links to all of them."""
    tracer = _tracer
    if tracer is None or not members:
        return OFF
    return _batch(tracer, members, texts)


def message_headers() -> dict[str, str] | None:
    """Headers that carry the current span's context to the worker; None when off."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {SENT_AT_HEADER: str(time.time_ns())}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


# --- the worker side -------------------------------------------------------------


@dataclass
class _Task:
    span: Any
    token: object
    store: Any = None


_tasks: dict[str, _Task] = {}


def task_started(task_id: str, name: str, headers: Mapping[str, Any]) -> None:
    """Open a task's span (current until `task_ended`) under the context its message carries,
    and record its `queue wait` from the publish time the gateway wrote."""
    tracer = _tracer
    if tracer is None:
        return
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    carrier = {key: str(headers[key]) for key in TRACE_HEADERS if headers.get(key)}
    parent = _extract(carrier)
    task_span = tracer.start_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes={"celery.task_id": task_id}
    )
    current = trace.set_span_in_context(task_span, parent)
    sent_at = headers.get(SENT_AT_HEADER)
    if sent_at is not None:
        now = time.time_ns()
        started = min(int(sent_at), now)
        tracer.start_span("queue wait", context=current, start_time=started).end(end_time=now)
    _tasks[task_id] = _Task(task_span, context.attach(current))


def store_begins(task_id: str) -> None:
    """The task's function returned: Celery now stores (and publishes) its result."""
    task = _tasks.get(task_id) if _tracer is not None else None
    if task is not None:
        task.store = _tracer.start_span("result store")


def store_ended(task_id: str) -> None:
    task = _tasks.get(task_id) if _tracer is not None else None
    if task is not None and task.store is not None:
        task.store.end()
        task.store = None


def task_ended(task_id: str, state: str | None) -> None:
    task = _tasks.pop(task_id, None)
    if task is None:
        return
    from opentelemetry import context

    if task.store is not None:
        task.store.end()
    task.span.set_attribute("celery.state", state or "")
    task.span.end()
    context.detach(task.token)  # type: ignore[arg-type]


@dataclass
class _Passes:
    """What the forward passes of one `runtime pass` added up to."""

    passes: int = 0
    tokens: int = 0
    padded: int = 0
    widest: int = 0
    spans: list[tuple[int, int, dict[str, int]]] = field(default_factory=list)


_passes: ContextVar[_Passes | None] = ContextVar("passes", default=None)


@contextmanager
def _runtime_pass(tracer: Any, texts: int) -> Iterator[SpanLike]:
    passes = _Passes()
    token = _passes.set(passes)
    try:
        attributes = {"spectrum.texts": texts}
        with tracer.start_as_current_span("runtime pass", attributes=attributes) as s:
            yield s
            for start, end, attributes in passes.spans:
                tracer.start_span("forward pass", start_time=start, attributes=attributes).end(
                    end_time=end
                )
            if passes.passes:
                s.set_attribute("spectrum.passes", passes.passes)
                s.set_attribute("spectrum.tokens", passes.tokens)
                s.set_attribute("spectrum.padded_tokens", passes.padded)
                s.set_attribute("spectrum.padded_width", passes.widest)
    finally:
        _passes.reset(token)


def runtime_pass(texts: int) -> AbstractContextManager[SpanLike]:
    """The span of one task's call into the runtime; forward passes inside it add to it."""
    tracer = _tracer
    if tracer is None:
        return OFF
    return _runtime_pass(tracer, texts)


def forward_pass(seconds: float, rows: int, width: int, tokens: int) -> None:
    """One padded batch went through the model (`rows` x `width`, `tokens` of them real)."""
    passes = _passes.get() if _tracer is not None else None
    if passes is None:
        return
    passes.passes += 1
    passes.tokens += tokens
    passes.padded += rows * width
    passes.widest = max(passes.widest, width)
    end = time.time_ns()
    attributes = {"spectrum.texts": rows, "spectrum.padded_width": width, "spectrum.tokens": tokens}
    passes.spans.append((end - int(seconds * 1e9), end, attributes))

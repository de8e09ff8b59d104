"""A worker process's Prometheus metrics, served on SPECTRUM_WORKER_METRICS_PORT.

Every worker process serves its own registry on its own port (started in
`worker_process_init`; 0 means not served). With the solo pool a worker is one
process, so one port per `python -m spectrum.worker`: several workers on one machine
need one port each (`make run` gives its worker 9101), while containers can all
use the same port. Task outcomes come from Celery's signals; forward-pass
figures from the runtime's batches (`worker.runtimes.batching.observed_forward`).
Imports no numpy: a lexicon-only worker (`.[worker]`) has none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog
from celery import signals
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from spectrum.shared.config import Settings
from spectrum.shared.contracts import PREDICT_TASK, ModelCard

log = structlog.get_logger(__name__)

# The spectrum_worker_* series live in SERIES; REGISTRY, what is served, reads them
# through ModelLabelled, which gives every sample this process's `model` (a process
# serves one model, so the label is the same on every sample and is set once).
SERIES = CollectorRegistry()
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)


class ModelLabelled(Collector):
    """Every family of `source`, each sample with `model=<this process's model>` added.

    Samples that already name a model (spectrum_worker_model_info) keep theirs.
    Until `model` is set (before worker_process_init) samples pass unchanged.
    """

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source
        self.model = ""

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            if self.model:
                family.samples = [
                    sample
                    if "model" in sample.labels
                    else sample._replace(labels={"model": self.model, **sample.labels})
                    for sample in family.samples
                ]
            yield family


LABELLED = ModelLabelled(SERIES)
REGISTRY.register(LABELLED)

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_TEXTS = (1, 2, 4, 8, 16, 32, 64, 128)

TASKS = Counter(
    "spectrum_worker_tasks",
    "Tasks by final state: SUCCESS, FAILURE, RETRY, REVOKED, EXPIRED (dropped unrun "
    "because the caller's deadline passed), REJECTED, UNKNOWN.",
    ["state"],
    registry=SERIES,
)
TASK_SECONDS = Histogram(
    "spectrum_worker_task_duration_seconds",
    "Run time of a task in the worker, cache write included.",
    buckets=_SECONDS,
    registry=SERIES,
)
TASK_TEXTS = Histogram(
    "spectrum_worker_task_texts",
    "Texts in each task the worker ran (the gateway's batch).",
    buckets=_TEXTS,
    registry=SERIES,
)
INFERENCE_SECONDS = Histogram(
    "spectrum_worker_inference_seconds",
    "Time the runtime took to classify one task's texts (tokenizing and every forward pass).",
    buckets=_SECONDS,
    registry=SERIES,
)
FORWARD_SECONDS = Histogram(
    "spectrum_worker_forward_seconds",
    "Time of one forward pass over one padded batch.",
    buckets=_SECONDS,
    registry=SERIES,
)
FORWARD_TEXTS = Histogram(
    "spectrum_worker_forward_batch_texts",
    "Texts in one forward pass (a length-sorted sub-batch of a task).",
    buckets=_TEXTS,
    registry=SERIES,
)
FORWARD_TOKENS = Histogram(
    "spectrum_worker_forward_batch_tokens",
    "Tokens one forward pass computes: texts x padded width.",
    buckets=(16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384),
    registry=SERIES,
)
TOKENS = Counter(
    "spectrum_worker_tokens",
    "Tokens through forward passes: kind=real (the texts' own) or padded (real plus "
    "padding). Padding efficiency is rate(real) / rate(padded).",
    ["kind"],
    registry=SERIES,
)
POISON = Counter(
    "spectrum_worker_poison_messages",
    "Tasks failed unrun because they were delivered more than SPECTRUM_TASK_MAX_DELIVERIES "
    "times (their worker died each time).",
    ["task"],
    registry=SERIES,
)
JOB_CHUNKS_DROPPED = Counter(
    "spectrum_worker_job_chunks_dropped",
    "Job chunks dropped unrun: reason=aborted (the gateway could not queue every chunk of "
    "the job, or died before sealing it), gone (the job's record expired or was deleted).",
    ["reason"],
    registry=SERIES,
)
MODEL_LOAD_SECONDS = Gauge(
    "spectrum_worker_model_load_seconds",
    "Time this process took to load its model.",
    registry=SERIES,
)
MODEL_INFO = Gauge(
    "spectrum_worker_model_info",
    "1 for the model this process serves, with its name, version and runtime.",
    ["model", "version", "runtime"],
    registry=SERIES,
)

_started: dict[str, float] = {}
_lock = threading.Lock()


def serve(settings: Settings) -> None:
    """Serve this process's metrics over HTTP when a port is set; never stop the worker."""
    LABELLED.model = settings.served_model_name
    if not settings.worker_metrics_port:
        return
    try:
        start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=REGISTRY
        )
    except OSError as exc:
        log.warning(
            "worker metrics not served",
            port=settings.worker_metrics_port,
            error=type(exc).__name__,
            detail=str(exc),
        )
        return
    log.info(
        "worker metrics served",
        address=f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics",
    )


def model_loaded(card: ModelCard, seconds: float) -> None:
    MODEL_LOAD_SECONDS.set(seconds)
    MODEL_INFO.labels(model=card.name, version=card.version, runtime=card.runtime).set(1)


T = TypeVar("T")


def timed_inference(predict: Callable[[list[str]], T], texts: list[str]) -> T:
    """`predict(texts)`, with its time and size recorded."""
    started = time.perf_counter()
    result = predict(texts)
    INFERENCE_SECONDS.observe(time.perf_counter() - started)
    TASK_TEXTS.observe(len(texts))
    return result


def _prerun(task_id: str, **_: Any) -> None:
    with _lock:
        _started[task_id] = time.perf_counter()


def _postrun(task_id: str, state: str | None = None, **_: Any) -> None:
    with _lock:
        started = _started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.observe(time.perf_counter() - started)
    TASKS.labels(state=state or "UNKNOWN").inc()


def _revoked(expired: bool = False, **_: Any) -> None:
    TASKS.labels(state="EXPIRED" if expired else "REVOKED").inc()


def _rejected(**_: Any) -> None:
    TASKS.labels(state="REJECTED").inc()


def _unknown(**_: Any) -> None:
    TASKS.labels(state="UNKNOWN").inc()


def install() -> None:
    """Count every task's outcome from Celery's signals (strong references: module functions)."""
    for state in ("SUCCESS", "FAILURE", "RETRY", "REVOKED", "EXPIRED", "REJECTED", "UNKNOWN"):
        TASKS.labels(state=state)  # every state is exported from the start, at 0
    TOKENS.labels(kind="real")
    TOKENS.labels(kind="padded")
    POISON.labels(task=PREDICT_TASK)
    for reason in ("aborted", "gone"):
        JOB_CHUNKS_DROPPED.labels(reason=reason)
    signals.task_prerun.connect(_prerun, weak=False)
    signals.task_postrun.connect(_postrun, weak=False)
    signals.task_revoked.connect(_revoked, weak=False)
    signals.task_rejected.connect(_rejected, weak=False)
    signals.task_unknown.connect(_unknown, weak=False)

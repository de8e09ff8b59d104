"""A worker process's resources: created in worker_process_init, announced in worker_ready
(once its consumer takes tasks), closed at shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
import structlog

from spectrum.shared.config import Settings
from spectrum.worker import metrics
from spectrum.worker.delivery import DeliveryGuard
from spectrum.worker.jobs import JobStore
from spectrum.worker.runtimes import load_runtime
from spectrum.worker.service import Heartbeat, ModelService

log = structlog.get_logger(__name__)


class WorkerState:
    """The per-process resources, created in worker_process_init and closed at shutdown."""

    def __init__(self) -> None:
        self._service: ModelService | None = None
        self._heartbeat: Heartbeat | None = None
        self._jobs: JobStore | None = None
        self._deliveries: DeliveryGuard | None = None
        # Flushes the spans left and turns tracing off (shared/tracing.py); set when it is on.
        self.stop_tracing: Callable[[], None] | None = None

    def start(self, settings: Settings) -> None:
        started = time.perf_counter()
        # Counted in the result backend's Redis (noeviction, beside the registry):
        # an evicted count would let a poison message loop again.
        self._deliveries = DeliveryGuard(
            redis.Redis.from_url(
                settings.result_backend_url, socket_timeout=2, socket_connect_timeout=2
            ),
            max_deliveries=settings.task_max_deliveries,
            ttl_s=settings.result_expires_s,
        )
        runtime, card = load_runtime(settings)
        self._service = ModelService(settings, runtime, card)
        self._jobs = JobStore(settings)
        metrics.model_loaded(card, time.perf_counter() - started)
        log.info(
            "model loaded",
            model=card.name,
            version=card.version,
            runtime=card.runtime,
            queues=settings.worker_queues,
            load_s=round(time.perf_counter() - started, 3),
        )

    def announce(self, settings: Settings) -> None:
        """Start the heartbeat: call it once the consumer takes tasks from every queue.

        The gateway, `make run` and the tests take a heartbeat on a queue to mean that
        its tasks are taken now, so it must not come before the consumer starts.
        """
        self._heartbeat = Heartbeat(settings, self.service.card, self.service.totals)
        self._heartbeat.start()
        log.info("worker ready", model=self.service.card.name, queues=settings.worker_queues)

    @property
    def deliveries(self) -> DeliveryGuard:
        if self._deliveries is None:
            raise RuntimeError("worker_process_init has not run")
        return self._deliveries

    @property
    def service(self) -> ModelService:
        if self._service is None:
            raise RuntimeError("the model is not loaded: worker_process_init has not run")
        return self._service

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            raise RuntimeError("no job store: worker_process_init has not run")
        return self._jobs

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None
        if self._service is not None:
            self._service.close()
            self._service = None
        if self._deliveries is not None:
            self._deliveries.close()
            self._deliveries = None
        if self.stop_tracing is not None:
            self.stop_tracing()
            self.stop_tracing = None

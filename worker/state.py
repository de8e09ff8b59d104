"""A worker process's resources: created in worker_process_init, closed at shutdown."""

from __future__ import annotations

import time

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
        self._heartbeat = Heartbeat(settings, card, self._service.totals)
        self._heartbeat.start()
        metrics.model_loaded(card, time.perf_counter() - started)
        log.info(
            "worker ready",
            model=card.name,
            version=card.version,
            runtime=card.runtime,
            queues=settings.worker_queues,
            load_s=round(time.perf_counter() - started, 3),
        )

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

"""The worker's Celery app: `python -m spectrum.worker` or `celery -A spectrum.worker.tasks worker`.

Importing this module loads no model: the model is loaded in
`worker_process_init`, in the process that will run it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import signals

from spectrum.shared import tracing
from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import get_settings
from spectrum.shared.logs import configure_logging
from spectrum.worker import metrics
from spectrum.worker import tracing as worker_tracing
from spectrum.worker.state import WorkerState

settings = get_settings()
app = create_celery(settings)
state = WorkerState()
metrics.install()


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    configure_logging(settings, "worker")
    # The task's one line is ours ("task done"/"task failed"); Celery's own
    # received/succeeded lines would double it and print result values.
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)


@signals.worker_process_init.connect
def _load_model(**_: Any) -> None:
    if settings.worker_bulk_nice and settings.bulk_queue in settings.worker_queues:
        # Bulk work yields the CPU to the gateway, Redis and interactive-only workers.
        os.nice(settings.worker_bulk_nice)
    metrics.serve(settings)
    if settings.tracing:
        state.stop_tracing = tracing.configure(settings, "spectrum-worker")
        # Connected only when on: Celery skips sending a signal that has no receiver.
        signals.task_prerun.connect(worker_tracing.task_prerun)
        signals.task_success.connect(worker_tracing.task_success)
        signals.task_postrun.connect(worker_tracing.task_postrun)
    state.start(settings)


@signals.worker_ready.connect
def _announce(**_: Any) -> None:
    # Sent once the consumer is consuming every queue (worker_process_init, where the
    # model loads, comes before it starts): from the first heartbeat on, the gateway
    # sends this worker's lanes work and `make run` says ready, so nothing is announced
    # that is not taken yet.
    state.announce(settings)


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _release(**_: Any) -> None:
    state.stop()

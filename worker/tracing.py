"""The predict task's span, opened and closed by Celery's signals so that it covers the
result store too (Celery stores and publishes a result after the task's function returns).

Connected in worker/app.py; every handler returns at once while tracing is off.
"""

from __future__ import annotations

from typing import Any

from spectrum.shared import tracing
from spectrum.shared.contracts import PREDICT_TASK
from spectrum.shared.tracing import SENT_AT_HEADER, TRACE_HEADERS

CARRIED = (*TRACE_HEADERS, SENT_AT_HEADER)


def task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not tracing.on() or task is None or task.name != PREDICT_TASK or task_id is None:
        return
    request = task.request
    headers = {key: request.get(key) for key in CARRIED}
    tracing.task_started(task_id, PREDICT_TASK, headers)


def task_success(sender: Any = None, **_: Any) -> None:
    if tracing.on() and sender is not None and sender.name == PREDICT_TASK:
        tracing.store_ended(str(sender.request.id))


def task_postrun(task_id: str | None = None, state: str | None = None, **_: Any) -> None:
    if tracing.on() and task_id is not None:
        tracing.task_ended(task_id, state)

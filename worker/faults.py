"""Test-only fault hooks: make a worker die or stall on a chosen text.

Off unless SPECTRUM_FAULT_CRASH_TEXT, SPECTRUM_FAULT_SLEEP_TEXT or
SPECTRUM_FAULT_SLEEP_BEFORE_ACK_TEXT is set, which only the fault tests do: they need a
worker that dies in the middle of a task (as an OOM kill would leave it), a task slow
enough to stop a worker during, and a chunk recorded but not yet acked.
"""

from __future__ import annotations

import os
import signal
import time

import structlog

from spectrum.shared.config import Settings

log = structlog.get_logger(__name__)


def apply(settings: Settings, texts: list[str]) -> None:
    if settings.fault_sleep_text and settings.fault_sleep_text in texts:
        log.warning("fault hook: sleeping mid-task", seconds=settings.fault_sleep_s)
        time.sleep(settings.fault_sleep_s)
    if settings.fault_crash_text and settings.fault_crash_text in texts:
        log.warning("fault hook: killing this worker mid-task")
        os.kill(os.getpid(), signal.SIGKILL)


def before_ack(settings: Settings, texts: list[str]) -> None:
    if settings.fault_sleep_before_ack_text and settings.fault_sleep_before_ack_text in texts:
        log.warning("fault hook: sleeping before the ack", seconds=settings.fault_sleep_s)
        time.sleep(settings.fault_sleep_s)

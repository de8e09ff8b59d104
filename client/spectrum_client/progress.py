"""A job's progress as one line: a bar, counts, rate and the time left.

`progress_line` is pure (the job and the seconds since watching began); the
ProgressBar draws it, redrawn in place on a terminal and every few seconds
elsewhere (logs, CI), with the clock it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from spectrum_client.schemas import FINAL_STATES, Job

BAR_WIDTH = 30


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(job: Job, elapsed: float, finished_at_start: int = 0) -> str:
    """`[###...] 40/120 33% running 25 texts/s ETA 0:03`; `in 0:05` once the job ended.

    The rate counts the texts finished while watched (`finished_at_start` were
    already finished when watching began), so the ETA of a job joined midway is
    not flattered by work done before.
    """
    progress = job["progress"]
    total = max(progress["total"], 1)
    finished = progress["done"] + progress["failed"] + progress["skipped"]
    filled = BAR_WIDTH * finished // total
    rate = (finished - finished_at_start) / elapsed if elapsed > 0 else 0.0
    if job["state"] in FINAL_STATES:
        tail = f"in {clock(elapsed)}"
    elif rate > 0:
        tail = f"ETA {clock((progress['total'] - finished) / rate)}"
    else:
        tail = "ETA --:--"
    shown_rate = f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {finished}/{progress['total']} "
        f"{100 * finished // total}% {job['state']} {shown_rate} texts/s {tail}"
    )


class ProgressBar:
    """One redrawn line on a terminal; a line every few seconds elsewhere (logs, CI)."""

    def __init__(
        self,
        out: TextIO,
        every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._tty = out.isatty()
        self._every_s = every_s
        self._monotonic = monotonic
        self._started = monotonic()
        self._last: float | None = None
        self._finished_at_start: int | None = None

    def __call__(self, job: Job) -> None:
        progress = job["progress"]
        if self._finished_at_start is None:
            self._finished_at_start = progress["done"] + progress["failed"] + progress["skipped"]
        now = self._monotonic()
        line = progress_line(job, now - self._started, self._finished_at_start)
        ended = job["state"] in FINAL_STATES
        if self._tty:
            self._out.write(f"\r{line}\x1b[K" + ("\n" if ended else ""))
        elif ended or self._last is None or now - self._last >= self._every_s:
            self._out.write(line + "\n")
            self._last = now
        self._out.flush()

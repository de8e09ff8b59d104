"""When to try a request again: 429 and 503 after their Retry-After, dropped connections.

Pure: the policy decides from the answer (or the transport error), the attempt
number and the time already slept; the clients do the sleeping with a sleep
function they are given, so tests need no clock.

What is retried: a 429 or 503 (the API refusing, with a Retry-After), a
connection that could not be opened, and one lost before the answer came. Every
call of the clients is safe to send twice: reads and cancel are idempotent, a
predict is a pure function of its texts, and a submit always carries an
Idempotency-Key (the caller's, or one made for that call, calls.py), so a second
try finds the job the first one made instead of making another: also after the
rare 503 whose job was created all the same (docs/changelog.md, "Not done yet"), where
at worst the retry is told 409 (that job still being created), not retried.

Bounded twice: at most `attempts` tries, and at most `max_wait_s` seconds slept
over one call. A Retry-After longer than what is left of that budget ends the
retries at once (sleeping less than the server asked would only be refused again).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

# The connection failed, before or after the request left. Not a read timeout: a
# server that takes too long to answer is busy, and sending it again adds to that.
DROPPED: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def retry_after_s(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; a bare one is read as such
        return None
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class Retry:
    """How one call is retried. `Retry(attempts=1)` turns retries off."""

    attempts: int = 5  # tries in all, the first one included
    max_wait_s: float = 30.0  # seconds slept in all over one call
    backoff_s: float = 0.5  # the first wait when the server names none; it doubles
    max_backoff_s: float = 8.0
    statuses: frozenset[int] = field(default=frozenset({429, 503}))
    now: Callable[[], float] = time.time  # only to read a Retry-After given as a date

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first try: at least 1")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def _within(self, delay: float, attempt: int, waited: float) -> float | None:
        if attempt >= self.attempts or waited + delay > self.max_wait_s:
            return None
        return delay

    def after_answer(self, answer: httpx.Response, attempt: int, waited: float) -> float | None:
        """Seconds to sleep before trying again after `answer`, or None: it is the answer."""
        if answer.status_code not in self.statuses:
            return None
        asked = retry_after_s(answer.headers.get("Retry-After"), self.now)
        return self._within(self._backoff(attempt) if asked is None else asked, attempt, waited)

    def after_error(self, error: Exception, attempt: int, waited: float) -> float | None:
        """Seconds to sleep before trying again after a transport error, or None: raise it."""
        if isinstance(error, DROPPED):
            return self._within(self._backoff(attempt), attempt, waited)
        return None


NO_RETRY = Retry(attempts=1)

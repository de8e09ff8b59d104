"""Progress lines of the load tests, on stderr so that stdout keeps only the results."""

from __future__ import annotations

import sys


def say(message: str, tag: str = "bench") -> None:
    sys.stderr.write(f"[{tag}] {message}\n")
    sys.stderr.flush()

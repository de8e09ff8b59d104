"""Log lines carry a readable traceback, from structlog and from the stdlib alike.

Run in a child process: logging is configured once per process, as each entrypoint does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spectrum_dev.harness import ROOT

PROGRAM = """
import logging
import structlog
from spectrum.shared.config import Settings
from spectrum.shared.logs import configure_logging

configure_logging(Settings(log_json=True), "test")
try:
    raise AttributeError("'NoneType' object has no attribute 'writelines'")
except AttributeError:
    # What uvicorn does with an exception that escapes the app.
    logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
try:
    raise ValueError("bad")
except ValueError:
    structlog.get_logger("spectrum").exception("failed")
"""


def test_exceptions_are_logged_with_their_tracebacks() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRUM_")}
    env["SPECTRUM_ENV_FILE"] = ""  # nor a .env in the checkout
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    library, ours = (json.loads(line) for line in done.stderr.splitlines())
    assert library["logger"] == "uvicorn.error"
    assert library["level"] == "error"
    assert "exc_info" not in library  # once a tuple's repr, with the traceback lost
    trace = library["exception"]
    assert trace.startswith("Traceback (most recent call last):")
    assert 'File "<string>", line 9' in trace
    assert trace.endswith("AttributeError: 'NoneType' object has no attribute 'writelines'")
    assert ours["service"] == "test"
    assert ours["exception"].endswith("ValueError: bad")

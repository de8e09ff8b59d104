"""Start the gateway: `python -m spectrum.api`.

One process by default. With SPECTRUM_API_PROCESSES=N above 1 this process becomes
uvicorn's supervisor: it binds the port once and runs N gateway processes that accept
on it, each a whole gateway built by the same app factory and lifespan; it starts a
new one when one dies, and on SIGTERM or SIGINT sends SIGTERM to each and waits for
them (each finishes its requests and closes its resources) before it exits.

Invariants with N above 1:
- a gateway process dies with its supervisor, even one killed with SIGKILL (the kernel
  sends it SIGTERM: PR_SET_PDEATHSIG), so no process is left serving the port alone;
- the processes' Prometheus metrics live in one directory of the supervisor's
  (prometheus_client's multiprocess mode), empty at start and removed at exit, so
  `/metrics`, whichever process answers it, reports all of them
  (api/observability/metrics.py);
- a gateway process that cannot be built (a setting the app refuses) stops the
  supervisor, which exits with status 3 as one process would, rather than being
  started again and again;
- every log line of a gateway process carries its `process` id.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from spectrum.api.app.factory import create_app
from spectrum.shared.config import get_settings
from spectrum.shared.logs import configure_logging

# prometheus_client's own switch to multiprocess mode, read when it is first imported:
# it must be in the environment the gateway processes start with.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

log = structlog.get_logger(__name__)


def main() -> None:
    settings = get_settings()
    if settings.api_processes == 1:
        uvicorn.run(
            "spectrum.api.app.factory:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_config=None,  # our structlog setup, not uvicorn's
            access_log=False,  # api.edge.access_log writes one line per request
        )
        return
    configure_logging(settings, "api")  # the supervisor's own lines (a process died)
    log.info("api supervisor", processes=settings.api_processes, port=settings.port)
    with _metrics_dir():
        config = uvicorn.Config(
            "spectrum.api.__main__:create_gateway_process",
            factory=True,
            workers=settings.api_processes,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
        # uvicorn.run's own supervisor, kept at hand to read how its processes ended.
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        # A process that could not start stops the supervisor (uvicorn does not start it
        # again and again); say so with the exit status one process would give.
        sys.exit(STARTUP_FAILURE)


@contextmanager
def _metrics_dir() -> Iterator[None]:
    """A fresh directory for the processes' metrics, removed after them."""
    directory = tempfile.mkdtemp(prefix="spectrum-api-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def create_gateway_process() -> FastAPI:
    """The app of one of several gateway processes (uvicorn calls it in each)."""
    _die_with_supervisor()
    _forget_dead_processes(Path(os.environ[METRICS_DIR_VARIABLE]))
    try:
        app = create_app()
    except Exception:  # a process boundary: whatever the app refused (production, no keys)
        log.exception("gateway process did not start")
        # uvicorn's supervisor gives up on this exit status; after any other it would
        # start the same failing process again, forever.
        sys.exit(STARTUP_FAILURE)
    # Bound where create_app binds `service`: every line this process logs names it.
    structlog.contextvars.bind_contextvars(process=os.getpid())
    return app


def _die_with_supervisor() -> None:
    supervisor = multiprocessing.parent_process()
    if sys.platform != "linux" or supervisor is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        log.warning("no parent-death signal", errno=ctypes.get_errno())
        return
    # The supervisor may have gone between this process's start and the prctl.
    if os.getppid() != supervisor.pid:
        raise SystemExit("the API supervisor exited before this gateway process started")


def _forget_dead_processes(metrics_dir: Path) -> None:
    """Drop the live gauges (in-flight requests, pending results) of gateway processes
    that are gone, such as the one this process replaces; their counters stay, so
    totals never go back."""
    for path in metrics_dir.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or its id reused by another user
        return False
    return True


if __name__ == "__main__":
    main()

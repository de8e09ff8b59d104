"""One way to run Spectrum's processes: a Redis if needed, workers, the API, ready, stopped.

`make run` (scripts/devstack.py), `make bench` and `make soak` (loadtest/local_stack.py)
and the integration tests (tests/integration/stack.py) start their processes here and
add only what is theirs (Flower, baselines, unique model names).

Invariants:
- Every child is a `Process` in `Harness.processes`, started from the repository root
  as `argv` with the environment given (build it with `child_env`).
- `Harness.stop()` stops in order: front processes (the API, Flower, anything that is
  not a worker), newest first; then the workers, which finish the task in hand on
  SIGTERM (Celery's warm shutdown) while nothing sends them more; then the Redis
  the harness started itself. Each stage is SIGTERM to every process of it, a wait of
  up to `timeout` seconds, then SIGKILL. A process is signalled by its PID, never by
  name, and stopping twice is harmless.
- A process's own children (the gateway processes of an API started with
  SPECTRUM_API_PROCESSES above 1) are noted by PID when it is signalled; any that
  outlives it is killed by that PID, so none is left holding a port.
- A wait for readiness fails at once, with the end of its log, when a process it
  waits on has exited.
- A SIGTERM to the process holding a harness (a `kill`, a `timeout`) stops the stack
  as the end of the block does, unless that process handles SIGTERM itself
  (`make run` does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import httpx
import redis

from spectrum.shared.config import Settings
from spectrum.shared.registry import worker_member, workers_key
from spectrum_dev.private_redis import PrivateRedis, redis_reachable, tcp_reachable

# The checkout this package sits in (dev/spectrum_dev/), whose stack it drives.
ROOT = Path(__file__).resolve().parents[2]
URL_SETTINGS = ("broker_url", "result_backend_url", "cache_url")
Role = Literal["front", "worker"]


class StackFailed(RuntimeError):
    """A process exited before it was ready, or was not ready in time."""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 50 ms until it holds; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def child_env(
    settings: Mapping[str, object] | None = None, *, inherit_settings: bool = False
) -> dict[str, str]:
    """This process's environment with `settings` as SPECTRUM_* variables.

    Without `inherit_settings` the caller's own SPECTRUM_* variables are dropped first,
    so a benchmark or a test runs with the settings it names and the defaults only.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if inherit_settings or not key.startswith("SPECTRUM_")
    }
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not inherit_settings:  # nor a .env in the working directory: only these settings
        env["SPECTRUM_ENV_FILE"] = ""
    env.update({f"SPECTRUM_{key.upper()}": str(value) for key, value in (settings or {}).items()})
    return env


class Process:
    """One child; its combined output goes to `log_path`, or to this terminal without one."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path | None = None,
        *,
        role: Role = "front",
        own_group: bool = False,
    ) -> None:
        self.name = name
        self.role: Role = role
        self._below: dict[int, str] = {}  # descendants' PIDs -> their start times
        self.log_path = log_path
        self._log: IO[bytes] | None = log_path.open("ab") if log_path is not None else None
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            # Its own process group: a Ctrl-C at the terminal reaches only the parent,
            # which then stops its children in order.
            process_group=0 if own_group else None,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self._below.update(descendants(self.pid))
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> None:
        """Wait up to `timeout` s for it to exit, then SIGKILL it; kill what it left behind
        of the descendants noted when it was signalled; close its log."""
        try:
            self.popen.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        for pid, started in self._below.items():
            kill_if_same(pid, started)
        self._below.clear()
        if self._log is not None:
            self._log.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        self.send(sig)
        self.wait(timeout)

    def log(self) -> str:
        if self.log_path is None:
            return ""
        if self._log is not None and not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def exited(self) -> StackFailed:
        return StackFailed(f"{self.name} exited ({self.popen.returncode}):\n{self.log()[-3000:]}")


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22), which
    tells it apart from a later process given the same PID; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command, which may hold spaces
    return None if fields[0] == "Z" else fields[19]


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` with its start time, from /proc (none where there is no
    /proc/PID/task/TID/children, which is Linux's)."""
    found: dict[int, str] = {}
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(child) for child in children.read_text().split()]
            except OSError:  # the thread or the process just ended
                continue
            for child in pids:
                started = start_time(child)
                if started is not None and child not in found:
                    found[child] = started
                    pending.append(child)
    return found


def kill_if_same(pid: int, started: str, timeout: float = 5) -> None:
    """SIGKILL `pid` if it is still the process that started at `started`; wait for it."""
    if start_time(pid) != started:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    # Not our child (its parent may be gone): watch /proc until it is gone or a zombie.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: start_time(pid) != started, timeout, f"process {pid} to exit")


def worker_registered(redis_url: str, queue: str, pid: int) -> bool:
    """True when the worker with this PID on this host has a heartbeat for `queue`.

    Its own entry, not a count: a killed worker's heartbeat may still look fresh.
    """
    return not missing_heartbeats(redis_url, {pid: [queue]})


def missing_heartbeats(
    redis_url: str, queues: Mapping[int, Sequence[str]], since: float = 0
) -> list[tuple[int, str]]:
    """(PID, queue) for each queue whose worker on this host, by PID, has no heartbeat on
    it from `since` (a time.time()) on: one round trip for all. A worker announces a
    queue once it consumes it (worker/app.py), which is what the gateway counts."""
    wanted = [(pid, queue) for pid, names in queues.items() for queue in names]
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        with client.pipeline(transaction=False) as pipe:
            for pid, queue in wanted:
                pipe.zscore(workers_key(queue), worker_member(socket.gethostname(), pid))
            scores = pipe.execute()
    finally:
        client.close()
    return [
        entry for entry, score in zip(wanted, scores, strict=True) if score is None or score < since
    ]


def worker_lanes(index: int, interactive_only: int) -> Literal["interactive", "all"]:
    """SPECTRUM_WORKER_LANES of worker `index` (from 0) of those `start_workers` starts."""
    return "interactive" if index < interactive_only else "all"


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Harness:
    """The processes of one stack, stopped in order when it is stopped (or the block ends).

    With a `workdir`, process i named n logs to `workdir/i-n.log`; without one, children
    write to this terminal (`make run`).
    """

    def __init__(self, workdir: Path | None = None, *, own_group: bool = False) -> None:
        self.workdir = workdir
        self.own_group = own_group
        self.processes: list[Process] = []
        self.redis: PrivateRedis | None = None
        # Heartbeats older than this came from before the stack (an earlier process
        # that had the same PID), not from its workers.
        self.started_at = time.time()
        self._sigterm: signal.Handlers | None = None  # the handler to put back on exit

    def __enter__(self) -> Harness:
        # A SIGTERM (kill, timeout) would end this process without running __exit__ and
        # leave its stack running. Where nobody handles it yet, make it an exit, so the
        # block stops its children. SIGINT needs nothing: a background job ignores it,
        # and elsewhere it raises KeyboardInterrupt, which runs __exit__.
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            self._sigterm = signal.SIG_DFL
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            if self._sigterm is not None:
                signal.signal(signal.SIGTERM, self._sigterm)
                self._sigterm = None

    def private_redis(self, name: str = "redis") -> str:
        """Start a private Redis (stopped last) and return its URL."""
        if self.workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="spectrum-redis-"))
        else:
            workdir = self.workdir / name
        self.redis = PrivateRedis(workdir).start()
        return self.redis.url

    def redis_where_missing(self, settings: Settings) -> dict[str, str]:
        """The URL settings to override with a private Redis: those nothing answers at.

        Empty when everything is reachable. StackFailed when the broker is unreachable
        and not Redis (a RabbitMQ the user named is not replaced behind their back).
        """
        missing = [name for name in URL_SETTINGS if not reachable(getattr(settings, name))]
        if not missing:
            return {}
        if "broker_url" in missing and not settings.broker_url.startswith("redis"):
            raise StackFailed(f"broker {settings.broker_url} is unreachable; start it or unset it")
        url = self.private_redis()
        return dict.fromkeys(missing, url)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        role: Role = "front",
        prefix: Iterable[str] = (),
    ) -> Process:
        """Start `argv` (under `prefix`, a command that execs it, such as `ip netns exec`)."""
        log_path = (
            None if self.workdir is None else self.workdir / f"{len(self.processes)}-{name}.log"
        )
        process = Process(
            name, [*prefix, *argv], env, log_path, role=role, own_group=self.own_group
        )
        self.processes.append(process)
        return process

    def start_worker(
        self, env: dict[str, str], *, name: str = "worker", prefix: Iterable[str] = ()
    ) -> Process:
        """A `python -m spectrum.worker` (its settings in `env`)."""
        return self.start(
            name, [sys.executable, "-m", "spectrum.worker"], env, role="worker", prefix=prefix
        )

    def start_workers(
        self,
        env: dict[str, str],
        count: int,
        interactive_only: int,
        *,
        metrics_port: int = 0,
        name: str = "worker",
    ) -> list[Process]:
        """`count` workers as `make run` starts them: the first `interactive_only` take no
        job chunks (`Settings.interactive_only_workers`); worker i serves its metrics on
        `metrics_port + i` when `metrics_port` is set and is node `<model>-<i + 1>`."""
        started = []
        for index in range(count):
            lanes = worker_lanes(index, interactive_only)
            worker_env = {
                **env,
                "SPECTRUM_WORKER_LANES": lanes,
                "SPECTRUM_WORKER_INDEX": str(index + 1),
            }
            if metrics_port:
                worker_env["SPECTRUM_WORKER_METRICS_PORT"] = str(metrics_port + index)
            started.append(self.start_worker(worker_env, name=f"{name}-{lanes}"))
        return started

    def start_writer(self, env: dict[str, str], *, name: str = "predlog-writer") -> Process:
        """The prediction log's writer (`python -m spectrum.shared.predlog.writer`); it migrates its
        database at start. Stopped with the workers, after the API: what the API sent last
        is written, or stays pending in the stream for the next writer."""
        argv = [sys.executable, "-m", "spectrum.shared.predlog.writer"]
        return self.start(name, argv, env, role="worker")

    def start_api(self, env: dict[str, str], *, name: str = "api") -> Process:
        """A `python -m spectrum.api` (its host and port in `env`)."""
        return self.start(name, [sys.executable, "-m", "spectrum.api"], env)

    def wait_http(
        self,
        url: str,
        timeout: float,
        *,
        watch: Iterable[Process] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait for a 200 from `url`: True; False when `cancelled()` first. StackFailed
        when a watched process (default: all of them) exits or `timeout` passes."""
        watched = list(self.processes if watch is None else watch)

        def answered() -> bool:
            for process in watched:
                if not process.alive():
                    raise process.exited()
            return cancelled() or http_ok(url)

        try:
            wait_for(answered, timeout, url)
        except TimeoutError as exc:
            raise StackFailed(str(exc)) from None
        return not cancelled()

    def wait_registered(
        self, worker: Process, redis_url: str, queue: str, timeout: float = 120
    ) -> None:
        """Wait for `worker`'s own heartbeat on `queue` (it has loaded its model and
        consumes the queue)."""
        self.wait_consuming({worker: [queue]}, redis_url, timeout)

    def wait_consuming(
        self,
        queues: Mapping[Process, Sequence[str]],
        redis_url: str,
        timeout: float,
        *,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait until every worker has a heartbeat of its own (by PID, newer than this
        harness) on each of its queues: True; False when `cancelled()` first. StackFailed
        when one exits or `timeout` passes, naming each worker and queue still missing.

        A worker beats once it consumes its queues (worker/app.py) and the gateway serves
        a lane while it has a fresh beat, so after this no request finds a lane unserved.
        """
        by_pid = {worker.pid: worker for worker in queues}
        missing: list[tuple[int, str]] = []

        def consuming() -> bool:
            nonlocal missing
            for worker in queues:
                if not worker.alive():
                    raise worker.exited()
            if cancelled():
                return True
            wanted = {worker.pid: list(names) for worker, names in queues.items()}
            missing = missing_heartbeats(redis_url, wanted, since=self.started_at)
            return not missing

        try:
            wait_for(consuming, timeout, "the workers' heartbeats")
        except TimeoutError as exc:
            late = ", ".join(f"{by_pid[pid].name} (pid {pid}) on {q}" for pid, q in missing)
            log = by_pid[missing[0][0]].log()[-3000:]
            raise StackFailed(f"{exc}: none from {late}" + (f":\n{log}" if log else "")) from None
        return not cancelled()

    def first_exited(self) -> Process | None:
        return next((p for p in self.processes if not p.alive()), None)

    def logs(self) -> str:
        """Every process's log, in start order, each under a line with its file name."""
        return "\n".join(
            f"--- {p.log_path.name}\n{p.log()}" for p in self.processes if p.log_path is not None
        )

    def stop(self, timeout: float = 20) -> None:
        """Front processes, then workers, then the private Redis (see the module's invariants)."""
        for role in ("front", "worker"):
            stage = [p for p in reversed(self.processes) if p.role == role]
            for process in stage:
                process.send(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for process in stage:
                process.wait(deadline - time.monotonic())
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def reachable(url: str) -> bool:
    return redis_reachable(url) if url.startswith(("redis", "unix")) else tcp_reachable(url)

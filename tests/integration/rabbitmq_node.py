"""A private RabbitMQ node on free loopback ports, for tests that restart the broker.

The machine's RabbitMQ on 5672 is shared by other tests and must never be
restarted; this node has its own name, ports, data and logs in a temporary
directory, no plugins, and is stopped by PID. Needs the `rabbitmq-server`
package (Debian's); `available()` says whether it is there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from scripts.private_redis import free_port, tcp_reachable

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def available() -> bool:
    return SERVER.is_file() and shutil.which("erl") is not None


class PrivateRabbitMQ:
    """`start()`, `stop()` (SIGTERM to the node, which stops cleanly), and again `start()`:
    the same name, port and data directory, so durable queues and their messages survive."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.dist_port = free_port()
        self.name = f"spectrum-test-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
        )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.workdir / "node.pid"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
            }
        )
        return env

    def start(self, timeout: float = 90) -> PrivateRabbitMQ:
        self._log = (self.workdir / "server.out").open("ab")
        self._proc = subprocess.Popen(
            [str(SERVER)], env=self._env(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not tcp_reachable(self.url):
            if self._proc.poll() is not None:
                raise RuntimeError(f"rabbitmq exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"rabbitmq did not listen on {self.port} in {timeout} s")
            time.sleep(0.3)
        return self

    def stop(self, timeout: float = 60) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        path = self.workdir / "server.out"
        return path.read_text(errors="replace") if path.exists() else ""

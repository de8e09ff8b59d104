"""A private RabbitMQ node for tests that must restart the broker.

The machine's own RabbitMQ on 5672 is shared by other tests, so a restart test
starts its own node: Debian's rabbitmq-server run directly (not through the
wrapper that switches to the rabbitmq user), with its own node name, ports,
data directory and no plugins. Its data directory survives a restart, so durable
queues and persistent messages do too, as on a real server.
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


def rabbitmq_installed() -> bool:
    return SERVER.exists() and shutil.which("erl") is not None


class RabbitMQNode:
    """One rabbitmq-server process at a time on a fixed free port; stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            # Never block publishers on this machine's free disk or memory.
            "disk_free_limit.absolute = 1MB\n"
        )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "HOME": str(self.workdir),  # its own Erlang cookie
                "RABBITMQ_NODENAME": f"spectrum-test-{self.port}@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
                "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
            }
        )
        return env

    def start(self, timeout: float = 60) -> RabbitMQNode:
        self._log = (self.workdir / "server.log").open("ab")
        self._popen = subprocess.Popen(
            [str(SERVER)], env=self._env(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not tcp_reachable(self.url, timeout=0.5):
            if self._popen.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"rabbitmq-server did not listen within {timeout} s")
            time.sleep(0.2)
        return self

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM: RabbitMQ's orderly shutdown, as `systemctl stop` does."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._popen = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

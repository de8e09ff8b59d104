"""A private RabbitMQ node on free loopback ports, for tests that restart the broker.

The machine's RabbitMQ on 5672 is shared by other tests and must never be
restarted; this node has its own name, ports, data and logs in a temporary
directory, no plugins, and is stopped by PID. Needs the `rabbitmq-server`
package (Debian's); `available()` says whether it is there.

`make scale` also listens on `extra_bind` addresses (the host's side of the network
namespaces its workers run in); the guest user may then log in from those addresses
too (RabbitMQ lets it in from loopback only by default).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from spectrum_dev.private_redis import free_port, tcp_reachable

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def available() -> bool:
    return SERVER.is_file() and shutil.which("erl") is not None


class PrivateRabbitMQ:
    """`start()`, `stop()` (SIGTERM to the node, which stops cleanly), and again `start()`:
    the same name, port and data directory, so durable queues and their messages survive."""

    def __init__(
        self, workdir: Path, port: int | None = None, *, extra_bind: tuple[str, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.dist_port = free_port()
        self.name = f"spectrum-test-{self.port}@localhost"
        self.extra_bind = extra_bind
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "enabled_plugins").write_text("[].\n")
        listeners = [
            f"listeners.tcp.{i + 1} = {address}:{self.port}"
            for i, address in enumerate(("127.0.0.1", *extra_bind))
        ]
        # A guest login from a namespace's address is not loopback: allowed only when the
        # node listens there, which only a private node on this machine does.
        guest = "loopback_users = none" if extra_bind else "loopback_users.guest = true"
        (workdir / "rabbitmq.conf").write_text("\n".join([*listeners, guest]) + "\n")

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

    def vm_pid(self) -> int:
        """The Erlang VM's process id, which the node writes to its pid file once it
        runs (the server script may start the VM as a child), for its CPU time."""
        return int((self.workdir / "node.pid").read_text().split()[0])

    def log(self) -> str:
        path = self.workdir / "server.out"
        return path.read_text(errors="replace") if path.exists() else ""

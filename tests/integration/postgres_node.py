"""A private PostgreSQL server on a free loopback port, for tests that stop the database.

The machine's PostgreSQL on 5432 is shared by other work and must never be stopped;
this one has its own data directory (under /tmp, owned by the `postgres` user, since
initdb refuses to run as root), trust authentication on 127.0.0.1 only, and is
stopped with `pg_ctl stop -m fast`. Needs Debian's postgresql server binaries;
`available()` says whether they are there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from spectrum_dev.private_redis import free_port, tcp_reachable


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def available() -> bool:
    return _bin_dir() is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None)


class PrivatePostgres:
    """`start()`, `stop()`, and `start()` again: same port and data (a database restart)."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None, "no PostgreSQL server binaries"
        self._bin = bin_dir
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="spectrum-pg-")) / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.datadir.parent, "postgres", "postgres")
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir.parent}"
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.datadir),
            "-w",
            "-o",
            options,
            "-l",
            str(self.datadir.parent / "server.log"),
        )
        deadline = time.monotonic() + 30
        while not tcp_reachable(f"tcp://127.0.0.1:{self.port}"):
            if time.monotonic() > deadline:
                raise TimeoutError("the private PostgreSQL did not listen")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.datadir.parent, ignore_errors=True)

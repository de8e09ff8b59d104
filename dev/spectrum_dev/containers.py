"""The podman CLI for the containers test (tests/containers) and the compose check
(loadtest/compose_check.py), and one private network per test.

Every container the test starts is on its own bridge network (its own network
namespace and address, reached by name through podman's DNS), so the API and each
worker talk to Redis over a network as they would from separate hosts. The repo's
deploy/podman/containers.conf (runc, ulimits under the hard limits) applies unless
CONTAINERS_CONF names another.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

# The checkout this package sits in (dev/spectrum_dev/), whose stack it drives.
ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
# What `make images` (deploy/podman/images.sh) builds.
IMAGES = {
    "api": "localhost/spectrum-api:latest",
    "worker": "localhost/spectrum-worker:latest",
    "redis": "localhost/spectrum-redis:latest",
}


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def run_podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one podman command (podman found on the PATH) and return what it did."""
    executable = shutil.which("podman")
    if executable is None:
        raise RuntimeError("podman is not installed (apt-get install podman runc)")
    return subprocess.run(
        [executable, *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run one podman command and return its stdout (stripped)."""
    done = run_podman(*args, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


def missing_images() -> list[str]:
    """The images of IMAGES that are not built here (all of them without podman)."""
    if shutil.which("podman") is None:
        return list(IMAGES.values())
    return [image for image in IMAGES.values() if run_podman("image", "exists", image).returncode]


def wait_for(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.5)


class Pod:
    """The containers of one test on one private network; `remove` deletes them all."""

    def __init__(self) -> None:
        self.prefix = f"spectrum-ct-{uuid.uuid4().hex[:8]}"
        self.network = self.prefix
        self.names: list[str] = []
        podman("network", "create", self.network)

    def run(
        self,
        role: str,
        image: str,
        env: dict[str, str],
        *,
        publish: str | None = None,
        command: list[str] | None = None,
    ) -> str:
        """Start a detached container named <prefix>-<role>; return its name."""
        name = f"{self.prefix}-{role}"
        args = ["run", "-d", "--name", name, "--network", self.network]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        if publish is not None:
            args += ["-p", f"127.0.0.1::{publish}"]
        podman(*args, image, *(command or []))
        self.names.append(name)
        return name

    def host_port(self, name: str, port: str) -> int:
        """The loopback port of this machine that the container's `port` is published on."""
        return int(podman("port", name, port).rsplit(":", 1)[1])

    def hostname(self, name: str) -> str:
        """The container's hostname: what its workers put in their registry members."""
        return podman("inspect", "--format", "{{.Config.Hostname}}", name)

    def healthy(self, name: str) -> bool:
        """The image's own HEALTHCHECK, run once now."""
        return run_podman("healthcheck", "run", name, timeout=30).returncode == 0

    def logs(self) -> str:
        parts = []
        for name in self.names:
            out = run_podman("logs", "--tail", "40", name)
            parts.append(f"--- {name}\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
        return "\n".join(parts)

    def remove(self) -> None:
        for name in reversed(self.names):
            podman("rm", "-f", "-t", "5", name, check=False)
        podman("network", "rm", "-f", self.network, check=False)

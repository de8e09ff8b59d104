"""The Ray Serve baseline's own environment: a venv of its own, created once and reused.

Ray is no dependency of Spectrum, so it never enters the project's venv. The first
bench that needs it creates `var/bench/ray-venv` (or `$SPECTRUM_BENCH_RAY_VENV`) and
installs Ray Serve there with the project's lock file as constraints (so transformers,
torch, numpy and the web stack are the versions Spectrum's own baselines run), the
install bounded by `INSTALL_TIMEOUT_S`. The venv counts as ready only when a stamp
file holding the requirements and the constraints it was built from matches this
checkout's; anything else is removed and built again. No network, a timeout or a
failed install is not an error of the bench: the caller gets the reason and skips
the Ray row.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

from loadtest.progress import say
from spectrum_dev.harness import ROOT

RAY_VENV = ROOT / "var" / "bench" / "ray-venv"
LOCK = ROOT / "requirements" / "lock.txt"
# Ray Serve as issue 17 names it; torch as the project's lock has it (a CPU wheel on
# local disk here); transformers from the lock through the constraints.
REQUIREMENTS = ("ray[serve]==2.60.0", "torch==2.13.0", "transformers")
INSTALL_TIMEOUT_S = 900.0
STAMP = "spectrum-bench-stamp.txt"
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==[^\s;#]+")


@dataclass
class RayEnv:
    """Where the Ray venv's Python is (None: skipped, with `reason`), and what it took."""

    python: Path | None
    install_s: float  # 0.0 when an existing venv was reused
    reused: bool
    reason: str = ""


def pins(lock_text: str) -> list[str]:
    """The `name==version` lines of a pip-compile lock file (comments and options left out)."""
    return [match.group(0) for line in lock_text.splitlines() if (match := PIN.match(line))]


def stamp_text(requirements: tuple[str, ...], constraints: list[str]) -> str:
    """What a venv built from these requirements and constraints records as built."""
    digest = hashlib.sha256("\n".join(constraints).encode()).hexdigest()
    return "\n".join([*requirements, f"constraints sha256 {digest}"]) + "\n"


def failure_reason(what: str, log_text: str) -> str:
    """One line for the report: `what` and the last error-looking line of pip's output."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    last = (errors or lines or ["no output"])[-1]
    return f"{what}: {last[:300]}"


def ensure_ray_env(venv_dir: Path | None = None, timeout_s: float = INSTALL_TIMEOUT_S) -> RayEnv:
    """The Ray venv, built here if missing or stale; never raises for a failed install.
    pip's output of the last build is kept beside the venv (`ray-install.log`)."""
    target = venv_dir or Path(os.environ.get("SPECTRUM_BENCH_RAY_VENV", RAY_VENV))
    python = target / "bin" / "python"
    constraints = pins(LOCK.read_text())
    wanted = stamp_text(REQUIREMENTS, constraints)
    stamp = target / STAMP
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return RayEnv(python=python, install_s=0.0, reused=True)
    log_path = target.parent / "ray-install.log"
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    say(
        f"installing Ray Serve 2.60 into {shown} (first use; at most {timeout_s:.0f} s, "
        f"pip's output in {log_path.name} beside it)"
    )
    started = time.monotonic()
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    constraint_file = target / "constraints.txt"
    constraint_file.write_text("\n".join(constraints) + "\n")
    argv = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    argv += ["-c", str(constraint_file), *REQUIREMENTS]
    reason = run_bounded(argv, log_path, timeout_s, "pip install")
    if not reason:
        check = [str(python), "-c", "import ray, ray.serve, torch, transformers"]
        remaining = max(timeout_s - (time.monotonic() - started), 30.0)
        reason = run_bounded(check, log_path, remaining, "import check")
    seconds = time.monotonic() - started
    if reason:
        say(f"Ray Serve not installed after {seconds:.0f} s: {reason}")
        shutil.rmtree(target, ignore_errors=True)
        return RayEnv(python=None, install_s=seconds, reused=False, reason=reason)
    stamp.write_text(wanted)
    say(f"Ray Serve installed in {seconds:.0f} s")
    return RayEnv(python=python, install_s=seconds, reused=False)


def run_bounded(argv: list[str], log_path: Path, timeout_s: float, what: str) -> str:
    """Run `argv` with its output appended to `log_path`; '' when it succeeded, else why."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return f"{what} ran past {timeout_s:.0f} s"
    if code != 0:
        return failure_reason(f"{what} exited {code}", log_path.read_text(errors="replace"))
    return ""


if __name__ == "__main__":  # build (or check) the venv alone: python -m loadtest.ray_env
    found = ensure_ray_env()
    print(found)
    sys.exit(0 if found.python is not None else 1)

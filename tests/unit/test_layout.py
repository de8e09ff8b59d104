"""The source tree's shape: every module imports on its own, and api/ is one folder per domain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "shared", "worker", "loadtest", "scripts", "training")
# Optional runtimes whose packages a checkout may lack (each is imported by its own test).
# Modules whose imports live outside this venv: Ray Serve's baseline runs only in the
# venv the bench builds for it (loadtest/ray_env.py).
OPTIONAL = {"worker.runtimes.hf", "worker.runtimes.sklearn_text", "loadtest.baselines.ray_server"}
# Run in a fresh interpreter: before each module, forget every module of ours that an
# earlier import loaded, so each one is imported first, as a process that starts with it.
IMPORT_EACH = """
import importlib, sys
ours = set(sys.argv[1].split(","))
failed = []
for name in sys.argv[2:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:  # Alembic's scripts: Alembic loads them, nothing imports
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append(".".join(parts))
    found += [
        ".".join(p.relative_to(ROOT / "client").with_suffix("").parts).removesuffix(".__init__")
        for p in sorted((ROOT / "client" / "spectrum_client").rglob("*.py"))
    ]
    return found


def test_every_module_imports_alone() -> None:
    """Each module in a fresh interpreter of its own: an import cycle fails here."""
    names = [m for m in modules() if m not in OPTIONAL and not m.endswith("__main__")]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, ",".join((*PACKAGES, "spectrum_client")), *names],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'client'}"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "api").glob("*.py")), ids=lambda p: p.name)
def test_api_modules_live_in_a_domain_folder(path: Path) -> None:
    """Only the package marker and `__main__` sit at api/'s top; the factory is api/app/."""
    assert path.name in {"__init__.py", "__main__.py"}

"""The source tree's shape: every module imports on its own, and api/ is one folder per domain."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# The product, imported as spectrum.*; the checkout-only packages, by their own names.
PRODUCT = ("api", "shared", "worker")
CHECKOUT = ("loadtest", "scripts", "training")
# Optional runtimes whose packages a checkout may lack (each is imported by its own test).
# Modules whose imports live outside this venv: Ray Serve's baseline runs only in the
# venv the bench builds for it (loadtest/ray_env.py).
OPTIONAL = {
    "spectrum.worker.runtimes.hf",
    "spectrum.worker.runtimes.sklearn_text",
    "loadtest.baselines.ray_server",
}
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


OURS = ("spectrum", *CHECKOUT, "spectrum_client", "spectrum_dev")


def dotted(path: Path, base: Path, prefix: str = "") -> str:
    parts = path.relative_to(base).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return prefix + ".".join(parts)


def modules() -> list[str]:
    found = []
    for package in (*PRODUCT, *CHECKOUT):
        prefix = "spectrum." if package in PRODUCT else ""
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts: Alembic loads them
                continue
            found.append(dotted(path, ROOT, prefix))
    for home, package in (("client", "spectrum_client"), ("dev", "spectrum_dev")):
        found += [dotted(p, ROOT / home) for p in sorted((ROOT / home / package).rglob("*.py"))]
    return found


def test_every_module_imports_alone() -> None:
    """Each module in a fresh interpreter of its own: an import cycle fails here."""
    names = [m for m in modules() if m not in OPTIONAL and not m.endswith("__main__")]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, ",".join(OURS), *names],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'client'}:{ROOT / 'dev'}"},
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


def test_the_product_is_imported_by_its_namespace_only() -> None:
    """No module imports `api`, `shared` or `worker` bare: from a checkout those names
    also resolve (the folders sit at the root), and a second copy of a module would
    hold settings, metrics and registries of its own."""
    bare = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if (
            rel.parts[0] in {".venv", ".venv-compose", "build", "spectrum"}
            or "site-packages" in rel.parts
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(rel))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bare += [f"{rel}:{node.lineno} {n}" for n in names if n.split(".")[0] in PRODUCT]
    assert not bare, "import these as spectrum.<name>:\n" + "\n".join(bare)

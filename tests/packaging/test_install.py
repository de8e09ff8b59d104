"""The install lines the README and the images use, each run in a fresh venv.

Each test builds a virtual environment in tmp_path with pip from the registry
(tens of seconds), installs from a copy of the files the install reads, as the
images do, so no build output lands in the checkout, and runs what it installed
from outside the checkout, so nothing is imported from the source tree.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_INSTALL = "pip install ./client"
# The lexicon-only worker image's install (Dockerfile.worker with EXTRAS=worker).
WORKER_INSTALL = 'pip install -c requirements/lock.txt ".[worker]"'
# A worker for the built-in `toxicity` model (README, Installation).
TOXICITY_INSTALL = 'pip install -c requirements/lock.txt ".[worker,sklearn]"'

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]


def fresh_venv(where: Path) -> Path:
    """A new venv's bin directory, with the pip that comes with this Python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return where / "bin"


def venv_env(bin_dir: Path) -> dict[str, str]:
    """This environment with the venv first on PATH and nothing of the checkout's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def copy_tree(names: list[str], into: Path) -> None:
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                into / name,
                symlinks=True,  # spectrum/ holds links, as the images copy them
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, into / name)


# Which of the client's and the server's top-level packages the venv can import.
WHAT_CAME = (
    "import importlib.util\n"
    "names = ['httpx', 'spectrum_client', 'celery', 'kombu', 'redis', 'fastapi',"
    " 'pydantic', 'api', 'worker', 'shared']\n"
    "print(*[n for n in names if importlib.util.find_spec(n)])\n"
)


# Every top-level importable name the venv's site-packages holds.
TOP_LEVEL = (
    "import pkgutil, sysconfig\n"
    "print(*sorted(m.name for m in pkgutil.iter_modules([sysconfig.get_paths()['purelib']])))\n"
)


def test_the_readme_client_install_gives_the_cli_and_no_server_stack(tmp_path: Path) -> None:
    assert CLIENT_INSTALL in (ROOT / "README.md").read_text(encoding="utf-8")
    src = tmp_path / "src"
    copy_tree(["client"], src)
    env = venv_env(fresh_venv(tmp_path / "venv"))

    installed = sh(CLIENT_INSTALL, src, env)
    assert installed.returncode == 0, installed.stderr[-3000:]

    helped = sh("spectrum --help", tmp_path, env)
    assert helped.returncode == 0, helped.stderr
    assert "predict" in helped.stdout
    no_celery = sh('python -c "import celery"', tmp_path, env)
    assert no_celery.returncode != 0
    assert "ModuleNotFoundError" in no_celery.stderr
    present = sh(f"python -c {shlex.quote(WHAT_CAME)}", tmp_path, env)
    assert present.returncode == 0, present.stderr
    assert present.stdout.split() == ["httpx", "spectrum_client"]


def test_the_lexicon_worker_image_install_imports_and_loads_vader_and_emotion(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    # What Dockerfile.worker copies before its install.
    copy_tree(["pyproject.toml", "README.md", "requirements/lock.txt"], src)
    copy_tree(["spectrum", "api", "shared", "worker"], src)
    env = venv_env(fresh_venv(tmp_path / "venv"))

    installed = sh(WORKER_INSTALL, src, env)
    assert installed.returncode == 0, installed.stderr[-3000:]

    # What `python -m spectrum.worker` imports, then the runtime a worker process loads at start.
    script = (
        "import importlib.util\n"
        "import spectrum.worker.app, spectrum.worker.tasks, spectrum.worker.__main__\n"
        "from spectrum.shared.config import Settings\n"
        "from spectrum.worker.runtimes import load_runtime\n"
        "runtime, card = load_runtime(Settings(model_id='vader'))\n"
        "assert card.runtime == 'lexicon', card\n"
        "rows = runtime.predict(['What a wonderful film.'])\n"
        "assert rows[0][1] > 0.5, rows\n"
        # The emotion lexicon comes with the worker extra too, and needs no corpus download.
        "runtime, card = load_runtime(Settings(model_id='emotion'))\n"
        "assert card.runtime == 'emotion-lexicon', card\n"
        "rows = runtime.predict(['I am afraid of the dark.'])\n"
        "assert abs(sum(rows[0]) - 1) < 1e-9 and rows[0][card.labels.index('fear')] > 0, rows\n"
        "missing = [m for m in ('numpy', 'torch', 'openvino', 'fastapi')"
        " if importlib.util.find_spec(m)]\n"
        "assert not missing, f'more than the worker extra: {missing}'\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in env.items() if not k.startswith("SPECTRUM_")}
    ran = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip().endswith("ok")
    # One top-level name of ours in site-packages: spectrum (and its dist-info).
    ours = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", TOP_LEVEL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "spectrum" in ours
    assert not {"api", "shared", "worker", "scripts", "spectrum_dev"} & set(ours), ours


def test_the_toxicity_worker_install_loads_the_packaged_classifier_without_torch(
    tmp_path: Path,
) -> None:
    assert TOXICITY_INSTALL in (ROOT / "README.md").read_text(encoding="utf-8")
    src = tmp_path / "src"
    copy_tree(["pyproject.toml", "README.md", "requirements/lock.txt"], src)
    copy_tree(["spectrum", "api", "shared", "worker"], src)
    env = venv_env(fresh_venv(tmp_path / "venv"))

    installed = sh(TOXICITY_INSTALL, src, env)
    assert installed.returncode == 0, installed.stderr[-3000:]

    script = (
        "import importlib.util, warnings\n"
        # A pickle from another scikit-learn release warns: the pin must hold.
        "warnings.simplefilter('error')\n"
        "from spectrum.shared.config import Settings\n"
        "from spectrum.worker.runtimes import load_runtime\n"
        "runtime, card = load_runtime(Settings(model_id='toxicity'))\n"
        "assert card.runtime == 'sklearn' and card.labels == ['NON_TOXIC', 'TOXIC'], card\n"
        "rows = runtime.predict(['have a nice day', 'shut up you idiot'])\n"
        "assert rows[0][0] > 0.5 and rows[1][1] > 0.5, rows\n"
        "extra = [m for m in ('torch', 'openvino', 'fastapi') if importlib.util.find_spec(m)]\n"
        "assert not extra, f'more than the worker and sklearn extras: {extra}'\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in env.items() if not k.startswith("SPECTRUM_")}
    ran = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip().endswith("ok")


def test_the_wheel_holds_every_file_the_page_and_the_migrations_need(tmp_path: Path) -> None:
    """The API image runs from the wheel, without a checkout: what api/ui/static and the
    prediction log's migrations hold must be in it."""
    src = tmp_path / "src"
    copy_tree(["pyproject.toml", "README.md", "spectrum", "api", "shared", "worker"], src)
    env = venv_env(fresh_venv(tmp_path / "venv"))
    built = sh(f"pip wheel -q --no-deps -w {tmp_path / 'dist'} .", src, env)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("spectrum-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    needed = [
        "spectrum/" + p.relative_to(ROOT).as_posix()
        for folder in ("api/ui/static", "shared/predlog/migrations")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert needed
    missing = [n for n in needed if n not in names]
    assert not missing, missing

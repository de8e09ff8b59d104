"""A new user's first minutes: the client alone in a fresh venv, against a real stack.

Exactly the README's steps: `python -m venv`, `pip install ./client`, then the
venv's own `spectrum models` and `spectrum predict --file` (more lines than one
request may carry, so the CLI cuts them into several) against a real API, worker
and Redis. The venv holds nothing of the checkout: no PYTHONPATH, and the client
is installed from a copy of client/ (pip builds in the source folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spectrum_client
from spectrum_dev.harness import ROOT
from tests.integration.stack import Stack

pytestmark = [pytest.mark.packaging]

LINES = 150  # > 2 x 64, the API's default per-request limit: three requests


def run(
    argv: list[str], env: dict[str, str], *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install ./client` done in it, as the README says."""
    home = tmp_path_factory.mktemp("newcomer")
    shutil.copytree(
        ROOT / "client",
        home / "client",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    env = clean_env()
    made = run([sys.executable, "-m", "venv", str(home / "venv")], env)
    assert made.returncode == 0, made.stderr
    bin_dir = home / "venv" / "bin"
    installed = run([str(bin_dir / "pip"), "install", "-q", "./client"], env, cwd=home, timeout=240)
    assert installed.returncode == 0, installed.stderr
    return home / "venv"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a shell that knows nothing of this checkout or its settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SPECTRUM_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def test_a_fresh_venv_lists_the_models_and_predicts_a_file(
    venv: Path, make_stack: type[Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    stack.start_worker()
    stack.start_api()
    spectrum = str(venv / "bin" / "spectrum")
    env = clean_env(SPECTRUM_URL=stack.base_url)
    texts = [
        f"review {i}: {'a lovely, wonderful film' if i % 2 else 'an awful, boring mess'}"
        for i in range(LINES)
    ]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n")

    version = run([spectrum, "--version"], env)
    health = run([spectrum, "health"], env)
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import spectrum_client; print(spectrum_client.__file__)",
        ],
        env,
    )
    models = run([spectrum, "models"], env)
    table = run([spectrum, "predict", "--file", str(source)], env)
    lines = run([spectrum, "predict", "--file", str(source), "--format", "jsonl"], env)

    assert where.stdout.startswith(str(venv)), where.stdout  # the installed copy, not the checkout
    assert version.stdout == f"spectrum {spectrum_client.__version__}\n"
    assert health.returncode == 0, health.stdout + health.stderr
    assert models.returncode == 0, models.stderr
    assert stack.model_name in models.stdout
    assert table.returncode == 0, table.stderr
    rows = [line.split("\t") for line in table.stdout.splitlines()]
    assert [row[2] for row in rows] == texts  # one line per text, in input order
    assert [row[0] for row in rows] == ["NEGATIVE", "POSITIVE"] * (LINES // 2)
    assert lines.returncode == 0, lines.stderr
    items = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [item["index"] for item in items] == list(range(LINES))
    assert [item["label"] for item in items] == [row[0] for row in rows]


def test_the_completion_extra_completes_the_commands(venv: Path, tmp_path: Path) -> None:
    """`pip install './client[completion]'` adds argcomplete; the shell's request is answered."""
    home = venv.parent
    added = run(
        [str(venv / "bin" / "pip"), "install", "-q", "./client[completion]"],
        clean_env(),
        cwd=home,
        timeout=240,
    )
    assert added.returncode == 0, added.stderr
    answer = tmp_path / "completions"
    env = clean_env(
        _ARGCOMPLETE="1",
        COMP_LINE="spectrum he",
        COMP_POINT="11",
        _ARGCOMPLETE_STDOUT_FILENAME=str(answer),
    )

    done = run([str(venv / "bin" / "spectrum")], env)

    assert done.returncode == 0, done.stderr
    assert answer.read_text().split() == ["health"]

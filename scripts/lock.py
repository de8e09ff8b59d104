"""Re-resolve requirements/lock.txt, the pins every install is constrained to: `make lock`.

`make run`, `make test` (so CI) and both images install with `pip install -c
requirements/lock.txt ...`: a constraints file pins whatever an install pulls in
and installs nothing by itself, so one file serves the API image (no torch), the
worker images and the dev venv alike. pip-compile resolves every extra of the
server and the client together, for CPython 3.11 on Linux (what `make`, CI and
the images run), keeping the pins already in the file unless told to move them
(`make lock ARGS=--upgrade`, or `ARGS="--upgrade-package httpx"`).

Two rules pip-compile cannot state, applied after it:
- torch is pinned as `==2.13.0`, without the `+cpu` local label of the CPU wheel
  that pip finds on this project's machines: the pin still takes that wheel where
  it lies, and PyPI's own build where it does not (macOS; the CUDA worker image).
- no CUDA package (nvidia-*, triton) may be pinned: one means the resolver took
  PyPI's CUDA build of torch (several GB) instead of the CPU wheel, and the new
  lock is refused, the old one left as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path("requirements/lock.txt")
SOURCES = ("pyproject.toml", "client/pyproject.toml")
# What only a CUDA build of torch brings in.
_CUDA = re.compile(r"^(nvidia-[\w.-]+|triton|cuda-[\w.-]+)==", re.IGNORECASE | re.MULTILINE)
_LOCAL_LABEL = re.compile(r"^(torch==[^\s+#]+)\+\S+", re.MULTILINE)


def cuda_pins(lock_text: str) -> list[str]:
    """Names of the CUDA packages a lock pins (none in a good lock)."""
    return [match.group(1) for match in _CUDA.finditer(lock_text)]


def portable(lock_text: str) -> str:
    """The lock with torch's local version label dropped (`2.13.0+cpu` -> `2.13.0`)."""
    return _LOCAL_LABEL.sub(r"\1", lock_text)


def compile_command(output: Path, extra_args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "piptools",
        "compile",
        "--quiet",
        "--all-extras",
        # A constraints file may not name extras (pip refuses `celery[redis]==...`).
        "--strip-extras",
        # setuptools is a runtime dependency of torch: pin it too.
        "--allow-unsafe",
        # The machine's own index and wheel folder stay out of the file.
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--output-file",
        str(output),
        *extra_args,
        *SOURCES,
    ]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        draft = Path(tmp) / LOCK.name
        if LOCK.is_file():
            shutil.copyfile(LOCK, draft)  # pip-compile keeps the pins it finds there
        env = {**os.environ, "CUSTOM_COMPILE_COMMAND": "make lock"}
        subprocess.run(compile_command(draft, argv), check=True, env=env)
        text = portable(draft.read_text(encoding="utf-8"))
    cuda = cuda_pins(text)
    if cuda:
        print(
            f"refused: the resolution pins CUDA packages ({', '.join(cuda)}), so it took a "
            "CUDA build of torch. Let pip find the CPU wheel (torch 2.13.0+cpu: a wheel "
            "folder in PIP_FIND_LINKS or PyTorch's CPU index in PIP_EXTRA_INDEX_URL) and "
            f"run make lock again; {LOCK} is unchanged.",
            file=sys.stderr,
        )
        return 1
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(text, encoding="utf-8")
    print(f"wrote {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

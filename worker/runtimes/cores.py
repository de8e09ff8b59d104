"""The cores a host's workers share: one lock file a core, held by the pass running on it.

Each worker process owns an even share of the cores (`SPECTRUM_WORKER_PROCESSES` on
the host), which is what keeps a loaded machine busy: every process runs its own pass
on its own cores. At low load that share leaves cores idle while a lone text waits. So
a pass first takes its share, and a small pass (a lone text, a few short ones) may also
take every core no other worker holds at that moment, and run on all of them.

Invariants:
- a pass holds either its share or `wide` cores, never a count in between, so a runtime
  needs two compiled variants only;
- a core is held by one pass at a time across every process that opens the same
  directory (`fcntl.flock`, released by the kernel if a process dies holding it);
- a pass that finds fewer free cores than its share waits for them, so passes never
  run more threads than the host has cores.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def default_directory() -> Path:
    """Where the workers of one host (one temp directory) meet: per user, as locks are."""
    return Path(tempfile.gettempdir()) / f"spectrum-cores-{os.getuid()}"


class CoreLeases:
    """Take and give back cores, by lock files `core-0` ... `core-<cores - 1>` in `directory`."""

    def __init__(self, directory: Path, cores: int, first: int = 0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.cores = cores
        # Where this process starts looking: spreads the processes' shares over the cores.
        self.first = first % cores
        self._files = [os.open(directory / f"core-{i}", os.O_RDWR | os.O_CREAT, 0o600)
                       for i in range(cores)]  # fmt: skip

    @contextmanager
    def hold(self, share: int, wide: int) -> Iterator[int]:
        """Hold `wide` cores where that many are free now, else `share` (waiting for any
        of those not free); yield the count held, and give them back after the block."""
        order = [(self.first + i) % self.cores for i in range(self.cores)]
        held: list[int] = []
        for core in order:
            if len(held) == wide:
                break
            if self._try(core):
                held.append(core)
        if share <= len(held) < wide:
            self._give_back(held[share:])
            held = held[:share]
        for core in order:
            if len(held) >= share:
                break
            if core not in held:
                fcntl.flock(self._files[core], fcntl.LOCK_EX)  # waits for that core's pass
                held.append(core)
        try:
            yield len(held)
        finally:
            self._give_back(held)

    def _try(self, core: int) -> bool:
        try:
            fcntl.flock(self._files[core], fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _give_back(self, cores: list[int]) -> None:
        for core in cores:
            fcntl.flock(self._files[core], fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in self._files:
            os.close(fd)

"""worker/runtimes/cores.py: passes of several workers share a host's cores by lock files.

Two CoreLeases on one directory stand for two worker processes: each opens the lock
files itself, and flock locks belong to the open file, not the process.
"""

from __future__ import annotations

import threading
from pathlib import Path

from spectrum.worker.runtimes.cores import CoreLeases


def test_a_pass_alone_on_the_host_takes_every_core(tmp_path: Path) -> None:
    mine = CoreLeases(tmp_path, 2)
    with mine.hold(1, 2) as held:
        assert held == 2
    with mine.hold(1, 1) as held:
        assert held == 1  # a large pass keeps to its share however free the host


def test_a_pass_beside_a_busy_worker_takes_its_share(tmp_path: Path) -> None:
    mine, other = CoreLeases(tmp_path, 2, first=0), CoreLeases(tmp_path, 2, first=1)
    with other.hold(1, 1), mine.hold(1, 2) as held:
        assert held == 1
    with mine.hold(1, 2) as held:  # the other's pass ended: both are free again
        assert held == 2


def test_a_wide_pass_holds_its_cores_until_it_ends(tmp_path: Path) -> None:
    mine, other = CoreLeases(tmp_path, 2, first=0), CoreLeases(tmp_path, 2, first=1)
    entered, release, took = threading.Event(), threading.Event(), threading.Event()

    def wide_pass() -> None:
        with mine.hold(1, 2) as held:
            assert held == 2
            entered.set()
            release.wait(10)

    def waiting_pass() -> None:
        with other.hold(1, 2):
            took.set()

    first = threading.Thread(target=wide_pass)
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=waiting_pass)
    second.start()
    assert not took.wait(0.2)  # every core is held: it waits, it does not oversubscribe
    release.set()
    first.join(10)
    second.join(10)
    assert took.is_set()

"""The process harness: stop order, SIGKILL after the timeout, a dead child fails a wait."""

from __future__ import annotations

import signal
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from spectrum.shared.registry import worker_member, workers_key
from spectrum_dev.harness import Harness, StackFailed, child_env, start_time, wait_for

# A child that says it is up, and on SIGTERM writes its name to a shared file after a
# short delay (a process that takes a moment to finish), then exits.
CHILD = """
import signal, sys, time
name, record, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
def stop(*_):
    time.sleep(delay)
    with open(record, "a") as out:
        out.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
time.sleep(60)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("up", flush=True)
time.sleep(60)
"""

# A supervisor in miniature: starts a child that ignores SIGTERM, prints its PID, and
# exits at once on SIGTERM, leaving that child behind (as a killed supervisor would).
LEAVES_A_CHILD = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print("child", child.pid, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
time.sleep(60)
"""


def child(name: str, record: Path, delay: float = 0.0) -> list[str]:
    return [sys.executable, "-c", CHILD, name, str(record), str(delay)]


def test_front_processes_stop_before_workers_whatever_the_start_order(tmp_path: Path) -> None:
    record = tmp_path / "stopped"
    with Harness(tmp_path) as harness:
        harness.start("api", child("api", record, 0.3), child_env())
        harness.start("worker", child("worker", record), child_env(), role="worker")
        harness.start("flower", child("flower", record, 0.3), child_env())
        for process in harness.processes:
            wait_for(lambda p=process: "up" in p.log(), 10, f"{process.name} to start")
    lines = record.read_text().split()
    # The worker was signalled only once both front processes had exited.
    assert sorted(lines[:2]) == ["api", "flower"]
    assert lines[2:] == ["worker"]
    assert all(not p.alive() for p in harness.processes)


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    stubborn = harness.start("stubborn", [sys.executable, "-c", STUBBORN], child_env())
    wait_for(lambda: "up" in stubborn.log(), 10, "the child to start")
    started = time.monotonic()
    harness.stop(timeout=0.5)
    assert stubborn.popen.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    harness.stop()  # twice is harmless


def test_a_wait_fails_at_once_with_the_log_when_a_process_exits(tmp_path: Path) -> None:
    with Harness(tmp_path) as harness:
        argv = [sys.executable, "-c", "print('bad setting: port'); raise SystemExit(3)"]
        harness.start("api", argv, child_env())
        started = time.monotonic()
        with pytest.raises(StackFailed, match=r"api exited \(3\)[\s\S]*bad setting: port"):
            harness.wait_http("http://127.0.0.1:9/readyz", timeout=60)
        assert time.monotonic() - started < 30


def test_a_wait_for_workers_names_each_worker_and_queue_that_never_announced(
    tmp_path: Path, redis_url: str
) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    sleeps = [sys.executable, "-c", "import time; time.sleep(60)"]
    with Harness(tmp_path) as harness:
        announced = harness.start("announced", sleeps, child_env())
        silent = harness.start("silent", sleeps, child_env())
        store = redis.Redis.from_url(redis_url)
        try:
            member = worker_member(socket.gethostname(), announced.pid)
            store.zadd(workers_key(f"{queue}.interactive"), {member: time.time()})
            with pytest.raises(StackFailed) as failed:
                harness.wait_consuming(
                    {announced: [f"{queue}.interactive"], silent: [f"{queue}.interactive"]},
                    redis_url,
                    timeout=0.3,
                )
        finally:
            store.delete(workers_key(f"{queue}.interactive"))
            store.close()
    assert f"none from silent (pid {silent.pid}) on {queue}.interactive" in str(failed.value)
    assert "announced" not in str(failed.value)


def test_children_get_only_the_settings_named_unless_they_inherit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPECTRUM_MODEL_ID", "from-the-caller")
    assert child_env({"port": 8011})["SPECTRUM_PORT"] == "8011"
    assert "SPECTRUM_MODEL_ID" not in child_env({"port": 8011})
    assert child_env(inherit_settings=True)["SPECTRUM_MODEL_ID"] == "from-the-caller"


def test_children_a_process_leaves_behind_are_killed_by_pid(tmp_path: Path) -> None:
    with Harness(tmp_path) as harness:
        parent = harness.start(
            "supervisor", [sys.executable, "-c", LEAVES_A_CHILD, STUBBORN], child_env()
        )
        wait_for(lambda: "child" in parent.log() and "up" in parent.log(), 10, "both up")
        (line,) = [row for row in parent.log().splitlines() if row.startswith("child")]
        orphan = int(line.split()[1])
        assert start_time(orphan) is not None
    assert parent.popen.returncode == 0  # it exited on SIGTERM, its child did not
    assert start_time(orphan) is None  # killed by its PID after its parent was gone


# A bench in miniature: a harness with one child, then the block waits; its PID is
# what a `kill` or a `timeout` would signal.
HOLDS_A_STACK = """
import sys, time
from pathlib import Path
from spectrum_dev.harness import Harness, child_env
with Harness(Path(sys.argv[1])) as harness:
    harness.start("api", [sys.executable, "-c", sys.argv[2], "api", sys.argv[3], "0"], child_env())
    print("started", flush=True)
    time.sleep(60)
"""


def test_a_sigterm_to_the_process_holding_a_stack_stops_the_stack(tmp_path: Path) -> None:
    import subprocess

    record = tmp_path / "stopped"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDS_A_STACK, str(tmp_path), CHILD, str(record)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "started"
    log = next(tmp_path.glob("*-api.log"))
    wait_for(lambda: "up" in log.read_text(), 10, "the child to start")

    holder.send_signal(signal.SIGTERM)

    assert holder.wait(30) == 128 + signal.SIGTERM
    holder.stdout.close()
    assert record.read_text().split() == ["api"]  # the child got its SIGTERM and finished


def test_a_harness_puts_the_sigterm_handler_back(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with Harness(tmp_path):
        inside = signal.getsignal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    if before is signal.SIG_DFL:
        assert inside is not signal.SIG_DFL

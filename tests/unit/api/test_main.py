"""Several gateway processes (api/__main__.py): what their shared metrics rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import Gauge

from spectrum.api.__main__ import _forget_dead_processes
from spectrum.api.observability import metrics


def test_every_gateway_gauge_says_how_several_processes_combine() -> None:
    # prometheus_client's default for a gauge in multiprocess mode is one series per
    # pid: a scrape would then show every process's value, dead ones included.
    gauges = [
        collector
        for collector in metrics.REGISTRY._collector_to_names
        if isinstance(collector, Gauge)
    ]
    assert gauges
    modes = {gauge._name: gauge._multiprocess_mode for gauge in gauges}
    assert all(mode in {"livesum", "mostrecent"} for mode in modes.values()), modes


def test_one_process_renders_its_own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics.scrape_registry() is metrics.REGISTRY


def test_a_dead_process_loses_its_live_gauges_and_keeps_its_counters(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead, alive = int(gone.stdout), os.getpid()
    names = [
        f"gauge_livesum_{dead}.db",
        f"gauge_livesum_{alive}.db",
        f"gauge_mostrecent_{dead}.db",
        f"counter_{dead}.db",
        f"histogram_{dead}.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")

    _forget_dead_processes(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name for name in names if name != f"gauge_livesum_{dead}.db"
    )

"""`make scale`'s pure parts: the plan of worker counts, the curve's arithmetic, the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from loadtest.scale_curve import probe_texts, split_costs
from loadtest.scale_plan import ScalePlan, bend, efficiencies, ideal
from loadtest.scale_report import (
    POINT_KEYS,
    REPORT_KEYS,
    summarize,
    table,
    verdicts,
    write_report,
)


def test_workers_are_added_level_by_level_never_restarted() -> None:
    plan = ScalePlan()

    assert plan.worker_counts == (1, 2, 4, 8, 16)
    assert plan.additions() == [(1, 1), (1, 2), (2, 4), (4, 8), (8, 16)]
    assert sum(add for add, _ in plan.additions()) == 16
    # A running, a prefetched, a gathering and a queued batch per worker.
    assert plan.connections(16) == 16 * 64
    assert ScalePlan.quick().additions() == [(1, 1), (1, 2)]


@pytest.mark.parametrize("counts", [(), (0, 1), (2, 1), (1, 1, 2)])
def test_worker_counts_must_rise_from_one(counts: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="increasing"):
        ScalePlan(worker_counts=counts)


def test_stand_in_rate_and_the_bodies_a_level_needs() -> None:
    plan = ScalePlan(pass_ms=5, text_ms=25, warm_s=2, level_s=8)

    assert plan.worker_rate() == pytest.approx(16 / 0.405)
    assert plan.worker_rate(batch=1) == pytest.approx(1 / 0.030)
    # Twice what the workers could serve in the level and its warm-up.
    assert plan.bodies_for(8) == math.ceil(2 * 8 * (16 / 0.405) * 10)
    # The first two levels are measured twice as long: the ideal rests on the first.
    assert plan.level_seconds(1) == plan.level_seconds(2) == 16
    assert plan.level_seconds(4) == 8
    assert plan.bodies_for(1) == math.ceil(2 * (16 / 0.405) * 18)
    assert plan.bodies_for(8, ceiling_per_s=10) == 500  # never fewer than 500
    assert ScalePlan(pass_ms=0, text_ms=0).worker_rate() == math.inf


def test_efficiency_is_throughput_over_n_times_the_first_points_per_worker_rate() -> None:
    workers = [1, 2, 4, 8, 16]
    rates = [40.0, 80.0, 156.0, 300.0, 480.0]

    shares = efficiencies(workers, rates)

    assert shares == pytest.approx([1.0, 1.0, 0.975, 0.9375, 0.75])
    assert ideal(workers, rates) == [40.0, 80.0, 160.0, 320.0, 640.0]
    assert bend(workers, shares, 0.9) == 16
    assert bend(workers, shares, 0.95) == 8
    assert bend(workers, shares, 0.5) is None
    assert efficiencies([1, 2], [0.0, 5.0]) == [None, None]
    with pytest.raises(ValueError, match="one throughput"):
        efficiencies([1, 2], [1.0])


def test_gateway_cost_splits_into_per_request_and_per_task() -> None:
    # 0.4 ms per request + 1.0 ms per task, seen with 16 and with 1 text per task.
    def run(texts: int, tasks: int) -> dict[str, Any]:
        cpu_ms = 0.4 * texts + 1.0 * tasks
        return {
            "texts": texts,
            "tasks": tasks,
            "window_s": 2.0,
            "cpu_cores": {"api": cpu_ms / 2000},
        }

    split = split_costs(run(1600, 100), run(700, 700))

    assert split == pytest.approx({"ms_per_request": 0.4, "ms_per_task": 1.0})
    # Runs with the same texts per task cannot tell the two apart.
    assert split_costs(run(1600, 100), run(800, 50)) is None


def test_probe_texts_are_unique_and_repeatable() -> None:
    texts = probe_texts("lvl", 2000)

    assert len(set(texts)) == 2000
    assert texts == probe_texts("lvl", 2000)
    assert not set(texts) & set(probe_texts("other", 2000))
    assert all(5 <= len(text.split()) <= 60 for text in texts)


def fake_point(workers: int, rate: float) -> dict[str, Any]:
    cores = {"api": 0.1, "workers": 0.05, "redis": 0.02, "broker": 0.0, "wrk": 0.01}
    return {
        "workers": workers,
        "connections": 64 * workers,
        "req_per_s": rate,
        "p50_ms": 1200.0,
        "p99_ms": 1300.0,
        "errors": 0,
        "tasks_per_s": rate / 16,
        "texts_per_task": 16.0,
        "workers_busy": 0.95,
        "cpu_cores": cores,
        "cpu_ms_per_request": {k: 1000 * v / rate for k, v in cores.items()},
        "machine_busy_cores": 1.5,
        "others_cores": 1.3,
    }


def test_a_report_has_its_shape_and_renders(tmp_path: Path) -> None:
    curve = summarize([fake_point(n, r) for n, r in [(1, 38), (2, 76), (4, 150), (8, 270)]])
    curves = {"redis": curve}
    report = {
        "when": "2026-12-01T13:20:00+00:00",
        "command": "python -m loadtest.scale",
        "cores": 2,
        "cpu": "AMD EPYC",
        "commit": "453d86b",
        "load_average": {"before": [1, 1, 1], "after": [2, 2, 2]},
        "plan": {"worker_counts": [1, 2, 4, 8], "pass_ms": 5.0, "text_ms": 25.0},
        "network": {"namespaces": 8, "delay_ms_each_way": 0.5, "no_delay_reason": None},
        "ceilings": {"broker": {}},
        "curves": curves,
        "skipped": {"rabbitmq": "not installed"},
        "verdicts": verdicts(curves),
        "seconds": 300.0,
    }

    assert set(report) == REPORT_KEYS
    assert all(set(point) >= POINT_KEYS for point in curve["points"])
    assert curve["efficiency_at"] == {"workers": 8, "efficiency": pytest.approx(270 / 304)}
    assert curve["below_goal_from"] == 8
    (verdict,) = report["verdicts"]
    assert verdict["met"] is False
    assert verdict["measured"] == pytest.approx(270 / 304)
    rendered = table(report)
    assert "| redis | 8 | 512 | 270 | 304 | 0.89 |" in rendered
    assert "rabbitmq skipped: not installed" in rendered
    path = write_report(report, tmp_path, "-quick")
    assert path.name.startswith("scale-")
    assert path.name.endswith("-quick.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(report))


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from loadtest.scale_report import plot

    curve = summarize([fake_point(n, 38.0 * n) for n in (1, 2, 4)])
    report = {
        "cores": 2,
        "plan": {"worker_counts": [1, 2, 4], "pass_ms": 5.0, "text_ms": 25.0},
        "ceilings": {},
        "curves": {"redis": curve},
    }

    path = plot(report, tmp_path / "scale.png")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

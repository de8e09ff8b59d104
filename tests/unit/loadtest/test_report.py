"""loadtest/report.py: issue 17's verdicts, the best peer and the side-by-side table, on
made-up reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadtest.report import best_peer, best_peers, plot, side_by_side, table, verdicts


def run(scenario: str, concurrency: int, req_per_s: float, p50_ms: float = 10.0) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "concurrency": concurrency,
        "requests": int(req_per_s * 5),
        "seconds": 5.0,
        "req_per_s": req_per_s,
        "p50_ms": p50_ms,
        "p95_ms": 2 * p50_ms,
        "p99_ms": 3 * p50_ms,
        "errors": 0,
        "wraps": 0,
        "wrk_cpu_share": 0.01,
    }


def baseline(name: str, rates: tuple[float, float, float], c1_p50: float) -> dict[str, Any]:
    pairs = zip((1, 8, 32), rates, strict=True)
    levels = [run(name, c, r, c1_p50 if c == 1 else 100.0) for c, r in pairs]
    return {"levels": levels, "skipped": None}


def report(ray_skipped: bool = False) -> dict[str, Any]:
    uncached = [
        run("uncached", 1, 60, p50_ms=15.0),
        run("uncached", 8, 130),
        run("uncached", 32, 170),
        run("uncached", 128, 175),
    ]
    baselines = {
        "pipeline": baseline("pipeline", (55, 61, 54), 18.0),
        "celery": baseline("celery", (44, 50, 41), 22.0),
        "ray": baseline("ray", (27, 65, 85), 36.0),
    }
    if ray_skipped:
        baselines["ray"] = {"levels": [], "skipped": "pip install exited 1: no network"}
    made = {
        "command": "python -m loadtest.bench --quick --workers 2",
        "when": "2026-12-01T15:00:00+00:00",
        "cores": 2,
        "engine": {
            "runtime": "openvino",
            "shape": "2 x 1 thread",
            "best": {"batch_size": 64, "sentences_per_s": 200.0},
            "single_sentence_ms": 12.0,
        },
        "stack": {
            "uncached": uncached,
            "cached": [run("cached", 32, 1300)],
            "bare": [run("bare", 32, 2000)],
            "overhead_c32": {
                "ms_per_request": 0.9,
                "api_ms": 0.6,
                "workers_outside_runtime_ms": 0.2,
                "redis_ms": 0.1,
            },
            "api_cpu_ms_per_request_c32": {"cached": 0.5, "bare": 0.3},
            "memory": {
                "api_peak_rss_mb": 90.0,
                "worker_peak_rss_mb": [400.0],
                "redis_peak_rss_mb": 10.0,
            },
        },
        "baselines": baselines,
    }
    made["verdicts"] = verdicts(made)
    made["side_by_side"] = side_by_side(made)
    return made


def by_name(made: dict[str, Any]) -> dict[str, tuple[float, str, bool]]:
    return {what: (value, need, met) for what, value, need, met in made["verdicts"]}


def test_best_peer_is_the_fastest_baseline_at_that_concurrency() -> None:
    baselines = report()["baselines"]
    assert best_peer(baselines, 1) == ("pipeline", 55)
    assert best_peer(baselines, 8) == ("ray", 65)
    assert best_peer(baselines, 32) == ("ray", 85)
    assert best_peers(baselines)["32"] == {"system": "ray", "req_per_s": 85}


def test_a_skipped_baseline_is_no_candidate() -> None:
    baselines = report(ray_skipped=True)["baselines"]
    assert best_peer(baselines, 8) == ("pipeline", 61)
    assert best_peer(baselines, 32) == ("pipeline", 54)
    assert best_peer({}, 32) is None
    assert best_peers({}) == {"1": None, "8": None, "32": None}


def test_a_file_from_before_the_levels_counts_as_its_one_c32_run() -> None:
    old = {"pipeline": run("pipeline", 32, 54), "celery": run("celery", 32, 41)}
    assert best_peer(old, 32) == ("pipeline", 54)
    assert best_peer(old, 8) is None


def test_verdicts_are_the_performance_targets_from_one_run() -> None:
    got = by_name(report())
    assert got["uncached c32 / best peer c32"] == (170 / 85, ">= 2.5", False)
    assert got["uncached c8 / best peer c8"] == (130 / 65, ">= 2", True)
    assert got["c1 p50 / pipeline baseline c1 p50"] == (15 / 18, "<= 0.9", True)
    assert got["c1 p50 - engine single sentence, ms"] == (3.0, "<= 5", True)
    assert got["uncached c32 / engine alone"] == (170 / 200, ">= 0.85", True)
    assert got["stack overhead, ms CPU per request at c32"] == (0.9, "<= 1.0", True)
    assert got["cached c32 / bare endpoint c32"] == (0.65, ">= 0.6", True)
    assert got["API peak RSS, MB"] == (90.0, "< 200", True)
    assert len(got) == 8  # no fast model measured: its target is left out


def test_the_fast_model_is_held_to_four_times_the_best_peer_and_shown_beside() -> None:
    made = report()
    made["fast"] = {
        "model": "sentiment-minilm-int8",
        "uncached": [run("fast uncached", c, r) for c, r in ((1, 80), (8, 250), (32, 360))],
    }
    got = by_name({**made, "verdicts": verdicts(made)})
    assert got["fast model (sentiment-minilm-int8) c32 / best peer c32"] == (360 / 85, ">= 4", True)
    rows = {row["system"]: row for row in side_by_side(made)}
    assert rows["spectrum-fast"]["c32_req_per_s"] == 360


def test_the_compute_limit_is_shown_beside_the_engine() -> None:
    made = report()
    made["compute_limit"] = {
        "sentences_per_s": 400.0,
        "gflop_per_sentence": 0.7,
        "mean_tokens": 32.0,
        "gemm_gflops_one_core": 140.0,
        "cores": 2,
    }
    assert "the engine's best is 0.50 of it" in table({**made, "verdicts": verdicts(made)})


def test_the_best_peer_verdicts_follow_the_peers_measured() -> None:
    got = by_name(report(ray_skipped=True))
    assert got["uncached c32 / best peer c32"][0] == 170 / 54
    assert got["uncached c32 / best peer c32"][2]
    assert got["uncached c8 / best peer c8"][0] == 130 / 61


def test_no_baseline_leaves_the_peer_targets_out() -> None:
    made = report()
    made["baselines"] = {}
    got = by_name({**made, "verdicts": verdicts(made)})
    assert "uncached c32 / best peer c32" not in got
    assert "c1 p50 / pipeline baseline c1 p50" not in got
    assert "uncached c32 / engine alone" in got


def test_bulk_verdict_stays() -> None:
    made = report()
    made["bulk"] = {"p99_ratio": 2.5, "p99_ratio_limit": 2.0}
    assert by_name({**made, "verdicts": verdicts(made)})["sync p99 c4 during a job / without"] == (
        2.5,
        "<= 2",
        False,
    )


def test_side_by_side_has_a_row_per_system() -> None:
    rows = {row["system"]: row for row in report(ray_skipped=True)["side_by_side"]}
    assert list(rows) == ["spectrum", "pipeline", "celery", "ray"]
    spectrum = rows["spectrum"]
    assert (spectrum["c1_req_per_s"], spectrum["c8_req_per_s"], spectrum["c32_req_per_s"]) == (
        60,
        130,
        170,
    )
    assert spectrum["c1_p50_ms"] == 15.0
    assert spectrum["c32_p99_ms"] == 30.0
    assert rows["pipeline"]["c1_p50_ms"] == 18.0
    assert rows["ray"]["c32_req_per_s"] is None
    assert rows["ray"]["skipped"] == "pip install exited 1: no network"


def test_table_shows_the_side_by_side_rows_and_the_verdicts() -> None:
    text = table(report(ray_skipped=True))
    assert "| Spectrum, uncached (`make run` defaults) | 60 | 130 | 170 | 15.0 ms | 30 ms |" in text
    assert "(skipped) | - | - | - | - | - |" in text
    assert "ray skipped: pip install exited 1: no network" in text
    assert "best peer: c1 pipeline (55 req/s), c8 pipeline (61 req/s)" in text
    assert "| uncached c32 / best peer c32 | 3.15 | >= 2.5 | yes |" in text
    assert "| ray | 32 |" not in text  # a skipped baseline has no wrk rows


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = plot(report(), tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_work_of_a_level_is_the_difference_of_the_workers_totals() -> None:
    from loadtest.measure_stack import work_of_level

    work = work_of_level((1.0, 100, 10), (3.0, 500, 35))

    assert work == {
        "tasks": 25,
        "texts": 400,
        "texts_per_task": 16.0,
        "runtime_cpu_ms_per_text": 5.0,
    }
    assert work_of_level((1.0, 5, 1), (1.0, 5, 1))["texts_per_task"] == 0.0


def test_the_work_lines_compare_each_level_with_the_engines_cost_per_text() -> None:
    from loadtest.report import work_lines

    engine = {"shape": "2 processes", "best": {"batch_size": 64, "sentences_per_s": 800.0}}
    work = {
        "32": {"tasks": 10, "texts": 140, "texts_per_task": 14.0, "runtime_cpu_ms_per_text": 3.75}
    }

    lines = work_lines(work, engine)

    assert "| 32 | 10 | 14.0 | 3.75 | 1.50x |" in lines  # 2 / 800 s = 2.5 ms a text
    assert lines[-1].startswith("engine's best: 2.50 ms of CPU a text (2 processes, batch 64)")

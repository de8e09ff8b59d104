"""loadtest/pairs.py: after/before per pair and the regression mark, on made-up reports."""

from __future__ import annotations

from typing import Any

from loadtest.pairs import compare, markdown


def report(req_per_s: float, p50_ms: float = 100.0) -> dict[str, Any]:
    def runs(scenario: str, rate: float) -> list[dict[str, Any]]:
        return [
            {
                "scenario": scenario,
                "concurrency": c,
                "req_per_s": rate,
                "p50_ms": p50_ms,
                "p99_ms": 2 * p50_ms,
            }
            for c in (1, 8, 32, 128)
        ]

    return {
        "engine": {"best": {"sentences_per_s": 200.0}},
        "stack": {
            "uncached": runs("uncached", req_per_s),
            "cached": runs("cached", 1000.0),
            "bare": runs("bare", 2000.0),
            "overhead_c32": {"ms_per_request": 1.0},
            "api_cpu_ms_per_request_c32": {"cached": 0.5},
            "memory": {"api_peak_rss_mb": 80.0},
        },
    }


def rows_by_name(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    return {row["measure"]: row for row in compare(before, after, 0.10)}


def test_worse_in_every_pair_beyond_noise_is_a_regression() -> None:
    rows = rows_by_name(
        [report(100), report(120), report(90)], [report(80), report(100), report(70)]
    )
    row = rows["uncached c32 req/s"]
    assert row["ratios"] == [0.8, 100 / 120, 70 / 90]
    assert row["regressed"]
    assert not rows["cached c32 req/s"]["regressed"]


def test_one_pair_within_noise_is_no_regression() -> None:
    rows = rows_by_name(
        [report(100), report(100), report(100)], [report(80), report(95), report(80)]
    )
    assert not rows["uncached c32 req/s"]["regressed"]
    assert rows["uncached c32 req/s"]["median_ratio"] == 0.8


def test_for_latency_higher_is_worse() -> None:
    before = [report(100, p50_ms=100) for _ in range(3)]
    after = [report(100, p50_ms=130) for _ in range(3)]
    rows = rows_by_name(before, after)
    assert rows["uncached c1 p50 ms"]["regressed"]
    assert not rows["uncached c1 req/s"]["regressed"]


def test_markdown_has_one_column_per_pair() -> None:
    text = markdown(compare([report(100)] * 2, [report(100)] * 2, 0.1))
    assert "| pair 1 | pair 2 | median |" in text.splitlines()[0]
    assert "| uncached c32 req/s | 1.00 | 1.00 | 1.00 | no |" in text

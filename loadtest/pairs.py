"""Before and after, from alternating `make bench ARGS=--quick` result files: after/before per pair.

    python -m loadtest.pairs --before B1 B2 B3 --after A1 A2 A3 [--json OUT]

Pair i is (Bi, Ai), run one after the other, so that the shared machine's other work
falls on both alike. For every measure of the sentiment levels it prints after/before
within each pair and the median of those ratios, and marks a measure that is worse in
every pair by more than `--noise` (default 10%): the regression criterion. Higher is
better for requests/s and for the ratios within a run; lower is better for latencies,
CPU per request and memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Report = dict[str, Any]
LEVELS = (1, 8, 32, 128)
# (name, read from one report, True when higher is better)
Measure = tuple[str, Callable[[Report], float], bool]


def level(report: Report, scenario: str, concurrency: int) -> Report:
    rows: list[Report] = report["stack"][scenario]
    return next(row for row in rows if row["concurrency"] == concurrency)


def at(scenario: str, concurrency: int, key: str) -> Callable[[Report], float]:
    """Reads one figure of one level of the stack's runs."""
    return lambda r: float(level(r, scenario, concurrency)[key])


def measures() -> list[Measure]:
    out: list[Measure] = []
    out += [(f"uncached c{c} req/s", at("uncached", c, "req_per_s"), True) for c in LEVELS]
    out += [(f"uncached c{c} p50 ms", at("uncached", c, "p50_ms"), False) for c in LEVELS]
    out.append(("uncached c32 p99 ms", at("uncached", 32, "p99_ms"), False))
    out += [(f"cached c{c} req/s", at("cached", c, "req_per_s"), True) for c in (1, 32)]
    out += [
        (
            "uncached c32 / engine alone",
            lambda r: (
                level(r, "uncached", 32)["req_per_s"] / r["engine"]["best"]["sentences_per_s"]
            ),
            True,
        ),
        (
            "cached c32 / bare route c32",
            lambda r: level(r, "cached", 32)["req_per_s"] / level(r, "bare", 32)["req_per_s"],
            True,
        ),
        (
            "stack overhead c32, ms CPU/request",
            lambda r: r["stack"]["overhead_c32"]["ms_per_request"],
            False,
        ),
        (
            "API CPU per cached request c32, ms",
            lambda r: r["stack"]["api_cpu_ms_per_request_c32"]["cached"],
            False,
        ),
        ("API peak RSS, MB", lambda r: r["stack"]["memory"]["api_peak_rss_mb"], False),
        ("engine alone, sentences/s", lambda r: r["engine"]["best"]["sentences_per_s"], True),
    ]
    return out


def compare(before: list[Report], after: list[Report], noise: float) -> list[Report]:
    """One row per measure: both sides' values, after/before per pair, the median ratio,
    and `regressed` when every pair is worse than `noise` allows."""
    rows = []
    for name, read, higher_better in measures():
        b = [read(r) for r in before]
        a = [read(r) for r in after]
        ratios = [x / y if y else float("nan") for x, y in zip(a, b, strict=True)]
        worse = [(q < 1 - noise) if higher_better else (q > 1 + noise) for q in ratios]
        rows.append(
            {
                "measure": name,
                "higher_is_better": higher_better,
                "before": b,
                "after": a,
                "ratios": ratios,
                "median_ratio": statistics.median(ratios),
                "regressed": all(worse),
            }
        )
    return rows


def markdown(rows: list[Report]) -> str:
    pairs = len(rows[0]["ratios"])
    head = " | ".join(f"pair {i + 1}" for i in range(pairs))
    lines = [
        f"| measure (after/before) | {head} | median | worse in every pair by > noise |",
        "|---|" + "---:|" * (pairs + 1) + "---|",
    ]
    for row in rows:
        cells = " | ".join(f"{q:.2f}" for q in row["ratios"])
        lines.append(
            f"| {row['measure']} | {cells} | {row['median_ratio']:.2f} | "
            f"{'YES' if row['regressed'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, nargs="+", required=True)
    parser.add_argument("--after", type=Path, nargs="+", required=True)
    parser.add_argument("--noise", type=float, default=0.10)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if len(args.before) != len(args.after):
        parser.error("--before and --after need as many files each (one pair per position)")
    before = [json.loads(p.read_text()) for p in args.before]
    after = [json.loads(p.read_text()) for p in args.after]
    rows = compare(before, after, args.noise)
    print(markdown(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

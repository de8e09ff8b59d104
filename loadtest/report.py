"""What `make bench` prints and keeps: the targets met or not, the side-by-side table of
Spectrum and its peers, one table of every run, a JSON file and a PNG beside it.

`python -m loadtest.report --plot FILE.json [--out FILE.png]` draws the PNG of a result
file again (beside it by default), e.g. for a run kept under docs/results/.

The verdicts are the performance targets of docs/performance.md (and the bulk job's),
each a ratio or a difference within one run. "Best peer" at a concurrency is the
measured baseline with the most requests/s there; a skipped baseline (Ray not
installable here) is no candidate.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.plan import BASELINE_CONCURRENCY

# The baselines of loadtest/baselines/, in the order the bench runs and shows them.
SYSTEMS = {
    "spectrum": "Spectrum, uncached (`make run` defaults)",
    "spectrum-fast": "Spectrum, uncached, the fast model (`sentiment-fast`, int8)",
    "pipeline": "one FastAPI process, transformers `pipeline` per request (PyTorch fp32)",
    "celery": "Celery, one task per request, blocking `.get()`",
    "ray": "Ray Serve 2.60, one replica, `@serve.batch(32, 10 ms)` over the pipeline",
}
Verdict = tuple[str, float, str, bool]


def levels_of(baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """A baseline's wrk runs (files from before issue 17 hold one c32 run, no `levels`)."""
    if "levels" in baseline:
        return list(baseline["levels"])
    return [baseline]


def level(rows: list[dict[str, Any]], concurrency: int) -> dict[str, Any] | None:
    return next((row for row in rows if row["concurrency"] == concurrency), None)


def run_at(rows: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """The run at `concurrency`, which the caller knows was measured (else KeyError)."""
    found = level(rows, concurrency)
    if found is None:
        raise KeyError(f"no run at concurrency {concurrency}")
    return found


def rate(rows: list[dict[str, Any]], concurrency: int) -> float:
    return float(run_at(rows, concurrency)["req_per_s"])


def best_peer(baselines: dict[str, Any], concurrency: int) -> tuple[str, float] | None:
    """(name, req/s) of the measured baseline with the most requests/s at `concurrency`;
    None when none was measured there. A tie goes to the one listed first."""
    best: tuple[str, float] | None = None
    for name, baseline in baselines.items():
        if baseline.get("skipped"):
            continue
        row = level(levels_of(baseline), concurrency)
        if row is not None and (best is None or row["req_per_s"] > best[1]):
            best = (name, row["req_per_s"])
    return best


def best_peers(baselines: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """The result file's `best_peer`: concurrency -> {system, req_per_s} or None."""
    out: dict[str, dict[str, Any] | None] = {}
    for c in BASELINE_CONCURRENCY:
        peer = best_peer(baselines, c)
        out[str(c)] = None if peer is None else {"system": peer[0], "req_per_s": peer[1]}
    return out


def side_by_side(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per system, as issue 17's table: req/s at c1, c8, c32, c1 p50, c32 p99
    (None where not measured) and, for a skipped baseline, why."""
    systems: dict[str, tuple[list[dict[str, Any]], str | None]] = {
        "spectrum": (report["stack"]["uncached"], None)
    }
    if "fast" in report:
        systems["spectrum-fast"] = (report["fast"]["uncached"], None)
    for name, baseline in report.get("baselines", {}).items():
        systems[name] = (levels_of(baseline), baseline.get("skipped"))
    out = []
    for name, (rows, skipped) in systems.items():
        row: dict[str, Any] = {"system": name, "label": SYSTEMS.get(name, name)}
        for c in BASELINE_CONCURRENCY:
            run = level(rows, c)
            row[f"c{c}_req_per_s"] = None if run is None else run["req_per_s"]
        first, last = level(rows, 1), level(rows, 32)
        row["c1_p50_ms"] = None if first is None else first["p50_ms"]
        row["c32_p99_ms"] = None if last is None else last["p99_ms"]
        row["skipped"] = skipped
        out.append(row)
    return out


def check(what: str, value: float, need: str) -> Verdict:
    """`need` is "<op> <bound>", op one of >=, <=, <."""
    op, bound = need.split()
    limit = float(bound)
    met = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
    return (what, value, need, met)


def verdicts(report: dict[str, Any]) -> list[Verdict]:
    """(what, measured, required, met) for the performance targets (docs/performance.md)
    and the bulk job's; a target whose inputs this run lacks (no baseline measured, no
    fast model built) is left out."""
    out = []
    bulk = report.get("bulk")
    if bulk is not None and bulk["p99_ratio"] is not None:
        ratio = bulk["p99_ratio"]
        limit = bulk["p99_ratio_limit"]
        out.append(("sync p99 c4 during a job / without", ratio, f"<= {limit:g}", ratio <= limit))
    if "stack" not in report:
        return out
    engine = report["engine"]
    stack = report["stack"]
    uncached = stack["uncached"]
    baselines = report.get("baselines", {})
    rows: list[tuple[str, float | None, str]] = []
    for c, need in ((32, ">= 2.5"), (8, ">= 2")):
        peer = best_peer(baselines, c)
        ratio = None if peer is None else rate(uncached, c) / peer[1]
        rows.append((f"uncached c{c} / best peer c{c}", ratio, need))
    fast = report.get("fast")
    peer_c32 = best_peer(baselines, 32)
    if fast is not None and peer_c32 is not None:
        ratio = rate(fast["uncached"], 32) / peer_c32[1]
        rows.append((f"fast model ({fast['model']}) c32 / best peer c32", ratio, ">= 4"))
    pipeline = baselines.get("pipeline")
    pipeline_c1 = None if pipeline is None else level(levels_of(pipeline), 1)
    c1 = run_at(uncached, 1)
    rows += [
        (
            "c1 p50 / pipeline baseline c1 p50",
            None if pipeline_c1 is None else c1["p50_ms"] / pipeline_c1["p50_ms"],
            "<= 0.9",
        ),
        (
            "c1 p50 - engine single sentence, ms",
            c1["p50_ms"] - engine["single_sentence_ms"],
            "<= 5",
        ),
        (
            "uncached c32 / engine alone",
            rate(uncached, 32) / engine["best"]["sentences_per_s"],
            ">= 0.85",
        ),
        (
            "stack overhead, ms CPU per request at c32",
            stack["overhead_c32"]["ms_per_request"],
            "<= 1.0",
        ),
        (
            "cached c32 / bare endpoint c32",
            rate(stack["cached"], 32) / rate(stack["bare"], 32),
            ">= 0.6",
        ),
        ("API peak RSS, MB", stack["memory"]["api_peak_rss_mb"], "< 200"),
    ]
    out += [check(what, value, need) for what, value, need in rows if value is not None]
    return out


def table(report: dict[str, Any]) -> str:
    engine = report["engine"]
    lines = [
        f"engine alone ({engine['runtime']}, {engine['shape']}, best batch "
        f"{engine['best']['batch_size']}): "
        f"{engine['best']['sentences_per_s']:.0f} sentences/s; one sentence "
        f"{engine['single_sentence_ms']:.1f} ms",
        *limit_lines(report),
        "",
        "| scenario | conc. | req/s | p50 ms | p95 ms | p99 ms | errors | wrk CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stack = report.get("stack")
    rows = []
    if stack is not None:
        rows += [*stack["uncached"], *stack["cached"], *stack["bare"]]
        rows += report.get("fast", {}).get("uncached", [])
        for baseline in report.get("baselines", {}).values():
            rows += levels_of(baseline)
    bulk = report.get("bulk")
    if bulk is not None:
        rows += [bulk["sync_alone"], bulk["sync_during_job"]]
    for row in rows:
        lines.append(
            f"| {row['scenario']} | {row['concurrency']} | {row['req_per_s']:.0f} | "
            f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{row['errors']}{' (wrapped)' if row['wraps'] else ''} | {row['wrk_cpu_share']:.0%} |"
        )
    if bulk is not None:
        job = bulk["job"]
        lines += [
            "",
            f"bulk job: {job['texts']} texts, {job['progress']['done']} done, {job['state']} "
            f"after {job['seconds']:.1f} s, "
            f"{job['sentences_per_s']:.0f} sentences/s (engine alone "
            f"{engine['best']['sentences_per_s']:.0f}); running through the sync load: "
            f"{'yes' if job['running_through_the_load'] else 'NO'}",
        ]
    if stack is not None and stack["overhead_c32"] is not None:
        over = stack["overhead_c32"]
        api_cpu = stack["api_cpu_ms_per_request_c32"]
        lines += [
            "",
            f"overhead at c32, ms CPU per request: API {over['api_ms']:.2f}, workers outside "
            f"the runtime {over['workers_outside_runtime_ms']:.2f}, Redis {over['redis_ms']:.2f}; "
            f"API alone on the cached route {api_cpu['cached']:.2f}, "
            f"on the bare route {api_cpu['bare']:.2f}",
        ]
    if stack is not None and stack.get("uncached_work") and engine is not None:
        lines += ["", *work_lines(stack["uncached_work"], engine)]
    if stack is not None:
        lines += ["", *side_by_side_lines(report)]
    mixed = stack.get("mixed") if stack is not None else None
    if mixed is not None:
        lines += [
            "",
            "mixed models (" + ", ".join(f"{m} {s:.0%}" for m, s in mixed["shares"].items()) + ")",
            "",
            "| scenario | model | conc. | req/s | share | p50 ms | p95 ms | p99 ms | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in [*mixed["uncached"], *mixed["cached"]]:
            lines.append(
                f"| {row['scenario']} | {row['tag']} | {row['concurrency']} | "
                f"{row['req_per_s']:.0f} | {row['share']:.0%} | {row['p50_ms']:.1f} | "
                f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']}"
                f"{' (wrapped)' if row['wraps'] else ''} |"
            )
    if stack is not None:
        memory = stack["memory"]
        workers_rss = ", ".join(f"{m:.0f}" for m in memory["worker_peak_rss_mb"])
        light = "".join(
            f", {model} worker {mb:.0f} MB"
            for model, mb in memory.get("light_worker_peak_rss_mb", {}).items()
        )
        lines += [
            "",
            f"peak RSS: API {memory['api_peak_rss_mb']:.0f} MB, worker(s) {workers_rss} MB"
            f"{light}, Redis {memory['redis_peak_rss_mb']:.0f} MB",
        ]
    lines += [
        "",
        "| target | measured | required | met |",
        "|---|---:|---|---|",
    ]
    for what, value, need, met in report["verdicts"]:
        lines.append(f"| {what} | {value:.2f} | {need} | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


def limit_lines(report: dict[str, Any]) -> list[str]:
    """The engine's best against this machine's compute limit (loadtest/compute_limit.py)."""
    limit = report.get("compute_limit")
    if limit is None:
        return []
    engine = report["engine"]["best"]["sentences_per_s"]
    return [
        f"compute limit: {limit['sentences_per_s']:.0f} sentences/s "
        f"({limit['gflop_per_sentence']:.2f} GFLOP a sentence of {limit['mean_tokens']:.1f} "
        f"tokens at {limit['gemm_gflops_one_core']:.0f} GFLOP/s a core x {limit['cores']}); "
        f"the engine's best is {engine / limit['sentences_per_s']:.2f} of it"
    ]


def work_lines(work: dict[str, dict[str, Any]], engine: dict[str, Any]) -> list[str]:
    """What the workers did per uncached level, beside the engine's best cost per text.

    The engine's best is `processes` one-share processes at its best batch size, so its
    CPU per text is processes / rate; a level whose tasks are smaller pays more per text.
    """
    processes = int(str(engine.get("shape", "1")).split()[0])
    best = engine["best"]
    engine_ms = 1000 * processes / best["sentences_per_s"]
    lines = [
        "| uncached conc. | tasks | texts a task | runtime CPU ms a text | vs the engine's best |",
        "|---:|---:|---:|---:|---:|",
    ]
    for concurrency, row in work.items():
        per_text = row["runtime_cpu_ms_per_text"]
        ratio = per_text / engine_ms if engine_ms else 0.0
        lines.append(
            f"| {concurrency} | {row['tasks']} | {row['texts_per_task']:.1f} | "
            f"{per_text:.2f} | {ratio:.2f}x |"
        )
    lines.append(
        f"engine's best: {engine_ms:.2f} ms of CPU a text ({engine.get('shape', '')}, "
        f"batch {best['batch_size']})"
    )
    return lines


def side_by_side_lines(report: dict[str, Any]) -> list[str]:
    """Issue 17's table (Markdown) from `report["side_by_side"]`, then the best peer at
    each concurrency, why a baseline was skipped and what Ray's install took."""

    def num(value: float | None, digits: int = 0, unit: str = "") -> str:
        return "-" if value is None else f"{value:.{digits}f}{unit}"

    lines = [
        "| system | c1 | c8 | c32 | c1 p50 | c32 p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["side_by_side"]:
        label = row["label"] + (" (skipped)" if row["skipped"] else "")
        rates = " | ".join(num(row[f"c{c}_req_per_s"]) for c in BASELINE_CONCURRENCY)
        lines.append(
            f"| {label} | {rates} | {num(row['c1_p50_ms'], 1, ' ms')} | "
            f"{num(row['c32_p99_ms'], 0, ' ms')} |"
        )
    baselines = report.get("baselines", {})
    peers = []
    for c in BASELINE_CONCURRENCY:
        peer = best_peer(baselines, c)
        peers.append(f"c{c} {peer[0]} ({peer[1]:.0f} req/s)" if peer else f"c{c} none")
    lines += ["", "best peer: " + ", ".join(peers)]
    for name, baseline in baselines.items():
        if baseline.get("skipped"):
            lines.append(f"{name} skipped: {baseline['skipped']}")
    install = baselines.get("ray", {}).get("install")
    if install is not None:
        how = "reused" if install["reused"] else f"installed in {install['seconds']:.0f} s"
        lines.append(f"Ray's venv: {how}")
    return lines


def plot(report: dict[str, Any], path: Path) -> Path:
    """Requests/s and p99 against concurrency, Spectrum uncached beside each measured
    baseline (matplotlib, imported only here: ImportError where it is missing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {"spectrum": report["stack"]["uncached"]}
    for name, baseline in report.get("baselines", {}).items():
        if not baseline.get("skipped"):
            series[name] = levels_of(baseline)
    figure, (rates, tails) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for name, rows in series.items():
        label = SYSTEMS.get(name, name).replace("`", "")
        xs = [row["concurrency"] for row in rows]
        marker = "o" if name == "spectrum" else "s"
        width = 2.2 if name == "spectrum" else 1.3
        rates.plot(xs, [r["req_per_s"] for r in rows], marker=marker, lw=width, label=label)
        tails.plot(xs, [r["p99_ms"] for r in rows], marker=marker, lw=width, label=label)
    levels = sorted({row["concurrency"] for rows in series.values() for row in rows})
    for axes in (rates, tails):
        axes.set_xscale("log", base=2)
        axes.set_xticks(levels, [str(c) for c in levels])
        axes.set_xlabel("concurrent connections (closed loop, unique texts)")
        axes.grid(True, alpha=0.3)
    rates.set_ylabel("requests/s (one text each)")
    rates.set_ylim(bottom=0)
    tails.set_yscale("log")
    tails.set_ylabel("p99 latency, ms")
    rates.legend(fontsize=7, loc="upper left")
    figure.suptitle(f"{report['command']}, {report['when']}, {report['cores']} cores", fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def result_path(out: Path, suffix: str) -> Path:
    """`out/bench-<UTC time><suffix>.json` (the PNG goes beside it, same stem)."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return out / f"bench-{stamp}{suffix}.json"


def write_report(report: dict[str, Any], path: Path) -> Path:
    """The whole report as JSON at `path`; returns it."""
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the PNG of a make bench result file.")
    parser.add_argument("--plot", type=Path, required=True, metavar="FILE.json")
    parser.add_argument("--out", type=Path, help="the PNG (default: beside FILE.json)")
    args = parser.parse_args(argv)
    report = json.loads(args.plot.read_text(encoding="utf-8"))
    if "stack" not in report:
        parser.error(f"{args.plot}: not a full make bench result (no stack levels to plot)")
    print(plot(report, args.out or args.plot.with_suffix(".png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

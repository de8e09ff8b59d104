"""What `make bench` prints and keeps: the targets met or not, one table, a JSON file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def verdicts(report: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, required, met) for the targets of the performance and jobs issues."""
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
    at = {row["concurrency"]: row for row in stack["uncached"]}
    cached = {row["concurrency"]: row for row in stack["cached"]}
    bare = {row["concurrency"]: row for row in stack["bare"]}
    e2e = at[32]["req_per_s"]
    rows = [
        ("uncached c32 / engine alone", e2e / engine["best"]["sentences_per_s"], ">= 0.8"),
        (
            "stack overhead, ms CPU per request at c32",
            stack["overhead_c32"]["ms_per_request"],
            "<= 0.5",
        ),
        (
            "uncached c32 / pipeline baseline",
            e2e / report["baselines"]["pipeline"]["req_per_s"],
            ">= 4",
        ),
        (
            "uncached c32 / Celery .get() baseline",
            e2e / report["baselines"]["celery"]["req_per_s"],
            ">= 3",
        ),
        (
            "c1 p50 - engine single sentence, ms",
            at[1]["p50_ms"] - engine["single_sentence_ms"],
            "<= 5",
        ),
        (
            "cached c32 / bare endpoint c32",
            cached[32]["req_per_s"] / bare[32]["req_per_s"],
            ">= 0.5",
        ),
        ("API peak RSS, MB", stack["memory"]["api_peak_rss_mb"], "< 200"),
    ]
    for what, value, need in rows:
        op, bound = need.split()
        limit = float(bound)
        met = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
        out.append((what, value, need, met))
    return out


def table(report: dict[str, Any]) -> str:
    engine = report["engine"]
    lines = [
        f"engine alone ({engine['runtime']}, {engine['shape']}, best batch "
        f"{engine['best']['batch_size']}): "
        f"{engine['best']['sentences_per_s']:.0f} sentences/s; one sentence "
        f"{engine['single_sentence_ms']:.1f} ms",
        "",
        "| scenario | conc. | req/s | p50 ms | p95 ms | p99 ms | errors | wrk CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stack = report.get("stack")
    rows = []
    if stack is not None:
        rows += [*stack["uncached"], *stack["cached"], *stack["bare"]]
        rows += [report["baselines"]["pipeline"], report["baselines"]["celery"]]
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


def write_report(report: dict[str, Any], out: Path, suffix: str) -> Path:
    """`out/bench-<UTC time><suffix>.json`, the whole report; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"bench-{stamp}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path

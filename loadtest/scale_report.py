"""What `make scale` prints and keeps: the curve's arithmetic, one table, a JSON file, a PNG.

`summarize` adds to each curve its linear ideal, the efficiency of every point and where
the curve first falls below the goal (0.9 of linear); `table` renders the report as
Markdown (docs/scaling.md's table is a copy of it); `write_report` writes
`scale-<UTC time>[-quick].json`, and `plot` the PNG beside it (matplotlib, imported only
there: it is in the `dev` extra).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.scale_plan import bend, efficiencies, ideal

GOAL = 0.9  # of linear, up to GOAL_UP_TO workers (issue 15)
GOAL_UP_TO = 8
# Keys every curve point has (the unit test checks a report against them).
POINT_KEYS = frozenset(
    {"workers", "connections", "req_per_s", "p50_ms", "p99_ms", "errors", "tasks_per_s",
     "texts_per_task", "workers_busy", "cpu_cores", "cpu_ms_per_request", "machine_busy_cores",
     "others_cores", "ideal_req_per_s", "efficiency"}
)  # fmt: skip
REPORT_KEYS = frozenset(
    {"when", "command", "cores", "cpu", "commit", "load_average", "plan", "network",
     "ceilings", "curves", "skipped", "verdicts", "seconds"}
)  # fmt: skip


def summarize(curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The curve's points with `ideal_req_per_s` and `efficiency` added, the efficiency
    at GOAL_UP_TO workers (or the largest count below it) and the first count under GOAL."""
    workers = [p["workers"] for p in curve]
    rates = [p["req_per_s"] for p in curve]
    line = ideal(workers, rates)
    shares = efficiencies(workers, rates)
    points = [
        {**p, "ideal_req_per_s": i, "efficiency": e}
        for p, i, e in zip(curve, line, shares, strict=True)
    ]
    upto = [p for p in points if p["workers"] <= GOAL_UP_TO]
    at_goal = upto[-1] if upto else None
    return {
        "points": points,
        "efficiency_at": (
            {"workers": at_goal["workers"], "efficiency": at_goal["efficiency"]}
            if at_goal
            else None
        ),
        "below_goal_from": bend(workers, shares, GOAL),
    }


def verdicts(curves: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per broker: efficiency up to 8 workers >= 0.9 of linear, met or not."""
    out = []
    for broker, curve in curves.items():
        upto = [p for p in curve["points"] if p["workers"] <= GOAL_UP_TO]
        worst = min((p["efficiency"] or 0.0 for p in upto), default=0.0)
        out.append(
            {
                "what": f"{broker}: lowest efficiency up to {GOAL_UP_TO} workers",
                "measured": worst,
                "required": f">= {GOAL}",
                "met": worst >= GOAL,
            }
        )
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    lines = [
        "| broker | workers | conn. | req/s | ideal | efficiency | p50 ms | p99 ms | "
        "texts/task | workers busy | CPU cores: API / workers / Redis / broker / others | "
        "errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for broker, curve in report["curves"].items():
        for p in curve["points"]:
            cpu = p["cpu_cores"]
            lines.append(
                f"| {broker} | {p['workers']} | {p['connections']} | {p['req_per_s']:.0f} | "
                f"{p['ideal_req_per_s']:.0f} | {_fmt(p['efficiency'], '.2f')} | "
                f"{p['p50_ms']:.0f} | {p['p99_ms']:.0f} | {_fmt(p['texts_per_task'], '.1f')} | "
                f"{_fmt(p['workers_busy'], '.2f')} | "
                f"{cpu['api']:.2f} / {cpu['workers']:.2f} / {cpu['redis']:.2f} / "
                f"{cpu['broker']:.2f} / {p['others_cores']:.2f} | {p['errors']} |"
            )
    lines += ["", *ceiling_lines(report["ceilings"])]
    for broker, reason in report["skipped"].items():
        lines.append(f"- {broker} skipped: {reason}")
    lines += ["", "| target | measured | required | met |", "|---|---:|---|---|"]
    for v in report["verdicts"]:
        lines.append(
            f"| {v['what']} | {v['measured']:.2f} | {v['required']} | "
            f"{'yes' if v['met'] else 'NO'} |"
        )
    return "\n".join(lines)


def ceiling_lines(ceilings: dict[str, Any]) -> list[str]:
    lines = []
    gateway = ceilings.get("gateway")
    if gateway:
        for label in ("batched", "one_task_per_request"):
            row = gateway[label]
            lines.append(
                f"- one gateway process ({label.replace('_', ' ')}): {row['req_per_s']:.0f} "
                f"req/s measured, {_fmt(row['texts_per_task'], '.1f')} texts per task; API "
                f"{row['cpu_ms_per_request']['api']:.2f} ms CPU per request, "
                f"{_fmt(row['api_ms_per_task'], '.2f')} per task, "
                f"{row['cpu_cores']['api']:.2f} cores -> one core: "
                f"{_fmt(row['one_core_req_per_s'], '.0f')} req/s"
            )
        split = gateway.get("per_request_and_task_ms")
        if split:
            lines.append(
                f"- gateway CPU = {split['ms_per_request']:.2f} ms per request + "
                f"{split['ms_per_task']:.2f} ms per task"
            )
    for name, row in ceilings.get("broker", {}).items():
        lines.append(
            f"- broker {name} alone: {row['messages_per_s']:.0f} tasks/s measured (clients "
            f"bound); server {row['server_ms_per_message']:.3f} ms CPU per task -> one core: "
            f"{_fmt(row['one_core_messages_per_s'], '.0f')} tasks/s"
        )
    backend = ceilings.get("result_backend")
    if backend:
        lines.append(
            f"- result backend (Redis) alone: {backend['results_per_s']:.0f} results/s, "
            f"{backend['commands_per_s']:.0f} commands/s measured; "
            f"{backend['commands_per_result']:.1f} commands and "
            f"{backend['server_us_per_command']:.1f} us CPU each -> one core: "
            f"{_fmt(backend['one_core_results_per_s'], '.0f')} results/s"
        )
    return lines


def write_report(report: dict[str, Any], out: Path, suffix: str) -> Path:
    """`out/scale-<UTC time><suffix>.json`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"scale-{stamp}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def plot(report: dict[str, Any], path: Path) -> Path:
    """Throughput against workers for each broker, beside the linear ideal (log-log, so
    that linear is a straight line), and below it each point's efficiency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (axes, shares) = plt.subplots(
        2, 1, figsize=(7, 6.5), dpi=110, sharex=True, height_ratios=(3, 1.4)
    )
    markers = {"redis": "o", "rabbitmq": "s"}
    for broker, curve in report["curves"].items():
        points = curve["points"]
        workers = [p["workers"] for p in points]
        (measured,) = axes.plot(
            workers,
            [p["req_per_s"] for p in points],
            marker=markers.get(broker, "^"),
            label=f"{broker} broker, measured",
        )
        axes.plot(
            workers,
            [p["ideal_req_per_s"] for p in points],
            linestyle="--",
            linewidth=1,
            color=measured.get_color(),
            label=f"{broker}: linear ideal (n x 1 worker)",
        )
        shares.plot(
            workers,
            [p["efficiency"] for p in points],
            marker=markers.get(broker, "^"),
            color=measured.get_color(),
            label=broker,
        )
    gateway = report["ceilings"].get("gateway")
    if gateway and gateway["batched"]["one_core_req_per_s"]:
        axes.axhline(
            gateway["batched"]["one_core_req_per_s"],
            color="grey",
            linewidth=1,
            linestyle=":",
            label="one gateway process, CPU-bound ceiling",
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    counts = report["plan"]["worker_counts"]
    shares.set_xticks(counts, [str(n) for n in counts])
    axes.set_ylabel("requests/s (one text each, uncached)")
    plan = report["plan"]
    axes.set_title(
        f"make scale: stand-in {plan['pass_ms']:g} ms/pass + {plan['text_ms']:g} ms/text, "
        f"{report['cores']} cores shared",
        fontsize=10,
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    shares.axhline(GOAL, color="grey", linewidth=1, linestyle=":", label=f"goal {GOAL:g}")
    shares.set_ylim(0.5, 1.1)
    shares.set_ylabel("of linear")
    shares.set_xlabel("stand-in workers (each in its own network namespace)")
    shares.grid(True, alpha=0.3)
    shares.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path

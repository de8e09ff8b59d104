"""`make scale`: throughput and p99 of 1 to 16 workers, each its own "machine"; the ceilings.

    python -m loadtest.scale [--quick] [--brokers redis,rabbitmq] [--workers 1,2,4,8,16]
                             [--no-plot] [--out DIR]

Everything runs on this machine; load goes to 127.0.0.1 and to network namespaces this
command makes and removes, and every step is bounded by its duration. Steps:

1. a bridge with 16 network namespaces (dev/spectrum_dev/netns.py `NetnsLan`; root and iproute2;
   tc netem delay on every link where the kernel has netem), a private Redis listening
   on loopback and on the bridge, and, where `rabbitmq-server` is installed, a private
   RabbitMQ node likewise (the machine's own on 5672 listens on loopback only, and its
   guest user may log in from there only; it also serves other tests);
2. the ceilings (loadtest/scale_curve.py, loadtest/scale_probes.py): one gateway
   process against zero-cost stand-ins, batched and with one task per request; each
   broker alone (publish + deliver + ack); the result backend alone (Celery's store);
3. the curve, per broker: one gateway, stand-in workers (worker/runtimes/fixed.py)
   added 1, 2, 4, 8, 16, worker i in namespace i; a closed loop of unique texts at 64
   connections per worker (loadtest/scale_plan.py).

It prints one table and writes everything as JSON (loadtest/results/scale-<time>.json)
with a PNG of throughput against workers beside the linear ideal
(loadtest/scale_report.py). Machine load (load average, CPU of other processes during
each level) is in the file: on a shared machine, read the curve with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from loadtest.procstats import load_average
from loadtest.progress import say as progress
from loadtest.scale_curve import Servers, measure_curve, measure_gateway_ceiling
from loadtest.scale_plan import ScalePlan
from loadtest.scale_probes import measure_backend, measure_broker
from loadtest.scale_report import plot, summarize, table, verdicts, write_report
from spectrum_dev import rabbitmq_node
from spectrum_dev.harness import ROOT
from spectrum_dev.netns import NetnsLan, NetnsUnavailable
from spectrum_dev.private_redis import PrivateRedis


def say(message: str) -> None:
    progress(message, tag="scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 2 workers, Redis: seconds")
    parser.add_argument("--brokers", default=None, help="comma-separated: redis,rabbitmq")
    parser.add_argument("--workers", default=None, help="worker counts, e.g. 1,2,4,8,16")
    parser.add_argument("--no-plot", action="store_true", help="no PNG (no matplotlib needed)")
    parser.add_argument("--out", type=Path, default=ROOT / "loadtest" / "results")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed: apt-get install wrk")
        return 2
    # A SIGTERM (a timeout, a stop) unwinds like Ctrl-C: the namespaces, the bridge, the
    # servers and every process this run started are removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = ScalePlan.quick() if args.quick else ScalePlan()
    if args.brokers:
        plan = ScalePlan(**{**asdict(plan), "brokers": tuple(args.brokers.split(","))})
    if args.workers:
        counts = tuple(int(n) for n in args.workers.split(","))
        plan = ScalePlan(**{**asdict(plan), "worker_counts": counts})
    started = time.monotonic()
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            ["python -m loadtest.scale", *(argv if argv is not None else sys.argv[1:])]
        ),
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "commit": source_commit(),
        "load_average": {"before": load_average()},
        "plan": asdict(plan),
        "ceilings": {"broker": {}},
        "curves": {},
        "skipped": {},
    }
    with tempfile.TemporaryDirectory(prefix="spectrum-scale-") as tmp, ExitStack() as cleanup:
        workdir = Path(tmp)
        lan: NetnsLan | None = None
        try:
            lan = NetnsLan(max(plan.worker_counts), plan.delay_ms)
            cleanup.callback(lan.remove)
            lan.create()
            report["network"] = {
                "namespaces": lan.count,
                "delay_ms_each_way": lan.delay_ms,
                "no_delay_reason": lan.no_delay_reason or None,
            }
            say(
                f"{lan.count} namespaces on bridge {lan.bridge} ({lan.host_address}); delay "
                f"{lan.delay_ms:g} ms each way" + (f" ({lan.no_delay_reason})" * bool(
                    lan.no_delay_reason))
            )  # fmt: skip
        except NetnsUnavailable as exc:
            lan = None
            reason = str(exc)
            report["network"] = {"namespaces": 0, "delay_ms_each_way": 0, "no_delay_reason": reason}
            say(f"no network namespaces ({exc}): every worker on loopback")
        extra = (lan.host_address,) if lan else ()
        server = PrivateRedis(workdir / "redis", extra_bind=extra).start()
        cleanup.callback(server.stop)
        client = redis.Redis.from_url(server.url)
        redis_pid = int(client.info("server")["process_id"])
        client.close()
        servers = Servers(
            redis_url=server.url,
            redis_pid=redis_pid,
            lan_host=lan.host_address if lan else None,
            prefixes=[lan.prefix(i) for i in range(lan.count)] if lan else [()] * 64,
        )
        brokers: dict[str, tuple[str, int]] = {}
        if "redis" in plan.brokers:
            brokers["redis"] = (server.url, redis_pid)
        if "rabbitmq" in plan.brokers:
            if rabbitmq_node.available():
                node = rabbitmq_node.PrivateRabbitMQ(workdir / "rabbitmq", extra_bind=extra)
                cleanup.callback(node.stop)
                node.start()
                brokers["rabbitmq"] = (node.url, node.vm_pid())
                say(f"private RabbitMQ node on port {node.port}")
            else:
                reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
                report["skipped"]["rabbitmq"] = reason
                say(f"RabbitMQ skipped: {reason}")

        say("ceiling: one gateway against zero-cost stand-ins")
        report["ceilings"]["gateway"] = measure_gateway_ceiling(plan, servers, workdir, say)
        for name, (url, pid) in brokers.items():
            row = measure_broker(name, url, server.url, pid, plan.probe_messages, workdir)
            report["ceilings"]["broker"][name] = row
            say(
                f"ceiling: broker {name} alone {row['messages_per_s']:.0f} tasks/s, "
                f"{row['server_ms_per_message']:.3f} ms server CPU per task"
            )
        backend = measure_backend(server.url, redis_pid, plan.probe_results)
        report["ceilings"]["result_backend"] = backend
        say(
            f"ceiling: result backend {backend['results_per_s']:.0f} results/s, "
            f"{backend['commands_per_result']:.1f} commands each"
        )
        for name, (url, pid) in brokers.items():
            broker_pid = None if name == "redis" else pid  # Redis is counted as Redis
            curve = measure_curve(name, url, broker_pid, plan, servers, workdir, say)
            report["curves"][name] = summarize(curve)
    report["load_average"]["after"] = load_average()
    report["verdicts"] = verdicts(report["curves"])
    report["seconds"] = round(time.monotonic() - started, 1)
    path = write_report(report, args.out, "-quick" if args.quick else "")
    print(table(report))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\n{report['seconds']:.0f} s; written to {shown}")
    if not args.no_plot:
        png = plot(report, path.with_suffix(".png"))
        print(f"plot: {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    return 0


def source_commit() -> str:
    """The checkout's commit, `+dirty` with uncommitted changes: what code was measured."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = subprocess.run(
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())

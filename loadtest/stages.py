"""Where a one-text request's time goes, stage by stage, from its exported spans.

    python -m loadtest.stages [--seconds 5] [--concurrency 1 32] [--workers 1] [--spans-out F]

Starts an OTLP/HTTP receiver (dev/spectrum_dev/otlp.py) and the stack as `make run`
does (loadtest/local_stack.py: the shipped model on a private Redis, so every text is a
cache miss) with SPECTRUM_TRACING on; at each concurrency sends one-text `POST
/v1/predict` requests in a closed loop for `--seconds`, then prints the median ms of
each stage per request (`make stages` runs it; `make bench` could run it after its
levels the same way). `--spans-out` keeps the spans as JSON lines for
`python -m loadtest.waterfall`.

The stages of one request are disjoint and add up to its server span (`total`):
`validate`, `cache read`, `batch wait` (its own spans); `publish` and, in the worker,
`queue wait`, `delivery guard`, `runtime pass`, `cache write`, `result store` (the spans
of the batch that carried its text, found through the batch's parent or its links);
`result back` (the result stored until the gateway's wait ends; `result store` counts
only up to that end, as Celery publishes the result inside its store and signals the
store's end later); `other` (the rest: routing, middlewares, encoding the answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx

from loadtest.local_stack import local_stack
from spectrum_dev.otlp import SpanRecord, receiver, save

STAGES = (
    "validate",
    "cache read",
    "batch wait",
    "publish",
    "queue wait",
    "delivery guard",
    "runtime pass",
    "cache write",
    "result store",
    "result back",
    "other",
    "total",
)
OWN = ("validate", "cache read", "batch wait")
WORKER = ("queue wait", "delivery guard", "runtime pass", "cache write", "result store")
TASK = "spectrum.predict"


def request_stages(spans: Iterable[SpanRecord]) -> list[dict[str, float]]:
    """Each request's ms per stage, for the requests whose text went to a worker.

    A request is a server span with a `validate` child; requests answered from the
    cache (no batch) are left out: their stages are not the hop's.
    """
    spans = list(spans)
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        children[span.parent_id].append(span)
    batch_of: dict[str, SpanRecord] = {}
    for span in spans:
        if span.name == "batch":
            for member in {span.parent_id, *span.links}:
                batch_of.setdefault(member, span)
    measured = []
    for root in spans:
        own = children[root.span_id]
        if not any(child.name == "validate" for child in own) or root.span_id not in batch_of:
            continue
        stages = dict.fromkeys(STAGES, 0.0)
        for child in own:
            if child.name in OWN:
                stages[child.name] += child.ms
        batch = batch_of[root.span_id]
        under_batch = {child.name: child for child in children[batch.span_id]}
        publish, waited = under_batch.get("publish"), under_batch.get("wait for result")
        if publish is not None:
            stages["publish"] = publish.ms
            tasks = [c for c in children[publish.span_id] if c.name == TASK]
            worker = {c.name: c for c in children[tasks[0].span_id]} if tasks else {}
            for name in WORKER:
                if name in worker:
                    stages[name] = worker[name].ms
            stored = worker.get("result store")
            if stored is not None and waited is not None:
                # Celery publishes the result inside its store and signals the end only
                # after more bookkeeping: the gateway may have it before the span ends.
                stages["result store"] = (
                    max(min(stored.end_ns, waited.end_ns) - stored.start_ns, 0) / 1e6
                )
                stages["result back"] = max(waited.end_ns - stored.end_ns, 0) / 1e6
        stages["total"] = root.ms
        stages["other"] = root.ms - sum(stages[name] for name in STAGES[:-2])
        measured.append(stages)
    return measured


def medians(measured: Sequence[dict[str, float]]) -> dict[str, float]:
    """The median ms of each stage over the requests (nothing measured: empty)."""
    if not measured:
        return {}
    return {stage: statistics.median(r[stage] for r in measured) for stage in STAGES}


def table(levels: dict[int, Sequence[dict[str, float]]]) -> str:
    """The per-stage table: one column per concurrency, median ms, and the request count."""
    columns = {c: medians(measured) for c, measured in levels.items()}
    header = f"{'stage (median ms)':<20}" + "".join(f"{f'c{c}':>10}" for c in columns)
    lines = [header, "-" * len(header)]
    for stage in STAGES:
        cells = "".join(
            f"{columns[c][stage]:>10.2f}" if columns[c] else f"{'-':>10}" for c in columns
        )
        lines.append(f"{stage:<20}{cells}")
    lines.append(f"{'requests':<20}" + "".join(f"{len(levels[c]):>10}" for c in columns))
    return "\n".join(lines)


async def closed_loop(url: str, concurrency: int, seconds: float) -> int:
    """`concurrency` callers, each sending its next one-text request when the last answers."""
    run = uuid.uuid4().hex[:8]
    sent = 0
    until = time.monotonic() + seconds

    async def caller(index: int, client: httpx.AsyncClient) -> None:
        nonlocal sent
        n = 0
        while time.monotonic() < until:
            body = {"text": f"a film worth seeing, take {run}-{index}-{n}"}
            answer = await client.post(f"{url}/v1/predict", json=body)
            answer.raise_for_status()
            n += 1
            sent += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(caller(i, client) for i in range(concurrency)))
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--spans-out", type=Path, help="keep the spans (JSON lines)")
    args = parser.parse_args(argv)

    levels: dict[int, list[dict[str, float]]] = {}
    kept: list[SpanRecord] = []
    with receiver() as received, tempfile.TemporaryDirectory(prefix="stages-") as workdir:
        # The standard variables, inherited by the stack's processes (spectrum_dev's child_env).
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = received.endpoint
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"
        # Large enough that c32 drops no span between two exports.
        os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536"
        with local_stack(Path(workdir), args.workers, tracing="true") as stack:
            asyncio.run(closed_loop(stack.url, 1, 1.0))  # warm: first passes, connections
            for concurrency in args.concurrency:
                time.sleep(0.5)
                received.clear()
                sent = asyncio.run(closed_loop(stack.url, concurrency, args.seconds))
                time.sleep(1.0)  # the last export
                spans = received.spans()
                kept += spans
                levels[concurrency] = request_stages(spans)
                print(f"c{concurrency}: {sent} requests, {len(spans)} spans", file=sys.stderr)
    print(table(levels))
    if args.spans_out is not None:
        save(kept, args.spans_out)
        print(f"spans: {args.spans_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

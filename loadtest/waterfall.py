"""Draw one traced request as a waterfall, from exported spans (JSON lines).

    python -m loadtest.waterfall SPANS [--trace ID] [--out docs/results/tracing/waterfall.png]

SPANS is what `python -m loadtest.stages --spans-out SPANS` kept. Without `--trace`, the
request drawn is the complete one (its own batch, the worker's spans) whose total is
the median of the complete ones: a typical request, not the fastest or the slowest.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from spectrum_dev.otlp import SpanRecord, load

OUT = Path("docs/results/tracing/waterfall.png")
COLORS = {"spectrum-api": "#3b6ea8", "spectrum-worker": "#d9822b"}


class Row(NamedTuple):
    depth: int
    name: str
    service: str
    start_ms: float  # from the start of the trace's root
    ms: float


def complete_traces(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    """The traces that hold a request's root and the worker's task: a whole hop each."""
    traces: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return {
        trace_id: members
        for trace_id, members in traces.items()
        if any(s.name == "spectrum.predict" for s in members)
        and any(s.name == "validate" for s in members)
    }


def typical(traces: dict[str, list[SpanRecord]]) -> str:
    """The trace whose root lasted the median time."""
    totals = sorted((root_of(spans).ms, trace_id) for trace_id, spans in traces.items())
    return totals[len(totals) // 2][1]


def root_of(spans: list[SpanRecord]) -> SpanRecord:
    ids = {span.span_id for span in spans}
    return min((s for s in spans if s.parent_id not in ids), key=lambda s: s.start_ns)


def rows(spans: list[SpanRecord]) -> list[Row]:
    """The trace's spans depth first, children by start time, times relative to its root."""
    root = root_of(spans)
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        children[span.parent_id].append(span)
    drawn: list[Row] = []

    def visit(span: SpanRecord, depth: int) -> None:
        start = (span.start_ns - root.start_ns) / 1e6
        drawn.append(Row(depth, span.name, span.service, start, span.ms))
        for child in sorted(children[span.span_id], key=lambda s: s.start_ns):
            visit(child, depth + 1)

    visit(root, 0)
    return drawn


def draw(drawn: list[Row], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(10, 0.32 * len(drawn) + 1.2))
    for y, row in enumerate(drawn):
        ax.barh(y, max(row.ms, 0.02), left=row.start_ms, color=COLORS.get(row.service, "grey"))
        ax.text(row.start_ms + row.ms, y, f" {row.ms:.2f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(drawn)), ["  " * r.depth + r.name for r in drawn], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the request arrived")
    ax.set_title("One POST /v1/predict, one text, traced across gateway and worker")
    ax.legend(handles=[Patch(color=c, label=s) for s, c in COLORS.items()], loc="lower left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spans", type=Path)
    parser.add_argument("--trace", help="the trace id to draw (hex)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    traces = complete_traces(load(args.spans))
    if not traces:
        print("no complete request trace in these spans", file=sys.stderr)
        return 1
    trace_id = args.trace or typical(traces)
    drawn = rows(traces[trace_id])
    draw(drawn, args.out)
    print(f"{args.out}: trace {trace_id}, {len(drawn)} spans, {drawn[0].ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

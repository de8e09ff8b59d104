"""What one `make scale` run measures, and the arithmetic of its curve (pure: no I/O).

A curve is end-to-end throughput at each worker count of `worker_counts`. Workers are
added, never restarted, between levels: `additions()` says how many join before each.
The offered load is a closed loop of `connections(n)` connections, enough to keep each
of n workers busy with a full task, one prefetched behind it and one gathering at the
gateway, and one more in the broker queue as slack (`connections_per_worker` = 4 x the
gateway's 16-text batches): with 3, workers of the 16-worker level sat idle 21% of the
time on a busy machine, waiting for work.

Efficiency at n workers is throughput(n) / (n x throughput(1)): 1.0 is linear. The
ideal of the plot is that line, n x throughput(1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The gateway's default SPECTRUM_BATCH_MAX_TEXTS: a saturated worker gets tasks this big.
GATEWAY_BATCH = 16


@dataclass(frozen=True)
class ScalePlan:
    """Durations and sizes of one run; `quick()` is the smoke version a test runs.
    Durations are whole seconds: wrk takes no fractions."""

    worker_counts: tuple[int, ...] = (1, 2, 4, 8, 16)
    brokers: tuple[str, ...] = ("redis", "rabbitmq")
    warm_s: float = 2.0
    level_s: float = 10.0
    connections_per_worker: int = 4 * GATEWAY_BATCH
    # The stand-in's cost (worker/runtimes/fixed.py); docs/scaling.md, "Scaling curve", says why.
    pass_ms: float = 5.0
    text_ms: float = 25.0
    delay_ms: float = 0.5  # each way, on every worker's link (tc netem)
    # Ceilings: the gateway against instant stand-ins, the brokers and the result
    # backend alone.
    ceiling_workers: int = 4
    ceiling_connections: int = 256
    ceiling_s: float = 6.0
    probe_messages: int = 8000
    probe_results: int = 8000

    @classmethod
    def quick(cls) -> ScalePlan:
        return cls(
            worker_counts=(1, 2),
            brokers=("redis",),
            warm_s=1.0,
            level_s=2.0,
            ceiling_workers=2,
            ceiling_connections=64,
            ceiling_s=2.0,
            probe_messages=500,
            probe_results=500,
        )

    def __post_init__(self) -> None:
        counts = self.worker_counts
        if not counts or counts[0] < 1 or list(counts) != sorted(set(counts)):
            raise ValueError("worker_counts must be increasing and start at 1 or more")

    def additions(self) -> list[tuple[int, int]]:
        """(workers to add, workers then running) before each level."""
        steps, running = [], 0
        for count in self.worker_counts:
            steps.append((count - running, count))
            running = count
        return steps

    def level_seconds(self, workers: int) -> float:
        """How long a level is measured: twice `level_s` for 1 and 2 workers, whose few
        tasks (a worker finishes 16 requests at once, ~2.5 times a second) would
        otherwise make the first point, on which the ideal rests, the noisiest."""
        return 2 * self.level_s if workers <= 2 else self.level_s

    def connections(self, workers: int) -> int:
        return self.connections_per_worker * workers

    def worker_rate(self, batch: int = GATEWAY_BATCH) -> float:
        """Texts/s one stand-in worker computes with tasks of `batch` texts: its ceiling."""
        seconds = (self.pass_ms + batch * self.text_ms) / 1000
        return math.inf if seconds == 0 else batch / seconds

    def bodies_for(self, workers: int, ceiling_per_s: float = math.inf) -> int:
        """Unique texts enough for a level at the workers' ceiling (or `ceiling_per_s`,
        whichever is lower), twice over: a body sent twice could be a cache hit."""
        rate = min(workers * self.worker_rate(), ceiling_per_s)
        return max(500, math.ceil(2 * rate * (self.warm_s + self.level_seconds(workers))))


def efficiencies(workers: Sequence[int], throughput: Sequence[float]) -> list[float | None]:
    """throughput(n) / (n x per-worker throughput of the first point), point by point;
    None throughout when the first point served nothing."""
    if len(workers) != len(throughput):
        raise ValueError("one throughput per worker count")
    if not workers or throughput[0] <= 0:
        return [None] * len(workers)
    per_worker = throughput[0] / workers[0]
    return [rate / (count * per_worker) for count, rate in zip(workers, throughput, strict=True)]


def ideal(workers: Sequence[int], throughput: Sequence[float]) -> list[float]:
    """The linear ideal through the first point: n x its per-worker throughput."""
    if not workers:
        return []
    per_worker = throughput[0] / workers[0]
    return [count * per_worker for count in workers]


def bend(workers: Sequence[int], efficiency: Sequence[float | None], floor: float) -> int | None:
    """The first worker count whose efficiency is below `floor`, or None."""
    for count, value in zip(workers, efficiency, strict=True):
        if value is not None and value < floor:
            return count
    return None

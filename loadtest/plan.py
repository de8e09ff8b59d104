"""What one `make bench` run measures: durations, sizes and the texts of every step."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.text_mix import SEED, text_mix

CONCURRENCY = (1, 8, 32, 128)
# The baselines' levels: issue 17's side-by-side table (c128 would only queue longer).
BASELINE_CONCURRENCY = (1, 8, 32)


@dataclass
class Plan:
    """Durations and sizes of one run; --quick shrinks them to finish in about 3 minutes.

    What the baselines cost: 3 systems x 3 levels x `baseline_s` of load (27 s quick,
    2 min 15 s full), plus per system `baseline_warm_s` of warm-up load and its start
    (about 5 s for the pipeline, 10 s for Celery, 15 s for Ray Serve) and, once per
    machine, Ray's install into its own venv (about 1 minute with a reachable
    registry; loadtest/ray_env.py).
    """

    uncached_s: float = 15.0
    cached_s: float = 8.0
    baseline_s: float = 15.0
    baseline_warm_s: float = 3.0  # per baseline, at 8 connections, before its levels (whole s)
    engine_texts: int = 1024
    engine_passes: int = 3
    engine_batch_sizes: str = "8,16,32,64"
    engine_singles: int = 100
    texts_per_level: dict[int, int] = field(
        default_factory=lambda: {1: 2000, 8: 8000, 32: 10000, 128: 10000}
    )
    bulk_sync_s: float = 15.0
    bulk_job_texts: int = 20_000
    mixed_concurrency: int = 32
    mixed_texts: int = 8000  # unique texts of the mixed level: more than it answers (no wraps)

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            uncached_s=5.0,
            cached_s=2.0,
            baseline_s=3.0,
            baseline_warm_s=2.0,
            engine_texts=384,
            engine_passes=1,
            engine_batch_sizes="16,64",
            engine_singles=30,
            texts_per_level={1: 600, 8: 3000, 32: 3500, 128: 3500},
            bulk_sync_s=5.0,
            bulk_job_texts=2000,
            mixed_texts=3000,
        )

    def texts(self) -> dict[str, list[str]]:
        """Disjoint sets of unique texts, one per step, the same for every run of this plan."""
        sizes = {"warm": 300, "cached": 2000, "engine": self.engine_texts, "baseline": 3000}
        sizes |= {f"c{level}": n for level, n in self.texts_per_level.items()}
        # Sync load at c4 is ~100 req/s at most here: 200 per second of load leaves room.
        bulk_sync = 200 + int(200 * self.bulk_sync_s)
        sizes |= {"bulk_job": self.bulk_job_texts}
        sizes |= {"bulk_alone": bulk_sync, "bulk_during": bulk_sync}
        # Last, so that adding it left every earlier set as it was (same seed, same prefix).
        sizes |= {"mixed": self.mixed_texts}
        remaining = text_mix(sum(sizes.values()), seed=SEED)
        mix: dict[str, list[str]] = {}
        for name, size in sizes.items():
            mix[name], remaining = remaining[:size], remaining[size:]
        return mix

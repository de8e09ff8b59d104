"""Step 1 of `make bench`: the engine alone (loadtest/engine.py) in child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtest.plan import Plan
from loadtest.progress import say
from spectrum_dev.harness import ROOT, child_env


def measure_engine(plan: Plan, workdir: Path, texts: list[str], workers: int) -> dict[str, Any]:
    """The engine's best on this machine: one process using every core, and (when the
    stack runs several workers) that many processes at once, one share of cores each."""
    path = workdir / "engine-texts.json"
    path.write_text(json.dumps(texts))
    argv = [sys.executable, "-m", "loadtest.engine", str(path), "--passes", str(plan.engine_passes)]
    argv += ["--batch-sizes", plan.engine_batch_sizes, "--singles", str(plan.engine_singles)]

    def launch(processes: int) -> list[dict[str, Any]]:
        env = child_env({"worker_processes": processes})
        children = [
            subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        outputs = [child.communicate()[0] for child in children]
        if any(child.returncode for child in children):
            raise RuntimeError("the engine benchmark failed")
        return [json.loads(out.strip().splitlines()[-1]) for out in outputs]

    [alone] = launch(1)
    shapes = {"1 process": alone}
    if workers > 1:
        parallel = launch(workers)
        merged = dict(parallel[0])
        merged["grid"] = [
            {**row, "sentences_per_s": sum(p["grid"][i]["sentences_per_s"] for p in parallel)}
            for i, row in enumerate(parallel[0]["grid"])
        ]
        merged["best"] = max(merged["grid"], key=lambda row: row["sentences_per_s"])
        shapes[f"{workers} processes"] = merged
    name, result = max(shapes.items(), key=lambda item: item[1]["best"]["sentences_per_s"])
    result = {**result, "shape": name, "shapes": {k: v["best"] for k, v in shapes.items()}}
    result["single_sentence_ms"] = min(v["single_sentence_ms"] for v in shapes.values())
    best = result["best"]
    say(
        f"engine alone ({result['runtime']}, {name}): {best['sentences_per_s']:.0f} "
        f"sentences/s at batch {best['batch_size']}; one sentence "
        f"{result['single_sentence_ms']:.1f} ms"
    )
    return result

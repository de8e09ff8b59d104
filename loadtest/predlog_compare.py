"""The prediction log's cost in `make bench` runs: the log on against off.

    SPECTRUM_PREDICTION_LOG=true  python -m loadtest.bench --quick --out DIR/1-on
    SPECTRUM_PREDICTION_LOG=false python -m loadtest.bench --quick --out DIR/1-off
    ... (alternating), then: python -m loadtest.predlog_compare DIR

Prints, per run and as the mean of each mode, uncached and cached c32 throughput and
the gateway's CPU per cached request at c32, and the on/off ratio of the means.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parent / "results" / "prediction-log"


def figures(report: dict[str, Any]) -> dict[str, float]:
    stack = report["stack"]

    def at32(runs: list[dict[str, Any]]) -> float:
        return float(next(r["req_per_s"] for r in runs if r["concurrency"] == 32))

    return {
        "uncached_c32_rps": at32(stack["uncached"]),
        "cached_c32_rps": at32(stack["cached"]),
        "api_cpu_ms_cached_c32": float(stack["api_cpu_ms_per_request_c32"]["cached"]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT)
    args = parser.parse_args(argv)
    modes: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for path in sorted(args.folder.glob("*/bench-*.json")):
        mode = path.parent.name.rsplit("-", 1)[-1]
        found = figures(json.loads(path.read_text()))
        modes.setdefault(mode, []).append(found)
        print(path.parent.name, json.dumps({k: round(v, 2) for k, v in found.items()}))
    means = {
        mode: {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
        for mode, runs in modes.items()
        if runs
    }
    for mode, mean in means.items():
        print(f"mean {mode}", json.dumps({k: round(v, 2) for k, v in mean.items()}))
    if "on" in means and "off" in means:
        ratio = {k: means["on"][k] / means["off"][k] for k in means["on"]}
        print("on/off", json.dumps({k: round(v, 3) for k, v in ratio.items()}))


if __name__ == "__main__":
    main()

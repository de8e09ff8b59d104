"""The Grafana dashboard's shape: ids, layout, and the Model variable on every per-model series.

Whether each expression returns data is checked against a live Prometheus by
tests/integration/test_observability.py; this checks what needs no Prometheus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy/grafana/dashboards/spectrum.json"
# Series that carry a `model` label (the many-models contract): each must follow $model.
PER_MODEL = re.compile(
    r"\b(spectrum_model_\w+|spectrum_queue_depth|spectrum_workers_live|spectrum_worker_\w+)"
    r"(\{[^}]*\})?"
)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_panel_ids_are_unique_and_no_two_panels_overlap() -> None:
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        for x in range(box["x"], box["x"] + box["w"]):
            for y in range(box["y"], box["y"] + box["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_the_model_variable_lists_every_announced_model_with_all() -> None:
    (variable,) = dashboard()["templating"]["list"]
    assert variable["name"] == "model"
    assert variable["includeAll"] is True
    assert variable["allValue"] == ".*"  # also matches series from before the label existed
    assert "spectrum_workers_live" in variable["query"]["query"]


@pytest.mark.parametrize(("title", "expr"), targets())
def test_every_per_model_series_follows_the_model_variable(title: str, expr: str) -> None:
    for match in PER_MODEL.finditer(expr):
        assert 'model=~"$model"' in (match.group(2) or ""), f"{title}: {match.group(0)}"
    leftover = expr.replace("$__rate_interval", "").replace("$model", "")
    assert "$" not in leftover, f"{title}: an unknown variable in {expr}"


@pytest.mark.parametrize(
    ("what", "metric"),
    [
        ("throughput", "spectrum_model_predictions_total"),
        ("latency", "spectrum_model_request_duration_seconds_bucket"),
        ("queue depth", "spectrum_queue_depth"),
        ("errors", "spectrum_model_errors_total"),
    ],
)
def test_throughput_latency_queue_depth_and_errors_are_broken_down_by_model(
    what: str, metric: str
) -> None:
    by_model = [
        expr
        for _, expr in targets()
        if metric in expr and re.search(r"\bby \((model|[^)]*, model)\b", expr)
    ]
    assert by_model, f"no panel shows {what} ({metric}) by model"

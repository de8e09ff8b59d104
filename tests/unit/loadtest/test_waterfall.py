"""The waterfall's rows: depth first, children by start, times from the root's start."""

from __future__ import annotations

from loadtest.waterfall import Row, complete_traces, rows, typical
from tests.unit.loadtest.test_stages import one_batch_of_two


def test_a_complete_trace_is_drawn_depth_first_from_its_root() -> None:
    traces = complete_traces(one_batch_of_two())

    assert list(traces) == ["ta"]  # b's trace has no worker span; c's neither
    assert typical(traces) == "ta"
    drawn = rows(traces["ta"])
    assert drawn[:5] == [
        Row(0, "POST /v1/predict", "x", 0.0, 20.0),
        Row(1, "validate", "x", 0.0, 1.0),
        Row(1, "cache read", "x", 1.0, 1.0),
        Row(1, "batch wait", "x", 2.0, 2.0),
        Row(1, "batch", "x", 4.0, 15.0),
    ]
    assert [(r.depth, r.name) for r in drawn[5:8]] == [
        (2, "publish"),
        (3, "spectrum.predict"),
        (4, "queue wait"),
    ]
    assert len(drawn) == 13

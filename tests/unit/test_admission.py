"""Admission caps with an explicit clock and a fake depth reader: no broker, no sleeping."""

from __future__ import annotations

import pytest

from api.edge.admission import InFlight, LaneAdmission
from shared.errors import Overloaded


def test_in_flight_refuses_beyond_its_cap_and_frees_a_place_on_leave() -> None:
    cap = InFlight(2)
    cap.enter()
    cap.enter()
    with pytest.raises(Overloaded, match="limit of 2"):
        cap.enter()
    cap.leave()
    cap.enter()
    assert cap.current == 2


class Depths:
    def __init__(self) -> None:
        self.value = {"m.interactive": 0, "m.bulk": 0}
        self.reads = 0
        self.fail = False

    async def __call__(self) -> dict[str, int]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("broker away")
        return dict(self.value)


async def test_a_full_lane_is_refused_and_others_are_not() -> None:
    now = [0.0]
    depths = Depths()
    lanes = LaneAdmission(depths, max_depth=5, ttl_s=0.2, clock=lambda: now[0])
    depths.value["m.bulk"] = 5
    await lanes.admit("m.interactive")
    with pytest.raises(Overloaded, match=r"'m\.bulk' holds 5"):
        await lanes.admit("m.bulk")


async def test_depth_is_read_once_per_ttl() -> None:
    now = [0.0]
    depths = Depths()
    lanes = LaneAdmission(depths, max_depth=5, ttl_s=0.2, clock=lambda: now[0])
    for _ in range(10):
        await lanes.admit("m.interactive")
    assert depths.reads == 1
    depths.value["m.interactive"] = 9
    now[0] = 0.1
    await lanes.admit("m.interactive")  # still the cached depth
    now[0] = 0.25
    with pytest.raises(Overloaded):
        await lanes.admit("m.interactive")
    assert depths.reads == 2


async def test_an_unreadable_depth_admits() -> None:
    depths = Depths()
    depths.fail = True
    lanes = LaneAdmission(depths, max_depth=1, ttl_s=0.0, clock=lambda: 0.0)
    await lanes.admit("m.interactive")

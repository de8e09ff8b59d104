"""Admission caps with an explicit clock and a fake depth reader: no broker, no sleeping."""

from __future__ import annotations

from collections.abc import Sequence

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
        self.asked: list[list[str]] = []

    async def __call__(self, queues: Sequence[str]) -> dict[str, int]:
        self.reads += 1
        self.asked.append(list(queues))
        if self.fail:
            raise ConnectionError("broker away")
        return {queue: self.value.get(queue, 0) for queue in queues}


async def test_a_full_lane_is_refused_and_others_are_not() -> None:
    now = [0.0]
    depths = Depths()
    lanes = LaneAdmission(
        depths, queues=["m.interactive", "m.bulk"], max_depth=5, ttl_s=0.2, clock=lambda: now[0]
    )
    depths.value["m.bulk"] = 5
    await lanes.admit("m.interactive")
    with pytest.raises(Overloaded, match=r"'m\.bulk' holds 5"):
        await lanes.admit("m.bulk")


async def test_depth_is_read_once_per_ttl() -> None:
    now = [0.0]
    depths = Depths()
    lanes = LaneAdmission(
        depths, queues=["m.interactive", "m.bulk"], max_depth=5, ttl_s=0.2, clock=lambda: now[0]
    )
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
    lanes = LaneAdmission(
        depths, queues=["m.interactive", "m.bulk"], max_depth=1, ttl_s=0.0, clock=lambda: 0.0
    )
    await lanes.admit("m.interactive")


async def test_a_queue_not_watched_yet_is_read_at_once_and_watched_after() -> None:
    now = [0.0]
    depths = Depths()
    depths.value["other.interactive"] = 5
    lanes = LaneAdmission(
        depths, queues=["m.interactive", "m.bulk"], max_depth=5, ttl_s=10, clock=lambda: now[0]
    )
    await lanes.admit("m.interactive")
    assert depths.asked == [["m.interactive", "m.bulk"]]
    with pytest.raises(Overloaded, match=r"'other\.interactive' holds 5"):
        await lanes.admit("other.interactive")  # inside the ttl, but a new queue: read
    assert depths.asked[-1] == ["m.interactive", "m.bulk", "other.interactive"]
    await lanes.admit("m.interactive")  # another model's full lane refuses nothing here
    assert depths.reads == 2

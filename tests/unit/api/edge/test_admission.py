"""Admission caps with an explicit clock and a fake depth reader: no broker, no sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from spectrum.api.edge.admission import InFlight, LaneAdmission
from spectrum.shared.errors import Overloaded


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
    await lanes.admit("m.interactive")  # stale: served while a refresh starts
    await asyncio.sleep(0)  # the refresh runs
    with pytest.raises(Overloaded):
        await lanes.admit("m.interactive")
    assert depths.reads == 2


async def test_no_request_waits_for_a_refresh_once_a_depth_is_known() -> None:
    now = [0.0]
    release = asyncio.Event()
    reads = []

    async def slow_broker(queues: Sequence[str]) -> dict[str, int]:
        reads.append(now[0])
        if len(reads) > 1:
            await release.wait()  # a slow broker: the refresh hangs until released
        return {"m.interactive": len(reads) * 10}

    lanes = LaneAdmission(
        slow_broker, queues=["m.interactive"], max_depth=15, ttl_s=0.2, clock=lambda: now[0]
    )
    await lanes.admit("m.interactive")  # the first read is waited for: depth 10
    now[0] = 1.0
    for _ in range(5):  # stale, the refresh hangs: each is answered at once, on 10
        await asyncio.wait_for(lanes.admit("m.interactive"), timeout=1)
    await asyncio.sleep(0)
    assert len(reads) == 2  # one refresh at a time, however many requests came
    release.set()
    for _ in range(3):  # the refresh wakes, stores its answer and ends
        await asyncio.sleep(0)
    with pytest.raises(Overloaded, match="holds 20"):
        await lanes.admit("m.interactive")


async def test_a_ttl_of_zero_reads_the_depth_for_every_request() -> None:
    depths = Depths()
    lanes = LaneAdmission(depths, queues=["m.interactive"], max_depth=5, ttl_s=0, clock=lambda: 0.0)
    await lanes.admit("m.interactive")
    depths.value["m.interactive"] = 9
    with pytest.raises(Overloaded):  # no stale answer: the exact cap asked for
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

"""The micro-batcher: the pure plan with a hand-moved clock, the driver with held sends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from spectrum.api.predict.batcher import BatchPlan, MicroBatcher


def test_idle_workers_get_a_lone_request_at_once() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=0.005)

    [batch] = plan.add("a", ["x"], deadline=10.0, now=0.0)

    assert batch.texts == ["x"]
    assert plan.in_flight == 1
    assert plan.due_at() is None


def test_while_workers_are_busy_requests_gather_until_the_wait_is_over() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=0.005)
    plan.add("a", ["x"], deadline=10.0, now=0.0)

    assert plan.add("b", ["y"], deadline=11.0, now=1.000) == []
    assert plan.add("c", ["z"], deadline=12.0, now=1.002) == []
    assert plan.due_at() == pytest.approx(1.005)
    assert plan.poll(now=1.004) is None
    batch = plan.poll(now=1.005)

    assert batch is not None
    assert batch.texts == ["y", "z"]
    assert [caller for caller, _ in batch.members] == ["b", "c"]
    assert batch.deadline == 12.0
    assert plan.in_flight == 2


def test_a_returning_batch_frees_a_worker_for_the_gathered_requests() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0)
    plan.add("a", ["x"], deadline=10.0, now=0.0)
    plan.add("b", ["y"], deadline=10.0, now=0.1)

    batch = plan.finished()

    assert batch is not None
    assert batch.texts == ["y"]
    assert plan.in_flight == 1
    assert plan.finished() is None  # nothing left open
    assert plan.in_flight == 0


def test_with_two_live_workers_a_second_batch_goes_at_once_then_requests_gather() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0, slots=2)
    [first] = plan.add("a", ["x"], deadline=10.0, now=0.0)

    [second] = plan.add("b", ["y"], deadline=10.0, now=0.1)  # the other worker is free
    assert plan.add("c", ["z"], deadline=10.0, now=0.2) == []  # both busy: it gathers

    assert (first.texts, second.texts) == (["x"], ["y"])
    assert plan.in_flight == 2
    assert plan.pending == 1
    freed = plan.finished()
    assert freed is not None
    assert freed.texts == ["z"]


def test_a_plan_has_at_least_one_slot() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0, slots=0)

    assert len(plan.add("a", ["x"], deadline=10.0, now=0.0)) == 1
    assert plan.add("b", ["y"], deadline=10.0, now=0.0) == []


async def test_the_batcher_follows_the_live_workers_it_is_told_of() -> None:
    gate = asyncio.Event()
    sent: list[list[str]] = []

    async def send(texts: list[str], deadline: float, ids: list[str]) -> list[str]:
        sent.append(texts)
        await gate.wait()
        return [t.upper() for t in texts]

    batcher: MicroBatcher[str] = MicroBatcher(send, max_batch_size=8, max_wait_s=5.0)
    batcher.set_slots(2)
    first = batcher.enqueue(["a"], deadline=60.0)
    second = batcher.enqueue(["b"], deadline=60.0)
    third = batcher.enqueue(["c"], deadline=60.0)
    await asyncio.sleep(0)
    assert sent == [["a"], ["b"]]  # two workers, two batches; "c" waits for one of them
    gate.set()
    assert [await first, await second, await third] == [["A"], ["B"], ["C"]]
    assert sent == [["a"], ["b"], ["c"]]
    await batcher.close()


def test_requests_still_on_their_way_are_waited_for_even_by_an_idle_worker() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0)
    for _ in range(3):
        plan.expect()

    assert plan.add("a", ["x"], 10.0, now=0.0, expected=True) == []
    assert plan.add("b", ["y"], 10.0, now=0.0, expected=True) == []
    batch = plan.unexpect()  # the third found everything in the cache

    assert batch is not None
    assert batch.texts == ["x", "y"]
    assert plan.arriving == 0


def test_the_last_expected_request_closes_the_burst() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0)
    plan.expect()
    plan.expect()
    plan.add("a", ["x"], 10.0, now=0.0, expected=True)

    [batch] = plan.add("b", ["y"], 10.0, now=0.001, expected=True)

    assert batch.texts == ["x", "y"]


def test_the_wait_bounds_a_burst_that_keeps_coming() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=0.005)
    plan.expect()
    plan.expect()
    plan.add("a", ["x"], 10.0, now=0.0, expected=True)

    batch = plan.poll(now=0.005)

    assert batch is not None
    assert batch.texts == ["x"]


def test_a_full_batch_goes_without_waiting() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=3, max_wait_s=1.0)
    plan.add("busy", ["w"], 10.0, now=0.0)

    assert plan.add("a", ["x", "y"], 10.0, now=0.0) == []
    [batch] = plan.add("b", ["z"], 10.0, now=0.0)

    assert batch.texts == ["x", "y", "z"]


def test_a_request_that_would_overflow_closes_the_open_batch_first() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=3, max_wait_s=1.0)
    plan.add("busy", ["w"], 10.0, now=0.0)
    plan.add("a", ["x", "y"], 10.0, now=0.0)

    [first] = plan.add("b", ["p", "q"], 10.0, now=0.0)

    assert first.texts == ["x", "y"]
    assert plan.pending == 2


def test_a_request_larger_than_a_batch_travels_whole() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=2, max_wait_s=1.0)
    plan.add("busy", ["w"], 10.0, now=0.0)

    [batch] = plan.add("a", ["x", "y", "z"], 10.0, now=0.0)

    assert batch.texts == ["x", "y", "z"]


def test_a_text_several_requests_ask_for_is_sent_once() -> None:
    plan: BatchPlan[str] = BatchPlan(max_batch_size=8, max_wait_s=1.0)
    plan.add("busy", ["w"], 10.0, now=0.0)
    plan.add("a", ["x", "y"], 10.0, now=0.0, tag="req-a")
    plan.add("b", ["y", "z", "x"], 10.0, now=0.0, tag="req-b")

    batch = plan.poll(now=2.0)

    assert batch is not None
    assert batch.texts == ["x", "y", "z"]
    assert batch.members == [("a", [0, 1]), ("b", [1, 2, 0])]
    assert batch.tags == ["req-a", "req-b"]


class HeldSend:
    """A send whose batches finish only when the test says so."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release: list[asyncio.Future[Sequence[str] | Exception]] = []

    async def __call__(self, texts: list[str], deadline: float, tags: list[str]) -> Sequence[str]:
        self.batches.append(list(texts))
        gate: asyncio.Future[Sequence[str] | Exception] = asyncio.get_running_loop().create_future()
        self.release.append(gate)
        outcome = await gate
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def upper(texts: list[str]) -> list[str]:
    return [t.upper() for t in texts]


async def test_every_caller_gets_its_own_rows_in_its_own_order() -> None:
    send = HeldSend()
    batcher: MicroBatcher[str] = MicroBatcher(send, max_batch_size=8, max_wait_s=60.0)
    first = asyncio.ensure_future(batcher.submit(["w"], 100.0))
    await settle()
    second = asyncio.ensure_future(batcher.submit(["b", "a"], 100.0))
    third = asyncio.ensure_future(batcher.submit(["a", "c"], 100.0))
    await settle()
    assert send.batches == [["w"]]  # the others gather while the only worker is busy

    send.release[0].set_result(["W"])
    await settle()
    assert await first == ["W"]
    assert send.batches[1] == ["b", "a", "c"]  # the freed worker takes them together
    send.release[1].set_result(upper(send.batches[1]))

    assert await second == ["B", "A"]
    assert await third == ["A", "C"]
    assert batcher.in_flight == 0


async def test_a_failed_batch_fails_every_caller_in_it() -> None:
    send = HeldSend()
    batcher: MicroBatcher[str] = MicroBatcher(send, max_batch_size=8, max_wait_s=60.0)
    busy = asyncio.ensure_future(batcher.submit(["w"], 100.0))
    await settle()
    callers = [asyncio.ensure_future(batcher.submit([t], 100.0)) for t in "xyz"]
    await settle()
    send.release[0].set_result(["W"])
    await settle()

    send.release[1].set_result(RuntimeError("worker exploded"))
    results = await asyncio.gather(*callers, return_exceptions=True)

    assert await busy == ["W"]
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)


async def test_a_batch_answering_the_wrong_number_of_texts_fails_its_callers() -> None:
    send = HeldSend()
    batcher: MicroBatcher[str] = MicroBatcher(send, max_batch_size=8, max_wait_s=60.0)
    caller = asyncio.ensure_future(batcher.submit(["x", "y"], 100.0))
    await settle()

    send.release[0].set_result(["X"])

    with pytest.raises(RuntimeError, match="2 texts sent, 1 results back"):
        await caller


async def test_the_wait_sends_a_gathered_batch_even_while_workers_stay_busy() -> None:
    send = HeldSend()
    sizes: list[int] = []
    batcher: MicroBatcher[str] = MicroBatcher(
        send, max_batch_size=8, max_wait_s=0.0, on_batch=sizes.append
    )
    first = asyncio.ensure_future(batcher.submit(["w"], 100.0))
    await settle()
    gathered = asyncio.ensure_future(batcher.submit(["x"], 100.0))
    await settle()

    assert send.batches == [["w"], ["x"]]  # sent by the timer, the first still running
    assert sizes == [1, 1]
    send.release[1].set_result(["X"])
    assert await gathered == ["X"]
    send.release[0].set_result(["W"])
    assert await first == ["W"]
    await batcher.close()


async def test_a_caller_that_gives_up_leaves_the_batch_to_the_others() -> None:
    send = HeldSend()
    batcher: MicroBatcher[str] = MicroBatcher(send, max_batch_size=8, max_wait_s=60.0)
    busy = asyncio.ensure_future(batcher.submit(["w"], 100.0))
    await settle()
    impatient = asyncio.ensure_future(batcher.submit(["x"], 100.0))
    patient = asyncio.ensure_future(batcher.submit(["x"], 100.0))
    await settle()
    impatient.cancel()
    send.release[0].set_result(["W"])
    await settle()

    assert send.batches[1] == ["x"]
    send.release[1].set_result(["X"])
    assert await patient == ["X"]
    assert impatient.cancelled()
    assert await busy == ["W"]

"""Coalesce concurrent cache misses into one Celery task per batch.

A task's fixed cost dwarfs a short text's (docs/index.md, "How it works"), so
the gateway gathers the misses of concurrent requests and sends them together.

The rule, kept in `BatchPlan` (pure: the clock is a parameter, nothing awaits):

- A batch goes at once when a worker is free (fewer batches of this gateway in
  flight than `slots`, the live workers of the model) and no other request is on
  its way to the batcher (arrived at the gateway, still reading the cache). So a
  lone request never pays the gather window, the requests of a burst travel
  together, and at moderate load every worker has work: up to `slots` batches are
  in flight at once, not one.
- Otherwise requests gather until the batch holds `max_batch_size` texts, or
  the oldest has waited `max_wait_s`, or the condition above comes true,
  whichever is first. Under load that keeps tasks large, which is where the
  time goes: a task's fixed cost is paid once per batch, so a text costs a
  worker several times more CPU in a task of one than in a task of 32. The
  second condition of the first rule is what keeps them large: were a text sent
  to an idle worker the moment it came, tasks under load would carry a text or
  three (figures for both: docs/performance.md, "What chose the defaults").
- A text asked for by several requests is computed once. A request larger than
  `max_batch_size` is never split; it travels as one batch (the worker cuts it
  by its token budget).

`MicroBatcher` drives the plan on the event loop: it sends each batch with the
injected `send`, checks that it answered every text, hands each request its
own rows in its own order, and fails every waiting request when a batch fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from spectrum.shared import tracing
from spectrum.shared.tracing import Waiting

T = TypeVar("T")  # what a caller is known by: opaque to the plan
R = TypeVar("R")  # one text's result


@dataclass
class Batch(Generic[T]):
    """Unique texts to send together, and which caller wants which of them."""

    texts: list[str] = field(default_factory=list)
    members: list[tuple[T, list[int]]] = field(default_factory=list)  # (caller, positions)
    tags: list[str] = field(default_factory=list)  # callers' request ids, for the logs
    traces: list[Waiting] = field(default_factory=list)  # callers' spans; empty: tracing off
    deadline: float = 0.0  # the latest caller deadline: worth computing until then
    opened_at: float = 0.0
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def add(
        self,
        caller: T,
        texts: Sequence[str],
        deadline: float,
        tag: str | None,
        trace: Waiting | None = None,
    ) -> None:
        positions = []
        for text in texts:
            position = self._index.get(text)
            if position is None:
                position = self._index[text] = len(self.texts)
                self.texts.append(text)
            positions.append(position)
        self.members.append((caller, positions))
        if tag:
            self.tags.append(tag)
        if trace is not None:
            self.traces.append(trace)
        self.deadline = max(self.deadline, deadline)

    def new_texts(self, texts: Sequence[str]) -> int:
        return len({t for t in texts if t not in self._index})


class BatchPlan(Generic[T]):
    """When to send: the batching rule, with time passed in and batches passed out."""

    def __init__(self, max_batch_size: int, max_wait_s: float, slots: int = 1) -> None:
        if max_batch_size < 1 or max_wait_s < 0:
            raise ValueError("max_batch_size must be >= 1 and max_wait_s >= 0")
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.slots = max(slots, 1)  # batches that may be in flight before requests gather
        self.in_flight = 0
        self.arriving = 0  # requests announced by expect() and not yet added
        self._open: Batch[T] | None = None

    @property
    def pending(self) -> int:
        return len(self._open.texts) if self._open else 0

    def expect(self) -> None:
        """A request is on its way (it will add() or give up with unexpect())."""
        self.arriving += 1

    def unexpect(self) -> Batch[T] | None:
        """An expected request will not come (all cache hits, or an error)."""
        self.arriving -= 1
        return self._close() if self._open and self._ready(0) else None

    def add(
        self,
        caller: T,
        texts: Sequence[str],
        deadline: float,
        now: float,
        tag: str | None = None,
        *,
        expected: bool = False,
        trace: Waiting | None = None,
    ) -> list[Batch[T]]:
        """Take one caller's texts; return the batches to send now (zero, one or two)."""
        if expected:
            self.arriving -= 1
        ready = []
        if self._open and self.pending + self._open.new_texts(texts) > self.max_batch_size:
            ready.append(self._close())
        if self._open is None:
            self._open = Batch(opened_at=now)
        self._open.add(caller, texts, deadline, tag, trace)
        if self.pending >= self.max_batch_size or self._ready(len(ready)):
            ready.append(self._close())
        return ready

    def due_at(self) -> float | None:
        """When the open batch must go even if no worker frees up; None if nothing waits."""
        return self._open.opened_at + self.max_wait_s if self._open else None

    def poll(self, now: float) -> Batch[T] | None:
        """The open batch if its wait is over."""
        due = self.due_at()
        return self._close() if due is not None and now >= due else None

    def finished(self) -> Batch[T] | None:
        """A sent batch came back (answered or failed): the open one may go if it was the last."""
        self.in_flight -= 1
        return self._close() if self._open and self._ready(0) else None

    def _ready(self, about_to_send: int) -> bool:
        return self.in_flight + about_to_send < self.slots and self.arriving == 0

    def _close(self) -> Batch[T]:
        assert self._open is not None
        batch, self._open = self._open, None
        self.in_flight += 1
        return batch


# (texts, deadline, request ids) -> one result per text, in order
Send = Callable[[list[str], float, list[str]], Awaitable[Sequence[R]]]


class MicroBatcher(Generic[R]):
    """Runs a `BatchPlan` on the event loop; `submit` is what a request awaits.

    `send(texts, deadline, request_ids)` computes one batch and returns one result per text, in
    order. `on_batch(size)` sees the size of every batch sent (for metrics).
    """

    def __init__(
        self,
        send: Send[R],
        *,
        max_batch_size: int,
        max_wait_s: float,
        clock: Callable[[], float] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._send = send
        self._plan: BatchPlan[asyncio.Future[list[R]]] = BatchPlan(max_batch_size, max_wait_s)
        self._clock = clock
        self._on_batch = on_batch
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return self._plan.in_flight

    def set_slots(self, slots: int) -> None:
        """How many batches may be in flight before requests gather (the live workers)."""
        self._plan.slots = max(slots, 1)

    def expect(self) -> None:
        """Announce a request that may enqueue soon; it must then enqueue or unexpect."""
        self._plan.expect()

    def unexpect(self) -> None:
        batch = self._plan.unexpect()
        if batch is not None:
            self._launch(batch)
        self._arm_timer()

    def enqueue(
        self,
        texts: Sequence[str],
        deadline: float,
        request_id: str | None = None,
        *,
        expected: bool = False,
        trace: Waiting | None = None,
    ) -> asyncio.Future[list[R]]:
        """Add texts to the open batch now; the future gets one result per text, in order,
        or what the batch's send raised. Waiting on it (with a timeout) is the caller's.
        `trace` is the caller's `batch wait` (shared/tracing.py), ended when the batch goes."""
        caller: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        # A caller that gave up never reads its future: mark a failure as seen.
        caller.add_done_callback(_retrieve)
        plan = self._plan
        added = plan.add(
            caller, texts, deadline, self._now(), request_id, expected=expected, trace=trace
        )
        for batch in added:
            self._launch(batch)
        self._arm_timer()
        return caller

    async def submit(
        self, texts: Sequence[str], deadline: float, request_id: str | None = None
    ) -> list[R]:
        """enqueue() and wait. A caller that gives up (deadline, disconnect) does not
        cancel the batch other callers share."""
        return await asyncio.shield(self.enqueue(texts, deadline, request_id))

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self._plan.due_at()
        if due is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + max(due - self._now(), 0.0), self._on_due)

    def _on_due(self) -> None:
        self._timer = None
        batch = self._plan.poll(self._now())
        if batch is not None:
            self._launch(batch)
        self._arm_timer()

    def _launch(self, batch: Batch[asyncio.Future[list[R]]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch.texts))
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: Batch[asyncio.Future[list[R]]]) -> None:
        try:
            with tracing.batch(batch.traces, len(batch.texts)):
                results = list(await self._send(batch.texts, batch.deadline, batch.tags))
            if len(results) != len(batch.texts):
                raise RuntimeError(f"{len(batch.texts)} texts sent, {len(results)} results back")
        except Exception as exc:  # every caller must hear about it, whatever it is
            for caller, _ in batch.members:
                if not caller.done():
                    caller.set_exception(exc)
        else:
            for caller, positions in batch.members:
                if not caller.done():
                    caller.set_result([results[p] for p in positions])
        finally:
            for caller, _ in batch.members:  # cancelled (shutdown): nobody may wait forever
                if not caller.done():
                    caller.cancel()
            following = self._plan.finished()
            if following is not None:
                self._launch(following)
            self._arm_timer()

    async def close(self) -> None:
        """Wait for the batches in flight (callers still get their answers)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()

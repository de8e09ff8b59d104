"""The result waiter's core, driven by an in-memory subscriber (no network, no sleeps)."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from spectrum.api.predict.waiter import RedisSubscriber, ResultWaiter


class FakeSubscriber:
    """Records what the waiter does and stores documents like the result backend."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.stored: dict[str, str] = {}
        self.fail_subscribe: Exception | None = None

    async def subscribe(self, channel: str) -> None:
        if self.fail_subscribe is not None:
            raise self.fail_subscribe
        self.events.append(f"subscribe {channel}")

    async def unsubscribe(self, channel: str) -> None:
        self.events.append(f"unsubscribe {channel}")

    async def get(self, key: str) -> str | None:
        self.events.append(f"get {key}")
        return self.stored.get(key)


def document(status: str, result: object = None) -> str:
    return json.dumps({"status": status, "result": result, "task_id": "t"})


def channel_for(task_id: str) -> str:
    return f"celery-task-meta-{task_id}"


async def settle() -> None:
    """Let background cleanups (unsubscribe) run."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_subscribes_before_sending_and_returns_the_published_document() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)

    async def send() -> None:
        subscriber.events.append("send")
        waiter.deliver("celery-task-meta-1", document("SUCCESS", {"x": 1}))

    result = await waiter.wait("1", send, limit_s=5)
    await settle()

    assert result.status == "SUCCESS"
    assert result["result"] == {"x": 1}
    assert subscriber.events == [
        "subscribe celery-task-meta-1",
        "send",
        "unsubscribe celery-task-meta-1",
    ]
    assert waiter.pending == 0


async def test_ignores_states_that_are_not_final() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)

    async def send() -> None:
        waiter.deliver("celery-task-meta-2", document("RETRY"))
        waiter.deliver("celery-task-meta-2", "not json")
        waiter.deliver("celery-task-meta-other", document("SUCCESS", "not mine"))
        waiter.deliver("celery-task-meta-2", document("FAILURE", {"exc_type": "ValueError"}))

    result = await waiter.wait("2", send, limit_s=5)
    assert result.status == "FAILURE"
    assert result["result"] == {"exc_type": "ValueError"}


async def test_times_out_and_forgets_the_channel() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)

    async def send() -> None:
        return None

    with pytest.raises(TimeoutError):
        await waiter.wait("3", send, limit_s=0)
    await settle()
    assert waiter.pending == 0
    assert "unsubscribe celery-task-meta-3" in subscriber.events


async def test_a_send_error_reaches_the_caller_and_nothing_stays_pending() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)

    async def send() -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await waiter.wait("4", send, limit_s=5)
    assert waiter.pending == 0


async def test_a_subscribe_error_means_the_task_is_never_sent() -> None:
    subscriber = FakeSubscriber()
    subscriber.fail_subscribe = ConnectionError("backend down")
    waiter = ResultWaiter(subscriber, channel_for)
    sent = []

    async def send() -> None:
        sent.append(True)

    with pytest.raises(ConnectionError):
        await waiter.wait("5", send, limit_s=5)
    assert sent == []


async def test_recovery_reads_results_stored_while_the_connection_was_down() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)
    sent = asyncio.Event()

    async def send() -> None:
        sent.set()

    waiting = asyncio.create_task(waiter.wait("6", send, limit_s=5))
    await sent.wait()
    # The result was stored (and published to nobody) during an outage.
    subscriber.stored["celery-task-meta-6"] = document("SUCCESS", [1, 2])
    await waiter.recover()
    result = await waiting

    assert result["result"] == [1, 2]
    assert subscriber.events[-3:-1] == ["subscribe celery-task-meta-6", "get celery-task-meta-6"]


async def test_many_concurrent_waits_each_get_their_own_result() -> None:
    subscriber = FakeSubscriber()
    waiter = ResultWaiter(subscriber, channel_for)

    async def one(i: int) -> object:
        async def send() -> None:
            # Deliver in an order unrelated to the order of sending.
            asyncio.get_running_loop().call_soon(
                waiter.deliver, f"celery-task-meta-{i}", document("SUCCESS", i)
            )

        return (await waiter.wait(str(i), send, limit_s=5))["result"]

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert results == list(range(50))
    assert waiter.pending == 0


@pytest.mark.parametrize(
    "lost",
    [
        RuntimeError("unable to perform operation on <TCPTransport closed=True>"),
        AttributeError("'NoneType' object has no attribute 'writelines'"),
    ],
)
def test_a_connection_closed_under_a_command_is_a_redis_connection_error(
    lost: Exception,
) -> None:
    # The reader's reconnect can close the shared pub/sub connection under a
    # SUBSCRIBE; redis-py then lets the transport's own error through. It must reach
    # the predictor as a Redis outage (503), not as an unexpected error (500).
    async def command(channel: str) -> None:
        raise lost

    with pytest.raises(RedisConnectionError) as raised:
        asyncio.run(RedisSubscriber._command(command, "celery-task-meta-t"))
    assert raised.value.__cause__ is lost


async def test_tells_the_pending_count_each_time_it_changes_whatever_the_outcome() -> None:
    seen: list[int] = []
    waiter = ResultWaiter(FakeSubscriber(), channel_for, observe_pending=seen.append)

    async def send_then_wait_inside() -> None:
        seen.append(-1)  # the count was told before the send
        waiter.deliver("celery-task-meta-4", document("SUCCESS"))

    async def never_answered() -> None:
        pass

    await waiter.wait("4", send_then_wait_inside, limit_s=5)
    with pytest.raises(TimeoutError):
        await waiter.wait("5", never_answered, limit_s=0)

    assert seen == [1, -1, 0, 1, 0]

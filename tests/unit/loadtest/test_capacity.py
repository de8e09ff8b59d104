"""The capacity model's arithmetic: parts sized from costs per request and per task."""

from __future__ import annotations

import pytest

from loadtest.capacity import Costs, engine_per_core, instances, plan, single_instance_limits

COSTS = Costs(
    engine_texts_per_core_s=80.0,  # 12.5 ms a text
    worker_ms_per_text=0.5,
    gateway_ms_per_request=0.5,
    redis_broker_ms_per_task=0.16,
    rabbitmq_ms_per_task=0.32,
    redis_ms_per_request=0.04,
    redis_commands_per_request=4.0,
    redis_all_ms_per_request=0.05,
)


def test_each_part_is_sized_from_its_cost_at_seventy_percent() -> None:
    need = plan(COSTS, 10_000)

    assert need["tasks_per_s"] == 625
    assert need["worker_cores"] == pytest.approx(10_000 * 13.0 / 1000)  # 130 cores
    assert need["workers"] == 186  # 130 / 0.7, rounded up
    assert need["gateway_cores"] == pytest.approx(5.0)
    assert need["gateway_processes"] == 8  # 5 / 0.7 = 7.1
    assert need["redis_broker_cores"] == pytest.approx(0.1)
    assert need["redis_brokers"] == 1
    assert need["rabbitmq_queue_cores"] == pytest.approx(0.2)
    # Of 4 Redis commands a request, 2 are the cache's.
    assert need["cache_cores"] == pytest.approx(0.2)
    assert need["result_backend_cores"] == pytest.approx(0.2)
    assert plan(COSTS, 100_000)["cache_shards"] == 3  # 2 cores / 0.7


def test_single_instances_give_out_in_order_of_their_cost() -> None:
    limits = single_instance_limits(COSTS)

    assert next(iter(limits)) == "one gateway process"
    assert limits["one gateway process"] == pytest.approx(1400)
    assert limits["one Redis broker"] == pytest.approx(700 / 0.01)
    assert limits["one RabbitMQ queue"] == pytest.approx(700 / 0.02)
    assert list(limits.values()) == sorted(limits.values())


def test_instances_and_the_engine_rate_per_core() -> None:
    assert instances(0.0) == 1
    assert instances(1.4) == 2
    assert instances(1.41) == 3
    assert instances(None) is None
    engine = {
        "shape": "2 processes",
        "best": {"sentences_per_s": 180.0},
        "grid": [{"batch_size": 16, "sentences_per_s": 150.0}],
    }
    assert engine_per_core(engine) == 75.0
    assert engine_per_core({**engine, "grid": []}) == 90.0

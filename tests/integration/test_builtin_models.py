"""The built-in `toxicity` and `emotion` models, each in a real worker behind the real gateway.

Until the gateway routes by model, a gateway serves the model its SPECTRUM_MODEL_ID
names: each test points one at a worker of that model. The last test runs `make run`'s
script with SPECTRUM_MODELS naming three models, against a private Redis of its own
(the built-in names are not unique to this test), and finds one worker per model,
named `<model>-<n>` in Celery.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from spectrum.shared.registry import workers_key
from spectrum_dev.harness import Harness, child_env, wait_for
from spectrum_dev.private_redis import free_port, free_port_run
from tests.integration.stack import Stack, worker_task_total

pytest.importorskip("nrclex")


def unique(text: str) -> str:
    """A text no earlier run has cached (the suffix is no word of either model)."""
    return f"{text} {uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def served(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Stack]]:
    """A worker and a gateway for a model id, started once per module and id."""
    stacks: dict[str, Stack] = {}

    def serve(model_id: str) -> Stack:
        if model_id not in stacks:
            stack = Stack(tmp_path_factory.mktemp(model_id), redis_url, model_id=model_id)
            stacks[model_id] = stack
            stack.start_worker()
            stack.start_api()
        return stacks[model_id]

    try:
        yield serve
    finally:
        for stack in stacks.values():
            stack.stop()


def predict(stack: Stack, texts: list[str]) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.post("/v1/predict", json={"texts": texts})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_toxicity_answers_through_the_gateway_as_the_runtime_does_in_process(
    served: Callable[[str], Stack],
) -> None:
    pytest.importorskip("profanity_check")
    from spectrum.worker.runtimes.sklearn_text import load_toxicity

    stack = served("toxicity")
    texts = [unique("Thank you, that was kind of you."), unique("Shut up, you stupid idiot.")]

    body = predict(stack, texts)

    runtime, card = load_toxicity(stack.model_name)
    assert body["model"] == {"name": stack.model_name, "version": card.version}
    kind, rude = body["predictions"]
    assert (kind["label"], rude["label"]) == ("NON_TOXIC", "TOXIC")
    for prediction, expected in zip(body["predictions"], runtime.predict(texts), strict=True):
        assert list(prediction["probabilities"]) == ["NON_TOXIC", "TOXIC"]
        got = [prediction["probabilities"][label] for label in card.labels]
        assert got == pytest.approx(expected)
    # The gateway lists the model with the worker's card (beside any other model
    # announced on this Redis).
    with stack.client() as client:
        models = client.get("/v1/models").json()["models"]
    (listed,) = [model for model in models if model["name"] == stack.model_name]
    assert listed["runtime"] == "sklearn"
    assert listed["labels"] == ["NON_TOXIC", "TOXIC"]
    assert listed["live_workers"] == 1
    # Celery knows the worker as <model>-<n>: the stats come from nodes with that prefix.
    assert worker_task_total(stack) >= 1


def test_emotion_gives_every_emotion_and_neutral_through_the_gateway(
    served: Callable[[str], Stack],
) -> None:
    from spectrum.worker.runtimes.emotion import load_emotion

    stack = served("emotion")
    texts = [unique("I am afraid of the dark."), unique("The box is on the table.")]

    body = predict(stack, texts)

    runtime, card = load_emotion(stack.model_name)
    assert body["model"]["version"] == card.version
    scared, plain = body["predictions"]
    assert scared["label"] == "fear"
    assert plain["label"] == "neutral"
    assert plain["probabilities"]["neutral"] == 1.0
    for prediction, expected in zip(body["predictions"], runtime.predict(texts), strict=True):
        assert list(prediction["probabilities"]) == card.labels
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
        assert list(prediction["probabilities"].values()) == pytest.approx(expected)


def test_make_run_starts_a_worker_per_model_named_after_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("devstack-models")
    with Harness(workdir) as harness:
        url = harness.private_redis()
        metrics_port = free_port_run(3)
        env = child_env(
            {
                "broker_url": url,
                "result_backend_url": url,
                "cache_url": url,
                "model_id": "vader",
                "models": "vader,emotion,toxicity",
                "port": free_port(),
                "flower_port": free_port(),
                "worker_metrics_port": metrics_port,
                "worker_heartbeat_s": "0.5",
            }
        )
        devstack = harness.start("devstack", [sys.executable, "-m", "scripts.devstack"], env)
        wait_for(
            lambda: "[spectrum] ready" in devstack.log() or not devstack.alive(),
            120,
            "make run's stack",
        )
        assert devstack.alive(), devstack.log()[-3000:]
        client = redis.Redis.from_url(url)
        try:
            # "ready" is the gateway's model; the others' workers may still be loading.
            for name in ("vader", "emotion", "toxicity"):
                lane = workers_key(f"{name}.interactive")
                wait_for(lambda lane=lane: client.zcard(lane) > 0, 60, f"a {name} worker")
                # Exactly one worker serves each light model.
                assert client.zcard(lane) == 1, name
        finally:
            client.close()
        app = Celery(broker=url)
        expected = ["emotion-1", "toxicity-1", "vader-1"]
        answered: list[str] = []

        def all_answered() -> bool:
            # Ask again until every node answers: on a busy machine one can miss a
            # single ping's 3 s window.
            nodes = (app.control.inspect(timeout=3).ping() or {}).keys()
            answered[:] = sorted(node.split("@")[0] for node in nodes)
            return answered == expected

        try:
            wait_for(all_answered, 30, "a ping answer from every worker")
        except TimeoutError:
            pass  # the assertion below shows who answered
        finally:
            app.close()
        assert answered == expected
        for name in ("vader", "emotion", "toxicity"):
            assert f"serving {name} as {name}: 1 " in devstack.log()

"""The images `make images` builds, run as separate hosts would run them.

A Redis container, the API container and three worker containers of the shipped
model, each in its own network namespace on one podman bridge network; a few hundred
requests with unique texts (no cache hits) through the API container's published
port; then every worker container must have taken tasks, by the totals each worker
keeps in the registry (spectrum:worker-stats, members "<hostname>:<pid>"). Also: the
images' HEALTHCHECKs pass, the worker image carries no torch or transformers, and a
lexicon-only worker (SPECTRUM_MODEL_ID=vader) serves from the same worker image.

Needs podman and the images (`make images`); `make containers` runs it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from spectrum.shared.registry import STATS_KEY, workers_key
from spectrum_dev.containers import IMAGES, Pod, missing_images, podman, wait_for

WORKERS = 3
REQUESTS = 300
CONCURRENCY = 12
# More rounds only if a worker has not taken a task yet (three at most): the Redis
# transport hands each task to whichever worker polls first.
MAX_ROUNDS = 3

_missing = missing_images()
pytestmark = [
    pytest.mark.containers,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        bool(_missing) and os.environ.get("CI") != "true",
        reason=f"needs podman and `make images` (missing: {', '.join(_missing)})",
    ),
]


def stack_env(redis_host: str, **extra: str) -> dict[str, str]:
    """Settings every container of the stack gets; Redis by its name on the network."""
    url = f"redis://{redis_host}:6379/0"
    return {
        "SPECTRUM_BROKER_URL": url,
        "SPECTRUM_RESULT_BACKEND_URL": url,
        "SPECTRUM_CACHE_URL": url,
        "SPECTRUM_LOG_JSON": "true",
        "SPECTRUM_WORKER_HEARTBEAT_S": "0.5",
        # Three one-thread workers share two cores; each takes both lanes.
        "SPECTRUM_RUNTIME_THREADS": "1",
        "SPECTRUM_WORKER_BULK_NICE": "0",
        **extra,
    }


def worker_tasks(store: redis.Redis, hostnames: list[str]) -> dict[str, int]:
    """Tasks each worker container has run, by its hostname (0 when none reported)."""
    totals = dict.fromkeys(hostnames, 0)
    for member, raw in store.hgetall(STATS_KEY).items():
        host = member.decode().rsplit(":", 1)[0]
        if host in totals:
            totals[host] += int(json.loads(raw)["tasks"])
    return totals


def predict_all(base_url: str, texts: list[str]) -> list[httpx.Response]:
    with (
        httpx.Client(base_url=base_url, timeout=60) as client,
        ThreadPoolExecutor(CONCURRENCY) as pool,
    ):
        return list(pool.map(lambda text: client.post("/v1/predict", json={"text": text}), texts))


def test_three_worker_containers_share_the_traffic(pod: Pod) -> None:
    store_name = pod.run("redis", IMAGES["redis"], {}, publish="6379")
    store = redis.Redis(port=pod.host_port(store_name, "6379"), socket_timeout=5)
    wait_for("redis container", lambda: _pings(store), 60)

    env = stack_env(store_name)
    started = time.monotonic()
    workers = [pod.run(f"worker{i}", IMAGES["worker"], env) for i in range(WORKERS)]
    api = pod.run("api", IMAGES["api"], env, publish="8000")
    hostnames = [pod.hostname(name) for name in workers]
    queue = workers_key("sentiment-minilm.interactive")

    def all_registered() -> bool:
        members = {m.decode().rsplit(":", 1)[0] for m in store.zrange(queue, 0, -1)}
        return set(hostnames) <= members

    wait_for("three workers in the registry", all_registered, 180)
    base_url = f"http://127.0.0.1:{pod.host_port(api, '8000')}"
    wait_for("API /readyz", lambda: _ready(base_url), 60)
    ready_s = time.monotonic() - started
    assert pod.healthy(api), "the API image's HEALTHCHECK fails"
    for name in workers:
        assert pod.healthy(name), f"{name}: the worker image's HEALTHCHECK fails"

    run = uuid.uuid4().hex[:8]
    sent, rounds, traffic_s = 0, 0, 0.0
    labels: set[str] = set()
    tasks = worker_tasks(store, hostnames)
    while rounds < MAX_ROUNDS and (rounds == 0 or min(tasks.values()) == 0):
        texts = [
            f"Review {run}-{sent + i}: the film was {'great' if i % 2 else 'dull'}."
            for i in range(REQUESTS)
        ]
        t0 = time.monotonic()
        answers = predict_all(base_url, texts)
        traffic_s += time.monotonic() - t0
        sent += len(texts)
        rounds += 1
        assert [a.status_code for a in answers] == [200] * len(texts), {
            a.status_code: a.text[:200] for a in answers if a.status_code != 200
        }
        for answer in answers:
            prediction = answer.json()["predictions"][0]
            assert prediction["cached"] is False
            labels.add(prediction["label"])
        # The totals arrive with each worker's next heartbeat (every 0.5 s here).
        time.sleep(1.5)
        tasks = worker_tasks(store, hostnames)

    summary = {
        "workers": WORKERS,
        "requests": sent,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "traffic_s": round(traffic_s, 2),
        "requests_per_s": round(sent / traffic_s, 1),
        "stack_ready_s": round(ready_s, 1),
        "tasks_per_worker": tasks,
        "labels": sorted(labels),
    }
    print(f"\ncontainers test: {json.dumps(summary)}")
    if result := os.environ.get("SPECTRUM_CONTAINERS_RESULT"):
        Path(result).write_text(json.dumps(summary, indent=2) + "\n")
    assert labels == {"NEGATIVE", "POSITIVE"}
    assert all(count > 0 for count in tasks.values()), f"a worker took no task: {tasks}"


def test_worker_image_serves_the_lexicon_without_a_model_runtime(pod: Pod) -> None:
    absent = podman(
        "run",
        "--rm",
        IMAGES["worker"],
        "python",
        "-c",
        "import importlib.util as u; "
        "print(','.join(m for m in ('torch', 'transformers', 'onnxruntime') if u.find_spec(m)))",
    )
    assert absent == "", f"the worker image carries {absent}"
    # The CA bundle pip used during the build was a secret mount, not a file of a layer.
    for image in (IMAGES["api"], IMAGES["worker"]):
        leaked = podman(
            "run",
            "--rm",
            image,
            "python",
            "-c",
            "import os; print(os.path.exists('/run/secrets/pip_cert'))",
        )
        assert leaked == "False", f"{image} carries the build's pip_cert secret"

    store_name = pod.run("redis", IMAGES["redis"], {}, publish="6379")
    store = redis.Redis(port=pod.host_port(store_name, "6379"), socket_timeout=5)
    wait_for("redis container", lambda: _pings(store), 60)
    env = stack_env(store_name, SPECTRUM_MODEL_ID="vader")
    worker = pod.run("vader", IMAGES["worker"], env)
    api = pod.run("api", IMAGES["api"], env, publish="8000")
    wait_for(
        "lexicon worker in the registry",
        lambda: store.zcard(workers_key("vader.interactive")) == 1,
        120,
    )
    base_url = f"http://127.0.0.1:{pod.host_port(api, '8000')}"
    wait_for("API /readyz", lambda: _ready(base_url), 60)

    answer = httpx.post(f"{base_url}/v1/predict", json={"text": "What a wonderful film."})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["name"] == "vader"
    assert body["predictions"][0]["label"] == "POSITIVE"
    assert pod.healthy(worker)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def _pings(store: redis.Redis) -> bool:
    try:
        return bool(store.ping())
    except redis.ConnectionError:
        return False

"""The run command's stack seen from outside: Flower, and Prometheus running the dashboard.

`python -m scripts.devstack` (what `make run` runs) starts the worker (the shipped
model), the API and Flower against the test Redis. Flower must list the worker and
its tasks over its HTTP API; a real Prometheus (Debian's `prometheus` binary on
loopback, 1 s scrapes) scrapes the API, the worker and Flower with the job names of
deploy/prometheus/prometheus.yml, and every expression of the Grafana dashboard
must return data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from spectrum.shared.config import SHIPPED_MODEL_ID, Settings
from spectrum_dev.harness import ROOT, Process, wait_for
from spectrum_dev.private_redis import free_port, free_port_run
from tests.integration.stack import Stack

MODEL_DIR = ROOT / SHIPPED_MODEL_ID
DASHBOARD = ROOT / "deploy/grafana/dashboards/spectrum.json"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
FLOWER_AUTH = ("spectrum", "flower-test-password")
pytestmark = pytest.mark.skipif(not MODEL_DIR.is_dir(), reason=f"no model at {MODEL_DIR}")


class DevStack:
    def __init__(self, stack: Stack, flower_port: int, worker_metrics_port: int) -> None:
        self.stack = stack
        self.flower = f"http://127.0.0.1:{flower_port}"
        self.worker_metrics_port = worker_metrics_port

    def predict(self, client: httpx.Client, texts: list[str]) -> list[dict[str, Any]]:
        answer = client.post("/v1/predict", json={"texts": texts})
        assert answer.status_code == 200, answer.text
        predictions: list[dict[str, Any]] = answer.json()["predictions"]
        return predictions


@pytest.fixture(scope="module")
def devstack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    workdir = tmp_path_factory.mktemp("devstack")
    stack = Stack(workdir, redis_url, model_id=str(MODEL_DIR), runtime_threads=1)
    # A canary alias over the shipped model, shadowed by a lexicon worker of its own:
    # the dashboard's alias and shadow panels need that traffic.
    # (Named so that no prefix of the shipped model's worker names is a prefix of its own.)
    candidate = Stack(workdir / "candidate", redis_url, model_name=f"vader-{stack.model_name}")
    # One metrics port per worker, counted up from this one: all of them must be free.
    workers = Settings().worker_processes
    metrics_port = free_port_run(workers)
    others = (p for p in iter(free_port, 0) if not metrics_port <= p < metrics_port + workers)
    api_port, flower_port = next(others), next(others)
    env = stack.env(
        # Only the shipped model: the built-in ones' names are not this test's own
        # (tests/integration/test_builtin_models.py runs all of them on a private Redis).
        models=str(MODEL_DIR),
        port=api_port,
        flower_port=flower_port,
        worker_metrics_port=metrics_port,
        flower_basic_auth=":".join(FLOWER_AUTH),
        aliases=json.dumps(
            {
                canary_alias(stack): {
                    "targets": {stack.model_name: 1},
                    "shadow": {"model": candidate.model_name, "share": 1.0},
                }
            }
        ),
    )
    (workdir / "candidate").mkdir()
    proc = stack.harness.start("devstack", [sys.executable, "-m", "scripts.devstack"], env)
    stack.base_url = f"http://127.0.0.1:{api_port}"
    running = DevStack(stack, flower_port, metrics_port)
    try:
        candidate.start_worker()

        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"devstack exited:\n{proc.log()[-3000:]}")
            return "[spectrum] ready" in proc.log() and up(f"{running.flower}/healthcheck")

        wait_for(ready, 120, "make run's stack and Flower")
        yield running
    finally:
        stack.stop()
        candidate.stop()


def canary_alias(stack: Stack) -> str:
    return f"{stack.model_name}-canary"


def up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_flower_from_the_run_command_lists_the_worker_and_its_tasks(devstack: DevStack) -> None:
    secret = f"a private sentence {uuid.uuid4().hex}"
    with devstack.stack.client() as client:
        devstack.predict(client, [secret, "Dull and slow."])
        devstack.predict(client, ["What a wonderful film."])
    with httpx.Client(base_url=devstack.flower, auth=FLOWER_AUTH, timeout=10) as flower:
        assert httpx.get(f"{devstack.flower}/api/workers", timeout=5).status_code == 401
        prefix = f"{devstack.stack.model_name}-"

        def our_workers() -> dict[str, Any]:
            # A refresh asks the workers over the broker and waits about a second for their
            # answers: on a busy machine one can miss it, so ask again until both answer.
            workers = flower.get("/api/workers", params={"refresh": 1}).json()
            return {name: w for name, w in workers.items() if name.startswith(prefix)}

        # make run starts SPECTRUM_WORKER_PROCESSES workers (2 by default).
        expected = Settings().worker_processes
        wait_for(lambda: len(our_workers()) == expected, 30, "Flower to list both workers")
        workers = our_workers()
        nodes = list(workers)
        assert len(nodes) == expected
        for node in nodes:
            assert workers[node]["active_queues"][0]["name"] == devstack.stack.queue

        def succeeded() -> list[dict[str, Any]]:
            # Flower sees every worker on this broker (other tests' too): keep our queue's.
            tasks = flower.get("/api/tasks").json().values()
            ours = [t for t in tasks if t["routing_key"] == devstack.stack.queue]
            return [t for t in ours if t["state"] == "SUCCESS" and t["name"] == "spectrum.predict"]

        wait_for(lambda: len(succeeded()) >= 2, 10, "Flower to see both tasks succeed")
        tasks = succeeded()
        assert {t["worker"] for t in tasks} <= set(nodes)
        assert all(t["sent"] is not None for t in tasks)  # task_send_sent_event: seen from the send
        # Flower shows the task's args as the gateway wrote them: a count, never the texts.
        listing = flower.get("/api/tasks").text
        assert secret.split()[-1] not in listing
        assert "<2 texts>" in listing
        # Its own metrics, which Prometheus scrapes.
        metrics = httpx.get(f"{devstack.flower}/metrics", timeout=5).text
        for node in nodes:
            assert f'flower_worker_online{{worker="{node}"}} 1.0' in metrics
        assert 'type="task-succeeded"' in metrics


@pytest.fixture(scope="module")
def prometheus(devstack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        message = "no prometheus binary (Debian package `prometheus`; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("prometheus")
    # Every worker devstack starts (one port each from worker_metrics_port on): which
    # one takes a given task is the broker's choice, so scraping one is not enough.
    workers = [
        f"127.0.0.1:{devstack.worker_metrics_port + i}" for i in range(Settings().worker_processes)
    ]
    targets = {
        "spectrum-api": [devstack.stack.base_url.removeprefix("http://")],
        "spectrum-worker": workers,
        "flower": [devstack.flower.removeprefix("http://")],
    }
    deployed = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert {job["job_name"] for job in deployed["scrape_configs"]} == set(targets)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": addresses}]}
            for job, addresses in targets.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = Process(
        "prometheus",
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        dict(os.environ),
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: up(f"{url}/-/ready"), 30, "Prometheus to be ready")
        yield url
    finally:
        proc.stop()


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = answer.json()
    assert answer.status_code == 200, (expr, body)
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def dashboard_expressions() -> list[tuple[str, str]]:
    """Every panel's expression as Grafana sends it with the Model variable at All."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"].replace("$model", ".*"))
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_dashboard_expression_returns_data(devstack: DevStack, prometheus: str) -> None:
    # Traffic over several scrapes: new texts (worker), repeats (cache), a refusal, texts
    # through the canary alias (and so to its shadow).
    def traffic(seconds: float) -> None:
        started = time.monotonic()
        with devstack.stack.client() as client:
            round_ = 0
            while time.monotonic() - started < seconds:
                words = ("Great", "Bad", "Fine")
                fresh = [f"{word} film {uuid.uuid4().hex[:6]}" for word in words]
                devstack.predict(client, fresh[: 1 + round_ % 3])
                devstack.predict(client, fresh[:1])  # a cache hit
                canary = {"texts": fresh[1:], "model": canary_alias(devstack.stack)}
                assert client.post("/v1/predict", json=canary).status_code == 200  # shadowed
                assert client.post("/v1/predict", json={"texts": []}).status_code == 422
                round_ += 1
                time.sleep(0.2)

    traffic(6)

    def scraped_after_traffic() -> bool:
        jobs = query(prometheus, "up == 1")
        fresh = query(prometheus, "min(time() - timestamp(up))")
        return (
            {r["metric"]["job"] for r in jobs}
            == {
                "spectrum-api",
                "spectrum-worker",
                "flower",
            }
            and len(jobs) == 2 + Settings().worker_processes
            and float(fresh[0]["value"][1]) < 1.5
        )

    try:
        wait_for(scraped_after_traffic, 20, "every target to be up and scraped")
    except TimeoutError as exc:  # say which target was missing
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
        health = [
            (t["labels"].get("job"), t["scrapeUrl"], t["health"], t.get("lastError"))
            for t in targets["activeTargets"]
        ]
        raise AssertionError(f"{exc}: {health}") from None
    time.sleep(1.5)  # one more scrape of everything after the last request

    expressions = dashboard_expressions()
    assert len(expressions) >= 15

    def empty_panels() -> list[str]:
        empty = []
        for title, expr in expressions:
            result = query(prometheus, expr.replace("$__rate_interval", "1m"))
            values = [float(series["value"][1]) for series in result]
            if not any(math.isfinite(v) for v in values):
                empty.append(f"{title}: {expr} -> {values}")
        return empty

    # A rate needs two scrapes that differ: a series first scraped after the traffic
    # ended reads NaN. Up to three more rounds of traffic and scrapes before judging.
    empty = empty_panels()
    for _ in range(3):
        if not empty:
            break
        traffic(2)
        time.sleep(1.5)
        empty = empty_panels()
    assert not empty, "\n".join(empty)
    # A few values that must also be right, not only present.
    (live,) = query(prometheus, "max(spectrum_workers_live)")
    assert float(live["value"][1]) == Settings().worker_processes
    (ratio,) = query(prometheus, dict(expressions)["Cache hit ratio"].replace(
        "$__rate_interval", "1m"))  # fmt: skip
    assert 0 < float(ratio["value"][1]) < 1

"""`make compose-up`'s check: the compose stack with N workers, traffic, every worker busy.

Run after `podman-compose ... up -d --scale worker=N` (or `docker compose`'s, with
--engine docker). It waits until the API is ready and N worker containers have announced
themselves, sends requests with unique texts (so none is a cache hit) through the API's
published port, then reads what each worker container did from three places: the
registry's running totals in Redis (spectrum:worker-stats), Prometheus (which finds the
replicas by the service's DNS name) and Flower. It also runs each container's
HEALTHCHECK once (podman without systemd schedules none itself).

Writes loadtest/results/compose.json and exits 1 when a worker took no task.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from spectrum.shared.registry import STATS_KEY, workers_key
from spectrum_dev.containers import podman, run_podman, wait_for

RESULT = Path("loadtest") / "results" / "compose.json"
QUEUE = "sentiment-minilm.interactive"
# Served beside it by their own services (worker-toxicity, worker-emotion).
LIGHT_MODELS = ("toxicity", "emotion")
# Services that serve no HTTP of their own to check (the writer's healthcheck is disabled).
NO_HEALTHCHECK = {"writer"}


def containers(project: str) -> dict[str, list[str]]:
    """Container names of the project by compose service, each list in name order."""
    rows = json.loads(
        podman("ps", "--filter", f"label=io.podman.compose.project={project}", "--format", "json")
    )
    by_service: dict[str, list[str]] = {}
    for row in rows:
        service = row["Labels"].get("com.docker.compose.service", "?")
        by_service.setdefault(service, []).append(row["Names"][0])
    return {service: sorted(names) for service, names in by_service.items()}


def redis_cli(redis: str, *args: str) -> list[str]:
    return podman("exec", redis, "redis-cli", *args).splitlines()


def worker_tasks(redis: str, hostnames: dict[str, str]) -> dict[str, int]:
    """Tasks each worker container has run (registry totals), by container name."""
    flat = redis_cli(redis, "hgetall", STATS_KEY)
    totals = dict.fromkeys(hostnames, 0)
    by_host = {host: name for name, host in hostnames.items()}
    for member, raw in zip(flat[::2], flat[1::2], strict=True):
        name = by_host.get(member.rsplit(":", 1)[0])
        if name is not None:
            totals[name] += int(json.loads(raw)["tasks"])
    return totals


def prometheus_tasks(url: str, addresses: dict[str, str]) -> dict[str, float]:
    """Successful tasks per worker container, as Prometheus scraped them from its address
    (series of replicas gone from an earlier run, kept in the volume, are left out)."""
    query = 'sum by (instance) (spectrum_worker_tasks_total{state="SUCCESS"})'
    body = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
    by_instance = {r["metric"]["instance"]: float(r["value"][1]) for r in body["data"]["result"]}
    return {
        name: by_instance[f"{ip}:9101"]
        for name, ip in addresses.items()
        if f"{ip}:9101" in by_instance
    }


def light_models(api: str) -> dict[str, str | None]:
    """The label each light model's worker container (worker-toxicity, worker-emotion)
    gives one text through the API, or None when it never answered 200."""
    labels: dict[str, str | None] = {}
    for model in LIGHT_MODELS:

        def answered(model: str = model) -> bool:
            body = {"model": model, "text": "You idiot, this makes me furious."}
            try:
                answer = httpx.post(f"{api}/v1/predict", json=body, timeout=10)
            except httpx.TransportError:
                return False
            if answer.status_code != 200:
                return False  # 503 until its worker has announced itself
            labels[model] = answer.json()["predictions"][0]["label"]
            return True

        try:
            wait_for(f"an answer from the {model} worker", answered, 120)
        except TimeoutError:
            labels[model] = None
    return labels


def logged_texts(api: str, expected: int, since: datetime) -> int:
    """Rows of the default model in the prediction log since `since` (this run), as the API's
    analytics count them (the writer service inserts them from the stream), once they
    reach `expected` or after 60 s."""
    found = [0]

    def caught_up() -> bool:
        try:
            answer = httpx.get(
                f"{api}/v1/analytics/volume",
                params={
                    "model": QUEUE.split(".")[0],
                    "bucket": "hour",
                    # This run's rows only: the volume keeps earlier runs' log.
                    "since": since.isoformat(),
                },
                timeout=10,
            )
        except httpx.TransportError:
            return False
        if answer.status_code != 200:
            return False  # 503 until the writer has created the table
        found[0] = sum(series["total"] for series in answer.json()["series"])
        return found[0] >= expected

    with contextlib.suppress(TimeoutError):  # the caller reports how many arrived
        wait_for("the prediction log's rows", caught_up, 60)
    return found[0]


def flower_online(url: str) -> list[str]:
    """Workers Flower's /metrics reports online."""
    lines = httpx.get(f"{url}/metrics", timeout=5).text.splitlines()
    return sorted(
        line.split('worker="', 1)[1].split('"', 1)[0]
        for line in lines
        if line.startswith("flower_worker_online{") and line.endswith(" 1.0")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="spectrum")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--flower", default="http://127.0.0.1:5555")
    args = parser.parse_args(argv)

    started = time.monotonic()

    def ready() -> bool:
        try:
            return httpx.get(f"{args.api}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("API /readyz", ready, 180)
    found = containers(args.project)
    redis = found["redis"][0]
    workers = found.get("worker", [])
    if len(workers) != args.workers:
        print(f"[compose] expected {args.workers} worker containers, found {workers}")
        return 1
    hostnames = {
        name: podman("inspect", "--format", "{{.Config.Hostname}}", name) for name in workers
    }
    addresses = {
        name: podman(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        )
        for name in workers
    }

    def registered() -> bool:
        members = {
            m.rsplit(":", 1)[0] for m in redis_cli(redis, "zrange", workers_key(QUEUE), "0", "-1")
        }
        return set(hostnames.values()) <= members

    wait_for(f"{args.workers} workers in the registry", registered, 180)
    ready_s = time.monotonic() - started
    print(f"[compose] API ready and {args.workers} workers announced after {ready_s:.1f} s")

    before = worker_tasks(redis, hostnames)
    run = uuid.uuid4().hex[:8]
    texts = [
        f"Compose check {run}-{i}: the film was {'great' if i % 2 else 'dull'}."
        for i in range(args.requests)
    ]
    t0 = time.monotonic()
    traffic_since = datetime.now(UTC) - timedelta(seconds=1)
    with (
        httpx.Client(base_url=args.api, timeout=60) as client,
        ThreadPoolExecutor(args.concurrency) as pool,
    ):
        answers = list(
            pool.map(lambda text: client.post("/v1/predict", json={"text": text}), texts)
        )
    traffic_s = time.monotonic() - t0
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    print(f"[compose] {len(texts)} requests in {traffic_s:.2f} s: statuses {statuses}")
    light = light_models(args.api)
    print(f"[compose] the light models' workers answer: {light}")
    logged = logged_texts(args.api, expected=len(texts), since=traffic_since)
    print(f"[compose] the writer logged {logged} of the {len(texts)} sentiment texts")

    time.sleep(2)  # the totals ride on each worker's next heartbeat (every 2 s)
    # What each worker took of this traffic (a second check on the same stack counts anew).
    after = worker_tasks(redis, hostnames)
    tasks = {name: count - before[name] for name, count in after.items()}
    # Prometheus scrapes every 5 s and re-resolves the replicas every 10 s.
    scraped: dict[str, float] = {}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        scraped = prometheus_tasks(args.prometheus, addresses)
        # Caught up when each replica's counter has reached its registry total.
        if len(scraped) == args.workers and all(scraped[n] >= after[n] for n in scraped):
            break
        time.sleep(2)
    health = {
        name: run_podman("healthcheck", "run", name, timeout=30).returncode == 0
        for service, names in found.items()
        if service not in NO_HEALTHCHECK
        for name in names
    }
    summary: dict[str, Any] = {
        "workers": args.workers,
        "requests": len(texts),
        "concurrency": args.concurrency,
        "statuses": statuses,
        "traffic_s": round(traffic_s, 2),
        "stack_ready_s": round(ready_s, 1),
        "worker_addresses": addresses,
        "tasks_per_worker_registry": tasks,  # this run's
        "tasks_per_worker_prometheus": scraped,  # since start
        "flower_workers_online": flower_online(args.flower),
        "healthchecks_passed": health,
        "light_models_answered": light,
        "prediction_log_rows": logged,
    }
    RESULT.write_text(json.dumps(summary, indent=2) + "\n")
    for name in workers:
        print(f"[compose] {name} ({addresses[name]}): {tasks[name]} tasks")
    print(f"[compose] Prometheus, successful tasks per worker container since start: {scraped}")
    print(f"[compose] Flower, workers online: {summary['flower_workers_online']}")
    print(f"[compose] healthchecks passed: {sum(health.values())}/{len(health)}; wrote {RESULT}")
    ok = (
        statuses == {200: len(texts)}
        and all(count > 0 for count in tasks.values())
        and all(label is not None for label in light.values())
        and logged >= len(texts)
    )
    print("[compose] OK: every worker container took tasks" if ok else "[compose] FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

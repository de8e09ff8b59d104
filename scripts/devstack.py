"""`make run`: Redis (a private one if none is reachable), the workers, the prediction log's
writer, the API and Flower.

Ctrl-C (or SIGTERM) stops all, in the harness's order (dev/spectrum_dev/harness.py): the API
(all its processes, with SPECTRUM_API_PROCESSES above 1) and Flower, then the workers,
then the private Redis.

Run it as `python -m scripts.devstack`. Children get the same SPECTRUM_*
settings, rewritten to the private Redis when the configured one is unreachable;
their output goes to this terminal.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import choose_runtime
from spectrum_dev.harness import Harness, Process, StackFailed, child_env, worker_lanes

# The first worker's metrics port when SPECTRUM_WORKER_METRICS_PORT is not set; worker
# process i (of SPECTRUM_WORKER_PROCESSES) serves on this port + i.
WORKER_METRICS_PORT = 9101


# Runtime kinds whose workers follow SPECTRUM_WORKER_PROCESSES; every other kind gets one.
SHARE_THE_CORES = frozenset({"openvino", "torch"})


def model_envs(settings: Settings, env: dict[str, str]) -> list[tuple[Settings, dict[str, str]]]:
    """(the model's settings, its workers' environment) for each model `make run` serves.

    SPECTRUM_MODEL_ID's model (the one the gateway serves) comes first with the
    environment as given (its SPECTRUM_MODEL_NAME and SPECTRUM_RUNTIME too), then every
    other id of SPECTRUM_MODELS once, named after its id and with the `auto` runtime.
    """
    found = [(settings, env)]
    names = {settings.served_model_name}
    for model_id in settings.model_list:
        served = Settings(model_id=model_id, model_name="", runtime="auto")
        same = Path(model_id).resolve() == Path(settings.model_id).resolve()
        if served.served_model_name in names or same:
            continue
        names.add(served.served_model_name)
        overrides = {
            "SPECTRUM_MODEL_ID": model_id,
            "SPECTRUM_MODEL_NAME": "",
            "SPECTRUM_RUNTIME": "auto",
        }
        found.append((served, {**env, **overrides}))
    return found


def say(message: str) -> None:
    sys.stderr.write(f"[spectrum] {message}\n")
    sys.stderr.flush()


def main() -> int:
    settings = Settings()
    env = child_env(inherit_settings=True)
    # Flower runs with this stack, so tasks send the events it shows (their cost is
    # why they are off by default; SPECTRUM_TASK_EVENTS=false keeps them off).
    env.setdefault("SPECTRUM_TASK_EVENTS", "true")
    interrupted = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Children ignore the terminal's Ctrl-C (own process groups); the harness stops
    # them in order: the API and Flower, then the workers, then a private Redis.
    with Harness(own_group=True) as stack:
        try:
            return run(stack, settings, env, lambda: interrupted)
        except StackFailed as exc:
            say(f"the stack did not come up: {exc}; see the log lines above")
            return 1
        finally:
            say("stopping")


def run(
    stack: Harness, settings: Settings, env: dict[str, str], interrupted: Callable[[], bool]
) -> int:
    private = stack.redis_where_missing(settings)
    if private:
        env.update({f"SPECTRUM_{name.upper()}": url for name, url in private.items()})
        url = next(iter(private.values()))
        say(f"no Redis at {', '.join(private)}: started a private one at {url}")
    else:
        say(f"using broker {settings.broker_url} and result backend {settings.result_backend_url}")
    metrics_port = settings.worker_metrics_port or WORKER_METRICS_PORT
    ports: list[int] = []
    queues: dict[Process, list[str]] = {}  # what each worker must consume before "ready"
    for served, model_env in model_envs(settings, env):
        kind = choose_runtime(served)
        # A transformer gets SPECTRUM_WORKER_PROCESSES, the count chosen for it; a lexicon or linear
        # model costs microseconds a text, so one process serves it.
        count = settings.worker_processes if kind in SHARE_THE_CORES else 1
        interactive_only = settings.interactive_only_workers if count > 1 else 0
        say(f"serving {served.model_id} as {served.served_model_name}: {count} {kind} worker(s)")
        first = metrics_port + len(ports)
        workers = stack.start_workers(
            {**model_env, "SPECTRUM_WORKER_PROCESSES": str(count)},
            count,
            interactive_only,
            metrics_port=first,
            name=f"{served.served_model_name}-worker",
        )
        for index, worker in enumerate(workers):
            lanes = worker_lanes(index, interactive_only)
            queues[worker] = served.model_copy(update={"worker_lanes": lanes}).worker_queues
        ports += range(first, first + count)
    if settings.prediction_log:
        stack.start_writer(env)
    stack.start_api(env)
    stack.start("flower", [sys.executable, "-m", "spectrum.api.observability.flower"], env)
    base_url = f"http://{settings.host}:{settings.port}"
    if not stack.wait_http(f"{base_url}/readyz", timeout=120, cancelled=interrupted):
        return 0
    # /readyz needs one worker of the gateway's model on its interactive lane; "ready"
    # waits for every worker on every queue it was given, in the registry the gateway
    # reads, so no first request (a job, another model) is refused NoWorkerAvailable.
    registry = private.get("result_backend_url", settings.result_backend_url)
    if not stack.wait_consuming(queues, registry, timeout=120, cancelled=interrupted):
        return 0
    say(f"ready: open {base_url}/ in a browser  (API docs at {base_url}/docs)")
    if settings.api_processes > 1:
        say(f"the API runs {settings.api_processes} gateway processes on port {settings.port}")
    say(
        f"try: curl -s {base_url}/v1/predict -H 'content-type: application/json' "
        '-d \'{"text": "What a wonderful film."}\''
    )
    flower = f"http://{settings.flower_host}:{settings.flower_port}"
    auth = (
        "basic auth on"
        if settings.flower_basic_auth and settings.flower_basic_auth.get_secret_value()
        else "no auth: its HTTP API answers 401 until SPECTRUM_FLOWER_BASIC_AUTH is set"
    )
    say(f"Flower: {flower}  ({auth}; its metrics at {flower}/metrics)")
    host = settings.worker_metrics_host
    workers = ", ".join(f"http://{host}:{port}/metrics" for port in ports)
    say(f"metrics: {base_url}/metrics (API), {workers} (workers)")
    if settings.prediction_log:
        say(
            f"prediction log: {settings.database_url} (texts "
            f"{'kept' if settings.log_texts else 'not kept'}); writer metrics at "
            f"http://{settings.prediction_log_metrics_host}:"
            f"{settings.prediction_log_metrics_port}/metrics"
        )
    say("Ctrl-C stops everything")
    while not interrupted():
        if (exited := stack.first_exited()) is not None:
            say(f"{exited.name} exited ({exited.popen.returncode}); stopping the rest")
            return 1
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

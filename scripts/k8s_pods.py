"""Run an overlay's pods as podman containers, as a kubelet would, against a private
Redis: `make k8s-pods` (after the images exist, `make images`).

What the schemas cannot show, checked with the real images: each pod starts under its
own security context (read-only root file system, its user, no capabilities, its
emptyDir volumes as tmpfs), reads its settings from the ConfigMap and from the Secret
filled in as docs/deployment.md says (a new API key's hash), passes its startup, readiness and
liveness probes (HTTP ones over HTTP, exec ones by `podman exec`), answers traffic, and
ends within its terminationGracePeriodSeconds on SIGTERM with a job chunk in hand (Celery's
warm shutdown), losing nothing: the job still ends with every text done.

Not a cluster: the containers share this machine's network, so each container port is
moved to a free one (the setting that names it moves with it) and every pod gets its
name as hostname; KEDA is not here, so one pod runs per Deployment.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scripts.k8s_manifests import OVERLAYS, SECRET_TEMPLATE, Document, load_all, render
from spectrum.api.edge.keys import new_key
from spectrum_dev.private_redis import PrivateRedis, free_port

PODMAN = shutil.which("podman") or "podman"
# podman on these machines: the runc runtime and ulimits at or under the hard limits.
PODMAN_FLAGS = (
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=10000:10000",
    "--ulimit",
    "nproc=1000:1000",
)
DEFAULT_PODS = (
    "spectrum-api",
    "spectrum-flower",
    "worker-sentiment-minilm-interactive",
    "worker-sentiment-minilm-bulk",
)


@dataclass
class Pod:
    deployment: Document
    container_name: str
    ports: dict[str, int] = field(default_factory=dict)  # port name -> host port

    @property
    def name(self) -> str:
        name: str = self.deployment["metadata"]["name"]
        return name

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        container: dict[str, Any] = self.spec["containers"][0]
        return container


def pod_environment(
    docs: list[Document], pod: Pod, secret: dict[str, str], moved: dict[int, int]
) -> dict[str, str]:
    """envFrom in order, then env, as Kubernetes builds it; moved ports follow."""
    env: dict[str, str] = {}
    for source in pod.container.get("envFrom", []):
        if "configMapRef" in source:
            config = next(
                doc
                for doc in docs
                if doc["kind"] == "ConfigMap"
                and doc["metadata"]["name"] == source["configMapRef"]["name"]
            )
            env.update(config["data"])
        else:
            env.update(secret)
    for variable in pod.container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            env[variable["name"]] = secret[variable["valueFrom"]["secretKeyRef"]["key"]]
    for name, value in list(env.items()):
        if name.endswith("_PORT") and value.isdigit() and int(value) in moved:
            env[name] = str(moved[int(value)])
    return env


def run_args(pod: Pod, env: dict[str, str]) -> list[str]:
    """`podman run` for the pod's one container, with its security context and volumes."""
    pod_context = pod.spec.get("securityContext", {})
    context = pod.container.get("securityContext", {})
    args = [PODMAN, "run", "-d", "--name", pod.container_name, *PODMAN_FLAGS]
    args += ["--network", "host", "--hostname", pod.name]
    if "runAsUser" in pod_context:
        args += ["--user", f"{pod_context['runAsUser']}:{pod_context.get('runAsGroup', 0)}"]
    if context.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for capability in context.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", capability]
    if context.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    empty_dirs = {v["name"] for v in pod.spec.get("volumes", []) if "emptyDir" in v}
    for mount in pod.container.get("volumeMounts", []):
        if mount["name"] in empty_dirs:
            args += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    return [*args, f"localhost/{pod.container['image']}", *pod.container["command"]]


def probe_once(pod: Pod, probe: dict[str, Any]) -> bool:
    timeout = probe.get("timeoutSeconds", 1)
    if "httpGet" in probe:
        port = probe["httpGet"]["port"]
        port = pod.ports[port] if isinstance(port, str) else port
        url = f"http://127.0.0.1:{port}{probe['httpGet']['path']}"
        try:
            return 200 <= httpx.get(url, timeout=timeout).status_code < 400
        except httpx.HTTPError:
            return False
    command = [PODMAN, "exec", pod.container_name, *probe["exec"]["command"]]
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout + 5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def wait_probe(pod: Pod, kind: str) -> float | None:
    """Seconds until the probe first passed, at its period, or None if it never did."""
    probe = pod.container[kind]
    started = time.monotonic()
    time.sleep(probe.get("initialDelaySeconds", 0))
    for _ in range(probe.get("failureThreshold", 3) if kind == "startupProbe" else 30):
        if probe_once(pod, probe):
            return time.monotonic() - started
        time.sleep(probe.get("periodSeconds", 10))
    return None


def request(method: str, url: str, key: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    answer = httpx.request(method, url, json=body, headers={"X-API-Key": key}, timeout=30)
    return answer.status_code, answer.json()


def job_state(base: str, key: str, job_id: str) -> dict[str, Any]:
    status, job = request("GET", f"{base}/v1/jobs/{job_id}", key)
    assert status == 200, job
    found: dict[str, Any] = job
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlay", default="redis")
    parser.add_argument("--pods", default=",".join(DEFAULT_PODS), help="Deployments to run")
    args = parser.parse_args(argv)
    if shutil.which(PODMAN) is None:
        print("podman is not installed (apt-get install podman runc)")
        return 2
    docs = render(OVERLAYS / args.overlay)
    run = uuid.uuid4().hex[:6]
    key, digest = new_key()
    workdir = Path(tempfile.mkdtemp(prefix="k8spods-"))
    redis = PrivateRedis(workdir / "redis").start()
    # The Secret as docs/deployment.md fills it in, and the stores at the private Redis.
    template = load_all(SECRET_TEMPLATE.read_text(encoding="utf-8"))[0]["stringData"]
    secret = {**template, "SPECTRUM_API_KEY_HASHES": digest, "SPECTRUM_BROKER_URL": redis.url}
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "spectrum-config":
            doc["data"].update(SPECTRUM_RESULT_BACKEND_URL=redis.url, SPECTRUM_CACHE_URL=redis.url)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    pods = [Pod(deployments[name], f"k8spods-{run}-{name}") for name in args.pods.split(",")]
    failures: list[str] = []
    try:
        for pod in pods:
            moved = {}
            for port in pod.container.get("ports", []):
                moved[port["containerPort"]] = pod.ports[port["name"]] = free_port()
            env = pod_environment(docs, pod, secret, moved)
            subprocess.run(run_args(pod, env), check=True, capture_output=True)
        for pod in pods:
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind not in pod.container:
                    continue
                took = wait_probe(pod, kind)
                verdict = "never passed" if took is None else f"passed after {took:.1f} s"
                print(f"{pod.name}: {kind} {verdict}")
                if took is None:
                    failures.append(f"{pod.name} {kind}")
        api = next(pod for pod in pods if pod.name == "spectrum-api")
        base = f"http://127.0.0.1:{api.ports['http']}"
        status, answer = request("POST", f"{base}/v1/predict", key, {"texts": ["a lovely film"]})
        print(f"POST /v1/predict: {status} {answer.get('predictions', answer)}")
        if status != 200:
            failures.append("predict")
        failures += shutdown_drill(pods, base, key)
    finally:
        for pod in pods:
            subprocess.run([PODMAN, "rm", "-f", pod.container_name], capture_output=True)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("all checks passed" if not failures else f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


def shutdown_drill(pods: list[Pod], base: str, key: str) -> list[str]:
    """SIGTERM the bulk worker with a job's chunks in hand: it must end, 0, within its grace;
    started again, it must finish the job with every text done."""
    bulk = next((pod for pod in pods if pod.name.endswith("-bulk")), None)
    if bulk is None:
        return []
    texts = [
        f"sentence {i} of a job that keeps the bulk worker busy for a while" for i in range(2000)
    ]
    status, job = request("POST", f"{base}/v1/jobs", key, {"texts": texts})
    if status != 202:
        print(f"POST /v1/jobs: {status} {job}")
        return ["job submit"]
    while job_state(base, key, job["id"])["progress"]["chunks_finished"] == 0:
        time.sleep(0.1)
    grace = bulk.spec["terminationGracePeriodSeconds"]
    started = time.monotonic()
    subprocess.run([PODMAN, "stop", "-t", str(grace), bulk.container_name], capture_output=True)
    took = time.monotonic() - started
    inspect = [PODMAN, "inspect", bulk.container_name, "--format", "{{.State.ExitCode}}"]
    code = subprocess.run(inspect, capture_output=True, text=True).stdout.strip()
    progress = job_state(base, key, job["id"])["progress"]
    print(
        f"{bulk.name}: SIGTERM mid-job: exit code {code} after {took:.1f} s (grace {grace} s); "
        f"{progress['chunks_finished']} of {progress['chunks']} chunks done"
    )
    failures = [] if code == "0" and took < grace else [f"{bulk.name} shutdown"]
    subprocess.run([PODMAN, "start", bulk.container_name], capture_output=True, check=True)
    deadline = time.monotonic() + 300
    while (ended := job_state(base, key, job["id"]))["state"] not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            return [*failures, "job never ended"]
        time.sleep(0.5)
    print(f"job after the restart: {ended['state']}, {ended['progress']}")
    if ended["state"] != "succeeded" or ended["progress"]["done"] != len(texts):
        failures.append("job after restart")
    return failures


if __name__ == "__main__":
    sys.exit(main())

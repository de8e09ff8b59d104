"""deploy/k8s: every overlay renders (kubectl's kustomize), every document validates against
Kubernetes' and KEDA's schemas, and the manifests agree with the code they deploy: the
settings they set exist, the queues KEDA watches are those the workers consume, the
probes are routes of the app, the grace periods outlast a task, and no secret is real.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scripts import k8s_manifests
from scripts.k8s_manifests import Document
from spectrum.api.app.factory import create_app
from spectrum.shared.config import ENV_FILE_VARIABLE, Settings

OVERLAYS = {path.name: path for path in k8s_manifests.overlays()}
FIELDS = {f"SPECTRUM_{field.upper()}" for field in Settings.model_fields}
NAMESPACE = "spectrum"
API_PREFIX = "SPECTRUM_"


@cache
def rendered(overlay: str) -> tuple[Document, ...]:
    return tuple(k8s_manifests.render(OVERLAYS[overlay]))


@cache
def secret_template() -> Document:
    docs = k8s_manifests.load_all(k8s_manifests.SECRET_TEMPLATE.read_text(encoding="utf-8"))
    assert [doc["kind"] for doc in docs] == ["Secret"]
    return docs[0]


def of_kind(docs: tuple[Document, ...], kind: str) -> list[Document]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: tuple[Document, ...], kind: str, name: str) -> Document:
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def workers(docs: tuple[Document, ...]) -> list[Document]:
    return [
        doc
        for doc in of_kind(docs, "Deployment")
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"
    ]


def container(deployment: Document) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    found: dict[str, Any] = containers[0]
    return found


def pod_env(docs: tuple[Document, ...], deployment: Document) -> dict[str, str]:
    """The variables a pod of `deployment` gets, in Kubernetes' order: envFrom sources in
    turn (later ones win), then env; secrets as the template gives them."""
    env: dict[str, str] = {}
    spec = container(deployment)
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            env.update(named(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            assert source["secretRef"]["name"] == secret_template()["metadata"]["name"]
            env.update(secret_template()["stringData"])
    for variable in spec.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret_template()["metadata"]["name"]
            env[variable["name"]] = secret_template()["stringData"][ref["key"]]
    return env


def settings_of(env: dict[str, str]) -> Settings:
    """Settings as a process with exactly `env` reads them (conftest turns the env file off)."""
    given = {
        name.removeprefix(API_PREFIX).lower(): value
        for name, value in env.items()
        if name.startswith(API_PREFIX)
    }
    return Settings.model_validate(given)


@pytest.fixture(autouse=True)
def _no_spectrum_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the manifests' values may reach settings_of.
    for name in list(os.environ):
        if name.startswith(API_PREFIX) and name != ENV_FILE_VARIABLE:
            monkeypatch.delenv(name)


def test_there_are_overlays_for_both_brokers_and_the_gpu() -> None:
    assert {"redis", "rabbitmq", "gpu", "all-in-one"} <= OVERLAYS.keys()


def test_the_all_in_one_overlay_serves_every_store_the_settings_name() -> None:
    docs = rendered("all-in-one")
    services = {doc["metadata"]["name"] for doc in of_kind(docs, "Service")}
    settings = settings_of(pod_env(docs, named(docs, "Deployment", "spectrum-api")))
    for url in (settings.broker_url, settings.result_backend_url, settings.cache_url):
        assert urlsplit(url).hostname in services, url
    # The broker never evicts; the cache may.
    redis = container(named(docs, "StatefulSet", "redis"))["command"]
    cache = container(named(docs, "Deployment", "cache"))["command"]
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    assert cache[cache.index("--maxmemory-policy") + 1] == "allkeys-lru"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_document_of_an_overlay_is_valid(overlay: str) -> None:
    docs = rendered(overlay)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"ScaledObject", "TriggerAuthentication", "ConfigMap"} <= kinds
    assert [problem for doc in docs for problem in k8s_manifests.errors(doc)] == []


def test_the_validators_refuse_what_the_api_server_would_drop_or_refuse() -> None:
    deployment = dict(named(rendered("redis"), "Deployment", "spectrum-api"))
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert any("'replica' was unexpected" in p for p in k8s_manifests.errors(typo))
    scaled = named(rendered("redis"), "ScaledObject", "worker-sentiment-minilm-bulk")
    wrong = {**scaled, "spec": {**scaled["spec"], "minReplicaCount": "0"}}
    assert k8s_manifests.errors(wrong) != []
    unknown = {**scaled, "spec": {**scaled["spec"], "cooldownPeriods": 1}}
    assert any("'cooldownPeriods' was unexpected" in p for p in k8s_manifests.errors(unknown))


def test_the_secret_template_is_valid_and_holds_no_secret() -> None:
    secret = secret_template()
    assert k8s_manifests.errors(secret) == []
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        if "://" in value:
            # A URL may name a host, never with a password in it.
            assert urlsplit(value).password is None, key
        else:
            assert value == "", f"{key}: a placeholder holds no value"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_no_overlay_applies_a_secret(overlay: str) -> None:
    # `kubectl apply -k` must never overwrite the real Secret with a template.
    assert of_kind(rendered(overlay), "Secret") == []


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_setting_the_manifests_set_exists_and_parses(overlay: str) -> None:
    docs = rendered(overlay)
    for config in of_kind(docs, "ConfigMap"):
        if config["metadata"]["name"] == "spectrum-config":
            assert set(config["data"]) <= FIELDS
    assert {key for key in secret_template()["stringData"] if key.startswith(API_PREFIX)} <= FIELDS
    for deployment in of_kind(docs, "Deployment"):
        env = pod_env(docs, deployment)
        assert {key for key in env if key.startswith(API_PREFIX)} <= FIELDS
        settings_of(env)  # raises on a value the settings refuse


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_worker_outlasts_its_longest_task_on_shutdown(overlay: str) -> None:
    docs = rendered(overlay)
    assert workers(docs)
    for deployment in workers(docs):
        settings = settings_of(pod_env(docs, deployment))
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        # The solo pool enforces no Celery time limit; the visibility timeout is the
        # bound every task is kept under (past it, Redis hands the task to another
        # worker), and a webhook POST's timeout is below it.
        longest = max(settings.broker_visibility_timeout_s, settings.webhook_timeout_s)
        assert grace > longest, deployment["metadata"]["name"]
        assert settings.worker_processes == 1


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_model_has_an_interactive_and_a_bulk_deployment_consuming_its_queues(
    overlay: str,
) -> None:
    docs = rendered(overlay)
    lanes: dict[str, dict[str, list[str]]] = {}
    for deployment in workers(docs):
        settings = settings_of(pod_env(docs, deployment))
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        model, lane = labels["spectrum.example/model"], labels["spectrum.example/lane"]
        assert settings.served_model_name == model
        assert deployment["metadata"]["name"] == f"worker-{model}-{lane}"
        lanes.setdefault(model, {})[lane] = settings.worker_queues
    assert {"sentiment-minilm", "toxicity", "emotion"} <= lanes.keys()
    for model, by_lane in lanes.items():
        settings = Settings(model_name=model)
        assert by_lane["interactive"] == [settings.interactive_queue]
        assert settings.bulk_queue in by_lane["bulk"]


def trigger_queue(trigger: dict[str, Any]) -> str:
    metadata = trigger["metadata"]
    queue: str = metadata["listName"] if trigger["type"] == "redis" else metadata["queueName"]
    return queue


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_scaled_object_scales_a_worker_on_a_queue_it_consumes(overlay: str) -> None:
    docs = rendered(overlay)
    scaled = of_kind(docs, "ScaledObject")
    targets = {so["spec"]["scaleTargetRef"]["name"] for so in scaled}
    assert targets == {deployment["metadata"]["name"] for deployment in workers(docs)}
    for so in scaled:
        target = named(docs, "Deployment", so["spec"]["scaleTargetRef"]["name"])
        assert so["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        settings = settings_of(pod_env(docs, target))
        lane = target["spec"]["template"]["metadata"]["labels"]["spectrum.example/lane"]
        queues = [trigger_queue(t) for t in so["spec"]["triggers"] if t["type"] != "cpu"]
        expected = settings.interactive_queue if lane == "interactive" else settings.bulk_queue
        assert queues == [expected], so["metadata"]["name"]
        assert expected in settings.worker_queues


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_no_autoscaled_deployment_sets_its_replicas(overlay: str) -> None:
    # A count in the manifest would reset the autoscaler's on every `kubectl apply`.
    docs = rendered(overlay)
    scaled = [doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "ScaledObject")]
    scaled += [
        doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "HorizontalPodAutoscaler")
    ]
    assert "spectrum-api" in scaled
    for name in scaled:
        assert "replicas" not in named(docs, "Deployment", name)["spec"], name


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_bulk_lane_scales_to_zero_and_the_gateway_queues_jobs_meanwhile(overlay: str) -> None:
    docs = rendered(overlay)
    for so in of_kind(docs, "ScaledObject"):
        lane = so["metadata"]["name"].rsplit("-", 1)[-1]
        minimum = so["spec"].get("minReplicaCount", 0)
        # Interactive work always has a worker (/readyz, /v1/predict); bulk none while idle.
        assert minimum == (0 if lane == "bulk" else 1), so["metadata"]["name"]
    gateway = settings_of(pod_env(docs, named(docs, "Deployment", "spectrum-api")))
    # Otherwise a job is refused while no bulk worker runs, and none ever starts.
    assert gateway.bulk_scales_to_zero


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_workers_reach_their_maximum_before_the_gateway_sheds_the_lane(overlay: str) -> None:
    # A lane refuses new work (503) at its queue depth cap; KEDA's target per replica
    # times the most replicas must be reached at or before it, or the gateway sheds load
    # that more workers were allowed to take.
    docs = rendered(overlay)
    gateway = settings_of(pod_env(docs, named(docs, "Deployment", "spectrum-api")))
    for so in of_kind(docs, "ScaledObject"):
        lane = so["metadata"]["name"].rsplit("-", 1)[-1]
        cap = gateway.max_queue_depth if lane == "interactive" else gateway.max_bulk_queue_depth
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] == "cpu":
                continue
            metadata = trigger["metadata"]
            target = int(
                metadata["listLength"] if trigger["type"] == "redis" else metadata["value"]
            )
            assert target * so["spec"]["maxReplicaCount"] <= cap, so["metadata"]["name"]


def broker_url() -> str:
    url: str = secret_template()["stringData"]["SPECTRUM_BROKER_URL"]
    return url


@pytest.mark.parametrize("overlay", ["redis", "gpu", "all-in-one"])
def test_the_redis_scaler_reads_the_brokers_lists(overlay: str) -> None:
    docs = rendered(overlay)
    broker = urlsplit(broker_url())
    assert broker.scheme == "redis"
    auths = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "TriggerAuthentication")}
    for so in of_kind(docs, "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] == "cpu":
                continue
            assert trigger["type"] == "redis"
            metadata = trigger["metadata"]
            # KEDA's operator runs in another namespace: the full name of the broker's host.
            host = f"{broker.hostname}.{NAMESPACE}.svc.cluster.local:{broker.port}"
            assert metadata["address"] == host
            assert metadata["databaseIndex"] == broker.path.strip("/")
            assert int(metadata["listLength"]) > 0
            auth = auths[trigger["authenticationRef"]["name"]]
            keys = {ref["key"] for ref in auth["spec"]["secretTargetRef"]}
            assert keys <= secret_template()["stringData"].keys()


def test_the_rabbitmq_scaler_connects_with_the_brokers_url() -> None:
    docs = rendered("rabbitmq")
    auths = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "TriggerAuthentication")}
    for so in of_kind(docs, "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] == "cpu":
                continue
            assert trigger["type"] == "rabbitmq"
            assert trigger["metadata"]["mode"] == "QueueLength"
            assert trigger["metadata"]["protocol"] == "amqp"
            assert int(trigger["metadata"]["value"]) > 0
            auth = auths[trigger["authenticationRef"]["name"]]
            refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
            # The pods' own broker URL, so KEDA reads the queues the workers consume.
            assert refs["host"]["key"] == "SPECTRUM_BROKER_URL"


@cache
def app_get_paths() -> frozenset[str]:
    """The app's GET routes, as its OpenAPI document lists them."""
    paths = create_app(Settings(log_json=True)).openapi()["paths"]
    return frozenset(path for path, methods in paths.items() if "get" in methods)


def probes(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's HTTP probes."""
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    return [spec[kind]["httpGet"] for kind in kinds if "httpGet" in spec.get(kind, {})]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_api_probes_routes_of_the_app_on_its_port(overlay: str) -> None:
    docs = rendered(overlay)
    api = named(docs, "Deployment", "spectrum-api")
    spec = container(api)
    settings = settings_of(pod_env(docs, api))
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert ports["http"] == settings.port
    checks = probes(spec)
    assert {probe["path"] for probe in checks} == {"/healthz", "/readyz"}
    for probe in checks:
        assert probe["path"] in app_get_paths()
        assert probe["port"] in ports
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_workers_serve_metrics_where_they_are_probed_and_scraped(overlay: str) -> None:
    docs = rendered(overlay)
    for deployment in workers(docs):
        spec = container(deployment)
        settings = settings_of(pod_env(docs, deployment))
        ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
        assert ports["metrics"] == settings.worker_metrics_port
        assert settings.worker_metrics_host == "0.0.0.0"
        assert [probe["port"] for probe in probes(spec)] == ["metrics"]
        # Started once registered: the image's HEALTHCHECK test, which reads this lane.
        started = " ".join(spec["startupProbe"]["exec"]["command"])
        assert "workers_key(s.interactive_queue)" in started
        assert settings.interactive_queue in settings.worker_queues
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(settings.worker_metrics_port)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_services_hpa_and_pdb_select_the_pods_they_mean(overlay: str) -> None:
    docs = rendered(overlay)
    deployments = {
        doc["metadata"]["name"]: doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")
    }

    def pods_matching(selector: dict[str, str]) -> set[str]:
        return {
            name
            for name, doc in deployments.items()
            if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        }

    for service in of_kind(docs, "Service"):
        chosen = pods_matching(service["spec"]["selector"])
        assert len(chosen) == 1, service["metadata"]["name"]
        ports = {p["name"] for p in container(deployments[chosen.pop()])["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    pdb = named(docs, "PodDisruptionBudget", "spectrum-api")
    assert pods_matching(pdb["spec"]["selector"]["matchLabels"]) == {"spectrum-api"}
    hpa = named(docs, "HorizontalPodAutoscaler", "spectrum-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "spectrum-api"
    assert container(deployments["spectrum-api"])["resources"]["requests"]["cpu"]
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]


def test_the_scrape_config_keeps_the_compose_job_names_and_real_port_names() -> None:
    docs = rendered("redis")
    config = yaml.safe_load(
        named(docs, "ConfigMap", "spectrum-prometheus")["data"]["prometheus.yml"]
    )
    compose = yaml.safe_load(
        (k8s_manifests.K8S.parent / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    )
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert sorted(jobs) == sorted(job["job_name"] for job in compose["scrape_configs"])
    components = {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: container(doc)
        for doc in of_kind(docs, "Deployment")
    }
    for job in jobs.values():
        keep = next(rule for rule in job["relabel_configs"] if rule.get("action") == "keep")
        component, port = keep["regex"].split(";")
        assert port in {p["name"] for p in components[component]["ports"]}, job["job_name"]
        assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [NAMESPACE]


def test_the_gpu_overlay_runs_the_transformers_workers_with_torch_on_one_gpu() -> None:
    docs = rendered("gpu")
    transformers = 0
    for deployment in workers(docs):
        spec = container(deployment)
        settings = settings_of(pod_env(docs, deployment))
        if deployment["metadata"]["labels"].get("spectrum.example/runtime") != "transformer":
            # The lexicon and linear models have nothing to run on a GPU.
            assert "nvidia.com/gpu" not in str(deployment)
            assert settings.runtime == "auto"
            continue
        transformers += 1
        assert (settings.runtime, settings.device) == ("torch", "cuda")
        assert spec["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert spec["image"] == "spectrum-worker-torch:latest"
    assert transformers == 2  # sentiment-minilm's interactive and bulk Deployments
    for overlay in ("redis", "rabbitmq"):
        for deployment in workers(rendered(overlay)):
            assert "nvidia.com/gpu" not in str(deployment)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_everything_lands_in_one_namespace(overlay: str) -> None:
    for doc in rendered(overlay):
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
        else:
            assert doc["metadata"]["namespace"] == NAMESPACE, k8s_manifests.name(doc)
    assert re.fullmatch(r"[a-z0-9-]+", NAMESPACE)

"""Many models behind one gateway, with real lexicon workers under unique names.

Each model is a Stack of its own (its name, queues, registry entries and clean-up);
the API is started from the first one, whose model is the default.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from spectrum.api.edge.keys import new_key
from spectrum.shared.cache import cache_key, encode_entry, normalize_text
from spectrum.shared.contracts import ModelCard
from spectrum.shared.registry import MODELS_KEY, workers_key
from spectrum_dev.harness import wait_for
from spectrum_dev.private_redis import PrivateRedis
from tests.integration.job_runs import wait_until_ended
from tests.integration.metrics_scrape import scrape, total, value
from tests.integration.stack import Stack


def unique_texts(count: int, words: str = "a lovely film") -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"{words} {run} {i}" for i in range(count)]


def announce(stack: Stack, *, live: bool) -> None:
    """A card for the stack's model, with a heartbeat on both lanes for an hour if `live`;
    no worker behind it: what it is sent waits in its queue."""
    card = ModelCard(
        name=stack.model_name,
        version="fake",
        labels=["NEGATIVE", "POSITIVE"],
        runtime="none",
        source="test",
    )
    client = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        client.hset(MODELS_KEY, stack.model_name, card.model_dump_json())
        if live:
            until = time.time() + 3600
            for queue in (stack.queue, stack.bulk_queue):
                client.zadd(workers_key(queue), {"announced-only:0": until})
    finally:
        client.close()


def predict(stack: Stack, body: dict[str, Any]) -> Any:
    with stack.client() as client:
        answer = client.post("/v1/predict", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_text(stack: Stack, texts: list[str], model: str) -> dict[str, str]:
    """The model that answered each text, asked in requests of 64 texts."""
    chosen: dict[str, str] = {}
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        answer = predict(stack, {"texts": batch, "model": model})
        assert answer["alias"] == model
        for text, prediction in zip(batch, answer["predictions"], strict=True):
            chosen[text] = prediction["model"]["name"]
    return chosen


def test_routing_by_name_unknown_models_and_a_worker_started_while_the_gateway_runs(
    make_stack: type[Stack],
) -> None:
    first, second, unserved = make_stack(), make_stack(), make_stack()
    first.start_worker()
    first.start_api()
    with first.client() as client:
        # Without "model": the default, as a single-model gateway answered.
        plain = client.post("/v1/predict", json={"text": "a lovely film"}).json()
        assert plain["model"]["name"] == first.model_name
        assert plain["alias"] is None
        assert plain["predictions"][0]["model"] == plain["model"]
        # Not announced yet: 404 with the names the gateway knows.
        missing = client.post("/v1/predict", json={"text": "x", "model": second.model_name})
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"] == "ModelNotFound"
        assert first.model_name in missing.json()["detail"]
        for bad in ("", 7, "x" * 129):
            refused = client.post("/v1/predict", json={"text": "x", "model": bad})
            assert refused.status_code == 422, refused.text
        # Announced, no live worker: 503.
        announce(unserved, live=False)
        none_live = client.post("/v1/predict", json={"text": "x", "model": unserved.model_name})
        assert none_live.status_code == 503, none_live.text
        assert none_live.json()["error"] == "NoWorkerAvailable"

        second.start_worker()  # the gateway keeps running
        served = client.post(
            "/v1/predict", json={"texts": ["good", "bad"], "model": second.model_name}
        )
        assert served.status_code == 200, served.text
        assert served.json()["model"]["name"] == second.model_name
        assert {p["model"]["name"] for p in served.json()["predictions"]} == {second.model_name}

        listed = client.get("/v1/models").json()
        assert listed["default"] == first.model_name
        models = {m["name"]: m for m in listed["models"]}
        assert models[first.model_name]["live_workers"] == 1
        assert models[second.model_name]["live_workers"] == 1
        assert models[second.model_name]["bulk_queue"] == second.bulk_queue
        assert models[unserved.model_name]["live_workers"] == 0

        # The same texts through both models, side by side (both are VADER: they agree).
        texts = ["a wonderful film", "an awful, boring mess"]
        compared = client.post(
            "/v1/compare", json={"texts": texts, "models": [first.model_name, second.model_name]}
        )
        assert compared.status_code == 200, compared.text
        body = compared.json()
        assert [m["name"] for m in body["models"]] == [first.model_name, second.model_name]
        assert [r["index"] for r in body["results"]] == [0, 1]
        for result in body["results"]:
            names = [a["model"]["name"] for a in result["answers"]]
            assert names == [first.model_name, second.model_name]
            assert result["agree"] is True
        assert body["agreement"] == 1.0
        labels = [r["answers"][0]["label"] for r in body["results"]]
        assert labels == ["POSITIVE", "NEGATIVE"]
        one = client.post("/v1/compare", json={"text": "x", "models": [first.model_name]})
        assert one.status_code == 422

        # A job for the second model: its record names it, its chunks ran on its bulk lane.
        created = client.post(
            "/v1/jobs", json={"texts": unique_texts(5), "model": second.model_name}
        )
        assert created.status_code == 202, created.text
        job = wait_until_ended(client, created.json()["id"])
        assert job["state"] == "succeeded", job
        assert job["model"] == second.model_name
        assert job["progress"]["done"] == 5
        # An upload names its model in the query.
        lines = "\n".join(json.dumps({"text": t}) for t in unique_texts(3)).encode()
        uploaded = client.post(
            f"/v1/jobs?model={second.model_name}",
            content=lines,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert uploaded.status_code == 202, uploaded.text
        assert wait_until_ended(client, uploaded.json()["id"])["model"] == second.model_name
        unknown_job = client.post("/v1/jobs", json={"texts": ["x"], "model": "no-such-model"})
        assert unknown_job.status_code == 404

    samples = scrape(f"{first.base_url}/metrics")
    assert value(samples, "spectrum_model_errors_total", model="unknown", error="ModelNotFound")
    assert (
        value(
            samples,
            "spectrum_model_errors_total",
            model=unserved.model_name,
            error="NoWorkerAvailable",
        )
        == 1
    )
    assert total(samples, "spectrum_model_predictions_total", model=second.model_name) >= 2
    assert value(samples, "spectrum_workers_live", model=second.model_name, lane="bulk") == 1


def test_a_canary_takes_its_share_sticky_per_text(make_stack: type[Stack]) -> None:
    stable, canary = make_stack(), make_stack()
    aliases = {"canary-alias": {"targets": {stable.model_name: 90, canary.model_name: 10}}}
    stable.start_worker()
    canary.start_worker()
    stable.start_api(aliases=json.dumps(aliases))
    texts = unique_texts(2000)
    chosen = by_text(stable, texts, "canary-alias")
    counts = Counter(chosen.values())
    assert set(counts) == {stable.model_name, canary.model_name}
    share = counts[canary.model_name] / len(texts)
    assert 0.07 <= share <= 0.13, counts
    # The same texts again, in other requests and another order: each to the same model.
    again = texts[::7][::-1]
    assert by_text(stable, again, "canary-alias") == {t: chosen[t] for t in again}
    with stable.client() as client:
        listed = client.get("/v1/models").json()
    (alias,) = [a for a in listed["aliases"] if a["name"] == "canary-alias"]
    assert {t["model"]: t["weight"] for t in alias["targets"]} == aliases["canary-alias"]["targets"]
    routed = scrape(f"{stable.base_url}/metrics")
    on_canary = value(
        routed, "spectrum_alias_routed_total", alias="canary-alias", model=canary.model_name
    )
    assert (
        on_canary
        == counts[canary.model_name] + Counter(chosen[t] for t in again)[canary.model_name]
    )


def test_shadow_traffic_is_compared_and_never_answered(make_stack: type[Stack]) -> None:
    primary, candidate = make_stack(), make_stack()
    aliases = {
        "shadowed": {
            "targets": {primary.model_name: 1},
            "shadow": {"model": candidate.model_name, "share": 1.0},
        }
    }
    primary.start_worker()
    candidate.start_worker()
    primary.start_api(aliases=json.dumps(aliases))
    texts = unique_texts(8, "a wonderful, brilliant film")
    with primary.client() as client:
        version = {m["name"]: m["version"] for m in client.get("/v1/models").json()["models"]}
    # The candidate "disagrees": its cache says NEGATIVE for every text, so a shadow answer
    # that leaked into the response would show.
    cache = redis.Redis.from_url(primary.settings["cache_url"])
    try:
        for text in texts:
            key = cache_key(
                candidate.model_name, version[candidate.model_name], normalize_text(text)
            )
            cache.set(key, encode_entry(["NEGATIVE", "POSITIVE"], [0.99, 0.01]), ex=600)
    finally:
        cache.close()

    answer = predict(primary, {"texts": texts, "model": "shadowed"})
    direct = predict(primary, {"texts": texts, "model": primary.model_name})
    assert [p["label"] for p in answer["predictions"]] == ["POSITIVE"] * len(texts)
    assert {p["model"]["name"] for p in answer["predictions"]} == {primary.model_name}
    strip = [{k: p[k] for k in ("label", "probabilities")} for p in answer["predictions"]]
    assert strip == [{k: p[k] for k in ("label", "probabilities")} for p in direct["predictions"]]

    def compared() -> float:
        samples = scrape(f"{primary.base_url}/metrics")
        return total(samples, "spectrum_shadow_compared_total", alias="shadowed")

    wait_for(lambda: compared() >= len(texts), 10, "the shadow comparisons to be counted")
    samples = scrape(f"{primary.base_url}/metrics")
    labels = {
        "alias": "shadowed",
        "primary": primary.model_name,
        "candidate": candidate.model_name,
    }
    # Both calls on the alias were shadowed (share 1.0); the direct one was not.
    assert value(samples, "spectrum_shadow_compared_total", **labels, agree="false") == len(texts)
    assert total(samples, "spectrum_shadow_compared_total", agree="true") == 0
    assert (
        value(samples, "spectrum_shadow_duration_seconds_count", candidate=candidate.model_name)
        == 1
    )
    assert "shadow compared" in primary.logs()


def test_one_models_full_lane_leaves_another_models_requests_unrefused(
    make_stack: type[Stack],
) -> None:
    served, full = make_stack(max_queue_depth=3, queue_depth_ttl_ms=0), make_stack()
    served.start_worker()
    announce(full, live=True)  # alive by its heartbeat, nobody takes its queue
    served.start_api()
    broker = redis.Redis.from_url(served.settings["broker_url"])
    try:
        for i in range(3):
            broker.lpush(full.queue, json.dumps({"filler": i}))
    finally:
        broker.close()
    with served.client() as client:
        refused = client.post("/v1/predict", json={"text": "x", "model": full.model_name})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "Overloaded"
        assert full.queue in refused.json()["detail"]
        for text in unique_texts(5):
            answer = client.post("/v1/predict", json={"text": text})
            assert answer.status_code == 200, answer.text
            answer = client.post("/v1/predict", json={"text": text, "model": served.model_name})
            assert answer.status_code == 200, answer.text
    samples = scrape(f"{served.base_url}/metrics")
    assert value(samples, "spectrum_queue_depth", queue=full.queue, model=full.model_name,
                 lane="interactive") == 3  # fmt: skip


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own: the admin alias set it stores is global to its Redis."""
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_aliases_change_without_a_restart_from_the_file_and_the_admin_endpoint(
    own_redis: PrivateRedis, make_stack: type[Stack], tmp_path: Path
) -> None:
    url = own_redis.url
    key, hashed = new_key()
    where = {"broker_url": url, "result_backend_url": url, "cache_url": url}
    # The admin endpoint needs an admin key (a key without a role is a client).
    admin = f"{hashed}:admin"
    first, second = make_stack(**where, api_key_hashes=admin), make_stack(**where)
    path = tmp_path / "aliases.json"

    def write(targets: dict[str, int] | str, mtime: float) -> None:
        document = targets if isinstance(targets, str) else {"live": {"targets": targets}}
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        os.utime(path, (mtime, mtime))

    write({first.model_name: 1}, mtime=1000)
    first.start_worker()
    second.start_worker()
    first.start_api(aliases_file=str(path))
    one = first.base_url
    first.start_api(aliases_file=str(path))  # a second gateway process on the same Redis
    other = first.base_url
    auth = {"Authorization": f"Bearer {key}"}

    def answered_by(base_url: str) -> str:
        with httpx.Client(base_url=base_url, headers=auth, timeout=30) as client:
            answer = client.post("/v1/predict", json={"text": "a lovely film", "model": "live"})
        assert answer.status_code == 200, answer.text
        name: str = answer.json()["predictions"][0]["model"]["name"]
        return name

    assert answered_by(one) == first.model_name
    write({second.model_name: 1}, mtime=2000)
    wait_for(lambda: answered_by(one) == second.model_name, 10, "the file's new alias")
    write("{not json", mtime=3000)
    # The file is looked at when the set is used: each check asks once more.
    wait_for(
        lambda: answered_by(one) == second.model_name and "aliases file not loaded" in first.logs(),
        10,
        "the bad file logged, the previous set kept",
    )

    with httpx.Client(base_url=one, headers=auth, timeout=30) as client:
        anonymous = client.put("/v1/admin/aliases", json={}, headers={"Authorization": ""})
        bad = client.put("/v1/admin/aliases", json={"live": {"targets": {first.model_name: 0}}})
        put = client.put("/v1/admin/aliases", json={"live": {"targets": {first.model_name: 1}}})
    assert anonymous.status_code == 401
    assert bad.status_code == 422, bad.text
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "admin"
    # The other gateway sees the stored set at its next refresh.
    wait_for(lambda: answered_by(other) == first.model_name, 10, "the admin set elsewhere")
    with httpx.Client(base_url=other, headers=auth, timeout=30) as client:
        shown = client.get("/v1/admin/aliases").json()
    assert shown == {"source": "admin", "aliases": {"live": {"targets": {first.model_name: 1},
                                                             "shadow": None}}}  # fmt: skip


def test_models_with_other_labels_are_served_and_compared_without_agreement(
    make_stack: type[Stack],
) -> None:
    sentiment, emotion = make_stack(), make_stack(model_id="emotion")
    sentiment.start_worker()
    emotion.start_worker()
    sentiment.start_api()
    with sentiment.client() as client:
        answer = client.post(
            "/v1/predict", json={"text": "a joyful day", "model": emotion.model_name}
        )
        compared = client.post(
            "/v1/compare",
            json={"text": "a joyful day", "models": [sentiment.model_name, emotion.model_name]},
        )
    assert answer.status_code == 200, answer.text
    probabilities = answer.json()["predictions"][0]["probabilities"]
    assert {"joy", "anger", "fear"} <= set(probabilities)
    assert compared.status_code == 200, compared.text
    (result,) = compared.json()["results"]
    assert result["agree"] is None
    assert compared.json()["agreement"] is None
    assert [a["model"]["name"] for a in result["answers"]] == [
        sentiment.model_name,
        emotion.model_name,
    ]

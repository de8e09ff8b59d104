"""API keys, rate limits, CORS and the input limits, against a real gateway over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spectrum.api.edge.keys import digest
from spectrum_client import SpectrumClient, SpectrumError, cli
from spectrum_dev.harness import ROOT
from tests.integration.stack import Stack

KEY = "test-key-one"
OTHER = "test-key-two"


def test_keys_are_required_when_configured(make_stack: type[Stack]) -> None:
    stack = make_stack(api_keys=KEY, api_key_hashes=digest(OTHER))
    stack.start_worker()
    stack.start_api()
    with stack.client() as client:
        missing = client.post("/v1/predict", json={"text": "no key"})
        wrong = client.post("/v1/predict", json={"text": "x"}, headers={"X-API-Key": "nope"})
        bearer = client.post(
            "/v1/predict", json={"text": "a fine day"}, headers={"Authorization": f"Bearer {KEY}"}
        )
        header = client.post(
            "/v1/predict", json={"text": "a fine day"}, headers={"X-API-Key": OTHER}
        )
        open_paths = [client.get(path).status_code for path in ("/healthz", "/", "/v1/ui-config")]
        ready = client.get("/readyz")
        metrics = client.get("/metrics")

    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.json()["error"] == "Unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert bearer.status_code == 200, bearer.text
    assert header.status_code == 200
    assert header.json()["predictions"][0]["cached"] is True
    assert open_paths == [200, 200, 200]
    assert ready.status_code == 200
    assert metrics.status_code == 200

    # The Python client and the CLI carry a key too.
    with SpectrumClient(stack.base_url, api_key=KEY) as keyed:
        assert keyed.predict(["a fine day"])["predictions"][0]["cached"] is True
    with SpectrumClient(stack.base_url) as keyless, pytest.raises(SpectrumError, match="401"):
        keyless.predict(["a fine day"])
    assert cli.main(["--url", stack.base_url, "--api-key", OTHER, "predict", "a fine day"]) == 0
    assert cli.main(["--url", stack.base_url, "predict", "a fine day"]) == 1


def test_metrics_can_be_put_behind_the_keys(make_stack: type[Stack]) -> None:
    stack = make_stack(api_keys=KEY, metrics_public="false")
    stack.start_api()
    with stack.client() as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_production_refuses_to_start_without_keys(make_stack: type[Stack]) -> None:
    stack = make_stack()
    run = subprocess.run(
        [sys.executable, "-c", "from spectrum.api.app.factory import create_app; create_app()"],
        env=stack.env(env="production"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "SPECTRUM_API_KEY_HASHES" in run.stderr


def test_rate_limit_per_key_is_shared_and_answers_429(make_stack: type[Stack]) -> None:
    stack = make_stack(api_keys=f"{KEY},{OTHER}", rate_limit_per_s=0.5, rate_limit_burst=3)
    stack.start_api()
    first = stack.base_url
    stack.start_api()  # a second replica: the same limit, kept in Redis
    second = stack.base_url
    codes = []
    last: httpx.Response | None = None
    for url in (first, second, first, second):
        last = httpx.get(f"{url}/v1/models", headers={"X-API-Key": KEY}, timeout=10)
        codes.append(last.status_code)
    assert codes == [200, 200, 200, 429]
    assert last is not None
    assert last.json()["error"] == "RateLimited"
    assert int(last.headers["retry-after"]) >= 1
    assert last.headers["ratelimit-limit"] == "3"
    assert last.headers["ratelimit-remaining"] == "0"
    assert int(last.headers["ratelimit-reset"]) >= 1
    # Another key has its own budget.
    other = httpx.get(f"{first}/v1/models", headers={"X-API-Key": OTHER}, timeout=10)
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == "2"


def test_an_anonymous_rate_limit_is_per_address_when_asked_for(make_stack: type[Stack]) -> None:
    # The keyed limit does not apply with keys off; the anonymous one does.
    stack = make_stack(
        rate_limit_per_s=0.5,
        rate_limit_burst=1,
        rate_limit_anonymous_per_s=0.5,
        rate_limit_anonymous_burst=2,
    )
    stack.start_api()
    with stack.client() as client:
        codes = [client.get("/v1/models").status_code for _ in range(3)]
        assert client.get("/healthz").status_code == 200  # probes are never limited
    assert codes == [200, 200, 429]


FULL_SPEED_REQUESTS = 400
FULL_SPEED_CLIENTS = 16


def test_one_client_at_full_speed_with_keys_off_is_not_rate_limited(
    make_stack: type[Stack],
) -> None:
    # Shipped settings: one load generator on one address, as fast as the API answers.
    # The old default (50/s, burst 100, per address) refused most of these 400.
    stack = make_stack()
    stack.start_worker()
    stack.start_api()
    with stack.client() as client:
        assert client.post("/v1/predict", json={"text": "full speed"}).status_code == 200

        def one(i: int) -> int:
            if i % 2:
                return client.get("/v1/models").status_code
            return client.post("/v1/predict", json={"text": "full speed"}).status_code

        with ThreadPoolExecutor(FULL_SPEED_CLIENTS) as pool:
            codes = Counter(pool.map(one, range(FULL_SPEED_REQUESTS)))
        last = client.get("/v1/models")
    assert codes == Counter({200: FULL_SPEED_REQUESTS})
    assert not any(name.startswith("ratelimit-") for name in last.headers)


def test_cors_origins_come_from_settings(make_stack: type[Stack]) -> None:
    stack = make_stack(cors_origins="https://app.example")
    stack.start_api()
    with stack.client() as client:
        preflight = client.options(
            "/v1/predict",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key,content-type",
            },
        )
        stranger = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b'{"text": "\xff\xfe"}', {}, 400, "not valid UTF-8"),
        (b'{"text": "a"', {}, 422, "not valid JSON"),
        (b'{"text": 5}', {}, 422, "text"),
        (b'{"texts": ["ok", 3]}', {}, 422, "texts.1"),
        (b'{"text": "   "}', {}, 422, "empty"),
        (b'{"text": "nul\\u0000"}', {}, 422, "NUL"),
        (b'{"text": "' + b"x" * 3000 + b'"}', {}, 413, "at most 2048 (SPECTRUM_MAX_BODY_BYTES)"),
    ],
)
def test_bad_bodies_are_4xx_with_a_reason(
    make_stack: type[Stack], body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    stack = make_stack(max_body_bytes=2048)
    stack.start_api()
    with stack.client() as client:
        answer = client.post(
            "/v1/predict", content=body, headers={"content-type": "application/json", **headers}
        )
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["detail"]


def test_a_chunked_body_over_the_limit_is_a_413(make_stack: type[Stack]) -> None:
    stack = make_stack(max_body_bytes=2048)
    stack.start_api()

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"texts": ['
        for _ in range(200):
            yield b'"some text here", '
        yield b'"end"]}'

    with stack.client() as client:
        answer = client.post(
            "/v1/predict", content=chunks(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge"


def test_odd_but_valid_text_is_answered(make_stack: type[Stack]) -> None:
    stack = make_stack()
    stack.start_worker()
    stack.start_api()
    odd = ["😀🎉🔥", "<script>alert(1)</script>", "'; DROP TABLE users; --", "ünïcödé ½"]
    with stack.client() as client:
        for text in odd:
            answer = client.post("/v1/predict", json={"text": text})
            assert answer.status_code == 200, answer.text

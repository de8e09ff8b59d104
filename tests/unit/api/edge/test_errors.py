"""The one error path: statuses on the classes, one render that answers and counts.

The middlewares are driven around tiny ASGI apps (no Redis); the exception
handlers through the real app from create_app, in-process, without its lifespan.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

import spectrum.api.app.factory as factory
import spectrum.api.edge.errors as errors
from spectrum.api.edge.access_log import AccessLog
from spectrum.api.edge.admission import InFlight
from spectrum.api.edge.body_limit import BodyLimit, BodyLimits
from spectrum.api.edge.guard import Gate, GateMiddleware
from spectrum.api.edge.keys import KeyRing, digest
from spectrum.api.edge.last_resort import LastResort
from spectrum.api.edge.ratelimit import Decision
from spectrum.api.observability.metrics import REGISTRY
from spectrum.shared.config import Settings
from spectrum.shared.errors import (
    BackendUnavailable,
    CallbackRefused,
    DeadlineExceeded,
    HTTPError,
    InferenceFailed,
    InternalError,
    InvalidInput,
    JobNotFound,
    NotFound,
    NoWorkerAvailable,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    SpectrumError,
    UnreadableBody,
    UnsupportedMediaType,
)

KEY = "k-one"


def rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value("spectrum_requests_rejected_total", {"reason": reason})
    return value or 0.0


def expired() -> float:
    return REGISTRY.get_sample_value("spectrum_requests_expired_total") or 0.0


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


# --- statuses live on the classes -------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (InvalidInput("x"), 422, None),
        (CallbackRefused("x"), 422, None),  # an InvalidInput, answered as one
        (PayloadTooLarge("x"), 413, None),  # an InvalidInput, answered 413 whatever the order
        (UnsupportedMediaType("x"), 415, None),
        (UnreadableBody("x"), 400, None),
        (JobNotFound("x"), 404, None),
        (RateLimited("x", retry_after_s=7), 429, 7),
        (Overloaded("x"), 503, 1),
        (NoWorkerAvailable("x"), 503, 1),
        (BackendUnavailable("x"), 503, 1),
        (DeadlineExceeded("x"), 504, None),
        (InferenceFailed("x"), 502, None),
        (InternalError("x"), 500, None),
        (HTTPError("x", 416), 416, None),
    ],
)
async def test_an_error_answers_with_its_class_status_and_retry_after(
    error: SpectrumError, status: int, retry_after: int | None
) -> None:
    response = errors.render(error)
    assert response.status_code == status
    assert response.headers.get("retry-after") == (
        None if retry_after is None else str(retry_after)
    )


def test_every_error_class_has_a_status() -> None:
    def subclasses(kind: type[SpectrumError]) -> Iterator[type[SpectrumError]]:
        for sub in kind.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for kind in subclasses(SpectrumError):
        if kind is not HTTPError:  # its status is Starlette's, per instance
            assert 400 <= kind.status < 600, kind


# --- one body, with the request id ------------------------------------------------------


async def answer_with(error: SpectrumError) -> httpx.Response:
    """`error` sent by a pure ASGI app inside the access log, as the middlewares send it."""

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await errors.send_error(error, scope, receive, send, {"X-Extra": "yes"})

    async with client(AccessLog(refuse)) as c:
        return await c.get("/", headers={"X-Request-ID": "req-7"})


async def test_the_body_is_error_detail_and_request_id() -> None:
    answer = await answer_with(NoWorkerAvailable("no worker; start one"))
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "NoWorkerAvailable",
        "detail": "no worker; start one",
        "request_id": "req-7",
    }
    assert answer.headers["x-request-id"] == "req-7"
    assert answer.headers["x-extra"] == "yes"
    assert answer.headers["retry-after"] == "1"


async def test_an_invalid_input_with_problems_lists_them() -> None:
    problems = [{"loc": ["body", "texts", 1], "msg": "Input should be a valid string"}]
    answer = await answer_with(InvalidInput("texts.1: Input should be a valid string", problems))  # type: ignore[arg-type]
    assert answer.json()["errors"] == problems
    assert answer.json()["detail"] == "texts.1: Input should be a valid string"


async def test_render_counts_refusals_and_expiries_but_not_failures() -> None:
    before = rejected("NoWorkerAvailable"), expired(), rejected("InferenceFailed")
    errors.render(NoWorkerAvailable("x"))
    errors.render(DeadlineExceeded("x"))
    errors.render(InferenceFailed("x"))  # a worker's failure is not a refusal
    errors.render(NotFound("x"))  # nor a path no route has
    assert rejected("NoWorkerAvailable") == before[0] + 1
    assert expired() == before[1] + 1
    assert rejected("InferenceFailed") == before[2]
    assert rejected("NotFound") == 0


# --- every middleware answers through render --------------------------------------------


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the errors `render` answered, in order."""
    seen: list[str] = []
    real = errors.render

    def spy(error: SpectrumError, headers: Any = None, **how: Any) -> Any:
        seen.append(type(error).__name__)
        return real(error, headers, **how)

    monkeypatch.setattr(errors, "render", spy)
    return seen


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class Refusing:
    """A rate limiter that refuses every request."""

    async def check(self, caller: str) -> Decision:
        return Decision(allowed=False, limit=5, remaining=0, reset_ms=3000, retry_after_ms=2500)


async def test_each_middleware_refuses_through_the_one_path(rendered: list[str]) -> None:
    keyed = Gate(KeyRing([(digest(KEY), "client")]), InFlight(10), metrics_public=True)
    full = Gate(KeyRing([]), InFlight(0), metrics_public=True)
    limited = Gate(KeyRing([]), InFlight(10), metrics_public=True)
    limited.limiter = Refusing()  # type: ignore[assignment]
    limits = BodyLimits.from_settings(Settings(max_body_bytes=1024))

    async def explode(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    before = rejected("Unauthorized")
    async with client(AccessLog(GateMiddleware(ok, gate=keyed))) as c:
        missing = await c.post("/v1/predict")
        unknown = await c.post("/v1/predict", headers={"X-API-Key": "not-it"})
    async with client(AccessLog(GateMiddleware(ok, gate=limited))) as c:
        limited_answer = await c.post("/v1/predict")
    async with client(AccessLog(GateMiddleware(ok, gate=full))) as c:
        shed = await c.post("/v1/predict")
    async with client(AccessLog(BodyLimit(ok, limits=limits))) as c:
        large = await c.post("/v1/predict", content=b"x" * 1025)
        broken = await c.post("/v1/predict", headers={"Content-Length": "x"})
    async with client(AccessLog(LastResort(explode))) as c:
        bug = await c.get("/v1/x")

    assert rendered == [
        "Unauthorized",
        "Unauthorized",
        "RateLimited",
        "Overloaded",
        "PayloadTooLarge",
        "UnreadableBody",
        "InternalError",
    ]
    assert rejected("Unauthorized") == before + 2
    assert "Authorization: Bearer <key>" in missing.json()["detail"]
    assert "not one the gateway knows" in unknown.json()["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert limited_answer.status_code == 429
    assert limited_answer.headers["retry-after"] == "3"
    assert limited_answer.headers["ratelimit-limit"] == "5"
    assert shed.status_code == 503
    assert "POST /v1/jobs" in large.json()["detail"]
    assert broken.status_code == 400
    assert bug.status_code == 500
    for answer in (missing, unknown, limited_answer, shed, large, broken, bug):
        assert answer.json()["request_id"] == answer.headers["x-request-id"], answer.text


# --- the real app, in-process -----------------------------------------------------------


def app_with(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> FastAPI:
    """create_app without its lifespan: routes see a stand-in for resources with settings."""
    # Logging is configured once per entrypoint, not by a test run.
    monkeypatch.setattr(factory, "configure_logging", lambda *_: None)
    config = Settings(**settings)
    app = factory.create_app(config)
    app.state.resources = SimpleNamespace(settings=config)
    return app


async def test_a_validation_error_lists_each_place_and_keeps_a_readable_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = app_with(monkeypatch)
    async with client(app) as c:
        answer = await c.post(
            "/v1/predict", json={"texts": ["ok", 3]}, headers={"X-Request-ID": "req-9"}
        )
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "InvalidInput"
    assert body["detail"] == "texts.1: Input should be a valid string"
    assert body["errors"] == [
        {"loc": ["body", "texts", 1], "msg": "Input should be a valid string"}
    ]
    assert body["request_id"] == "req-9"


async def test_starlette_refusals_share_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_with(monkeypatch)
    async with client(app) as c:
        missing = await c.get("/v1/nowhere")
        wrong = await c.get("/v1/predict")
        not_utf8 = await c.post(
            "/v1/predict", content=b'{"text": "\xff"}', headers={"Content-Type": "application/json"}
        )
    assert (missing.status_code, missing.json()["error"]) == (404, "NotFound")
    assert "/docs" in missing.json()["detail"]
    assert (wrong.status_code, wrong.json()["error"]) == (405, "MethodNotAllowed")
    assert wrong.headers["allow"] == "POST"
    assert (not_utf8.status_code, not_utf8.json()["error"]) == (400, "UnreadableBody")
    for answer in (missing, wrong, not_utf8):
        assert set(answer.json()) == {"error", "detail", "request_id"}


async def test_too_many_texts_points_to_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from spectrum.shared.text import request_texts

    with pytest.raises(
        InvalidInput, match=r"at most 2 per request; send more as a job: POST /v1/jobs"
    ):
        request_texts(["a", "b", "c"], Settings(max_texts_per_request=2))


@pytest.mark.parametrize(
    ("max_body", "job_max_upload"), [(16_384, 2_048), (2_048, 16_384)], ids=["body>job", "job>body"]
)
async def test_one_rule_caps_each_route_when_the_settings_disagree(
    monkeypatch: pytest.MonkeyPatch, max_body: int, job_max_upload: int
) -> None:
    """A job's body is capped at SPECTRUM_JOB_MAX_UPLOAD_BYTES, larger or smaller than the rest."""
    app = app_with(monkeypatch, max_body_bytes=max_body, job_max_upload_bytes=job_max_upload)
    between = b"x" * 4_000  # over the smaller cap, under the larger
    plain = {"Content-Type": "text/plain"}

    async def chunked() -> AsyncIterator[bytes]:
        for at in range(0, len(between), 500):
            yield between[at : at + 500]

    async with client(app) as c:
        job = await c.post("/v1/jobs", content=between, headers=plain)
        job_chunked = await c.post("/v1/jobs", content=chunked(), headers=plain)
        predict = await c.post("/v1/predict", content=between, headers=plain)

    if job_max_upload < max_body:
        assert job.status_code == 413, job.text
        assert job.json()["detail"].startswith("the body is 4000 bytes, at most 2048 (SPECTRUM_JOB")
        assert job_chunked.status_code == 413, job_chunked.text
        assert predict.status_code == 422  # under its cap: read, and refused as not JSON
    else:
        # Under its cap: read as CSV (text/plain is), and refused for its header.
        assert job.status_code == 422, job.text
        assert job.json()["detail"].startswith("no column 'text'")
        assert job_chunked.status_code == 422, job_chunked.text
        assert predict.status_code == 413
        assert "(SPECTRUM_MAX_BODY_BYTES)" in predict.json()["detail"]


# --- OpenAPI ----------------------------------------------------------------------------


def schema_of(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> dict[str, Any]:
    return app_with(monkeypatch, **settings).openapi()


def test_the_key_schemes_are_declared_on_guarded_operations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = schema_of(monkeypatch, api_keys=KEY)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert (schemes["Bearer"]["type"], schemes["Bearer"]["scheme"]) == ("http", "bearer")
    paths = schema["paths"]
    assert paths["/v1/predict"]["post"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert paths["/v1/jobs/{job_id}"]["delete"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    for open_path in ("/healthz", "/readyz", "/v1/ui-config"):
        assert "security" not in paths[open_path]["get"], open_path

    keys_off = schema_of(monkeypatch)
    # Keys off: a key may be sent (Authorize still works) and none is needed.
    assert keys_off["paths"]["/v1/predict"]["post"]["security"][-1] == {}


def test_operation_ids_are_the_route_names_in_camel_case(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = schema_of(monkeypatch)
    ids = {
        f"{method.upper()} {path}": operation["operationId"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert ids == {
        "POST /v1/predict": "predict",
        "POST /v1/jobs": "submitJob",
        "GET /v1/jobs/{job_id}": "getJob",
        "DELETE /v1/jobs/{job_id}": "cancelJob",
        "GET /v1/jobs/{job_id}/results": "getJobResults",
        "GET /v1/models": "listModels",
        "POST /v1/compare": "compare",
        "GET /v1/admin/aliases": "getAliases",
        "PUT /v1/admin/aliases": "putAliases",
        "GET /healthz": "healthz",
        "GET /readyz": "readyz",
        "GET /v1/ui-config": "getUiConfig",
        "GET /v1/analytics/volume": "getVolume",
        "GET /v1/analytics/latency": "getLatency",
        "GET /v1/analytics/keys": "getKeyVolume",
        "GET /v1/analytics/agreement": "getAgreement",
        "GET /v1/analytics/drift": "getDrift",
        "GET /v1/analytics/export": "exportLog",
        "GET /v2": "serverMetadata",
        "GET /v2/health/live": "serverLive",
        "GET /v2/health/ready": "serverReady",
        "GET /v2/models/{model_name}": "modelMetadata",
        "GET /v2/models/{model_name}/versions/{model_version}": "modelVersionMetadata",
        "GET /v2/models/{model_name}/ready": "modelReady",
        "GET /v2/models/{model_name}/versions/{model_version}/ready": "modelVersionReady",
        "POST /v2/models/{model_name}/infer": "modelInfer",
        "POST /v2/models/{model_name}/versions/{model_version}/infer": "modelVersionInfer",
    }


def test_the_error_body_and_examples_are_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = schema_of(monkeypatch)
    body = schema["components"]["schemas"]["ErrorBody"]
    assert {"error", "detail", "request_id", "errors"} <= set(body["properties"])
    predict = schema["paths"]["/v1/predict"]["post"]["responses"]
    invalid = predict["422"]["content"]["application/json"]
    assert invalid["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    errors.ErrorBody.model_validate(invalid["example"])
    assert invalid["example"]["errors"][0]["loc"] == ["body", "texts", 1]
    assert "example" in predict["200"]["content"]["application/json"]


def test_every_example_parses_as_its_model() -> None:
    from spectrum.api.jobs import routes as jobs
    from spectrum.api.jobs.schemas import JobCreated, JobView
    from spectrum.api.models import routes as models
    from spectrum.api.models.schemas import ModelList
    from spectrum.api.predict import routes as predict
    from spectrum.api.predict.schemas import PredictResponse

    PredictResponse.model_validate(predict.EXAMPLE)
    ModelList.model_validate(models.EXAMPLE)
    JobCreated.model_validate(jobs.CREATED_EXAMPLE)
    JobView.model_validate(jobs.VIEW_EXAMPLE)
    for code in errors._MEANING:
        (response,) = errors.documented(code).values()
        errors.ErrorBody.model_validate(response["content"]["application/json"]["example"])


def test_a_documented_example_is_what_render_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 401 example is the gate's own text, not a paraphrase."""
    from spectrum.api.edge.guard import _unauthorized

    (response,) = errors.documented(401).values()
    example = response["content"]["application/json"]["example"]
    assert example["detail"] == _unauthorized(None).detail
    assert json.loads(errors.render(_unauthorized(None)).body)["error"] == example["error"]


async def test_the_client_still_reads_the_error_body(monkeypatch: pytest.MonkeyPatch) -> None:
    from spectrum_client.errors import SpectrumError as ClientError
    from spectrum_client.errors import raise_for

    async with client(app_with(monkeypatch)) as c:
        answer = await c.post("/v1/predict", json={"texts": ["ok", 3]})
    with pytest.raises(ClientError) as raised:
        raise_for(answer)
    assert (raised.value.status, raised.value.error) == (422, "InvalidInput")
    assert raised.value.detail == "texts.1: Input should be a valid string"
    assert raised.value.request_id == answer.json()["request_id"]
    assert raised.value.errors == answer.json()["errors"]

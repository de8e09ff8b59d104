"""An exception no handler took: a JSON 500 with the request id, one log line, one count.

The app is the real one from create_app (every middleware in place), with one
extra route that raises, called in-process. It runs in a child process because
logging is configured once per process, as each entrypoint does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spectrum_dev.harness import ROOT

PROGRAM = """
import asyncio, json
import httpx
from spectrum.api.app.factory import create_app
from spectrum.api.observability.metrics import REGISTRY
from spectrum.shared.config import Settings

app = create_app(Settings(log_json=True, cors_origins="https://page.example"))

async def explode() -> None:
    raise RuntimeError("secret internals: password=hunter2")

async def explode_mid_stream():
    from starlette.responses import StreamingResponse
    async def rows():
        yield b"first\\n"
        raise RuntimeError("the stream broke")
    return StreamingResponse(rows())

app.add_api_route("/v1/explode", explode)
app.add_api_route("/v1/explode-mid-stream", explode_mid_stream)

def count(route: str) -> float:
    name = "spectrum_internal_errors_total"
    return REGISTRY.get_sample_value(name, {"route": route}) or 0.0

async def main() -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        before = count("/v1/explode")
        answer = await client.get(
            "/v1/explode", headers={"X-Request-ID": "req-42", "Origin": "https://page.example"}
        )
        print(json.dumps({
            "status": answer.status_code,
            "type": answer.headers["content-type"],
            "body": answer.json(),
            "cors": answer.headers.get("access-control-allow-origin"),
            "request_id": answer.headers.get("x-request-id"),
            "counted": count("/v1/explode") - before,
            "requests_500": REGISTRY.get_sample_value(
                "spectrum_http_requests_total",
                {"route": "/v1/explode", "method": "GET", "status": "500"},
            ),
        }))
        try:
            await client.get("/v1/explode-mid-stream", headers={"X-Request-ID": "req-43"})
        except Exception as exc:
            print(json.dumps({"stream": type(exc).__name__}))
        print(json.dumps({"stream_counted": count("/v1/explode-mid-stream")}))

asyncio.run(main())
"""


def test_an_unhandled_exception_is_a_json_500_logged_once_and_counted() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRUM_")}
    env["SPECTRUM_ENV_FILE"] = ""  # nor a .env in the checkout
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    first, *rest = (json.loads(line) for line in done.stdout.splitlines())
    assert first["status"] == 500
    assert first["type"] == "application/json"
    body = first["body"]
    assert body == {
        "error": "InternalError",
        "detail": "an unexpected error occurred; it is logged under this request_id",
        "request_id": "req-42",
    }
    assert first["request_id"] == "req-42"
    assert first["cors"] == "https://page.example"
    assert first["counted"] == 1
    assert first["requests_500"] == 1  # the request metrics saw the 500 under its route

    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "req-42"]
    errors = [line for line in mine if line["level"] == "error"]
    assert len(errors) == 1, mine  # logged once: not again by Starlette or the server
    error = errors[0]
    assert error["event"] == "unhandled error"
    assert error["route"] == "/v1/explode"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert error["exception"].endswith("RuntimeError: secret internals: password=hunter2")
    access = [line for line in mine if line.get("event") == "request"]
    assert [(line["status"], line["route"]) for line in access] == [(500, "/v1/explode")]
    assert "hunter2" not in json.dumps(body)

    # After the headers went out nothing can be sent but a cut: the client sees an
    # error, never a complete-looking body; the exception is still logged and counted.
    assert "stream" in rest[0], rest  # the client's read of the cut response failed
    assert rest[-1] == {"stream_counted": 1}
    streamed = [line for line in lines if line.get("request_id") == "req-43"]
    logged = [line for line in streamed if line["level"] == "error"]
    assert [line["event"] for line in logged] == ["unhandled error"]
    assert logged[0]["response_started"] is True

"""An in-memory Spectrum API for the client's tests: httpx.MockTransport over a few routes.

Each prediction's label is its text, so a test reads the order of the answers
from the labels. `script` queues answers (a Response, or an exception to raise)
that are served before the routes, for one path each; `calls` records every request.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any

import httpx

MODEL = {"name": "fake", "version": "abc123"}
JOB_ID = "0" * 32


def prediction(text: str) -> dict[str, Any]:
    return {
        "label": text,
        "score": 0.75,
        "probabilities": {"NEGATIVE": 0.25, "POSITIVE": 0.75},
        "cached": False,
        "truncated": False,
    }


def job(state: str, done: int, total: int = 4) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "state": state,
        "model": "fake",
        "labels": ["NEGATIVE", "POSITIVE"],
        "progress": {
            "total": total,
            "done": done,
            "failed": 0,
            "skipped": 0,
            "cached": 0,
            "chunks": 1,
            "chunks_finished": int(state == "succeeded"),
        },
        "created_at": 1.0,
        "started_at": None,
        "finished_at": None,
        "webhook": None,
        "status_url": f"/v1/jobs/{JOB_ID}",
        "results_url": f"/v1/jobs/{JOB_ID}/results",
        "results": None,
    }


class FakeApi:
    def __init__(self, *, max_texts: int | None = 3) -> None:
        self.max_texts = max_texts  # None: /v1/ui-config answers 404 (an older server)
        self.script: defaultdict[str, deque[httpx.Response | Exception]] = defaultdict(deque)
        self.calls: list[httpx.Request] = []
        self.job_states: deque[dict[str, Any]] = deque()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.calls]

    def predicted(self) -> list[list[str]]:
        """The texts of each POST /v1/predict, in the order they were sent."""
        bodies = [json.loads(r.content) for r in self.calls if r.url.path == "/v1/predict"]
        return [b["texts"] if "texts" in b else [b["text"]] for b in bodies]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        queued = self.script.get(request.url.path)
        if queued:
            answer = queued.popleft()
            if isinstance(answer, Exception):
                raise answer
            return answer
        return self.route(request)

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/ui-config":
            if self.max_texts is None:
                return error(404, "NotFound", "no such route")
            return httpx.Response(200, json={"max_texts_per_request": self.max_texts})
        if path == "/v1/predict":
            body = json.loads(request.content)
            texts = body["texts"] if "texts" in body else [body["text"]]
            if self.max_texts is not None and len(texts) > self.max_texts:
                return error(422, "InvalidInput", f"at most {self.max_texts} texts per request")
            return httpx.Response(
                200, json={"model": MODEL, "predictions": [prediction(t) for t in texts]}
            )
        if path == "/v1/models":
            info = {
                "name": "fake",
                "version": "abc123",
                "labels": ["NEGATIVE", "POSITIVE"],
                "runtime": "lexicon",
                "source": None,
                "description": "a fake",
                "metrics": {},
                "queue": "fake.interactive",
                "live_workers": 2,
            }
            return httpx.Response(200, json={"models": [info]})
        if path == "/readyz":
            return httpx.Response(
                200, json={"status": "ready", "checks": {"broker": "ok", "backend": "ok"}}
            )
        if path == "/v1/jobs" and request.method == "POST":
            return httpx.Response(202, json={k: job("queued", 0)[k] for k in JOB_KEYS})
        if path == f"/v1/jobs/{JOB_ID}":
            state = self.job_states.popleft() if self.job_states else job("succeeded", 4)
            return httpx.Response(200, json=state)
        if path == f"/v1/jobs/{JOB_ID}/results":
            if request.url.params.get("format") == "csv":
                return httpx.Response(200, text="index,label\n0,POSITIVE\n")
            lines = "".join(json.dumps({"index": i, "label": "POSITIVE"}) + "\n" for i in range(4))
            return httpx.Response(200, text=lines)
        return error(404, "JobNotFound", f"no route {path}")


JOB_KEYS = ("id", "state", "status_url", "results_url")


def error(status: int, name: str, detail: str, **extra: Any) -> httpx.Response:
    headers = {"Retry-After": extra.pop("retry_after")} if "retry_after" in extra else {}
    return httpx.Response(status, json={"error": name, "detail": detail, **extra}, headers=headers)


class Sleeps:
    """A sleep function that records what it was asked to sleep and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)

"""An in-memory Spectrum API for the client's tests: httpx.MockTransport over a few routes.

Each prediction's label is its text, so a test reads the order of the answers
from the labels. By default it answers as a gateway of one model did (no `model`
in predictions, /v1/models without `default` or `aliases`); `many=True` answers as
one with many models (CATALOG) and /v1/compare, where every model but the first
labels a text containing "disagree" OTHER. `script` queues answers (a Response, or an
exception to raise) that are served before the routes, for one path each; `calls`
records every request.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any

import httpx

MODEL = {"name": "fake", "version": "abc123"}
JOB_ID = "0" * 32
LEXICON = {
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


def info(name: str, labels: list[str], aliases: list[str], live: int) -> dict[str, Any]:
    return {
        **LEXICON,
        "name": name,
        "family": name.removesuffix("-v2"),
        "version": f"{name}-hash",
        "labels": labels,
        "queue": f"{name}.interactive",
        "bulk_queue": f"{name}.bulk",
        "live_workers": live,
        "bulk_workers": live,
        "aliases": aliases,
    }


CATALOG = {
    "default": "fake",
    "models": [
        info("fake", ["NEGATIVE", "POSITIVE"], ["feeling"], 2),
        info("fake-v2", ["NEGATIVE", "POSITIVE"], ["feeling"], 1),
        info("mood", ["anger", "joy", "neutral"], [], 0),
    ],
    "aliases": [
        {
            "name": "feeling",
            "targets": [{"model": "fake", "weight": 90}, {"model": "fake-v2", "weight": 10}],
            "shadow": {"model": "mood", "share": 0.25},
        }
    ],
}


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
    def __init__(self, *, max_texts: int | None = 3, many: bool = False) -> None:
        self.max_texts = max_texts  # None: /v1/ui-config answers 404 (an older server)
        self.many = many
        self.script: defaultdict[str, deque[httpx.Response | Exception]] = defaultdict(deque)
        self.calls: list[httpx.Request] = []
        self.job_states: deque[dict[str, Any]] = deque()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.calls]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies POSTed to `path`, in the order they were sent."""
        return [
            json.loads(r.content)
            for r in self.calls
            if r.url.path == path and r.method == "POST" and r.headers.get("content-type") == JSON
        ]

    def predicted(self) -> list[list[str]]:
        """The texts of each POST /v1/predict, in the order they were sent."""
        return [texts_of(body) for body in self.bodies("/v1/predict")]

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
            texts = texts_of(body)
            if self.max_texts is not None and len(texts) > self.max_texts:
                return error(422, "InvalidInput", f"at most {self.max_texts} texts per request")
            if not self.many:
                return httpx.Response(
                    200, json={"model": MODEL, "predictions": [prediction(t) for t in texts]}
                )
            model = served(body.get("model") or "fake")
            answers = [{**prediction(t), "model": model} for t in texts]
            alias = body.get("model") if body.get("model") == "feeling" else None
            return httpx.Response(
                200, json={"model": model, "alias": alias, "predictions": answers}
            )
        if path == "/v1/compare" and self.many:
            return self.compare(json.loads(request.content))
        if path == "/v1/models":
            return httpx.Response(200, json=CATALOG if self.many else {"models": [LEXICON]})
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

    def compare(self, body: dict[str, Any]) -> httpx.Response:
        names: list[str] = body["models"]
        texts = texts_of(body)
        if self.max_texts is not None and len(texts) > self.max_texts:
            return error(422, "InvalidInput", f"at most {self.max_texts} texts per request")
        comparable = "mood" not in names  # its labels differ from the others'
        results = []
        for index, text in enumerate(texts):
            labels = [text] + ["OTHER" if "disagree" in text else text for _ in names[1:]]
            answers = [
                {**prediction(label), "model": served(name)}
                for name, label in zip(names, labels, strict=True)
            ]
            agree = len(set(labels)) == 1 if comparable else None
            results.append({"index": index, "answers": answers, "agree": agree})
        agreement = sum(bool(r["agree"]) for r in results) / len(results) if comparable else None
        return httpx.Response(
            200,
            json={
                "models": [served(name) for name in names],
                "results": results,
                "agreement": agreement,
            },
        )


JOB_KEYS = ("id", "state", "status_url", "results_url")
JSON = "application/json"


def texts_of(body: dict[str, Any]) -> list[str]:
    texts: list[str] = body["texts"] if "texts" in body else [body["text"]]
    return texts


def served(name: str) -> dict[str, str]:
    """The model an answer names: an alias answers as its first target."""
    name = "fake" if name == "feeling" else name
    return {"name": name, "version": f"{name}-hash"}


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

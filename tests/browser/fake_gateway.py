"""The page's own files behind a few fake API routes, for the browser: no Redis, no worker.

`many=True` answers as a gateway of many models (three models, one alias, /v1/compare);
`many=False` as a gateway of one model did before (no `default`, no `aliases`, no
/v1/compare) and, like it, refuses a "model" field with a 422. Every prediction's
probabilities follow from the text and the model's labels, so a test computes what the
page must show; `posts` records every JSON body (or query, for an upload) POSTed.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from spectrum.api.ui.routes import STATIC_DIR

SENTIMENT = ["NEGATIVE", "POSITIVE"]
EMOTIONS = ["anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"]
LABELS = {
    "sentiment-minilm": SENTIMENT,
    "sentiment-minilm-v2": SENTIMENT,
    "emotion": [*EMOTIONS, "neutral"],
}
ALIAS = {
    "name": "sentiment",
    "targets": [
        {"model": "sentiment-minilm", "weight": 90},
        {"model": "sentiment-minilm-v2", "weight": 10},
    ],
    "shadow": None,
}
JOB_ID = "f" * 32


def probabilities(model: str, text: str) -> dict[str, float]:
    """A distribution over the model's labels that depends on the model and the text."""
    digest = hashlib.sha256(f"{model}\n{text}".encode()).digest()
    labels = LABELS[model]
    weights = [1 + digest[i] for i in range(len(labels))]
    return {label: w / sum(weights) for label, w in zip(labels, weights, strict=True)}


def predict(model: str, text: str) -> dict[str, Any]:
    p = probabilities(model, text)
    label = max(p, key=lambda k: p[k])
    return {"label": label, "score": p[label], "probabilities": p, "cached": False}


def served(name: str) -> dict[str, str]:
    return {"name": name, "version": f"{name[:4]}{len(name)}"}


def target(name: str) -> str:
    """The model an alias sends a text to (the fake always picks its first target)."""
    return "sentiment-minilm" if name == "sentiment" else name


class FakeGateway:
    def __init__(self, *, many: bool) -> None:
        self.many = many
        self.posts: list[tuple[str, dict[str, Any]]] = []
        routes = [
            Route("/", lambda _: FileResponse(STATIC_DIR / "index.html")),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
            Route("/v1/ui-config", self.ui_config),
            Route("/v1/models", self.models),
            Route("/v1/predict", self.predict, methods=["POST"]),
            Route("/v1/jobs", self.submit, methods=["POST"]),
            Route(f"/v1/jobs/{JOB_ID}", self.job),
            Route(f"/v1/jobs/{JOB_ID}/results", self.results),
        ]
        if many:
            routes.append(Route("/v1/compare", self.compare, methods=["POST"]))
        self.app = Starlette(routes=routes)
        self.job_texts: list[str] = []
        self.job_model = "sentiment-minilm"

    async def ui_config(self, _: Request) -> Response:
        return JSONResponse({"max_texts_per_request": 64, "max_text_chars": 1000})

    async def models(self, _: Request) -> Response:
        names = list(LABELS) if self.many else ["sentiment-minilm"]
        models = [
            {
                "name": name,
                **({"family": name.removesuffix("-v2")} if self.many else {}),
                "version": served(name)["version"],
                "labels": LABELS[name],
                "runtime": "emotion-lexicon" if name == "emotion" else "torch-bf16",
                "source": None,
                "description": "",
                "metrics": {},
                "queue": f"{name}.interactive",
                "live_workers": 0 if name == "sentiment-minilm-v2" else 1,
                **({"aliases": ["sentiment"] if "minilm" in name else []} if self.many else {}),
            }
            for name in names
        ]
        if not self.many:
            return JSONResponse({"models": models})
        return JSONResponse({"default": "sentiment-minilm", "models": models, "aliases": [ALIAS]})

    def refuse(self, body: dict[str, Any]) -> Response | None:
        if not self.many and "model" in body:  # as the old schema's extra="forbid" did
            return JSONResponse({"error": "InvalidInput", "detail": "model: extra"}, 422)
        if body.get("model", "sentiment-minilm") not in [*LABELS, "sentiment"]:
            return JSONResponse({"error": "ModelNotFound", "detail": "no such model"}, 404)
        return None

    async def predict(self, request: Request) -> Response:
        body = await request.json()
        self.posts.append(("/v1/predict", body))
        if (refused := self.refuse(body)) is not None:
            return refused
        name = target(body.get("model", "sentiment-minilm"))
        predictions = [{**predict(name, text), "truncated": False} for text in body["texts"]]
        if not self.many:
            return JSONResponse({"model": served(name), "predictions": predictions})
        alias = "sentiment" if body.get("model") == "sentiment" else None
        for prediction in predictions:
            prediction["model"] = served(name)
        return JSONResponse({"model": served(name), "alias": alias, "predictions": predictions})

    async def compare(self, request: Request) -> Response:
        body = await request.json()
        self.posts.append(("/v1/compare", body))
        names = [target(name) for name in body["models"]]
        texts = [body["text"]] if "text" in body else body["texts"]
        comparable = len({tuple(LABELS[name]) for name in names}) == 1
        results = []
        for index, text in enumerate(texts):
            answers = [{**predict(name, text), "model": served(name)} for name in names]
            agree = len({a["label"] for a in answers}) == 1 if comparable else None
            results.append({"index": index, "answers": answers, "agree": agree})
        agreement = sum(bool(r["agree"]) for r in results) / len(results) if comparable else None
        return JSONResponse(
            {"models": [served(n) for n in names], "results": results, "agreement": agreement}
        )

    async def submit(self, request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
        else:  # an upload: the model rides in the query
            body = dict(request.query_params)
        self.posts.append(("/v1/jobs", body))
        if (refused := self.refuse(body)) is not None:
            return refused
        self.job_model = target(body.get("model", "sentiment-minilm"))
        self.job_texts = body.get("texts", [])
        urls = {"status_url": f"/v1/jobs/{JOB_ID}", "results_url": f"/v1/jobs/{JOB_ID}/results"}
        return JSONResponse({"id": JOB_ID, "state": "queued", **urls}, 202)

    async def job(self, _: Request) -> Response:
        total = len(self.job_texts)
        progress = {"total": total, "done": total, "failed": 0, "skipped": 0, "cached": 0}
        return JSONResponse(
            {
                "id": JOB_ID,
                "state": "succeeded",
                "model": self.job_model,
                "labels": LABELS[self.job_model],
                "progress": {**progress, "chunks": 1, "chunks_finished": 1},
            }
        )

    async def results(self, _: Request) -> Response:
        lines = [
            {"index": i, **predict(self.job_model, text)} for i, text in enumerate(self.job_texts)
        ]
        body = "".join(JSONResponse(line).body.decode() + "\n" for line in lines)
        return Response(body, media_type="application/x-ndjson")


@contextmanager
def running(gateway: FakeGateway) -> Iterator[str]:
    """Serve the fake on a free loopback port in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(gateway.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fake gateway did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)

"""The synchronous prediction path: resolve the model, answer cache hits, batch the misses, wait.

Each model has its own micro-batcher (created on its first request, the default
model's at start), its own queue and cap (api/edge/admission.py) and its own cache
keys (name and version of its card). A request naming an alias is split by the
alias's sticky choice (api/models/aliases.py): each model answers its share of the
texts, concurrently, and the answers are merged back in input order. A share of
an alias's texts is then copied to its shadow candidate in the background, after
the answer is built: the candidate's answers are only compared and counted
(`Shadow`), never returned, and a slow or missing candidate never delays or fails
the request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import redis.asyncio as aioredis
import structlog
from celery import Celery
from pydantic import ValidationError

from spectrum.api.edge.admission import LaneAdmission
from spectrum.api.edge.guard import current_key_id
from spectrum.api.models.aliases import Alias, text_digest
from spectrum.api.models.catalog import Catalog, Route
from spectrum.api.models.schemas import ServedModel
from spectrum.api.observability import metrics
from spectrum.api.predict.batcher import MicroBatcher
from spectrum.api.predict.cache_reads import CoalescedReads
from spectrum.api.predict.schemas import Prediction, PredictResponse
from spectrum.api.predict.waiter import ResultDocument, ResultWaiter
from spectrum.shared import tracing
from spectrum.shared.cache import CachedPrediction, CacheLookup
from spectrum.shared.config import Settings
from spectrum.shared.contracts import (
    PREDICT_TASK,
    ModelCard,
    PredictOutcome,
    PredictPayload,
    redacted_args,
)
from spectrum.shared.errors import (
    START_A_WORKER,
    BackendUnavailable,
    BrokerUnavailable,
    DeadlineExceeded,
    InferenceFailed,
    ModelNotFound,
    NoWorkerAvailable,
    SpectrumError,
)
from spectrum.shared.predictions import Answer, computed_rows, merge, misses
from spectrum.shared.predlog.rows import rows_for
from spectrum.shared.predlog.stream import StreamLog
from spectrum.shared.registry import model_queue
from spectrum.shared.text import request_texts

log = structlog.get_logger(__name__)

DECISION_MARGIN_S = 0.2

# One text's computed answer, with the version of the model that computed it.
Scored = tuple[str, CachedPrediction]


class Answered:
    """One model's answers to some texts, in their order, each with its version."""

    __slots__ = ("answers", "model", "versions")

    def __init__(self, model: str, answers: list[Answer], versions: list[str]) -> None:
        self.model = model
        self.answers = answers
        self.versions = versions


class Predictor:
    """Answers hits from the cache and sends the misses, batched with other requests'."""

    def __init__(
        self,
        settings: Settings,
        celery: Celery,
        waiter: ResultWaiter,
        models: Catalog,
        cache: aioredis.Redis,
        lanes: LaneAdmission,
        predlog: StreamLog | None = None,
    ) -> None:
        self._settings = self.settings = settings
        self._predlog = predlog  # None: the prediction log is off
        self._celery = celery
        self._waiter = waiter
        self._models = models
        self._reads = CoalescedReads(cache)
        self._lanes = lanes
        self._batchers: dict[str, MicroBatcher[Scored]] = {}
        self._shadows: set[asyncio.Task[None]] = set()
        self.batcher(settings.default_model_name)  # the default model's, ready at start

    def batcher(self, model: str) -> MicroBatcher[Scored]:
        """`model`'s micro-batcher, made on first use; each sends to its model's queue."""
        batcher = self._batchers.get(model)
        if batcher is None:
            batcher = self._batchers[model] = MicroBatcher(
                partial(self._compute, model),
                max_batch_size=self._settings.batch_max_texts,
                max_wait_s=self._settings.batch_max_wait_ms / 1000,
                on_batch=metrics.BATCH_SIZE.observe,  # the size of every task sent
            )
        return batcher

    async def close(self) -> None:
        """Cancel the shadow calls still running, then close every batcher."""
        for task in list(self._shadows):
            task.cancel()
        if self._shadows:
            await asyncio.gather(*self._shadows, return_exceptions=True)
        for batcher in list(self._batchers.values()):
            await batcher.close()

    async def predict(
        self, texts: Sequence[str], request_id: str | None, model: str | None = None
    ) -> PredictResponse:
        """Answer `texts` with `model` (a name or an alias; None: the default model)."""
        # The deadline counts from the request's arrival, not from the send.
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self._settings.request_timeout_s
        with tracing.span("validate"):
            normalized = request_texts(texts, self._settings)
            route = await self.route(model)
        try:
            if route.alias is None:  # the common case, one await less
                parts = [await self._answer(route.name, normalized, deadline, request_id)]
            else:
                parts = await self.answer(route, normalized, deadline, request_id)
        except SpectrumError as exc:
            metrics.MODEL_ERRORS.labels(model=route.name, error=type(exc).__name__).inc()
            raise
        predictions = predictions_of(normalized, parts)
        elapsed = time.perf_counter() - started
        for part in parts:
            metrics.model_request_seconds(part.model).observe(elapsed)
            counts: dict[tuple[str, bool], int] = {}
            for key in zip(part.versions, (a.cached for a in part.answers), strict=True):
                counts[key] = counts.get(key, 0) + 1
            for (version, cached), count in counts.items():
                metrics.model_predictions(part.model, version, cached).inc(count)
        alias = route.alias
        self.log_parts(parts, normalized, "predict", alias, request_id, elapsed)
        if alias is not None and alias.shadow is not None:
            self._shadow(alias, normalized, predictions)
        return PredictResponse(
            model=predictions[0].model or ServedModel(name=route.name, version=""),
            alias=alias.name if alias is not None else None,
            predictions=predictions,
        )

    def log_parts(
        self,
        parts: Sequence[Answered],
        normalized: list[str],
        source: str,
        alias: Alias | None,
        request_id: str | None,
        elapsed_s: float,
    ) -> None:
        """Hand one request's rows to the prediction log (never waits, never raises)."""
        if self._predlog is None:
            return
        rows = []
        at = time.time()
        key = current_key_id()
        for part in parts:
            texts = (
                [normalized[i] for i in part.positions] if isinstance(part, Placed) else normalized
            )
            rows += rows_for(
                texts,
                part.answers,
                part.versions,
                model=part.model,
                source=source,
                at=at,
                latency_ms=round(elapsed_s * 1000, 3),
                log_texts=self._settings.log_texts,
                alias=alias.name if alias is not None else None,
                request_id=request_id,
                key=key,
            )
        self._predlog.append(rows)

    async def route(self, model: str | None) -> Route:
        """The route of a request's `"model"`; an unknown name is counted, then raised."""
        try:
            return await self._models.resolve(model)
        except ModelNotFound as exc:
            metrics.MODEL_ERRORS.labels(model="unknown", error=type(exc).__name__).inc()
            raise

    async def answer(
        self, route: Route, normalized: list[str], deadline: float, request_id: str | None
    ) -> list[Answered]:
        """The answers of the route's model(s) to `normalized`: one part per model used.

        For an alias, part i holds the texts the alias chose model i for; the parts'
        answers are merged back in input order by `predictions_of`, through `positions`.
        """
        alias = route.alias
        if alias is None:
            return [await self._answer(route.name, normalized, deadline, request_id)]
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(normalized):
            groups.setdefault(alias.choose(text), []).append(i)
        for model, positions in groups.items():
            metrics.ALIAS_ROUTED.labels(alias=alias.name, model=model).inc(len(positions))
        parts = await asyncio.gather(
            *(
                self._answer(model, [normalized[i] for i in positions], deadline, request_id)
                for model, positions in groups.items()
            )
        )
        return [
            Placed(part, positions) for part, positions in zip(parts, groups.values(), strict=True)
        ]

    async def _answer(
        self, name: str, normalized: list[str], deadline: float, request_id: str | None
    ) -> Answered:
        """One model's answers: cache hits, then the misses through its batcher."""
        loop = asyncio.get_running_loop()
        batcher = self.batcher(name)
        # Tell the batcher a request is coming: while it reads the cache, a batch
        # about to leave for an idle worker waits for it (see api/predict/batcher.py).
        batcher.expect()
        try:
            status = await self._models.require(name)
            if self._settings.batch_fill_workers:
                batcher.set_slots(status.live_workers)
            card = status.card
            assert card is not None  # require() guarantees it
            found = await self._lookup(card, normalized)
            missing = misses(normalized, found)
            if missing:  # cache hits need no queue: only work for a worker is shed
                await self._lanes.admit(model_queue(name, "interactive"))
        except BaseException:
            batcher.unexpect()
            raise
        metrics.record_cache(hits=len(found), misses=len(missing))
        computed: dict[str, CachedPrediction] = {}
        versions: dict[str, str] = {}
        if not missing:
            batcher.unexpect()
        else:
            # Stop waiting a little before the deadline: deciding between "no worker"
            # (503) and "too slow" (504) takes one more Redis round trip.
            until = deadline - DECISION_MARGIN_S
            answer = batcher.enqueue(
                missing, until, request_id, expected=True, trace=tracing.wait_in_batch()
            )
            try:
                scored = await asyncio.wait_for(asyncio.shield(answer), until - loop.time())
            except TimeoutError:
                raise await self._timed_out(name) from None
            for text, (version, row) in zip(missing, scored, strict=True):
                computed[text] = row
                versions[text] = version
        answers = merge(normalized, found, computed)
        return Answered(
            name,
            answers,
            [
                card.version if a.cached else versions[t]
                for t, a in zip(normalized, answers, strict=True)
            ],
        )

    def _shadow(self, alias: Alias, normalized: list[str], given: list[Prediction]) -> None:
        """Copy the alias's shadowed texts to its candidate, in the background, if it can."""
        shadow = alias.shadow
        assert shadow is not None
        picked = [
            i
            for i, text in enumerate(normalized)
            if _model_name(given[i]) != shadow.model  # not answered by the candidate already
            and alias.shadowed(text, text_digest(text))
        ]
        if not picked:
            return
        view = self._models.cached
        if view is None or view.status(shadow.model).live_workers == 0:
            _skip(alias.name, shadow.model, "no_worker")
            return
        if len(self._shadows) >= self._settings.shadow_max_in_flight:
            _skip(alias.name, shadow.model, "busy")
            return
        task = asyncio.create_task(
            self._compare_shadow(alias, [normalized[i] for i in picked], [given[i] for i in picked])
        )
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _compare_shadow(
        self, alias: Alias, texts: list[str], given: list[Prediction]
    ) -> None:
        shadow = alias.shadow
        assert shadow is not None
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self._settings.request_timeout_s
        try:
            part = await self._answer(shadow.model, texts, deadline, None)
        except SpectrumError as exc:
            _skip(alias.name, shadow.model, type(exc).__name__)
            log.info(
                "shadow call failed",
                alias=alias.name,
                candidate=shadow.model,
                error=type(exc).__name__,
            )
            return
        elapsed = time.perf_counter() - started
        metrics.SHADOW_SECONDS.labels(candidate=shadow.model).observe(elapsed)
        self.log_parts([part], texts, "shadow", alias, None, elapsed)
        agreed = 0
        for mine, theirs in zip(given, part.answers, strict=True):
            agree = mine.label == theirs.label
            agreed += agree
            primary = _model_name(mine)
            metrics.SHADOW_COMPARED.labels(
                alias=alias.name,
                primary=primary,
                candidate=shadow.model,
                agree="true" if agree else "false",
            ).inc()
        log.info(
            "shadow compared",
            alias=alias.name,
            candidate=shadow.model,
            texts=len(texts),
            agreed=agreed,
            duration_ms=round(elapsed * 1000, 1),
        )

    async def _timed_out(self, name: str) -> Exception:
        timeout = self._settings.request_timeout_s
        status = await self._models.status(name, fresh=True)
        if status.live_workers == 0:
            return NoWorkerAvailable(
                f"no worker answered within {timeout:g} s and none is consuming "
                f"queue {model_queue(name, 'interactive')!r}; {START_A_WORKER}"
            )
        return DeadlineExceeded(f"no result within {timeout:g} s")

    async def _lookup(self, card: ModelCard, texts: list[str]) -> dict[str, CachedPrediction]:
        """One MGET for every text; a cache outage means misses, not an error."""
        lookup = CacheLookup.of(card.name, card.version, texts)
        try:
            with tracing.span("cache read", {"spectrum.texts": len(texts)}):
                replies = await self._reads.mget(lookup.keys)
        except (aioredis.RedisError, OSError) as exc:
            log.warning("cache read failed", error=type(exc).__name__)
            return {}
        hits = lookup.hits(replies)
        if hits.unreadable:
            log.warning("unreadable cache entries", count=hits.unreadable)
        return hits.found

    async def _compute(
        self, model: str, texts: list[str], deadline: float, request_ids: list[str]
    ) -> list[Scored]:
        """One Celery task for one batch of `model`; its batcher calls it, requests never do."""
        remaining = deadline - asyncio.get_running_loop().time()
        task_id = uuid.uuid4().hex
        payload = PredictPayload(texts=texts, model=model, request_ids=request_ids)

        waiting = tracing.OFF

        async def send() -> None:
            nonlocal waiting
            await self._send(task_id, model, payload.model_dump(), expires=remaining)
            waiting = tracing.started("wait for result")

        try:
            document = await self._waiter.wait(task_id, send, max(remaining, 0.0))
        except (TimeoutError, SpectrumError):
            raise  # the caller decides between 503 and 504 for a timeout
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        except Exception as exc:  # never a 500 for the backend's trouble; keep the trace
            log.exception("result wait failed")
            raise BackendUnavailable(f"result backend failed: {type(exc).__name__}") from exc
        finally:
            waiting.end()
        outcome = _outcome(document)
        return [(outcome.version, row) for row in computed_rows(outcome)]

    async def _send(
        self, task_id: str, model: str, payload: dict[str, Any], expires: float
    ) -> None:
        """Publish in a thread: kombu is blocking, and a dead broker must not stall the loop."""

        def publish(headers: dict[str, str] | None) -> None:
            self._celery.send_task(
                PREDICT_TASK,
                args=[payload],
                task_id=task_id,
                queue=model_queue(model, "interactive"),
                expires=expires,
                argsrepr=redacted_args(payload),  # events and Flower never see the texts
                headers=headers,  # the trace context, when tracing is on
            )

        try:
            with tracing.span("publish", {"celery.task_id": task_id}):
                sending = asyncio.to_thread(publish, tracing.message_headers())
                await asyncio.wait_for(sending, self._settings.broker_timeout_s)
        except TimeoutError:
            raise BrokerUnavailable(
                f"broker did not accept the task within {self._settings.broker_timeout_s:g} s"
            ) from None
        except Exception as exc:  # kombu and redis raise many kinds for the same outage
            raise BrokerUnavailable(f"broker unreachable: {type(exc).__name__}") from exc


def _outcome(document: ResultDocument) -> PredictOutcome:
    if document.status == "SUCCESS":
        try:
            return PredictOutcome.model_validate(document.get("result"))
        except ValidationError as exc:
            raise InferenceFailed("the worker returned a malformed result") from exc
    if document.status == "REVOKED":
        raise DeadlineExceeded("the task expired before a worker took it")
    info = document.get("result")
    reason = info.get("exc_type", "error") if isinstance(info, dict) else "error"
    if reason == "PoisonMessage":
        raise InferenceFailed(
            f"the task was dropped: its worker died every time it ran it ({_exc_message(info)})"
        )
    raise InferenceFailed(f"the worker failed the task: {reason}")


def _exc_message(info: Any) -> str:
    message = info.get("exc_message") if isinstance(info, dict) else None
    if isinstance(message, list | tuple):
        return " ".join(str(part) for part in message)
    return str(message or "")


class Placed(Answered):
    """An alias's part: answers for the texts at `positions` of the request."""

    __slots__ = ("positions",)

    def __init__(self, part: Answered, positions: list[int]) -> None:
        super().__init__(part.model, part.answers, part.versions)
        self.positions = positions


def predictions_of(normalized: list[str], parts: list[Answered]) -> list[Prediction]:
    """Every part's answers as predictions, in the request's order, each naming its model."""
    named: dict[tuple[str, str], ServedModel] = {}  # one per model and version, shared
    if len(parts) == 1 and not isinstance(parts[0], Placed):
        part = parts[0]
        model = part.model
        predictions = []
        for answer, version in zip(part.answers, part.versions, strict=True):
            served = named.get((model, version))
            if served is None:
                served = named[(model, version)] = ServedModel(name=model, version=version)
            predictions.append(Prediction(**answer._asdict(), model=served))
        return predictions
    placed: list[Prediction | None] = [None] * len(normalized)
    for part in parts:
        assert isinstance(part, Placed)
        for at, answer, version in zip(part.positions, part.answers, part.versions, strict=True):
            served = named.get((part.model, version))
            if served is None:
                served = named[(part.model, version)] = ServedModel(
                    name=part.model, version=version
                )
            placed[at] = Prediction(**answer._asdict(), model=served)
    assert all(p is not None for p in placed), "every text is answered by one part"
    return [p for p in placed if p is not None]


def _skip(alias: str, candidate: str, reason: str) -> None:
    metrics.SHADOW_SKIPPED.labels(alias=alias, candidate=candidate, reason=reason).inc()


def _model_name(prediction: Prediction) -> str:
    return prediction.model.name if prediction.model is not None else ""

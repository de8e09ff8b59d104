"""The synchronous prediction path: validate, answer cache hits, batch the misses, wait."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from celery import Celery
from pydantic import ValidationError

from api.edge.admission import LaneAdmission
from api.models.schemas import ServedModel
from api.models.served import ServedModels
from api.observability import metrics
from api.predict.batcher import MicroBatcher
from api.predict.schemas import Prediction, PredictResponse
from api.predict.waiter import ResultDocument, ResultWaiter
from shared.cache import CachedPrediction, CacheLookup
from shared.config import Settings
from shared.contracts import (
    PREDICT_TASK,
    ModelCard,
    PredictOutcome,
    PredictPayload,
    redacted_args,
)
from shared.errors import (
    START_A_WORKER,
    BackendUnavailable,
    BrokerUnavailable,
    DeadlineExceeded,
    InferenceFailed,
    NoWorkerAvailable,
    SpectrumError,
)
from shared.predictions import computed_rows, merge, misses
from shared.text import request_texts

log = structlog.get_logger(__name__)

DECISION_MARGIN_S = 0.2

# One text's computed answer, with the version of the model that computed it.
Scored = tuple[str, CachedPrediction]


class Predictor:
    """Answers hits from the cache and sends the misses, batched with other requests'."""

    def __init__(
        self,
        settings: Settings,
        celery: Celery,
        waiter: ResultWaiter,
        models: ServedModels,
        cache: aioredis.Redis,
        lanes: LaneAdmission,
    ) -> None:
        self._settings = settings
        self._celery = celery
        self._waiter = waiter
        self._models = models
        self._cache = cache
        self._lanes = lanes
        self.batcher: MicroBatcher[Scored] = MicroBatcher(
            self._compute,
            max_batch_size=settings.batch_max_texts,
            max_wait_s=settings.batch_max_wait_ms / 1000,
            on_batch=metrics.BATCH_SIZE.observe,  # the size of every task sent
        )

    async def predict(self, texts: Sequence[str], request_id: str | None) -> PredictResponse:
        # The deadline counts from the request's arrival, not from the send.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.request_timeout_s
        normalized = request_texts(texts, self._settings)
        # Tell the batcher a request is coming: while it reads the cache, a batch
        # about to leave for an idle worker waits for it (see api/predict/batcher.py).
        self.batcher.expect()
        try:
            status = await self._models.require()
            card = status.card
            assert card is not None  # require() guarantees it
            found = await self._lookup(card, normalized)
            missing = misses(normalized, found)
            if missing:  # cache hits need no queue: only work for a worker is shed
                await self._lanes.admit(self._models.queue)
        except BaseException:
            self.batcher.unexpect()
            raise
        metrics.record_cache(hits=len(found), misses=len(missing))
        computed: dict[str, CachedPrediction] = {}
        if not missing:
            self.batcher.unexpect()
        else:
            # Stop waiting a little before the deadline: deciding between "no worker"
            # (503) and "too slow" (504) takes one more Redis round trip.
            until = deadline - DECISION_MARGIN_S
            answer = self.batcher.enqueue(missing, until, request_id, expected=True)
            try:
                scored = await asyncio.wait_for(asyncio.shield(answer), until - loop.time())
            except TimeoutError:
                raise await self._timed_out() from None
            computed = {text: row for text, (_, row) in zip(missing, scored, strict=True)}
            card = card.model_copy(update={"version": scored[0][0]})
        answers = merge(normalized, found, computed)
        predictions = [Prediction(**answer._asdict()) for answer in answers]
        return PredictResponse(
            model=ServedModel(name=card.name, version=card.version), predictions=predictions
        )

    async def _timed_out(self) -> Exception:
        timeout = self._settings.request_timeout_s
        status = await self._models.status(fresh=True)
        if status.live_workers == 0:
            return NoWorkerAvailable(
                f"no worker answered within {timeout:g} s and none is consuming "
                f"queue {self._models.queue!r}; {START_A_WORKER}"
            )
        return DeadlineExceeded(f"no result within {timeout:g} s")

    async def _lookup(self, card: ModelCard, texts: list[str]) -> dict[str, CachedPrediction]:
        """One MGET for every text; a cache outage means misses, not an error."""
        lookup = CacheLookup.of(card.name, card.version, texts)
        try:
            replies = await self._cache.mget(lookup.keys)
        except (aioredis.RedisError, OSError) as exc:
            log.warning("cache read failed", error=type(exc).__name__)
            return {}
        hits = lookup.hits(replies)
        if hits.unreadable:
            log.warning("unreadable cache entries", count=hits.unreadable)
        return hits.found

    async def _compute(
        self, texts: list[str], deadline: float, request_ids: list[str]
    ) -> list[Scored]:
        """One Celery task for one batch; the batcher calls it, requests never do."""
        remaining = deadline - asyncio.get_running_loop().time()
        task_id = uuid.uuid4().hex
        payload = PredictPayload(texts=texts, model=self._models.name, request_ids=request_ids)

        async def send() -> None:
            await self._send(task_id, payload.model_dump(), expires=remaining)

        try:
            document = await self._waiter.wait(task_id, send, max(remaining, 0.0))
        except (TimeoutError, SpectrumError):
            raise  # the caller decides between 503 and 504 for a timeout
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        except Exception as exc:  # never a 500 for the backend's trouble; keep the trace
            log.exception("result wait failed")
            raise BackendUnavailable(f"result backend failed: {type(exc).__name__}") from exc
        outcome = _outcome(document)
        return [(outcome.version, row) for row in computed_rows(outcome)]

    async def _send(self, task_id: str, payload: dict[str, Any], expires: float) -> None:
        """Publish in a thread: kombu is blocking, and a dead broker must not stall the loop."""

        def publish() -> None:
            self._celery.send_task(
                PREDICT_TASK,
                args=[payload],
                task_id=task_id,
                queue=self._models.queue,
                expires=expires,
                argsrepr=redacted_args(payload),  # events and Flower never see the texts
            )

        try:
            await asyncio.wait_for(asyncio.to_thread(publish), self._settings.broker_timeout_s)
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

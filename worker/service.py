"""What a worker process holds: the loaded model, its card, the cache, and its heartbeat."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass

import redis
import structlog

from spectrum.shared import tracing
from spectrum.shared.cache import CachedPrediction, CacheLookup, cache_key, encode_entry
from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard, PredictOutcome, PredictPayload
from spectrum.shared.registry import MODELS_KEY, STATS_KEY, worker_member, workers_key
from spectrum.worker import metrics
from spectrum.worker.runtimes.base import Runtime, Truncating

log = structlog.get_logger(__name__)


class WrongModel(Exception):
    """The task names a model this worker does not serve (a routing mistake)."""


@dataclass
class RuntimeTotals:
    """What this process has computed, and the time it spent inside the runtime.

    runtime_cpu_s is process CPU time (all threads) during `runtime.predict`:
    tokenizing and the forward passes, the part the engine-alone benchmark also
    measures. Everything else a request costs is the stack's overhead.
    """

    tasks: int = 0
    texts: int = 0
    runtime_cpu_s: float = 0.0
    runtime_wall_s: float = 0.0


class ModelService:
    """Runs batches through the runtime and writes what it computed to the cache."""

    def __init__(self, settings: Settings, runtime: Runtime, card: ModelCard) -> None:
        self.settings = settings
        self.runtime = runtime
        self.card = card
        self.totals = RuntimeTotals()
        self._cache = redis.Redis.from_url(
            settings.cache_url, socket_timeout=2, socket_connect_timeout=2
        )

    def require_model(self, name: str) -> None:
        """Refuse work meant for another model (a routing mistake), before any cache read."""
        if name != self.card.name:
            raise WrongModel(f"this worker serves {self.card.name!r}, not {name!r}")

    def predict(self, payload: PredictPayload) -> PredictOutcome:
        self.require_model(payload.model)
        cpu, wall = time.process_time(), time.perf_counter()
        truncated: list[int] = []
        with tracing.runtime_pass(len(payload.texts)):
            if isinstance(self.runtime, Truncating):  # a lexicon reads every word: never cuts
                probabilities, truncated = metrics.timed_inference(
                    self.runtime.predict_detailed, payload.texts
                )
            else:
                probabilities = metrics.timed_inference(self.runtime.predict, payload.texts)
        totals = self.totals
        totals.runtime_cpu_s += time.process_time() - cpu
        totals.runtime_wall_s += time.perf_counter() - wall
        totals.tasks += 1
        totals.texts += len(payload.texts)
        if len(probabilities) != len(payload.texts):
            raise RuntimeError("runtime returned a different number of rows than texts")
        with tracing.span("cache write"):
            self._write_cache(payload.texts, probabilities, set(truncated))
        return PredictOutcome(
            model=self.card.name,
            version=self.card.version,
            labels=self.card.labels,
            probabilities=probabilities,
            truncated=truncated,
        )

    def lookup(self, texts: list[str]) -> dict[str, CachedPrediction]:
        """Cached probabilities of those texts the cache has; an outage means misses."""
        lookup = CacheLookup.of(self.card.name, self.card.version, texts)
        try:
            replies = self._cache.mget(lookup.keys)
        except redis.RedisError as exc:
            log.warning("cache read failed", error=type(exc).__name__)
            return {}
        hits = lookup.hits(replies)
        if hits.unreadable:
            log.warning("unreadable cache entries", count=hits.unreadable)
        return hits.found

    def _write_cache(
        self, texts: list[str], probabilities: list[list[float]], truncated: set[int]
    ) -> None:
        """One pipelined round trip; a cache outage costs recomputation, never an answer."""
        try:
            with self._cache.pipeline(transaction=False) as pipe:
                for i, (text, row) in enumerate(zip(texts, probabilities, strict=True)):
                    key = cache_key(self.card.name, self.card.version, text)
                    entry = encode_entry(self.card.labels, row, truncated=i in truncated)
                    pipe.set(key, entry, ex=self.settings.cache_ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("cache write failed", error=type(exc).__name__)

    def close(self) -> None:
        self._cache.close()


class Heartbeat:
    """Announces the model card and this process's liveness until stopped."""

    def __init__(
        self, settings: Settings, card: ModelCard, totals: RuntimeTotals | None = None
    ) -> None:
        self._settings = settings
        self._totals = totals
        self._card = card.model_dump_json()
        self._name = card.name
        # One entry per lane it consumes: the gateway refuses work for a lane nobody takes.
        self._keys = [workers_key(queue) for queue in settings.worker_queues]
        self.member = worker_member(socket.gethostname(), os.getpid())
        self._redis = redis.Redis.from_url(
            settings.result_backend_url, socket_timeout=2, socket_connect_timeout=2
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spectrum-heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def beat(self) -> None:
        now = time.time()
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(MODELS_KEY, self._name, self._card)
            for key in self._keys:
                pipe.zadd(key, {self.member: now})
                # Forget workers that vanished without saying so, long after they went stale.
                pipe.zremrangebyscore(key, "-inf", now - 10 * self._settings.worker_stale_s)
            if self._totals is not None:
                pipe.hset(STATS_KEY, self.member, json.dumps(asdict(self._totals)))
            pipe.execute()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.worker_heartbeat_s):
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("heartbeat failed", error=type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key in self._keys:
                    pipe.zrem(key, self.member)
                pipe.hdel(STATS_KEY, self.member)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("heartbeat removal failed", error=type(exc).__name__)
        self._redis.close()

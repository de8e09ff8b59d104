"""The async job contract both sides keep in Redis: keys, the record, and its atomic updates.

A job lives in the result backend's Redis (it must not evict) under:

- `spectrum:job:<id>`           a hash: state, counts, timestamps, webhook outcome;
- `spectrum:job:<id>:chunks`    the set of chunk numbers already counted, so a chunk
                                delivered twice (acks_late after a crash) counts once;
- `spectrum:job:<id>:chunk:<n>` chunk n's results, a JSON list in input order;
- `spectrum:job:<id>:known`     a marker that outlives the rest by job_tombstone_s,
                                so an expired id answers 410 and an unknown one 404;
- `spectrum:job-key:<digest>`   an Idempotency-Key of one API key (the digest of both):
                                "<fingerprint> <job id>".

A job belongs to the API key that submitted it: its record's `owner` is that key's id
(empty with keys off), and the gateway answers any other key as if the job did not
exist (404).

Invariants: counts only change in the Lua scripts below, each one atomic, so
concurrent chunks never lose an update; the chunk that brings `chunks_finished`
to `chunks_total` decides the final state, so a job never stays running once
every chunk has been accounted for; a cancelled job stays cancelled.

Submission is atomic through the record's `sealed` field: "0" while the gateway
is still publishing the job's chunks, "1" once it has published every one (SEAL,
one atomic step), "aborted" when publishing failed (ABORT) or the gateway died
before sealing (the first chunk that finds the record unsealed past `seal_by`
marks it so, in START_CHUNK). A worker computes a chunk only of a sealed job;
a chunk that arrives while publishing goes on waits (the task retries after a
short delay) and a chunk of an aborted job is dropped unrun. SEAL and the
aborting steps change "0" only, so exactly one of them wins: no chunk of a job is
computed unless all of them were queued. A record without the field (written
before sealing existed) counts as sealed.

While unsealed a job reads `queued` (its id is known only to an Idempotency-Key
replay, which is told to retry); an aborted job reads as unknown (404): it was
never accepted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring  # json.dumps's own encoder of a str, unescaped
from typing import Any, Literal

from pydantic import BaseModel, Field

from spectrum.shared.predictions import Answer

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
WebhookState = Literal["none", "pending", "delivered", "failed"]

PREFIX = "spectrum:job"
FINGERPRINT_SLICE = 1024  # texts serialized at once for the fingerprint


def new_job_id() -> str:
    """32 hex digits, unguessable: the id is the only key to a job's results."""
    return secrets.token_hex(16)


def job_key(job_id: str) -> str:
    return f"{PREFIX}:{job_id}"


def chunks_done_key(job_id: str) -> str:
    return f"{PREFIX}:{job_id}:chunks"


def chunk_key(job_id: str, chunk: int) -> str:
    return f"{PREFIX}:{job_id}:chunk:{chunk}"


def known_key(job_id: str) -> str:
    return f"{PREFIX}:{job_id}:known"


def idempotency_key(key: str, owner: str = "") -> str:
    """Where an Idempotency-Key of the API key `owner` (its id; "" with keys off) lives:
    the same Idempotency-Key sent with two API keys names two different claims."""
    digest = hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()
    return f"spectrum:job-key:{digest}"


def is_job_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk of `size` texts covering 0..total, in order."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def fingerprint(texts: Sequence[str], callback_url: str | None, model: str | None = None) -> str:
    """What makes two submissions the same job: the normalized texts, the callback, the model.

    The SHA-256 of `json.dumps({"texts": texts, "callback_url": callback_url},
    ensure_ascii=False)` in UTF-8 (with `"model": model` after the callback when the
    submission names one), hashed a slice of texts at a time so that a large job is
    never serialized whole (which would hold two more copies of an upload).
    """
    digest = hashlib.sha256(b'{"texts": [')
    for start in range(0, len(texts), FINGERPRINT_SLICE):
        part = ", ".join(map(encode_basestring, texts[start : start + FINGERPRINT_SLICE]))
        digest.update(((", " if start else "") + part).encode("utf-8"))
    callback = json.dumps(callback_url, ensure_ascii=False)
    named = "" if model is None else f', "model": {json.dumps(model, ensure_ascii=False)}'
    digest.update(f'], "callback_url": {callback}{named}}}'.encode())
    return digest.hexdigest()


def new_record(
    *,
    job_id: str,
    model: str,
    labels: Sequence[str],
    total: int,
    chunk_size: int,
    fingerprint: str,
    callback_url: str | None,
    now: float,
    seal_by: float | None = None,
    owner: str = "",
) -> dict[str, str]:
    """The hash a job starts with (every value a string, as Redis stores it).

    With `seal_by` the record starts unsealed: the gateway must SEAL it by then
    (Unix time) or its chunks are dropped. Without it the record starts sealed.
    """
    sealing = {"sealed": "0", "seal_by": repr(seal_by)} if seal_by is not None else {"sealed": "1"}
    return {
        "id": job_id,
        "state": "queued",
        "model": model,
        "labels": json.dumps(list(labels)),
        "total": str(total),
        "chunk_size": str(chunk_size),
        "chunks_total": str(len(chunk_bounds(total, chunk_size))),
        "chunks_finished": "0",
        "done": "0",
        "failed": "0",
        "skipped": "0",
        "cached": "0",
        "created_at": repr(now),
        "fingerprint": fingerprint,
        "callback_url": callback_url or "",
        "webhook_state": "pending" if callback_url else "none",
        "webhook_attempts": "0",
        "owner": owner,
        **sealing,
    }


def submission(raw: Mapping[Any, Any], now: float) -> Literal["sealed", "unsealed", "aborted"]:
    """Where a record stands in its submission; unsealed past `seal_by` counts as aborted."""
    fields = {_text(k): _text(v) for k, v in raw.items() if _text(k) in ("sealed", "seal_by")}
    sealed = fields.get("sealed", "1")
    if sealed == "1":
        return "sealed"
    if sealed == "0" and now <= float(fields.get("seal_by", "0")):
        return "unsealed"
    return "aborted"


class Progress(BaseModel):
    total: int = Field(description="Texts in the job.")
    done: int = Field(description="Texts answered (computed or from the cache).")
    failed: int = Field(description="Texts whose chunk failed after its retries.")
    skipped: int = Field(description="Texts never computed because the job was cancelled.")
    cached: int = Field(description="Of the answered texts, those found in the cache.")
    chunks: int = Field(description="Chunk tasks the job was cut into.")
    chunks_finished: int = Field(description="Chunks computed, failed or skipped.")


class WebhookOutcome(BaseModel):
    url: str
    state: WebhookState = Field(description="pending, delivered or failed (retries spent).")
    attempts: int
    last_status: int | None = Field(default=None, description="HTTP status of the last try.")
    last_error: str | None = None
    delivered_at: float | None = None


class JobSummary(BaseModel):
    """What GET /v1/jobs/{id} and the webhook say about a job (results aside)."""

    model_config = {"protected_namespaces": ()}

    id: str
    state: JobState
    model: str
    labels: list[str]
    progress: Progress
    created_at: float = Field(description="Unix time of submission.")
    started_at: float | None = Field(default=None, description="When a worker took a chunk.")
    finished_at: float | None = Field(default=None, description="When it ended or was cancelled.")
    webhook: WebhookOutcome | None = None

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> JobSummary:
        fields = {_text(k): _text(v) for k, v in raw.items()}

        def number(name: str) -> float | None:
            value = fields.get(name)
            return float(value) if value else None

        webhook = None
        if fields.get("callback_url"):
            status = fields.get("webhook_last_status")
            webhook = WebhookOutcome(
                url=fields["callback_url"],
                state=fields.get("webhook_state", "pending"),
                attempts=int(fields.get("webhook_attempts", "0")),
                last_status=int(status) if status else None,
                last_error=fields.get("webhook_last_error") or None,
                delivered_at=number("webhook_delivered_at"),
            )
        return cls(
            id=fields["id"],
            state=fields["state"],
            model=fields["model"],
            labels=json.loads(fields.get("labels", "[]")),
            progress=Progress(
                total=int(fields["total"]),
                done=int(fields.get("done", "0")),
                failed=int(fields.get("failed", "0")),
                skipped=int(fields.get("skipped", "0")),
                cached=int(fields.get("cached", "0")),
                chunks=int(fields["chunks_total"]),
                chunks_finished=int(fields.get("chunks_finished", "0")),
            ),
            created_at=float(fields["created_at"]),
            started_at=number("started_at"),
            finished_at=number("finished_at"),
            webhook=webhook,
        )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def answered(index: int, answer: Answer) -> dict[str, Any]:
    """One text's result as stored and streamed: its index in the job, then its answer."""
    return {"index": index, **answer._asdict()}


def failed_item(index: int, reason: str) -> dict[str, Any]:
    return {"index": index, "error": reason}


# KEYS: job hash, its known marker. ARGV: now. Returns nil when the job is gone
# (expired); 'unsealed' while the gateway is still publishing (the chunk waits);
# 'aborted' when its submission failed, marking a record still unsealed past
# seal_by aborted first (its gateway died mid-submit; the known marker goes too, so
# its id reads as unknown). Otherwise moves queued -> running and returns the state.
START_CHUNK = """
local job = redis.call('HMGET', KEYS[1], 'state', 'sealed', 'seal_by')
local state = job[1]
if not state then return nil end
if job[2] == '0' then
  if tonumber(ARGV[1]) <= tonumber(job[3]) then return 'unsealed' end
  redis.call('HSET', KEYS[1], 'sealed', 'aborted')
  redis.call('DEL', KEYS[2])
  return 'aborted'
end
if job[2] == 'aborted' then return 'aborted' end
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[1])
  return 'running'
end
return state
"""

# KEYS: job hash, counted-chunks set, chunk results key.
# ARGV: chunk number, done, failed, skipped, cached, now, ttl seconds, results JSON.
# Stores the chunk's results and counts it once. Returns the job's final state when
# this was its last chunk, '' when chunks remain, 'dup' for a chunk already
# counted, nil when the job is gone.
FINISH_CHUNK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 'dup' end
redis.call('EXPIRE', KEYS[2], ARGV[7])
if ARGV[8] ~= '' then redis.call('SET', KEYS[3], ARGV[8], 'EX', ARGV[7]) end
redis.call('HINCRBY', KEYS[1], 'done', ARGV[2])
local failed = redis.call('HINCRBY', KEYS[1], 'failed', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'skipped', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'cached', ARGV[5])
local finished = redis.call('HINCRBY', KEYS[1], 'chunks_finished', 1)
local total = tonumber(redis.call('HGET', KEYS[1], 'chunks_total'))
if finished < total then return '' end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'cancelled' then
  if failed > 0 then state = 'failed' else state = 'succeeded' end
  redis.call('HSET', KEYS[1], 'state', state, 'finished_at', ARGV[6])
end
return state
"""

# KEYS: job hash. ARGV: now. Seals a job whose chunks are all published, unless
# it was aborted or seal_by has passed (then it aborts it: a worker may be about to
# judge it abandoned). Returns 'sealed' or 'aborted', nil when the job is gone.
SEAL = """
local job = redis.call('HMGET', KEYS[1], 'state', 'sealed', 'seal_by')
if not job[1] then return nil end
if job[2] == '0' then
  if tonumber(ARGV[1]) > tonumber(job[3]) then
    redis.call('HSET', KEYS[1], 'sealed', 'aborted')
    return 'aborted'
  end
  redis.call('HSET', KEYS[1], 'sealed', '1')
  return 'sealed'
end
if job[2] == 'aborted' then return 'aborted' end
return 'sealed'
"""

# KEYS: job hash, its known marker, and its Idempotency-Key when it has one.
# Aborts a job that is not sealed yet (its chunks, queued or not, are never
# computed) and forgets its id and key, so a retry starts afresh. Returns
# 'aborted', or 'sealed' when SEAL had won (the job stands), nil when it is gone.
ABORT = """
local job = redis.call('HMGET', KEYS[1], 'state', 'sealed')
if not job[1] then return nil end
if job[2] == '1' or not job[2] then return 'sealed' end
redis.call('HSET', KEYS[1], 'sealed', 'aborted')
redis.call('DEL', KEYS[2])
if KEYS[3] then redis.call('DEL', KEYS[3]) end
return 'aborted'
"""

# KEYS: an Idempotency-Key. ARGV: the value it must still hold ("<fingerprint> <job id>").
# Frees the key of a job whose submission was aborted, so that a retry with it
# starts a new job; a key claimed again meanwhile is left alone. Returns 1 or 0.
RELEASE_KEY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: job hash. ARGV: now. Cancels a job that has not ended; returns the state
# after the call, or nil when the job is gone.
CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return nil end
if state == 'queued' or state == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1])
  return 'cancelled'
end
return state
"""

"""Every setting of Spectrum, read once from the environment (prefix `SPECTRUM_`)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LEXICON_MODEL_ID = "vader"
SHIPPED_MODEL_ID = "models/sentiment-minilm"


class Settings(BaseSettings):
    """One place for configuration; both the gateway and the workers read it."""

    model_config = SettingsConfigDict(env_prefix="SPECTRUM_", env_file=None, extra="ignore")

    env: Literal["development", "production"] = "development"

    # Where work and results travel. Broker, result backend and cache may share one
    # Redis in development; the cache must stay addressable on its own so that an
    # allkeys-lru cache never evicts broker keys.
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend_url: str = "redis://127.0.0.1:6379/0"
    cache_url: str = "redis://127.0.0.1:6379/0"

    # What is served: the shipped model (a directory, relative to the working
    # directory), `vader` (the lexicon fallback, no torch needed), or any other
    # local model directory or Hugging Face hub id.
    model_id: str = SHIPPED_MODEL_ID
    # Name used in queue names, cache keys and answers; derived from model_id when empty.
    model_name: str = ""
    # auto: lexicon for `vader`, OpenVINO for a model directory with an OpenVINO IR
    # (when openvino is installed), PyTorch otherwise.
    runtime: Literal["auto", "lexicon", "torch", "openvino"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: bf16 where the CPU has AMX (measured ~2x fp32 there), fp32 elsewhere (also on
    # AVX512-BF16 without AMX, where bf16 measured slower: worker/runtimes/cpu.py).
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # A task's texts are sorted by token length and cut into forward passes of at
    # most batch_size texts and token_budget padded tokens (0: no token limit).
    batch_size: int = Field(default=32, ge=1)
    token_budget: int = Field(default=2048, ge=0)
    # Threads for the runtime's math; 0 shares this machine's cores evenly among
    # its worker_processes.
    runtime_threads: int = Field(default=0, ge=0)
    # Longest input, in tokens, the transformer sees; longer texts are truncated.
    max_tokens: int = Field(default=256, ge=8)
    # Input shapes whose compiled kernels the OpenVINO CPU plugin keeps. Its default
    # (5000) lets a worker grow by several hundred MB as new (rows, width) shapes
    # arrive: measured here, 600 random batches took a worker from 344 to 1104 MB
    # and still growing; with 100 it levelled off at 710 MB (make soak).
    openvino_cache_capacity: int = Field(default=200, ge=0)

    # Input limits, enforced by the gateway before any work is queued.
    max_texts_per_request: int = Field(default=64, ge=1)
    max_text_chars: int = Field(default=4000, ge=1)

    # Largest request body, in bytes, refused with 413 before it is parsed: from the
    # Content-Length header when there is one, while reading otherwise. 2 MiB holds
    # max_texts_per_request x max_text_chars even as 4-byte UTF-8 plus JSON quoting.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)

    # API keys. Keys are required when any is configured, and always in production
    # (the gateway refuses to start there without one); in development with none the
    # API is open and says so at start. Give plain keys (hashed at load, never kept)
    # or their SHA-256 hex digests (`python -m api.edge.keys` makes a key and its hash),
    # several separated by commas: one per client, so one can be revoked alone.
    api_keys: SecretStr | None = None
    api_key_hashes: str = ""
    # /metrics answers without a key (Prometheus scrapes it from inside the network);
    # false puts it behind the keys like /v1.
    metrics_public: bool = True
    # Browser origins allowed to call the API (comma-separated, "*" for any); none
    # by default: the page at / is served from the API's own origin.
    cors_origins: str = ""

    # Rate limits, shared by every gateway replica through Redis: per_s requests a
    # second on average, bursts of burst; 0 turns one off. Which applies depends on
    # whether keys are on (see rate_limit below).
    # Keys on: per API key, 50/s with bursts of 100. A key names one client; this is
    # generous for a person or a script and caps a runaway loop of one client below
    # what one machine serves (README, Performance), so the other keys stay served.
    rate_limit_per_s: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Keys off: per client address, none by default. Every caller is anonymous then
    # and an address is a poor name for one: a load generator, a proxy or a NAT puts
    # everyone behind one address, and a per-address cap refused a single script long
    # before the service was busy. Overload is admission control's job (max_in_flight,
    # max_queue_depth: 503 with Retry-After), not the limiter's. Set it to cap callers
    # of an open API anyway.
    rate_limit_anonymous_per_s: float = Field(default=0.0, ge=0)
    rate_limit_anonymous_burst: int = Field(default=100, ge=1)

    # Admission control. A gateway serves at most max_in_flight requests at once and
    # answers the rest 503 at once; a lane whose broker queue holds max_queue_depth
    # messages (batches) or more takes no new work. 128: at the 40-140 req/s two
    # workers served here, 128 waiting requests are 1-3 s of work, inside the 10 s
    # deadline (make soak gave 504s with 256 when the machine was busy); the
    # benchmark's 128 connections still fit. At ~10 batches/s per worker, 200
    # queued batches are already more than a 10 s deadline can wait for.
    max_in_flight: int = Field(default=128, ge=1)
    max_queue_depth: int = Field(default=200, ge=1)
    # The bulk lane's cap, in job chunks: a job is queued whole, thousands of chunks at
    # once, so its lane is measured in hours of work, not seconds. 10,000 chunks of 32
    # texts are ~320,000 texts, about an hour for two workers at ~100 texts/s; beyond
    # that a new job is refused (503) instead of waiting behind days of work.
    max_bulk_queue_depth: int = Field(default=10_000, ge=1)
    # Queue depth is read from the broker at most this often (one read serves every
    # request in between), not once per request.
    queue_depth_ttl_ms: float = Field(default=200.0, ge=0)

    # Delivery. A message delivered this many times without finishing (its worker
    # died each time) is recorded as failed and acked instead of run again.
    task_max_deliveries: int = Field(default=3, ge=1)
    # The Redis broker gives an unacked message of a dead worker back after this
    # long. Longer than any task runs; short enough that a crash delays work by
    # minutes, not the default hour.
    broker_visibility_timeout_s: int = Field(default=300, ge=1)

    # Test-only fault hooks, off (empty) by default and never set in deployments: a
    # worker exits at once (as a SIGKILL would leave it) when a task holds the text
    # fault_crash_text, and sleeps fault_sleep_s before a task holding
    # fault_sleep_text. They exist so the fault tests can kill a worker mid-task.
    fault_crash_text: str = ""
    fault_sleep_text: str = ""
    fault_sleep_s: float = Field(default=3.0, ge=0)
    # Test-only, off (0) by default: once the gateway has published this many chunks
    # of a job it stalls fault_sleep_s (so that workers hold those chunks) and then
    # fails as a broker outage would, or with fault_publish_exit exits at once as a
    # kill -9 mid-submit would. The job tests show no chunk of such a job is computed.
    fault_publish_fail_after: int = Field(default=0, ge=0)
    fault_publish_exit: bool = False

    # Deadlines. A sync request waits at most request_timeout_s for its result;
    # publishing to an unreachable broker gives up after broker_timeout_s.
    request_timeout_s: float = Field(default=10.0, gt=0)
    broker_timeout_s: float = Field(default=2.0, gt=0)

    # Gateway micro-batching: concurrent cache misses travel as one task of at most
    # batch_max_texts texts. A request is sent at once while a worker is idle;
    # while all are busy it waits at most batch_max_wait_ms for company.
    # Measured with two workers (loadtest/README.md): 16 texts / 25 ms served 129-145
    # req/s at 32 and 128 connections where 32 / 5 served 102-107.
    batch_max_texts: int = Field(default=16, ge=1)
    batch_max_wait_ms: float = Field(default=25.0, ge=0)

    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)

    # Async jobs (POST /v1/jobs). A job is cut into chunk tasks of job_chunk_size texts
    # on the bulk lane. A worker on both lanes finishes its chunk before it takes
    # interactive work, so where every worker takes chunks, a chunk's compute time is
    # what a synchronous request can wait behind. With one interactive-only worker
    # (worker_interactive_only) it is not, and bigger chunks batch better: measured
    # with `make bench ARGS="--quick --scenario bulk"` (loadtest/README.md), one
    # interactive-only worker: 32 texts gave sync p99 ratio 1.02 and 47 job
    # sentences/s, 8 texts 1.04 and 42/s; all workers on both lanes, 8 texts: 2.2.
    job_chunk_size: int = Field(default=32, ge=1, le=1024)
    # Largest job, in texts, and largest upload: 100,000 texts of ~300 bytes are ~30 MB.
    job_max_texts: int = Field(default=100_000, ge=1)
    job_max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Job records and results live this long after submission; afterwards a small
    # marker remains for job_tombstone_s, so an expired id answers 410, not 404.
    job_ttl_s: int = Field(default=24 * 3600, ge=60)
    job_tombstone_s: int = Field(default=7 * 24 * 3600, ge=60)
    # GET /v1/jobs/{id} carries the results itself up to this many texts; larger jobs
    # are read from /v1/jobs/{id}/results, which streams them chunk by chunk.
    job_inline_results_max: int = Field(default=1000, ge=0)
    # A chunk that raises is retried this many times; then its texts are recorded
    # failed with the reason. Try n waits a random time in [0, min(job_chunk_retry_max_s,
    # job_chunk_retry_s * 2**n)] ("full jitter"): after a Redis blip fails every chunk
    # at once, their retries spread out instead of all hitting Redis at one instant.
    # The cap keeps a high retry count from waiting hours.
    job_chunk_retries: int = Field(default=2, ge=0)
    job_chunk_retry_s: float = Field(default=0.5, ge=0)
    job_chunk_retry_max_s: float = Field(default=30.0, ge=0)
    # A job is sealed once every chunk is published (shared/jobs.py); workers compute
    # chunks of sealed jobs only and drop those of a job still unsealed this long after
    # submission (its gateway died mid-submit). Ten times what a 100,000-text job (3,125
    # chunks) took here from POST to 202 on a busy 2-core machine (about 6 s), and short
    # enough that the waiting chunks of a dead gateway's job are dropped within a minute.
    job_seal_timeout_s: float = Field(default=60.0, gt=0)
    # Webhooks: a job's callback_url gets the summary POSTed once it ends, signed with
    # HMAC-SHA256 under webhook_secret (callbacks are refused while it is unset: an
    # unsigned callback cannot be told from a forged one). A failed delivery (an error
    # or a non-2xx answer) is retried webhook_retries times, after webhook_backoff_s,
    # doubling up to webhook_backoff_max_s with full jitter (try n waits a random time in
    # [0, min(webhook_backoff_max_s, webhook_backoff_s * 2**n)]: at most 1+2+4+8+16 s by default).
    webhook_secret: SecretStr | None = None
    # Callbacks go to public addresses only (not loopback, private networks or cloud
    # metadata: shared/callbacks.py); true lets them reach this machine and its LAN.
    webhook_allow_private: bool = False
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_retries: int = Field(default=5, ge=0)
    webhook_backoff_s: float = Field(default=1.0, ge=0)
    webhook_backoff_max_s: float = Field(default=60.0, ge=0)
    result_expires_s: int = Field(default=3600, ge=60)

    # Workers announce themselves every heartbeat_s; the gateway counts a worker as
    # gone when its last heartbeat is older than worker_stale_s.
    worker_heartbeat_s: float = Field(default=2.0, gt=0)
    worker_stale_s: float = Field(default=10.0, gt=0)
    # solo: the model runs in the worker process itself; scale with more processes.
    worker_pool: Literal["solo"] = "solo"
    # Worker processes `make run` starts on this machine (each loads the model once
    # and, with runtime_threads=0, gets an even share of the cores). 2 on 2 cores:
    # two one-thread workers served 134-142 req/s where one two-thread worker served
    # 97-110 (uncached, 32 connections; loadtest/README.md).
    worker_processes: int = Field(default=2, ge=1)
    worker_prefetch: int = Field(default=2, ge=1)
    # Lanes a `python -m worker` consumes. "all": interactive first, then bulk (the
    # Redis transport polls the queues in priority order, shared/celery_app.py), so
    # every worker helps with jobs while none is needed for synchronous traffic.
    # "interactive" keeps a process free of bulk work. A worker announces itself on each
    # lane it takes: a job is refused (503) while no live worker takes the bulk lane.
    worker_lanes: Literal["all", "interactive"] = "all"
    # Of the worker_processes `make run` (and `make bench`) start, how many take only
    # interactive work; the others take both lanes (at least one always does). 1 of 2:
    # sync p99 at 4 connections during a job was 1.02-1.04x that without one, against
    # 2.2x with both workers on both lanes (8-text chunks) and 4.2x (16-text chunks,
    # prefetch 2); the price is that a job gets one worker (loadtest/README.md).
    worker_interactive_only: int = Field(default=1, ge=0)
    # Niceness a worker that takes the bulk lane gives itself (0: none), so that when
    # the cores are saturated its chunks yield the CPU to the gateway, Redis and the
    # interactive-only workers; with idle cores it runs at full speed. Measured (bulk
    # scenario, --quick, shared 2-core machine): sync p99 ratio 0.90 and 0.99 with 10,
    # 1.73 and 2.01 without; sync p50 during the job 115-137 ms against 223-241. The
    # price: under full load the job slowed to 6-44 sentences/s (25-43 without).
    worker_bulk_nice: int = Field(default=10, ge=0, le=19)
    # Each worker process serves its Prometheus metrics on this port (0: not served).
    # One port per process: give every worker on a machine its own (`make run` uses
    # 9101; containers can all use the same one).
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    # Flower, which `make run` starts beside the worker. Its HTTP API answers 401
    # unless basic auth is set ("user:password", several separated by commas) or
    # flower_unauthenticated_api is true; the web pages are open without auth.
    flower_host: str = "127.0.0.1"
    flower_port: int = Field(default=5555, ge=1, le=65535)
    flower_basic_auth: SecretStr | None = None
    flower_unauthenticated_api: bool = False

    # Celery task events (what Flower shows). They cost CPU and latency on every
    # task (shared/celery_app.py); `make run` turns them on as it starts Flower.
    task_events: bool = False

    # Mounts POST /_bench/static, the bare-framework yardstick `make bench` uses.
    bench_routes: bool = False

    # Links the page at / shows, only when set: dashboards run separately, and a
    # dead link is worse than none. Absolute http(s) URLs as a browser reaches them.
    flower_url: str | None = None
    grafana_url: str | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal

    @field_validator("api_key_hashes")
    @classmethod
    def _must_be_sha256(cls, value: str) -> str:
        for digest in split_list(value):
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("each hash must be 64 lowercase hex digits (SHA-256)")
        return value

    @field_validator("result_backend_url", "cache_url")
    @classmethod
    def _must_be_redis(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL (redis://, rediss:// or unix://)")
        return value

    @field_validator("flower_url", "grafana_url")
    @classmethod
    def _must_be_http(cls, value: str | None) -> str | None:
        # The page renders these as links: anything but http(s) (javascript:, data:)
        # would run in the page's origin.
        if not value:
            return None  # an empty variable means "not configured"
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def rate_limit(self, *, keys_on: bool) -> tuple[float, int] | None:
        """(requests per second, burst) for each caller, or None when there is no limit."""
        if keys_on:
            per_s, burst = self.rate_limit_per_s, self.rate_limit_burst
        else:
            per_s, burst = self.rate_limit_anonymous_per_s, self.rate_limit_anonymous_burst
        return (per_s, burst) if per_s > 0 else None

    @property
    def served_model_name(self) -> str:
        """The model's short name, safe for queue names and cache keys."""
        raw = self.model_name or self.model_id.rstrip("/").rsplit("/", 1)[-1]
        slug = re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-.")
        return slug or "model"

    @property
    def interactive_queue(self) -> str:
        """The Celery queue that synchronous predictions for this model travel on."""
        return f"{self.served_model_name}.interactive"

    @property
    def bulk_queue(self) -> str:
        """The Celery queue that job chunks (and webhook deliveries) for this model travel on."""
        return f"{self.served_model_name}.bulk"

    @property
    def worker_queues(self) -> list[str]:
        """The queues a worker consumes, most urgent first."""
        if self.worker_lanes == "interactive":
            return [self.interactive_queue]
        return [self.interactive_queue, self.bulk_queue]

    @property
    def interactive_only_workers(self) -> int:
        """How many of the worker_processes started here skip the bulk lane."""
        return min(self.worker_interactive_only, self.worker_processes - 1)

    @property
    def cors_origin_list(self) -> list[str]:
        return split_list(self.cors_origins)

    @property
    def uses_lexicon(self) -> bool:
        if self.runtime == "auto":
            return self.model_id == LEXICON_MODEL_ID
        return self.runtime == "lexicon"

    @property
    def effective_threads(self) -> int:
        if self.runtime_threads:
            return self.runtime_threads
        return max(1, usable_cores() // self.worker_processes)


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask where the OS keeps one (Linux),
    else every core (macOS has no `os.sched_getaffinity`)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count() or 1


def split_list(value: str) -> list[str]:
    """Items of a comma-separated setting, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process."""
    return Settings()

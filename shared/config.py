"""Every setting of Spectrum, read once from the environment (prefix `SPECTRUM_`).

Each field's docstring is its documentation: `python -m scripts.docs_blocks` renders
them into the settings table of docs/configuration.md
(`tests/unit/scripts/test_docs_blocks.py` fails when the two drift), so say there why a
value was chosen, not only what it does. The figures behind a default live in
docs/performance.md ("What chose the defaults"), where they can be measured again; a
docstring links there (links are relative to docs/, the page they render into, and
`make docs` checks them).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from spectrum.shared.signing import signing_keys

SHIPPED_MODEL_ID = "models/sentiment-minilm"
# Names the env file, relative to the working directory; empty reads none. Not a
# setting (a file cannot name itself), so it is read here, beside the settings.
ENV_FILE_VARIABLE = "SPECTRUM_ENV_FILE"
DEFAULT_ENV_FILE = ".env"


class Settings(BaseSettings):
    """One place for configuration; both the gateway and the workers read it.

    Precedence: arguments, then environment variables, then the env file (`.env` in
    the working directory unless SPECTRUM_ENV_FILE names another; empty: none).
    """

    # use_attribute_docstrings: the string under each field is its description.
    model_config = SettingsConfigDict(
        env_prefix="SPECTRUM_", extra="ignore", use_attribute_docstrings=True
    )

    env: Literal["development", "production"] = "development"
    """`production` refuses to start the API without API keys; `development` allows an
    open API and says so at start."""

    # Where work and results travel.
    broker_url: str = "redis://127.0.0.1:6379/0"
    """Celery broker: Redis, or RabbitMQ (`amqp://guest:guest@host:5672//`). Broker,
    result backend and cache may share one Redis in development; the cache must stay
    addressable on its own so that an `allkeys-lru` cache never evicts broker keys."""
    result_backend_url: str = "redis://127.0.0.1:6379/0"
    """Redis for results, the worker registry, heartbeats and jobs; it must not evict
    keys (`noeviction`)."""
    cache_url: str = "redis://127.0.0.1:6379/0"
    """Redis for cached predictions and the rate limits; may be a separate `allkeys-lru`
    instance."""

    # What is served.
    model_id: str = SHIPPED_MODEL_ID
    """What this worker serves: the shipped model (a directory, relative to the working
    directory), a built-in id (`vader`: the sentiment lexicon; `toxicity`:
    alt-profanity-check's linear classifier; `emotion`: the NRC emotion lexicon; none
    needs torch; `fixed`: `make scale`'s capacity-test stand-in, which sleeps instead of
    computing), or any other local model directory or Hugging Face hub id."""
    models: str = f"{SHIPPED_MODEL_ID},toxicity,emotion"
    """Model ids this deployment serves, comma-separated: `make run` starts workers for
    each (the shipped model with SPECTRUM_WORKER_PROCESSES, every other model one light
    worker, each with its own SPECTRUM_MODEL_ID)."""
    model_name: str = ""
    """Name used in queue names, cache keys and answers; derived from the model id (its
    last path part) when unset."""
    default_model: str = ""
    """Gateway: the model a request without `"model"` is answered by (a model name or an
    alias); empty: the name derived from SPECTRUM_MODEL_ID, as a single-model gateway
    serves."""
    aliases: str = ""
    """Gateway: aliases as inline JSON, e.g. `{"sentiment": {"targets": {"a": 90, "b":
    10}, "shadow": {"model": "c", "share": 0.2}}}`; used while no set was stored by `PUT
    /v1/admin/aliases` and no SPECTRUM_ALIASES_FILE is given."""
    aliases_file: str = ""
    """Gateway: a JSON file of aliases (the same document), re-read without a restart
    when its modification time changes (checked at most once a second); a file that
    does not parse is logged and the previous set kept. Used while no set was stored by
    `PUT /v1/admin/aliases`."""
    shadow_max_in_flight: int = Field(default=8, ge=0)
    """Gateway: shadow calls (an alias's copies of requests to its candidate) one
    gateway runs at once; beyond it a request is not shadowed (counted as skipped), so
    shadow traffic can never pile up behind a slow candidate. `0`: no shadow traffic."""
    runtime: str = "auto"
    """Runtime kind (worker/runtimes/__init__.py lists them: `lexicon`, `openvino`,
    `torch`, `sklearn`, `emotion-lexicon`, `fixed`). `auto`: a built-in model id's own kind,
    OpenVINO for a model directory with an OpenVINO IR (when openvino is installed),
    PyTorch otherwise. `sklearn` also serves a local scikit-learn text pipeline (a
    `.joblib` file, or a directory with `model.joblib` and an optional
    `vectorizer.joblib`): joblib files are pickles, which run code when loaded, so
    serve only files you trust."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """PyTorch only: `auto` is CUDA when present, the CPU otherwise."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """`auto`: bf16 where the CPU has AMX, where it is the faster, fp32 elsewhere (also on
    AVX512-BF16 without AMX, where bf16 is the slower: worker/runtimes/cpu.py decides,
    figures in [Performance](performance.md#what-chose-the-defaults));
    the choice is logged with its reason."""
    batch_size: int = Field(default=32, ge=1)
    """Texts per forward pass: a task's texts are sorted by token length and cut into
    forward passes of at most this many texts and SPECTRUM_TOKEN_BUDGET padded tokens."""
    token_budget: int = Field(default=2048, ge=0)
    """Padded tokens (rows x longest row) per forward pass; `0`: no token limit, rows
    alone decide."""
    runtime_threads: int = Field(default=0, ge=0)
    """Threads for the runtime's math in each worker process; `0` shares the cores this
    machine lets the process use evenly among its SPECTRUM_WORKER_PROCESSES."""
    wide_pass_tokens: int = Field(default=0, ge=0)
    """OpenVINO, with SPECTRUM_RUNTIME_THREADS=0: a forward pass of at most this many
    padded tokens (rows x longest row: a lone text, a few short ones) runs on every core
    of the host that no other worker's pass holds when it starts, instead of on its
    process's share alone, so that at low load a text does not wait on one core while
    the others idle (worker/runtimes/cores.py). Larger passes keep to their share, where
    one thread a core does more work than several on one pass, and so that a bulk pass
    never holds every core. `0` (the default until a threshold is measured that costs
    nothing at 8 connections): every pass keeps to its share. 256 cut one-at-a-time
    latency by a sixth and cost about a sixth of the requests/s at 8 connections
    ([Performance](performance.md#cores-by-load))."""
    max_tokens: int = Field(default=256, ge=8)
    """Longest input, in tokens, the transformer sees; longer texts are truncated."""
    fixed_pass_ms: float = Field(default=5.0, ge=0)
    """The `fixed` stand-in only: milliseconds one forward pass (up to SPECTRUM_BATCH_SIZE
    texts) sleeps besides SPECTRUM_FIXED_TEXT_MS per text. A sleep, not work, so that
    two cores can host many workers (`make scale`; why these costs:
    [Scaling curve](scaling.md#scaling-curve-make-scale))."""
    fixed_text_ms: float = Field(default=25.0, ge=0)
    """The `fixed` stand-in only: milliseconds each text adds to its pass. Text cost
    dominating pass cost keeps a worker's rate nearly independent of how the gateway
    happened to batch (16 texts: ~39/s, 1 text: ~33/s with the defaults)."""
    pad_multiple: int = Field(default=0, ge=0, le=512)
    """Each forward pass's width (tokens) is rounded up to a multiple of this, so the
    runtime sees few distinct shapes. 0: the OpenVINO runtime's choice, 16 in bf16 and 1
    (no rounding) in fp32, where the padding costs more than it saves
    (worker/runtimes/ov.py; figures in [Performance](performance.md#what-chose-the-defaults))."""
    openvino_cache_capacity: int = Field(default=200, ge=0)
    """Input shapes whose compiled kernels the OpenVINO CPU plugin keeps. Its default
    (5000) lets a worker grow by several hundred MB as new (rows, width) shapes arrive;
    a bound of a few hundred shapes keeps its memory flat under `make soak` (figures in
    [Performance](performance.md#what-chose-the-defaults))."""

    # Input limits, enforced by the gateway before any work is queued.
    max_texts_per_request: int = Field(default=64, ge=1)
    """Texts per `POST /v1/predict`; more go to `POST /v1/jobs`."""
    max_text_chars: int = Field(default=4000, ge=1)
    """Characters per text."""
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    """Largest request body, in bytes, refused with 413 before it is parsed: from the
    Content-Length header when there is one, while reading otherwise. 2 MiB holds
    max_texts_per_request x max_text_chars even as 4-byte UTF-8 plus JSON quoting."""

    # API keys.
    api_keys: SecretStr | None = None
    """API keys, comma-separated, one per client so that one can be revoked alone; plain
    keys are hashed at load, never kept. Each may end in `:admin` or `:client` (none:
    client): a client key reaches only its own jobs and its own traffic in analytics; an
    admin key also reads every key's analytics and export and changes aliases
    (`/v1/admin/`). Keys are required when any is configured, and always in production
    (the gateway refuses to start there without one): every `/v1` route but
    `/v1/ui-config` then needs `Authorization: Bearer <key>` or `X-API-Key: <key>`. In
    development with none the API is open and says so at start ([Security](security.md))."""
    api_key_hashes: str = ""
    """SHA-256 hex digests of API keys, comma-separated, beside or instead of
    SPECTRUM_API_KEYS, each optionally followed by `:admin` or `:client` (none: client);
    `python -m spectrum.api.edge.keys` prints a new key and its hash."""
    key_id_secret: SecretStr | None = None
    """The HMAC secret that turns a key into its key id, the name logs, the prediction
    log, rate limits and job ownership know it by: without the secret an id says nothing
    about its key, however weak. Unset: the first gateway that needs one generates 32
    random bytes and stores them in the result-backend Redis (`spectrum:key-id-secret`),
    where every gateway process and replica reads the same, so ids agree and outlive
    restarts. Set it to keep ids across a new Redis. Changing it (or deleting that key)
    changes every id: earlier jobs answer 404 to their own key, and analytics per key
    starts afresh."""
    max_in_flight_per_key: int = Field(default=32, ge=1)
    """Keys on: requests one API key may have in flight in one gateway process; beyond
    it that key gets 429 `KeyBusy` with Retry-After. A quarter of SPECTRUM_MAX_IN_FLIGHT:
    one key's slow senders, slow readers or burst cannot take the slots every other key
    needs, while a single busy client still gets a large share."""
    body_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds a request's whole body may take to arrive; a slower one is answered 408
    and its connection closed. Without it a client sending a byte now and then holds an
    in-flight slot forever; 30 s carries a 32 MiB job upload at ~1 MB/s."""
    response_timeout_s: float = Field(default=300.0, gt=0)
    """Seconds a client may take to read a whole answer (a streamed export or job results
    included); past it the connection is closed, so a reader that stops reading frees its
    slot. Five minutes hold a 100,000-text job's results on a slow link."""
    metrics_public: bool = True
    """`/metrics` answers without a key (Prometheus scrapes it from inside the network);
    `false` puts it behind the keys like `/v1`."""
    cors_origins: str = ""
    """Browser origins allowed to call the API (comma-separated, `*` for any); none by
    default: the page at / is served from the API's own origin."""

    # Rate limits (GCRA), shared by every gateway replica through the cache Redis (one
    # Lua call per request); which applies depends on whether keys are on.
    rate_limit_per_s: float = Field(default=50.0, ge=0)
    """Keys on: requests a second per API key, on average (`0`: no limit). A key names
    one client; 50/s with bursts of 100 is generous for a person or a script and caps a
    runaway loop of one client below what one machine serves
    ([Performance](performance.md)), so the other keys stay served. With the cache Redis
    down, requests pass (logged, `spectrum_rate_limiter_errors_total`)."""
    rate_limit_burst: int = Field(default=100, ge=1)
    """Keys on: requests one API key may send at once above its average rate."""
    rate_limit_anonymous_per_s: float = Field(default=0.0, ge=0)
    """Keys off: requests a second per client address (`0`: no limit, the default).
    Every caller is anonymous then and an address is a poor name for one: a load
    generator, a proxy or a NAT puts everyone behind one address, and a per-address cap
    refused a single script long before the service was busy. Overload is admission
    control's job (SPECTRUM_MAX_IN_FLIGHT, SPECTRUM_MAX_QUEUE_DEPTH: 503 with
    Retry-After), not the limiter's. Set it to cap callers of an open API anyway."""
    rate_limit_anonymous_burst: int = Field(default=100, ge=1)
    """Keys off: requests one client address may send at once above its average rate."""

    # Admission control.
    max_in_flight: int = Field(default=128, ge=1)
    """Requests one gateway process serves at once (each of SPECTRUM_API_PROCESSES has
    its own cap); the rest are answered 503 `Overloaded` at once. 128 waiting requests
    are a few seconds of work for two workers, inside the 10 s deadline, where twice as
    many let requests time out (504) on a busy machine; the benchmark's 128 connections
    still fit (figures in [Performance](performance.md#what-chose-the-defaults))."""
    max_queue_depth: int = Field(default=200, ge=1)
    """Messages (batches) a lane's broker queue may hold before the lane takes no new
    work (503). At ~10 batches/s per worker, 200 queued batches are already more than a
    10 s deadline can wait for."""
    max_bulk_queue_depth: int = Field(default=10_000, ge=1)
    """The bulk lane's cap, in job chunks: a job is queued whole, thousands of chunks at
    once, so its lane is measured in hours of work, not seconds. 10,000 chunks of 32
    texts are ~320,000 texts, about an hour for two workers at ~100 texts/s; beyond that
    a new job is refused (503) instead of waiting behind days of work."""
    queue_depth_ttl_ms: float = Field(default=200.0, ge=0)
    """Queue depth is read from the broker at most this often (one read serves every
    request in between), not once per request; once a depth is known, requests are
    admitted on it while the next read runs in the background, never waiting on the
    broker. 0: every request waits for a read of its own (an exact cap, a broker round
    trip per request)."""

    # Delivery.
    task_max_deliveries: int = Field(default=3, ge=1)
    """A message delivered this many times without finishing (its worker died each
    time) is recorded as failed and acked instead of run again."""
    broker_visibility_timeout_s: int = Field(default=300, ge=1)
    """Redis broker: an unacked message of a dead worker is delivered again after this
    long. Longer than any task runs; short enough that a crash delays work by minutes,
    not the default hour."""

    # Test-only fault hooks, off by default: they exist so that the fault tests can kill
    # a worker or a gateway at a chosen moment.
    fault_crash_text: str = ""
    """Test-only, never set in a deployment: a worker exits at once (as a SIGKILL would
    leave it) when a task holds this text."""
    fault_sleep_text: str = ""
    """Test-only, never set in a deployment: a worker sleeps SPECTRUM_FAULT_SLEEP_S
    before a task holding this text."""
    fault_sleep_before_ack_text: str = ""
    """Test-only, never set in a deployment: a worker sleeps SPECTRUM_FAULT_SLEEP_S after
    a job chunk holding this text is recorded, before its message is acked."""
    fault_sleep_s: float = Field(default=3.0, ge=0)
    """Test-only: how long the fault hooks stall."""
    fault_publish_fail_after: int = Field(default=0, ge=0)
    """Test-only, off (`0`): once the gateway has published this many chunks of a job it
    stalls SPECTRUM_FAULT_SLEEP_S (so that workers hold those chunks) and then fails as
    a broker outage would. The job tests show no chunk of such a job is computed."""
    fault_publish_exit: bool = False
    """Test-only: with SPECTRUM_FAULT_PUBLISH_FAIL_AFTER, the gateway exits at once, as
    a kill -9 mid-submit would, instead of failing."""

    # Deadlines.
    request_timeout_s: float = Field(default=10.0, gt=0)
    """How long a synchronous request waits for its result."""
    broker_timeout_s: float = Field(default=2.0, gt=0)
    """How long publishing to an unreachable broker may take before a 503."""

    # Gateway micro-batching: concurrent cache misses travel as one task.
    batch_max_texts: int = Field(default=16, ge=1)
    """Texts per task at most. With SPECTRUM_BATCH_MAX_WAIT_MS, it trades the size of a
    task against keeping every worker busy: 16 texts / 25 ms serve more requests a
    second with two workers at 32 and 128 connections than 32 / 5 ms (figures in
    [Performance](performance.md#what-chose-the-defaults))."""
    batch_max_wait_ms: float = Field(default=25.0, ge=0)
    """A request is sent at once while a worker is idle; while all are busy it waits at
    most this long for company."""
    batch_fill_workers: bool = True
    """Send a batch at once while fewer of this gateway's batches are in flight than the
    model has live workers; false: only while none is (one batch at a time)."""

    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)
    """Lifetime of a cached prediction, in seconds (a week)."""

    # Async jobs (POST /v1/jobs).
    job_chunk_size: int = Field(default=32, ge=1, le=1024)
    """Texts per chunk task of a job, on the bulk lane. A worker on both lanes finishes
    its chunk before it takes interactive work, so where every worker takes chunks, a
    chunk's compute time is what a synchronous request can wait behind. With one
    interactive-only worker (SPECTRUM_WORKER_INTERACTIVE_ONLY) it is not, and bigger
    chunks batch better: with the default one interactive-only worker, 32 texts keep
    synchronous p99 during a job as flat as 8 do and run the job faster (`make bench
    ARGS="--quick --scenario bulk"`; figures in
    [Performance](performance.md#what-chose-the-defaults))."""
    job_max_texts: int = Field(default=100_000, ge=1)
    """Largest job, in texts (rows)."""
    job_max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest job body or upload, in bytes (32 MiB): 100,000 texts of ~300 bytes are
    ~30 MB. It bounds what one submission makes the API hold: at worst a JSON body of
    texts with emoji (held by Python at 4 bytes a character) took the API to a peak of
    ~320 MiB at 32 MiB and ~480 MiB at 64 MiB, too near a 512 MiB pod limit
    (tests/integration/test_keys.py; [Security](security.md#limits))."""
    job_ttl_s: int = Field(default=24 * 3600, ge=60)
    """How long a job's record and results live after submission."""
    job_tombstone_s: int = Field(default=7 * 24 * 3600, ge=60)
    """How long, after SPECTRUM_JOB_TTL_S, a small marker remains so that an expired
    job's id answers 410, not 404."""
    job_inline_results_max: int = Field(default=1000, ge=0)
    """`GET /v1/jobs/{id}` carries the results itself up to this many texts; larger jobs
    are read from `/v1/jobs/{id}/results`, which streams them chunk by chunk."""
    bulk_scales_to_zero: bool = False
    """`true` where the bulk lane's workers scale to zero on its queue's length (KEDA,
    deploy/k8s): a job is then queued while no live worker takes the bulk lane, since its
    queued chunks are what starts one, instead of refused with 503. A live worker of the
    model on the interactive lane must still have announced its labels. `false`: a job
    finds a bulk worker or is refused at once, rather than wait for one that may never
    come."""
    job_chunk_retries: int = Field(default=2, ge=0)
    """A chunk that raises is retried this many times; then its texts are recorded
    failed with the reason."""
    job_chunk_retry_s: float = Field(default=0.5, ge=0)
    """Try n of a chunk waits a random time in [0, min(SPECTRUM_JOB_CHUNK_RETRY_MAX_S,
    this x 2**n)] ("full jitter"): after a Redis blip fails every chunk at once, their
    retries spread out instead of all hitting Redis at one instant."""
    job_chunk_retry_max_s: float = Field(default=30.0, ge=0)
    """Longest wait before a chunk's retry, so that a high retry count does not wait
    hours."""
    job_seal_timeout_s: float = Field(default=60.0, gt=0)
    """A job is sealed once every chunk is published (shared/jobs.py); workers compute
    chunks of sealed jobs only and drop those of a job still unsealed this long after
    submission (its gateway died mid-submit). Ten times what a 100,000-text job (3,125
    chunks) takes from POST to 202 on a busy 2-core machine
    ([Performance](performance.md#what-chose-the-defaults)), and short enough that
    the waiting chunks of a dead gateway's job are dropped within a minute."""

    # Webhooks: a job's callback_url gets the summary POSTed once it ends.
    webhook_secret: SecretStr | None = None
    """Signs webhook deliveries in the Standard Webhooks format. Callbacks are refused
    while it is unset or empty: an unsigned callback cannot be told from a forged one.
    `whsec_<base64>` keys separated by spaces (each signs every delivery: key
    rotation), or any other string, taken whole as one raw key (shared/signing.py)."""
    webhook_allow_private: bool = False
    """Callbacks go to public addresses only (not loopback, private networks or cloud
    metadata: shared/callbacks.py); `true` lets them reach this machine and its LAN
    (development, tests)."""
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    """Timeout of one webhook POST."""
    webhook_retries: int = Field(default=5, ge=0)
    """Retries of a failed delivery (an error or a non-2xx answer) after the first
    try."""
    webhook_backoff_s: float = Field(default=1.0, ge=0)
    """Try n of a delivery waits a random time in [0, min(SPECTRUM_WEBHOOK_BACKOFF_MAX_S,
    this x 2**n)] (full jitter): at most 1+2+4+8+16 s by default."""
    webhook_backoff_max_s: float = Field(default=60.0, ge=0)
    """Longest wait before a webhook retry."""
    result_expires_s: int = Field(default=3600, ge=60)
    """Lifetime of a Celery result in the result backend, in seconds."""

    # Workers.
    worker_heartbeat_s: float = Field(default=2.0, gt=0)
    """Workers announce themselves this often."""
    worker_stale_s: float = Field(default=10.0, gt=0)
    """The gateway counts a worker as gone when its last heartbeat is older than
    this."""
    worker_pool: Literal["solo"] = "solo"
    """`solo`: the model runs in the worker process itself; scale with more
    processes."""
    worker_processes: int = Field(default=2, ge=1)
    """Worker processes `make run` starts on this machine (each loads the model once
    and, with SPECTRUM_RUNTIME_THREADS=0, gets an even share of the cores). 2 on 2
    cores: one-thread workers, one per core, serve more than one worker with a thread
    per core (figures in [Performance](performance.md#what-chose-the-defaults))."""
    worker_index: int = Field(default=0, ge=0)
    """This worker's number among its model's workers on this host, in its Celery node
    name `<model>-<n>@<host>` (what Flower lists); `0`: the process id, unique without
    coordination. `make run` numbers its workers from 1."""
    worker_prefetch: int = Field(default=2, ge=1)
    """Messages an interactive-only worker may hold (Celery's prefetch multiplier); a
    worker that also takes the bulk lane holds only the task it runs."""
    worker_lanes: Literal["all", "interactive"] = "all"
    """Lanes a `python -m spectrum.worker` consumes. `all`: interactive first, then bulk (the
    Redis transport polls the queues in priority order, shared/celery_app.py), so every
    worker helps with jobs while none is needed for synchronous traffic. `interactive`
    keeps a process free of bulk work. A worker announces itself on each lane it takes:
    a job is refused (503) while no live worker takes the bulk lane."""
    worker_interactive_only: int = Field(default=1, ge=0)
    """Of the SPECTRUM_WORKER_PROCESSES `make run` (and `make bench`) start, how many
    take only interactive work; the others take both lanes (at least one always does).
    1 of 2 keeps synchronous p99 during a job about what it is without one, where both
    workers on both lanes let a job's chunks double it or more; the price is that a job
    gets one worker (figures in [Performance](performance.md#what-chose-the-defaults))."""
    worker_bulk_nice: int = Field(default=10, ge=0, le=19)
    """Niceness a worker that takes the bulk lane gives itself (`0`: none), so that when
    the cores are saturated its chunks yield the CPU to the gateway, Redis and the
    interactive-only workers; with idle cores it runs at full speed. The price: under
    full load a job runs slower (figures in
    [Performance](performance.md#what-chose-the-defaults))."""
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    """Port on which each worker process serves its Prometheus metrics (`0`: not
    served). One port per process: give every worker on a machine its own (`make run`
    uses 9101, 9102, ...; containers can all use the same one)."""
    worker_metrics_host: str = "127.0.0.1"
    """Address a worker's metrics server listens on."""

    # Flower, which `make run` starts beside the workers.
    flower_host: str = "127.0.0.1"
    """Address Flower listens on."""
    flower_port: int = Field(default=5555, ge=1, le=65535)
    """Port Flower listens on."""
    flower_basic_auth: SecretStr | None = None
    """`user:password`, several separated by commas: basic auth for Flower, which also
    opens its HTTP API (it answers 401 otherwise); the web pages are open without
    auth."""
    flower_unauthenticated_api: bool = False
    """Opens Flower's HTTP API without basic auth."""
    task_events: bool = False
    """Celery task events, what Flower shows. They cost CPU and latency on every task
    (shared/celery_app.py): the task-sent event adds a broker message to every
    `send_task` the gateway makes, and each worker event one more (figures in
    [Performance](performance.md#what-chose-the-defaults)); `make run` turns them on as it
    starts Flower."""

    bench_routes: bool = False
    """Mounts `POST /_bench/static`, the bare-framework yardstick `make bench` uses."""

    tracing: bool = False
    """OpenTelemetry traces of every request, from the gateway through the broker to the
    worker and back ([Protocols](protocols.md#tracing)). Needs the `otel` extra (`make run`
    installs it); without it the processes say so and run untraced. Off, it costs one
    check per stage, no span is made. The standard `OTEL_*` variables say where spans go
    (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, `OTEL_BSP_SCHEDULE_DELAY`, ...)."""
    otlp_protocol: Literal["http/protobuf", "grpc"] = Field(
        default="http/protobuf",
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
        ),
    )
    """How spans are exported when SPECTRUM_TRACING is on: OTLP over HTTP (port 4318) or
    gRPC (4317). Read from the standard `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
    `OTEL_EXPORTER_OTLP_PROTOCOL` (no `SPECTRUM_` variable): `http/protobuf` by default, as
    the OpenTelemetry specification asks."""

    # Links the page at / shows, only when set: dashboards run separately, and a dead
    # link is worse than none.
    flower_url: str | None = None
    """Flower's address as a browser reaches it (an absolute http(s) URL), linked from
    the page at /."""
    grafana_url: str | None = None
    """Grafana's address as a browser reaches it (an absolute http(s) URL), linked from
    the page at /."""

    host: str = "127.0.0.1"
    """Address the API listens on."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Port the API listens on."""
    api_processes: int = Field(default=1, ge=1)
    """Gateway processes that serve the API port on this machine (`python -m spectrum.api`,
    `make run`). Above 1, uvicorn's supervisor binds the port once and runs that many
    processes, each a whole gateway (its own batcher, in-flight cap and result waiter);
    rate limits and queue depth stay shared through Redis, and `/metrics` reports the
    sum over the processes ([Several gateway processes](deployment.md#several-gateway-processes)).
    One process is one core of request handling: add processes when the gateway, not the
    workers, is busy."""
    log_level: str = "INFO"
    """Level of the structured logs (`DEBUG`, `INFO`, `WARNING`, `ERROR`); raw input
    text is never logged."""
    log_json: bool | None = None
    """Logs as JSON lines (`true`) or for a terminal (`false`); unset: JSON when stderr
    is not a terminal."""

    # The prediction log (shared/predlog): a Redis stream off the request path, a writer.
    prediction_log: bool = True
    """Log every answered text (model, version, label, probabilities, latency, cached, ids,
    the text's hash) to the result-backend Redis stream that `python -m
    spectrum.shared.predlog.writer` inserts into SPECTRUM_DATABASE_URL; `false`: nothing is sent."""
    database_url: str = "sqlite:///var/spectrum.db"
    """Database of the prediction log: an SQLite file by default (relative to the working
    directory, created on first use) so `make run` needs nothing, or PostgreSQL
    (`postgresql://user@host:5432/db`, driver psycopg 3 from the `postgres` extra)."""
    log_texts: bool = False
    """Store each text itself in the prediction log; off by default: only its sha256 is kept
    (texts are the users' data and often personal)."""
    prediction_log_days: int = Field(default=30, ge=1)
    """Days a prediction log row is kept; the writer deletes older rows every
    SPECTRUM_PREDICTION_LOG_RETENTION_EVERY_S."""
    prediction_log_retention_every_s: float = Field(default=3600.0, gt=0)
    """Seconds between the writer's retention passes (an hour: deleting is cheap with the
    `at` index, and a day's rows leave within the hour after they expire)."""
    prediction_log_buffer: int = Field(default=100_000, ge=1)
    """Rows the writer holds while the database is down; beyond it, new rows are dropped and
    counted (`spectrum_prediction_log_dropped_rows_total`). 100 000 rows are about 50 MB."""
    prediction_log_stream_max: int = Field(default=20_000, ge=100)
    """Approximate bound on the Redis stream's entries (one per request or job chunk): the
    backlog kept while no writer reads (older entries are trimmed unread). An entry is about
    400 bytes a text: 20 000 one-text entries are ~8 MB and over two minutes of `make run`'s
    peak rate; during a database outage the writer's own buffer holds the rows instead."""
    prediction_log_batch: int = Field(default=1000, ge=1)
    """Most rows the writer inserts in one transaction (one executemany)."""
    prediction_log_flush_ms: float = Field(default=50.0, gt=0)
    """Gateway: how long rows wait in the process's buffer before one pipelined XADD sends
    them, so a request never waits on the log's Redis round trip."""
    prediction_log_metrics_port: int = Field(default=9109, ge=0, le=65535)
    """Port of the writer's Prometheus /metrics (rows written, dropped, buffered); 0: none."""
    prediction_log_metrics_host: str = "127.0.0.1"
    """Address the writer's /metrics binds (`0.0.0.0` in a container)."""
    prediction_log_stream: str = "spectrum:predlog"
    """Redis stream (in the result-backend Redis) the gateway and workers append to and the
    writer reads with consumer group `predlog-writer`; tests give each run its own."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The env file is chosen per construction, not per import, so that a test (or a
        # harness that isolates its children) can switch it off with the variable.
        env_file = os.environ.get(ENV_FILE_VARIABLE, DEFAULT_ENV_FILE) or None
        dotenv = DotEnvSettingsSource(settings_cls, env_file=env_file)
        return init_settings, env_settings, dotenv, file_secret_settings

    @field_validator("api_key_hashes")
    @classmethod
    def _must_be_sha256(cls, value: str) -> str:
        for digest in split_list(value):
            if not re.fullmatch(r"[0-9a-f]{64}(:admin|:client)?", digest):
                raise ValueError(
                    "each hash must be 64 lowercase hex digits (SHA-256), "
                    "optionally followed by :admin or :client"
                )
        return value

    @field_validator("key_id_secret")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable means "not configured"
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _must_name_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable means "not configured"
        signing_keys(value.get_secret_value())  # raises ValueError on a malformed list
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
    def default_model_name(self) -> str:
        """What a gateway request without `"model"` is answered by (a name or an alias)."""
        return self.default_model.strip() or self.served_model_name

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
    def model_list(self) -> list[str]:
        return split_list(self.models)

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

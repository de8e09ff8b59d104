"""The one Celery application factory; every setting is here with the reason for its value."""

from __future__ import annotations

from celery import Celery

from spectrum.shared import redis_transport
from spectrum.shared.config import Settings


def create_celery(settings: Settings) -> Celery:
    """Build the Celery app both the gateway (to send) and the workers (to run) use."""
    app = Celery("spectrum", broker=settings.broker_url, backend=settings.result_backend_url)
    # The Redis broker's visibility timeout: an unacked message of a dead worker
    # is delivered again after this long. Sync work expires long before it; an hour
    # (the default) would hide a lost batch for far too long. A setting so that the
    # fault tests can see a redelivery in seconds.
    visibility_timeout = settings.broker_visibility_timeout_s
    # How often a worker looks for unacked messages of dead workers whose visibility
    # timeout has passed (kombu: every 10 s, and only every 10th look really scans, so
    # ~100 s). One cheap scan per look, a tenth of the timeout apart (1-10 s): a lost
    # message is back soon after its timeout.
    restore_every = max(1.0, min(10.0, visibility_timeout / 10))
    # kombu's Redis transport, except that a worker whose ack cannot reach Redis still
    # frees its prefetch slot instead of never taking another message
    # (shared/redis_transport.py; found by tests/integration/test_chaos.py).
    redis_transport.install()
    app.conf.update(
        # JSON only on the wire: pickle would let anyone who can publish run code.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Results are read once by the waiting gateway; keep them an hour at most
        # instead of the default day (tens of millions of keys at our rates).
        result_expires=settings.result_expires_s,
        # The gateway waits on the result's pub/sub channel, so only the final
        # state is needed: no STARTED writes.
        task_track_started=False,
        # Ack after the task ran, and give the message back if the worker process
        # dies mid-task, so a crash loses no accepted work.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A worker holds prefetch x concurrency unacked messages: enough that the
        # next batch is local when a forward pass ends, few enough that a slow
        # worker does not hoard work other workers could do. A worker that also
        # consumes the bulk lane holds only the task it runs: a prefetched job
        # chunk would make the next interactive batch wait a whole chunk more
        # (docs/performance.md, "What chose the defaults"), while fetching the next
        # message on a local broker is a round trip of about a millisecond.
        worker_prefetch_multiplier=(
            1 if settings.bulk_queue in settings.worker_queues else settings.worker_prefetch
        ),
        # Publishing must fail fast when the broker is down so the gateway can
        # answer 503 inside the request's deadline instead of hanging.
        broker_connection_timeout=settings.broker_timeout_s,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        # Workers keep retrying the broker when it goes away and comes back.
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # Same visibility timeout in broker and backend transport options, as the
        # Redis transport requires; socket timeouts so no call blocks forever.
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # Interactive first: a worker consuming both lanes polls its queues in
            # the order given (interactive, then bulk) instead of round-robin, so a
            # waiting synchronous batch is always taken before the next job chunk.
            # (Ignored by the AMQP transport, where a worker lists the same queues.)
            "queue_order_strategy": "priority",
            "unacked_restore_interval": restore_every,
            "unacked_restore_throttle": 1,
            # The lock one scan holds so that workers do not scan at once. A scan takes
            # milliseconds; kombu keeps the lock 5 minutes, so a worker cut off while
            # holding it (or whose lock command reaches Redis after the worker gave up
            # on it) stops every worker's redeliveries that long. Two looks' time frees
            # it sooner; should it lapse mid-scan, each restore is a WATCH transaction,
            # so no message is put back twice.
            "unacked_mutex_expire": 2 * restore_every,
            "socket_timeout": 5,
            "socket_connect_timeout": settings.broker_timeout_s,
        },
        result_backend_transport_options={"visibility_timeout": visibility_timeout},
        # A worker whose result backend is away waits for it, retrying (backoff up to
        # 1 s) as it does for the broker, instead of stopping: unretried, Celery 5.7's
        # store (it first reads the stored state back) raises out of the task tracer,
        # which stops a solo-pool worker ("Unrecoverable error"). The waiting caller has
        # had its 503/504 by then. tests/integration/test_chaos.py holds it to this.
        result_backend_always_retry=True,
        result_backend_max_sleep_between_retries_ms=1000,
        redis_socket_timeout=5,
        redis_socket_connect_timeout=settings.broker_timeout_s,
        redis_retry_on_timeout=True,
        # Routing is explicit per call (queue per model); nothing goes to "celery".
        task_default_queue=settings.interactive_queue,
        task_create_missing_queues=True,
        # Events, so Flower sees every task: workers send task-received/started/
        # succeeded/failed events, and the sender a task-sent event, so a task is
        # visible from the moment the gateway publishes it. Not free: the sent event
        # is one more publish inside every send_task, and each worker event one more
        # broker message (docs/performance.md, "What chose the defaults"). So a
        # setting: `make run` turns them on with Flower; off, Flower's enable_events
        # still turns the worker-side ones on while it runs.
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
        # Workers log through structlog; Celery must not replace the root logger.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # Solo pool: the model runs in the worker's own process (PyTorch and
        # tokenizers do not survive fork well); scale with more worker processes.
        worker_pool=settings.worker_pool,
        worker_concurrency=1,
    )
    return app

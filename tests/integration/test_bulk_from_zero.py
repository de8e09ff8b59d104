"""A bulk lane that scales from zero, as KEDA runs it (deploy/k8s): with
SPECTRUM_BULK_SCALES_TO_ZERO the gateway accepts a job while only an interactive-only
worker runs, the job's chunks wait in the bulk queue's Redis list (what KEDA's Redis
scaler reads), and a worker on both lanes started afterwards, as KEDA starts the bulk
Deployment's first pod, finishes the job.
"""

from __future__ import annotations

import redis

from tests.integration.job_runs import submit, texts, wait_until_ended
from tests.integration.stack import Stack

CHUNK = 10


def test_a_job_waits_in_the_bulk_list_until_a_bulk_worker_starts(make_stack: type[Stack]) -> None:
    stack = make_stack(job_chunk_size=CHUNK, bulk_scales_to_zero="true")
    stack.start_worker(worker_lanes="interactive")
    stack.start_api()
    batch = texts(35)
    broker = redis.Redis.from_url(stack.settings["broker_url"])
    try:
        with stack.client() as client:
            job_id = submit(client, batch)
            # Every chunk is queued before the 202, and no worker here takes the bulk lane.
            assert broker.llen(stack.bulk_queue) == 4
            assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "queued"

            stack.start_worker()  # both lanes, as worker-<model>-bulk runs
            job = wait_until_ended(client, job_id)
        assert job["state"] == "succeeded"
        assert job["progress"]["done"] == len(batch)
        assert broker.llen(stack.bulk_queue) == 0
    finally:
        broker.close()

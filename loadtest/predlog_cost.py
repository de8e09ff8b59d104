"""The prediction log's cost to the gateway, in-process: `python -m loadtest.predlog_cost`.

Measures, per request of 1 and of 64 texts, the CPU time the gateway's event loop spends
on the log: building the rows and appending them (`Predictor.log_parts`, on the request
path), and the background flush that encodes them and sends one pipelined XADD per
request to a real Redis (off the request path, but on the same core). Compare it with
the gateway's CPU per request that `make bench` reports (`api_ms`). Needs a Redis at
SPECTRUM_RESULT_BACKEND_URL (default 127.0.0.1:6379); writes to a stream of its own and
deletes it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from spectrum.api.predict.predictor import Answered, Predictor
from spectrum.shared.config import Settings
from spectrum.shared.predictions import Answer
from spectrum.shared.predlog.stream import StreamLog

ROUNDS = 2000


async def measure(texts: int) -> dict[str, float]:
    stream = f"spectrum:predlog:cost-{uuid.uuid4().hex[:8]}"
    settings = Settings(env_file="", prediction_log_stream=stream, model_name="m")
    client = aioredis.Redis.from_url(settings.result_backend_url)
    log = StreamLog(
        client, stream_max=settings.prediction_log_stream_max, flush_s=3600, stream=stream
    )
    nothing: Any = None
    predictor = Predictor(settings, nothing, nothing, nothing, nothing, nothing, log)
    answer = Answer("POSITIVE", 0.99, {"NEGATIVE": 0.01, "POSITIVE": 0.99}, False, False)
    normalized = [
        f"a sentence of an ordinary length, number {i} of the request" for i in range(texts)
    ]
    parts = [Answered("m", [answer] * texts, ["90611237ea62"] * texts)]
    try:
        started = time.process_time()
        for _ in range(ROUNDS):
            predictor.log_parts(parts, normalized, "predict", None, "0123456789abcdef", 0.0123)
        append_s = time.process_time() - started
        entry_bytes = len(json.dumps(log._pending[0], separators=(",", ":")))
        started = time.process_time()
        await log.flush()
        flush_s = time.process_time() - started
    finally:
        await client.delete(stream)
        await client.aclose()
    return {
        "texts": texts,
        "append_us_per_request": append_s / ROUNDS * 1e6,
        "flush_us_per_request": flush_s / ROUNDS * 1e6,
        "request_bytes": entry_bytes,
    }


def main() -> None:
    for texts in (1, 64):
        result = asyncio.run(measure(texts))
        print(json.dumps({k: round(v, 1) for k, v in result.items()}))


if __name__ == "__main__":
    main()

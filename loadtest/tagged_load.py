"""A closed-loop HTTP load whose latencies are kept per tag (per model in the mixed scenario).

wrk (loadtest/wrk.py) reports one latency distribution per run and cannot tell which
body a response answers, so a run that mixes models cannot be split by model with it.
This is the same closed loop in this process: `connections` keep-alive HTTP/1.1
connections, each sending the next body of one shared list as soon as its previous
answer is in, each body once (in list order; the list wraps when it runs out and the
wraps are counted), for `seconds`. Requests and answers are written and read with
asyncio streams and no HTTP library, so the generator costs little of the CPU it
shares with the stack; its share is part of the result, as with wrk.

Invariants: every answer read is one `Sample` of the tag of the body that asked for
it; a request whose answer was not in when the time ran out is not counted; a status
other than 2xx, or a broken connection, counts as an error of its tag.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# Long enough for any answer of a loaded stack (wrk's --timeout is 30 s too).
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Sample:
    tag: str
    latency_s: float
    ok: bool
    body_index: int


@dataclass(frozen=True)
class TaggedLoad:
    """One run: every answer in, its wall time, the bodies wrapped, the generator's CPU."""

    samples: list[Sample]
    seconds: float
    wraps: int
    cpu_share: float  # this process's CPU during the run, of all cores


@dataclass(frozen=True)
class Summary:
    """One tag's answers (or all of them: tag "all") in one run."""

    scenario: str
    tag: str
    concurrency: int
    requests: int
    seconds: float
    req_per_s: float
    share: float  # of all answers in the run
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    wraps: int
    client_cpu_share: float


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100) of sorted values; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil without floats
    return sorted_values[int(rank) - 1]


def summarize(
    scenario: str, load: TaggedLoad, concurrency: int, order: Sequence[str] = ()
) -> list[Summary]:
    """One `Summary` per tag (those of `order` first, in that order, then the others in
    order of first answer), then one of every answer (tag "all")."""
    tags = list(dict.fromkeys([*order, *(s.tag for s in load.samples)]))
    total = len(load.samples)
    out = []
    for tag in [*tags, "all"]:
        mine = [s for s in load.samples if tag in ("all", s.tag)]
        ms = sorted(s.latency_s * 1000 for s in mine)
        out.append(
            Summary(
                scenario=scenario,
                tag=tag,
                concurrency=concurrency,
                requests=len(mine),
                seconds=load.seconds,
                req_per_s=len(mine) / load.seconds if load.seconds > 0 else 0.0,
                share=len(mine) / total if total else 0.0,
                p50_ms=percentile(ms, 50),
                p95_ms=percentile(ms, 95),
                p99_ms=percentile(ms, 99),
                errors=sum(not s.ok for s in mine),
                wraps=load.wraps,
                client_cpu_share=load.cpu_share,
            )
        )
    return out


def request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length body; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def run_tagged(
    url: str, bodies: Sequence[tuple[str, bytes]], connections: int, seconds: float
) -> TaggedLoad:
    """POST the (tag, JSON body) list to `url` from `connections` connections for `seconds`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    wire = [(tag, request_bytes(f"{host}:{port}", path, body)) for tag, body in bodies]
    samples: list[Sample] = []
    position = 0
    wraps = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    def next_body() -> int:
        nonlocal position, wraps
        index = position
        position += 1
        if position == len(wire):
            position, wraps = 0, wraps + 1
        return index

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while loop.time() < deadline:
                index = next_body()
                tag, raw = wire[index]
                sent = loop.time()
                try:
                    writer.write(raw)
                    await writer.drain()
                    left = max(deadline - loop.time(), 0.001)
                    status = await asyncio.wait_for(read_answer(reader), min(left, READ_TIMEOUT_S))
                except TimeoutError:
                    return  # the time ran out with this answer still out: not counted
                except (OSError, asyncio.IncompleteReadError):
                    samples.append(Sample(tag, loop.time() - sent, False, index))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                samples.append(Sample(tag, loop.time() - sent, 200 <= status < 300, index))
        finally:
            writer.close()

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return TaggedLoad(
        samples=samples,
        seconds=min(elapsed, seconds),
        wraps=wraps,
        cpu_share=cpu / (elapsed * len(os.sched_getaffinity(0))) if elapsed > 0 else 0.0,
    )

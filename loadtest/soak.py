"""`make soak`: overload the stack at about twice its capacity and check that it sheds, not breaks.

1. Start a private Redis, the workers and the API (shipped settings: keys off, so no
   rate limit; one address sends everything).
2. Measure capacity: uncached requests from 32 connections for a few seconds.
3. Soak: an open-loop generator sends requests at ~2x that rate for 60 s (each
   request is scheduled at its time whether or not earlier ones were answered; at
   most --connections are open). The stack must shed what it cannot serve with
   429/503, answer no other 5xx, keep every process alive and keep its memory flat.
4. After the load stops, plain requests must be answered normally again.

Writes loadtest/results/soak-<time>.json and exits 1 when a promise was broken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from loadtest.local_stack import local_stack
from loadtest.procstats import rss_mb
from loadtest.progress import say
from spectrum.shared.config import Settings
from spectrum_dev.harness import ROOT
from training.text_mix import SEED, text_mix

# Memory may grow by this much from the first minute's early samples to the end
# (allocator warm-up, caches filling) before it counts as growth.
RSS_SLACK_MB = 40.0
RSS_SLACK_SHARE = 0.25


class Texts:
    """Fresh texts forever (each used once, so nothing is answered from the cache)."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = texts
        self._next = 0

    def take(self) -> str:
        text = self._texts[self._next % len(self._texts)]
        lap = self._next // len(self._texts)
        self._next += 1
        return text if lap == 0 else f"{text} ({lap})"


async def measure_capacity(url: str, texts: Texts, seconds: float, connections: int) -> float:
    """Answered requests per second from a closed loop of `connections` clients."""
    done = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop:
                answer = await client.post("/v1/predict", json={"text": texts.take()})
                done += answer.status_code == 200

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(connections)))
        return done / (time.monotonic() - started)


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a load generator light
    enough (a fraction of httpx's CPU per request) to offer twice the capacity of a
    stack it shares two cores with."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        reused = self._writer is not None
        try:
            return await self._post(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
        # The server closed an idle keep-alive connection: once more on a new one.
        return await self._post(path, body)

    async def _post(self, path: str, body: bytes) -> int:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self._reader.readexactly(length)
        if close:
            self.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def soak(
    url: str, texts: Texts, rate: float, seconds: float, connections: int, pids: dict[str, int]
) -> dict[str, Any]:
    """Requests are due at `rate`; each due one waits for a free connection, and one
    that finds all `connections` busy is counted as not sent (the client sheds too)."""
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    rss: list[dict[str, float]] = []
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=connections)
    unsent = 0

    async def client_loop() -> None:
        connection = Connection(host, int(port))
        while True:
            scheduled, body = await due.get()
            try:
                status = await connection.post("/v1/predict", body)
                statuses[str(status)] += 1
                if status == 200:
                    latencies.append(time.monotonic() - scheduled)
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                statuses[type(exc).__name__] += 1
                connection.close()
            finally:
                due.task_done()

    async def sample() -> None:
        begin = time.monotonic()
        while True:
            row = {"t": round(time.monotonic() - begin, 1)}
            row |= {name: round(rss_mb(pid), 1) for name, pid in pids.items()}
            rss.append(row)
            await asyncio.sleep(2.0)

    clients = [asyncio.create_task(client_loop()) for _ in range(connections)]
    sampler = asyncio.create_task(sample())
    begin = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - begin < seconds:
        for _ in range(int((now - begin) * rate) - sent):
            sent += 1
            try:
                due.put_nowait((now, json.dumps({"text": texts.take()}).encode()))
            except asyncio.QueueFull:
                unsent += 1
        await asyncio.sleep(0.005)
    send_phase = time.monotonic() - begin
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(due.join(), 40)
    for task in [*clients, sampler]:
        task.cancel()
    await asyncio.gather(*clients, sampler, return_exceptions=True)
    return {
        "offered_per_s": round(sent / send_phase, 1),
        "sent": sent - unsent,
        "not_sent_client_full": unsent,
        "statuses": dict(statuses),
        "answered_200_per_s": round(statuses["200"] / send_phase, 1),
        "p50_ms_200": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms_200": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1)
        if len(latencies) >= 100
        else None,
        "rss_mb": rss,
    }


def after_load(url: str, texts: Texts, count: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            statuses[client.post("/v1/predict", json={"text": texts.take()}).status_code] += 1
    return {"requests": count, "statuses": dict(statuses)}


def rss_growth(samples: list[dict[str, float]], name: str) -> dict[str, float]:
    values = [row[name] for row in samples if name in row]
    early = max(values[1:4] or values[:1])  # after the first seconds of load
    end = values[-1]
    return {"early_mb": early, "end_mb": end, "peak_mb": max(values), "growth_mb": end - early}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="soak duration")
    parser.add_argument("--factor", type=float, default=2.0, help="load as a multiple of capacity")
    parser.add_argument("--capacity", type=float, default=0.0, help="req/s; 0: measure it first")
    parser.add_argument("--connections", type=int, default=512, help="most open requests")
    parser.add_argument("--workers", type=int, default=Settings().worker_processes)
    parser.add_argument("--out", type=Path, default=ROOT / "loadtest" / "results")
    args = parser.parse_args(argv)

    texts = Texts(text_mix(20000, seed=SEED + 7))
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m loadtest.soak " + " ".join(argv or sys.argv[1:]),
        "settings": {"seconds": args.seconds, "factor": args.factor, "workers": args.workers},
    }
    with tempfile.TemporaryDirectory(prefix="spectrum-soak-") as tmp:
        workdir = Path(tmp)
        with local_stack(workdir, args.workers) as stack:
            url, api, workers = stack.url, stack.api, stack.workers
            pids = {"api": api.pid} | {f"worker{i}": w.pid for i, w in enumerate(workers)}

            capacity = args.capacity
            if not capacity:
                asyncio.run(measure_capacity(url, texts, 3, 16))  # warm-up
                capacity = asyncio.run(measure_capacity(url, texts, 10, 32))
                say(f"capacity: {capacity:.0f} req/s (uncached, 32 connections)")
            report["capacity_per_s"] = round(capacity, 1)
            rate = capacity * args.factor
            say(f"soak: {rate:.0f} req/s for {args.seconds:g} s")
            report["soak"] = asyncio.run(
                soak(url, texts, rate, args.seconds, args.connections, pids)
            )
            time.sleep(3.0)
            report["alive"] = {"api": api.alive()} | {
                f"worker{i}": w.alive() for i, w in enumerate(workers)
            }
            report["after"] = after_load(url, texts, 20)

    samples = report["soak"]["rss_mb"]
    report["rss"] = {name: rss_growth(samples, name) for name in samples[0] if name != "t"}
    statuses = report["soak"]["statuses"]
    bad = {k: v for k, v in statuses.items() if k not in {"200", "429", "503"}}
    shed = statuses.get("429", 0) + statuses.get("503", 0)
    checks = {
        "no 5xx but 503, no client errors": not bad,
        "shed with 429/503": shed > 0,
        "every process alive": all(report["alive"].values()),
        "rss flat": all(
            r["growth_mb"] <= max(RSS_SLACK_MB, RSS_SLACK_SHARE * r["early_mb"])
            for r in report["rss"].values()
        ),
        "normal answers after": report["after"]["statuses"] == {200: 20},
    }
    report["checks"] = checks
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"soak-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    soak_ = report["soak"]
    say(
        f"offered {soak_['offered_per_s']} req/s (capacity {report['capacity_per_s']}): "
        f"{statuses}; 200s at {soak_['answered_200_per_s']}/s, p50 {soak_['p50_ms_200']} ms"
    )
    for name, growth in report["rss"].items():
        say(f"{name} RSS {growth['early_mb']:.0f} -> {growth['end_mb']:.0f} MB")
    for promise, kept in checks.items():
        say(f"{'ok  ' if kept else 'FAIL'} {promise}")
    say(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

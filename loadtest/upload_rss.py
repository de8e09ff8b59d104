"""The API's peak memory while it takes a large job upload, per body format.

    python -m loadtest.upload_rss [--mib 64] [--formats csv,jsonl,multipart,json]

For each format, a fresh stack (`local_stack`: a private Redis, one lexicon worker
on both lanes, the API) with the upload limits raised to take the file; then one
`POST /v1/jobs` of about `--mib` MiB of ~200-character texts, streamed from a file
by the client. Reported: the API process's peak RSS (VmHWM, /proc) when it is ready
and after its 202, and the difference, which is what taking the upload cost. A
fresh API per format because VmHWM never goes down. The job is cancelled at once:
the gateway's memory on submit is the point, not the computation.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

from loadtest.local_stack import local_stack
from loadtest.procstats import peak_rss_mb, rss_mb
from loadtest.progress import say

FORMATS = ("csv", "jsonl", "multipart", "json")
WORDS = (
    "a",
    "the",
    "film",
    "story",
    "cast",
    "plot",
    "scene",
    "actor",
    "director",
    "script",
    "music",
    "ending",
    "moment",
    "brilliant",
    "awful",
    "charming",
    "dull",
    "witty",
    "tedious",
    "moving",
    "clumsy",
    "sharp",
    "bland",
    "warm",
    "cold",
    "never",
    "always",
    "quite",
    "rather",
    "simply",
    "often",
    "barely",
    "truly",
    "oddly",
    "deeply",
)
TEXT_CHARS = 200


def texts_of(total_bytes: int, seed: int = 13) -> list[str]:
    """Distinct texts of about TEXT_CHARS characters adding up to about total_bytes."""
    rng = random.Random(seed)
    texts: list[str] = []
    size = 0
    while size < total_bytes:
        words: list[str] = [f"#{len(texts)}"]
        while sum(len(w) + 1 for w in words) < TEXT_CHARS:
            words.append(rng.choice(WORDS))
        text = " ".join(words)
        texts.append(text)
        size += len(text) + 3
    return texts


def write_body(fmt: str, texts: list[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        if fmt in ("csv", "multipart"):
            out.write("text\n")
            out.writelines(f'"{text}"\n' for text in texts)
        elif fmt == "jsonl":
            out.writelines(json.dumps({"text": text}) + "\n" for text in texts)
        else:
            json.dump({"texts": texts}, out)
    return path


def post(url: str, fmt: str, body: Path) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=600) as client, body.open("rb") as stream:
        if fmt == "multipart":
            return client.post("/v1/jobs", files={"file": ("texts.csv", stream, "text/csv")})
        media = {"csv": "text/csv", "jsonl": "application/x-ndjson", "json": "application/json"}
        return client.post("/v1/jobs", content=stream, headers={"content-type": media[fmt]})


def measure(fmt: str, texts: list[str], workdir: Path) -> dict[str, float | int | str]:
    body = write_body(fmt, texts, workdir / f"body-{fmt}")
    size = body.stat().st_size
    settings = {
        "model_id": "vader",
        "job_max_upload_bytes": str(size + 1024 * 1024),
        "job_max_texts": str(len(texts) + 1),
        "job_chunk_size": "1024",  # few chunks: the upload, not the publishing, is measured
        "log_level": "WARNING",
    }
    with local_stack(workdir, 1, name=fmt, **settings) as stack:
        time.sleep(1.0)  # let the API settle after its first requests
        ready = peak_rss_mb(stack.api.pid)
        started = time.monotonic()
        answer = post(stack.url, fmt, body)
        seconds = time.monotonic() - started
        peak, now = peak_rss_mb(stack.api.pid), rss_mb(stack.api.pid)
        if answer.status_code != 202:
            raise RuntimeError(f"{fmt}: {answer.status_code} {answer.text[:300]}")
        httpx.delete(f"{stack.url}{answer.json()['status_url']}", timeout=60)
    return {
        "format": fmt,
        "body_mib": size / 2**20,
        "texts": len(texts),
        "ready_mib": ready,
        "peak_mib": peak,
        "added_mib": peak - ready,
        "rss_after_mib": now,
        "seconds": seconds,
    }


def table(rows: list[dict[str, float | int | str]]) -> str:
    lines = [
        "| format | body MiB | texts | API peak RSS ready MiB | after upload MiB | added MiB "
        "| s to 202 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['format']} | {r['body_mib']:.1f} | {r['texts']:,} | {r['ready_mib']:.0f} "
            f"| {r['peak_mib']:.0f} | {r['added_mib']:.0f} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=float, default=64.0, help="body size, MiB")
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args(argv)
    texts = texts_of(int(args.mib * 2**20))
    rows = []
    with tempfile.TemporaryDirectory(prefix="upload-rss-") as tmp:
        for fmt in args.formats.split(","):
            say(f"{fmt}: {len(texts):,} texts")
            rows.append(measure(fmt, texts, Path(tmp)))
    sys.stdout.write(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The `spectrum` command: predict now, or submit a job, watch it, and fetch its results.

    spectrum predict "What a wonderful film."
    spectrum submit reviews.csv --column text --wait
    spectrum status JOB_ID
    spectrum results JOB_ID -o out.csv
    spectrum cancel JOB_ID

The API's address comes from --url, else the SPECTRUM_URL environment variable,
else http://127.0.0.1:8000; an API key (when the server has keys on) from
--api-key, else SPECTRUM_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

from spectrum_client.client import DEFAULT_URL, Job, SpectrumClient, SpectrumError

BAR_WIDTH = 30


class ProgressBar:
    """One redrawn line on a terminal; a line every few seconds elsewhere (logs, CI)."""

    def __init__(self, out: TextIO, every_s: float = 5.0) -> None:
        self._out = out
        self._tty = out.isatty()
        self._every_s = every_s
        self._last = 0.0
        self._started = time.monotonic()

    def __call__(self, job: Job) -> None:
        progress = job["progress"]
        total = max(progress["total"], 1)
        finished = progress["done"] + progress["failed"] + progress["skipped"]
        filled = BAR_WIDTH * finished // total
        elapsed = time.monotonic() - self._started
        rate = progress["done"] / elapsed if elapsed > 0 else 0.0
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {finished}/{progress['total']} "
            f"{100 * finished // total}% {job['state']} {rate:.0f} texts/s"
        )
        ended = job["state"] in ("succeeded", "failed", "cancelled")
        if self._tty:
            self._out.write(f"\r{line}\x1b[K" + ("\n" if ended else ""))
        elif ended or time.monotonic() - self._last >= self._every_s:
            self._out.write(line + "\n")
            self._last = time.monotonic()
        self._out.flush()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _predict(client: SpectrumClient, args: argparse.Namespace) -> int:
    answer = client.predict(args.texts if len(args.texts) > 1 else args.texts[0])
    if args.json:
        _print_json(answer)
        return 0
    for text, prediction in zip(args.texts, answer["predictions"], strict=True):
        shown = text if len(text) <= 60 else text[:57] + "..."
        print(f"{prediction['label']}\t{prediction['score']:.3f}\t{shown}")
    return 0


def _submit(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.submit(
        file=args.file,
        text_column=args.column,
        callback_url=args.callback_url,
        idempotency_key=args.idempotency_key,
    )
    print(job["id"])
    if not args.wait:
        return 0
    final = client.wait(job["id"], poll_s=args.poll, on_progress=ProgressBar(sys.stderr))
    return 0 if final["state"] == "succeeded" else 1


def _status(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.status(args.job_id)
    job.pop("results", None)
    _print_json(job)
    return 0


def _results(client: SpectrumClient, args: argparse.Namespace) -> int:
    fmt = args.format or (
        "csv" if args.output and args.output.suffix.lower() == ".csv" else "ndjson"
    )
    if args.output is None:
        for piece in client.stream_results(args.job_id, fmt):
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        return 0
    partial = args.output.with_name(args.output.name + ".part")
    with partial.open("wb") as out:
        for piece in client.stream_results(args.job_id, fmt):
            out.write(piece)
    partial.replace(args.output)  # never a half-written file under the final name
    print(f"written to {args.output}", file=sys.stderr)
    return 0


def _cancel(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.cancel(args.job_id)
    print(job["state"])
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="spectrum", description=__doc__.splitlines()[0])
    top.add_argument("--url", default=os.environ.get("SPECTRUM_URL", DEFAULT_URL))
    top.add_argument(
        "--api-key",
        default=os.environ.get("SPECTRUM_API_KEY"),
        help="sent as X-API-Key (default: $SPECTRUM_API_KEY)",
    )
    top.add_argument("--timeout", type=float, default=60, help="seconds per HTTP request")
    commands = top.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="classify texts now")
    predict.add_argument("texts", nargs="+")
    predict.add_argument("--json", action="store_true", help="print the whole answer")
    predict.set_defaults(run=_predict)

    submit = commands.add_parser("submit", help="submit a .csv, .jsonl or .txt file as a job")
    submit.add_argument("file", type=Path)
    submit.add_argument("--column", default="text", help="the text column (CSV/JSONL)")
    submit.add_argument("--callback-url", help="POSTed the signed summary when the job ends")
    submit.add_argument("--idempotency-key", help="resubmitting with it returns the same job")
    submit.add_argument("--wait", action="store_true", help="show progress until it ends")
    submit.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    submit.set_defaults(run=_submit)

    status = commands.add_parser("status", help="a job's state and progress")
    status.add_argument("job_id")
    status.set_defaults(run=_status)

    results = commands.add_parser("results", help="a job's results in input order")
    results.add_argument("job_id")
    results.add_argument("-o", "--output", type=Path, help="file (.csv gives CSV)")
    results.add_argument("--format", choices=["ndjson", "csv"])
    results.set_defaults(run=_results)

    cancel = commands.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(run=_cancel)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with SpectrumClient(args.url, api_key=args.api_key, timeout=args.timeout) as client:
            code: int = args.run(client, args)
            return code
    except SpectrumError as exc:
        print(f"spectrum: {exc}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError, ValueError) as exc:
        print(f"spectrum: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

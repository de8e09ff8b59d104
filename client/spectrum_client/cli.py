# PYTHON_ARGCOMPLETE_OK  (argcomplete's marker: `spectrum` completes with the `completion` extra)
"""The `spectrum` command: predict now, or submit a job, watch it, and fetch its results.

    spectrum predict "What a wonderful film."
    spectrum predict --model emotion "What a day!"
    spectrum predict --file reviews.txt --format jsonl
    spectrum compare --models sentiment-minilm,sentiment-vader "Not bad at all."
    spectrum submit reviews.csv --column text --model toxicity --wait -o results.csv
    spectrum status JOB_ID
    spectrum results JOB_ID -o out.csv
    spectrum cancel JOB_ID
    spectrum models
    spectrum health
    spectrum export --since 24h --model sentiment-minilm -o log.csv   (.ndjson, .parquet)

The API's address comes from --url, else the SPECTRUM_URL environment variable,
else http://127.0.0.1:8000; an API key (when the server has keys on) from
--api-key, else SPECTRUM_API_KEY. Exit status: 0 done, 1 the API refused or the
job did not succeed or the service is not ready, 2 the command could not run
(a bad file, no connection).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from spectrum_client import __version__
from spectrum_client.calls import DEFAULT_URL, batches
from spectrum_client.client import SpectrumClient
from spectrum_client.errors import SpectrumError
from spectrum_client.export import MissingExtra, save_export
from spectrum_client.inputs import file_texts, stream_texts
from spectrum_client.output import (
    percent,
    result_format,
    save_results,
    split_of,
    write_comparison,
    write_predictions,
    write_table,
)
from spectrum_client.progress import ProgressBar
from spectrum_client.schemas import CompareResult, Prediction, ServedModel


def version() -> str:
    """The installed distribution's version; the package's own when run from a checkout."""
    try:
        return importlib.metadata.version("spectrum-client")
    except importlib.metadata.PackageNotFoundError:
        return __version__


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _texts(args: argparse.Namespace) -> Iterator[str]:
    """The texts to classify: the arguments, else --file, else stdin (one per line)."""
    if args.texts:
        if args.file is not None:
            raise ValueError("give texts or --file, not both")
        return iter(args.texts)
    if args.file is not None and str(args.file) != "-":
        return file_texts(args.file, args.input_format, args.column)
    if sys.stdin.isatty():
        print("reading texts from stdin, one per line (Ctrl-D ends)", file=sys.stderr)
    return stream_texts(sys.stdin, args.input_format or "txt", args.column)


def _predict(client: SpectrumClient, args: argparse.Namespace) -> int:
    size = args.batch_size or client.max_texts_per_request()
    answers = (  # one request per batch, read and sent as the input arrives
        (batch, client.predict(batch, model=args.model)) for batch in batches(_texts(args), size)
    )
    if args.json:  # one document: the first answer's model (and alias), every prediction
        head: dict[str, Any] = {}
        predictions = []
        for _, answer in answers:
            head = head or {key: answer[key] for key in ("model", "alias") if key in answer}
            predictions.extend(answer["predictions"])
        if not head:
            raise ValueError("no texts to classify")
        _print_json({**head, "predictions": predictions})
        return 0

    def pairs() -> Iterator[tuple[str, Prediction]]:
        for batch, answer in answers:
            yield from zip(batch, answer["predictions"], strict=True)

    if write_predictions(sys.stdout, pairs(), args.format) == 0:
        raise ValueError("no texts to classify")
    return 0


def _submit(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.submit(
        file=args.file,
        text_column=args.column,
        callback_url=args.callback_url,
        idempotency_key=args.idempotency_key,
        model=args.model,
    )
    print(job["id"], flush=True)
    if not (args.wait or args.output):
        return 0
    final = client.wait(job["id"], poll_s=args.poll, on_progress=ProgressBar(sys.stderr))
    if args.output is not None:
        save_results(client, job["id"], args.output, result_format(args.output, args.format))
        print(f"written to {args.output}", file=sys.stderr)
    return 0 if final["state"] == "succeeded" else 1


def _status(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.status(args.job_id)
    job.pop("results", None)
    _print_json(job)
    return 0


def _results(client: SpectrumClient, args: argparse.Namespace) -> int:
    fmt = result_format(args.output, args.format)
    if args.output is None:
        for piece in client.stream_results(args.job_id, fmt):
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        return 0
    save_results(client, args.job_id, args.output, fmt)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


def _cancel(client: SpectrumClient, args: argparse.Namespace) -> int:
    job = client.cancel(args.job_id)
    print(job["state"])
    return 0


def _models(client: SpectrumClient, args: argparse.Namespace) -> int:
    catalog = client.catalog()
    if args.json:
        _print_json(catalog)
        return 0
    default = catalog["default"]
    rows = [["NAME", "VERSION", "RUNTIME", "WORKERS", "ALIASES", "LABELS"]]
    rows += [
        [
            m["name"] + (" *" if m["name"] == default else ""),
            m["version"] or "-",
            m["runtime"] or "-",
            str(m["live_workers"]),
            ",".join(m.get("aliases", [])) or "-",
            ",".join(m["labels"]),
        ]
        for m in catalog["models"]
    ]
    write_table(sys.stdout, rows)
    if default is not None:
        print(f"* the default model (a request that names none gets {default})")
    if catalog["aliases"]:
        print()
        aliases = [["ALIAS", "SPLIT", "SHADOW"]]
        for alias in catalog["aliases"]:
            shadow = alias["shadow"]
            also = f"{shadow['model']} {percent(shadow['share'])}" if shadow else "-"
            aliases.append([alias["name"], split_of(alias), also])
        write_table(sys.stdout, aliases)
    return 0


def _compare(client: SpectrumClient, args: argparse.Namespace) -> int:
    names = [name.strip() for name in args.models.split(",")]
    if len(names) < 2 or "" in names:
        raise ValueError("--models takes two or more names or aliases, comma-separated")
    size = args.batch_size or client.max_texts_per_request()
    models: list[ServedModel] = []
    pairs: list[tuple[str, CompareResult]] = []
    agreed = counted = 0
    comparable = True
    for batch in batches(_texts(args), size):
        answer = client.compare(batch, names)
        models = models or answer["models"]
        for result in answer["results"]:
            pairs.append((batch[result["index"]], {**result, "index": len(pairs)}))
            if result["agree"] is None:
                comparable = False
            agreed += bool(result["agree"])
            counted += 1
    if not pairs:
        raise ValueError("no texts to compare")
    # Over every batch, as the server counts it within one: null when label sets differ.
    agreement = agreed / counted if comparable else None
    if args.json:
        results = [result for _, result in pairs]
        _print_json({"models": models, "results": results, "agreement": agreement})
        return 0
    write_comparison(sys.stdout, [f"{m['name']} {m['version']}" for m in models], pairs)
    if agreement is None:
        print("agreement: - (the models have different labels)")
    else:
        print(f"agreement: {percent(agreement)} ({agreed} of {counted} texts)")
    return 0


def _export(client: SpectrumClient, args: argparse.Namespace) -> int:
    try:
        rows = save_export(
            client, args.output, since=args.since, until=args.until, model=args.model
        )
    except MissingExtra as exc:
        print(f"spectrum: {exc}", file=sys.stderr)
        return 2
    print(f"{rows} rows written to {args.output}", file=sys.stderr)
    return 0


def _health(client: SpectrumClient, args: argparse.Namespace) -> int:
    health = client.health()
    if args.json:
        _print_json(health)
    else:
        print(health["status"])
        for name, outcome in health["checks"].items():
            print(f"  {name}: {outcome}")
    return 0 if health["status"] == "ready" else 1


MODEL_HELP = "a model name or an alias (`spectrum models` lists them; default: the server's)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="spectrum", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    top.add_argument("--url", default=os.environ.get("SPECTRUM_URL", DEFAULT_URL))
    top.add_argument(
        "--api-key",
        default=os.environ.get("SPECTRUM_API_KEY"),
        help="sent as X-API-Key (default: $SPECTRUM_API_KEY)",
    )
    top.add_argument("--timeout", type=float, default=60, help="seconds per HTTP request")
    commands = top.add_subparsers(dest="command", required=True)

    predict = commands.add_parser(
        "predict", help="classify texts now (arguments, --file, or stdin one per line)"
    )
    predict.add_argument("texts", nargs="*", help="none: read --file, else stdin")
    predict.add_argument(
        "--file", type=Path, help=".txt (one per line), .csv or .jsonl; - for stdin"
    )
    predict.add_argument(
        "--input-format",
        choices=["txt", "csv", "jsonl"],
        help="how to read --file or stdin (default: the file's extension; stdin: txt)",
    )
    predict.add_argument("--column", default="text", help="the text column (CSV/JSONL)")
    predict.add_argument(
        "--format",
        choices=["table", "jsonl", "csv"],
        default="table",
        help="table: label, score, text; jsonl/csv: as a job's results",
    )
    predict.add_argument("--model", help=MODEL_HELP)
    predict.add_argument("--json", action="store_true", help="print the whole answer")
    predict.add_argument(
        "--batch-size", type=int, help="texts per request (default: the server's limit)"
    )
    predict.set_defaults(run=_predict)

    compare = commands.add_parser(
        "compare", help="the same texts through two or more models, side by side"
    )
    compare.add_argument(
        "--models", required=True, help="2 to 4 model names or aliases, comma-separated"
    )
    compare.add_argument("texts", nargs="*", help="none: read --file, else stdin")
    compare.add_argument("--file", type=Path, help=".txt, .csv or .jsonl; - for stdin")
    compare.add_argument("--input-format", choices=["txt", "csv", "jsonl"])
    compare.add_argument("--column", default="text", help="the text column (CSV/JSONL)")
    compare.add_argument("--json", action="store_true", help="print the answer as JSON")
    compare.add_argument(
        "--batch-size", type=int, help="texts per request (default: the server's limit)"
    )
    compare.set_defaults(run=_compare)

    submit = commands.add_parser("submit", help="submit a .csv, .jsonl or .txt file as a job")
    submit.add_argument("file", type=Path)
    submit.add_argument("--column", default="text", help="the text column (CSV/JSONL)")
    submit.add_argument("--model", help=MODEL_HELP)
    submit.add_argument("--callback-url", help="POSTed the signed summary when the job ends")
    submit.add_argument("--idempotency-key", help="resubmitting with it returns the same job")
    submit.add_argument("--wait", action="store_true", help="show progress until it ends")
    submit.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    submit.add_argument(
        "-o", "--output", type=Path, help="wait, then write the results here (.csv gives CSV)"
    )
    submit.add_argument("--format", choices=["ndjson", "csv"], help="of --output")
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

    models = commands.add_parser(
        "models", help="the models the gateway serves, their labels and workers, and aliases"
    )
    models.add_argument("--json", action="store_true", help="print them as JSON")
    models.set_defaults(run=_models)

    export = commands.add_parser(
        "export", help="the prediction log's rows into a .csv, .ndjson or .parquet file"
    )
    export.add_argument(
        "--since", help="ISO 8601 (2026-12-01T00:00Z) or ago (90m, 24h, 7d); default: 1 day ago"
    )
    export.add_argument("--until", help="ISO 8601 or ago, excluded; default: now")
    export.add_argument("--model", help="one model's rows only")
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help=".csv, .ndjson or .parquet (needs the client's parquet extra)",
    )
    export.set_defaults(run=_export)

    health = commands.add_parser("health", help="is the service ready (broker, backend, workers)")
    health.add_argument("--json", action="store_true", help="print the answer as JSON")
    health.set_defaults(run=_health)
    return top


def _complete(top: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit, when argcomplete is installed."""
    try:
        import argcomplete
    except ImportError:  # the `completion` extra is optional
        return
    argcomplete.autocomplete(top)


def _report(exc: SpectrumError) -> None:
    print(f"spectrum: {exc}", file=sys.stderr)
    for item in exc.errors:
        loc = item.get("loc", [])
        where = loc if isinstance(loc, str) else ".".join(str(part) for part in loc)
        print(f"  {where or '-'}: {item.get('msg', '')}", file=sys.stderr)
    if exc.request_id:
        print(f"  request id: {exc.request_id}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    top = parser()
    _complete(top)
    args = top.parse_args(argv)
    try:
        with SpectrumClient(args.url, api_key=args.api_key, timeout=args.timeout) as client:
            code: int = args.run(client, args)
            return code
    except SpectrumError as exc:
        _report(exc)
        return 1
    except (httpx.HTTPError, OSError, ValueError) as exc:
        print(f"spectrum: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

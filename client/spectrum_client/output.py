"""How the CLI prints predictions and writes a job's results.

Predictions print as a table (label, score, the text cut to 60 characters: for
people), JSON lines or CSV, the last two in the shape of a job's results
(`spectrum results`): `index` counts the texts from 0 in input order.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, TextIO

from spectrum_client.client import SpectrumClient
from spectrum_client.schemas import AliasInfo, CompareResult, Prediction

PredictFormat = Literal["table", "jsonl", "csv"]
ResultFormat = Literal["ndjson", "csv"]


def shown(text: str, width: int = 60) -> str:
    """The text on one line (a CSV cell may hold line breaks or tabs), cut to `width`."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def as_result(index: int, prediction: Prediction) -> dict[str, object]:
    return {"index": index, **prediction}


def csv_header(labels: list[str]) -> list[str]:
    """The columns of a job's CSV results: index, label, score, p_<label>..., cached, ..."""
    return ["index", "label", "score", *(f"p_{k}" for k in labels), "cached", "truncated", "error"]


def csv_row(index: int, prediction: Prediction, labels: list[str]) -> list[object]:
    probabilities = prediction["probabilities"]
    return [
        index,
        prediction["label"],
        repr(prediction["score"]),
        *(repr(probabilities.get(k, 0.0)) for k in labels),
        "true" if prediction["cached"] else "false",
        "true" if prediction.get("truncated") else "false",
        "",
    ]


def write_table(out: TextIO, rows: Sequence[Sequence[str]]) -> None:
    """Rows as aligned columns, two spaces apart; the last column is not padded."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*padded, row[-1]]).rstrip() + "\n")


def percent(share: float) -> str:
    """A share (0..1) as a person reads it: 0.9 -> "90%", 1/3 -> "33.3%"."""
    return f"{round(100 * share, 1):g}%"


def split_of(alias: AliasInfo) -> str:
    """An alias's traffic split: "a 90%, b 10%" (weights as shares of their sum)."""
    total = sum(target["weight"] for target in alias["targets"]) or 1
    return ", ".join(f"{t['model']} {percent(t['weight'] / total)}" for t in alias["targets"])


def write_comparison(
    out: TextIO, names: Sequence[str], pairs: Iterable[tuple[str, CompareResult]]
) -> None:
    """One row per text: whether the models agree ("-": their label sets differ), then
    each model's label and score, then the text."""
    rows = [["AGREE", *names, "TEXT"]]
    for text, result in pairs:
        agree = result["agree"]
        cells = [f"{a['label']} {a['score']:.3f}" for a in result["answers"]]
        mark = "-" if agree is None else "yes" if agree else "NO"
        rows.append([mark, *cells, shown(text)])
    write_table(out, rows)


def write_predictions(
    out: TextIO, pairs: Iterable[tuple[str, Prediction]], fmt: PredictFormat
) -> int:
    """Each (text, prediction) as it comes, flushed per line; answers how many."""
    count = 0
    writer = csv.writer(out, lineterminator="\n")
    labels: list[str] = []
    for index, (text, prediction) in enumerate(pairs):
        if fmt == "table":
            out.write(f"{prediction['label']}\t{prediction['score']:.3f}\t{shown(text)}\n")
        elif fmt == "jsonl":
            out.write(json.dumps(as_result(index, prediction), separators=(",", ":")) + "\n")
        else:
            if not labels:  # the header needs the labels, which the first answer gives
                labels = list(prediction["probabilities"])
                writer.writerow(csv_header(labels))
            writer.writerow(csv_row(index, prediction, labels))
        out.flush()
        count += 1
    return count


def result_format(path: Path | None, flag: str | None) -> ResultFormat:
    """--format when given, else CSV for a .csv file, else NDJSON."""
    if flag == "csv" or (flag is None and path is not None and path.suffix.lower() == ".csv"):
        return "csv"
    return "ndjson"


def save_results(client: SpectrumClient, job_id: str, path: Path, fmt: ResultFormat) -> None:
    """The job's results streamed into `path`, which appears only once they are all there."""
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        for piece in client.stream_results(job_id, fmt):
            out.write(piece)
    partial.replace(path)  # never a half-written file under the final name

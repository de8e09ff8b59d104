"""The `spectrum` command against an in-memory API: input, chunking, output, exit status."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectrum_client import SpectrumClient, __version__, cli
from spectrum_client.progress import ProgressBar, clock, progress_line
from tests.unit.client.fake_api import JOB_ID, FakeApi, Sleeps, error, job

CLIENT = Path(__file__).resolve().parents[3] / "client"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """The API every `cli.main` in the test talks to."""
    fake = FakeApi(max_texts=3)

    def client(url: str, **_: Any) -> SpectrumClient:
        http = httpx.Client(base_url=url, transport=fake.transport())
        return SpectrumClient(http=http, sleep=Sleeps())

    monkeypatch.setattr(cli, "SpectrumClient", client)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--url", "http://spectrum.test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_reads_stdin_one_text_per_line_in_batches(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"text {i}" for i in range(7)]
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("\n".join(texts[:3]) + "\n\n" + "\n".join(texts[3:]))
    )

    code, out, _ = run(capsys, "predict")

    assert code == 0
    assert [line.split("\t") for line in out.splitlines()] == [[t, "0.750", t] for t in texts]
    assert api.predicted() == [texts[0:3], texts[3:6], texts[6:7]]


def test_predict_reads_a_file_and_writes_json_lines_in_input_order(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"line {i}\n" for i in range(10)))

    code, out, _ = run(capsys, "predict", "--file", str(source), "--format", "jsonl")

    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["index"], r["label"]) for r in rows] == [(i, f"line {i}") for i in range(10)]
    assert len(api.predicted()) == 4


def test_predict_reads_a_csv_column_and_writes_csv(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text('id,review\n1,"fine, really"\n2,"dull,\n\tdull"\n')

    code, out, _ = run(
        capsys, "predict", "--file", str(source), "--column", "review", "--format", "csv"
    )

    assert code == 0
    assert out == (
        "index,label,score,p_NEGATIVE,p_POSITIVE,cached,truncated,error\n"
        '0,"fine, really",0.75,0.25,0.75,false,false,\n'
        '1,"dull,\n\tdull",0.75,0.25,0.75,false,false,\n'
    )
    table = run(capsys, "predict", "--file", str(source), "--column", "review")[1]
    assert table.endswith("\tdull, dull\n")  # the text column: its line breaks made spaces


def test_predict_json_merges_the_batches_into_one_answer(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "predict", "--json", "a", "b", "c", "d")

    answer = json.loads(out)
    assert code == 0
    assert answer["model"]["name"] == "fake"
    assert [p["label"] for p in answer["predictions"]] == ["a", "b", "c", "d"]


def test_predict_without_texts_or_with_a_broken_file_is_a_usage_error(
    api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n \n"))
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "a"}\n{"body": "b"}\n')

    assert run(capsys, "predict")[0] == 2
    code, _, err = run(capsys, "predict", "--file", str(source))
    assert code == 2
    assert "line 2: no 'text' field" in err


def test_models_prints_a_table(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")

    assert code == 0
    # A gateway of one model: no default named, no aliases.
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "VERSION", "RUNTIME", "WORKERS", "ALIASES", "LABELS"],
        ["fake", "abc123", "lexicon", "2", "-", "NEGATIVE,POSITIVE"],
    ]
    listed = json.loads(run(capsys, "models", "--json")[1])
    assert listed["models"][0]["queue"] == "fake.interactive"
    assert (listed["default"], listed["aliases"]) == (None, [])


def test_health_exits_1_when_not_ready(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    not_ready = {"status": "not ready", "checks": {"broker": "ok", "workers": "no live worker"}}
    api.script["/readyz"].append(httpx.Response(503, json=not_ready))

    assert run(capsys, "health") == (1, "not ready\n  broker: ok\n  workers: no live worker\n", "")
    assert run(capsys, "health")[:2] == (0, "ready\n  broker: ok\n  backend: ok\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])

    assert done.value.code == 0
    assert capsys.readouterr().out == f"spectrum {cli.version()}\n"
    assert cli.version() == __version__  # the checkout's and the installed metadata agree


def test_submit_waits_and_writes_the_results(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "reviews.txt"
    source.write_text("a\nb\nc\nd\n")
    target = tmp_path / "out.csv"
    api.job_states.extend([job("running", 2)])

    code, out, err = run(capsys, "submit", str(source), "--poll", "0", "-o", str(target))

    assert code == 0
    assert out == f"{JOB_ID}\n"
    assert "4/4 100% succeeded" in err
    assert f"written to {target}" in err
    assert target.read_text() == "index,label\n0,POSITIVE\n"
    assert not target.with_name("out.csv.part").exists()
    ndjson = tmp_path / "out.txt"
    assert run(capsys, "submit", str(source), "-o", str(ndjson), "--format", "ndjson")[0] == 0
    assert [json.loads(line)["index"] for line in ndjson.read_text().splitlines()] == [0, 1, 2, 3]


def test_an_error_shows_its_field_errors_and_request_id(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script["/v1/predict"].append(
        error(
            422,
            "InvalidInput",
            "bad body",
            request_id="req-9",
            errors=[{"loc": ["body", "texts"], "msg": "too many"}],
        )
    )

    code, _, err = run(capsys, "predict", "x")

    assert code == 1
    assert err.splitlines() == [
        "spectrum: 422 InvalidInput: bad body",
        "  body.texts: too many",
        "  request id: req-9",
    ]


def test_the_progress_line_has_a_rate_and_an_eta() -> None:
    assert progress_line(job("running", 1, total=100), elapsed=0).endswith("0.0 texts/s ETA --:--")
    assert progress_line(job("running", 40, total=100), elapsed=4, finished_at_start=20) == (
        f"[{'#' * 12}{'.' * 18}] 40/100 40% running 5.0 texts/s ETA 0:12"
    )
    assert progress_line(job("succeeded", 100, total=100), elapsed=65).endswith("in 1:05")
    assert clock(3725) == "1:02:05"


def test_the_progress_bar_prints_every_few_seconds_off_a_terminal() -> None:
    out = io.StringIO()
    now = [0.0]
    bar = ProgressBar(out, every_s=5, monotonic=lambda: now[0])
    for at, state, done in [
        (1, "running", 1),
        (2, "running", 2),
        (6, "running", 3),
        (7, "succeeded", 4),
    ]:
        now[0] = at
        bar(job(state, done))

    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/4", "3/4", "4/4"]
    assert lines[1].endswith("0.3 texts/s ETA 0:03")  # 2 texts in 6 s, one to go
    assert lines[-1].endswith("in 0:07")


def test_shell_completion_with_the_completion_extra(tmp_path: Path) -> None:
    """The shell's request, as `register-python-argcomplete spectrum` makes it, in a process:
    argcomplete answers through a file and ends the process."""
    pytest.importorskip("argcomplete")
    answer = tmp_path / "completions"
    env = {
        **os.environ,
        "PYTHONPATH": str(CLIENT),
        "_ARGCOMPLETE": "1",
        "COMP_LINE": "spectrum mo",
        "COMP_POINT": "11",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }

    subprocess.run([sys.executable, "-m", "spectrum_client.cli"], env=env, check=True, timeout=60)

    assert answer.read_text().split() == ["models"]

"""The client and the CLI with many models: --model, `spectrum models`, `spectrum compare`."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectrum_client import AsyncSpectrumClient, SpectrumClient, cli
from tests.unit.client.fake_api import FakeApi, Sleeps

BASE = "http://spectrum.test"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """A gateway of many models, the one every `cli.main` in the test talks to."""
    fake = FakeApi(max_texts=3, many=True)

    def client(url: str, **_: Any) -> SpectrumClient:
        return SpectrumClient(http=httpx.Client(base_url=url, transport=fake.transport()))

    monkeypatch.setattr(cli, "SpectrumClient", client)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--url", BASE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def client_for(api: FakeApi) -> SpectrumClient:
    return SpectrumClient(http=httpx.Client(base_url=BASE, transport=api.transport()))


def test_predict_sends_the_model_only_when_asked_and_reads_who_answered() -> None:
    api = FakeApi(many=True)
    with client_for(api) as client:
        default = client.predict("a")
        named = client.predict(["b", "c"], model="feeling")
        many = list(client.predict_many(["d", "e", "f", "g"], model="fake-v2"))

    assert api.bodies("/v1/predict") == [
        {"text": "a"},
        {"texts": ["b", "c"], "model": "feeling"},
        {"texts": ["d", "e", "f"], "model": "fake-v2"},
        {"texts": ["g"], "model": "fake-v2"},
    ]
    assert default["predictions"][0]["model"] == {"name": "fake", "version": "fake-hash"}
    assert named["alias"] == "feeling"
    assert [p["model"]["name"] for p in many] == ["fake-v2"] * 4


def test_an_answer_of_a_one_model_gateway_still_reads() -> None:
    with client_for(FakeApi()) as client:
        answer = client.predict("a")
        catalog = client.catalog()

    assert "alias" not in answer
    assert "model" not in answer["predictions"][0]
    assert answer["model"]["name"] == "fake"
    assert catalog["default"] is None
    assert catalog["aliases"] == []
    assert [m["name"] for m in catalog["models"]] == ["fake"]


def test_the_catalog_names_the_default_the_aliases_and_their_split() -> None:
    with client_for(FakeApi(many=True)) as client:
        catalog = client.catalog()
        models = client.models()

    assert catalog["default"] == "fake"
    assert [m["name"] for m in models] == ["fake", "fake-v2", "mood"]
    assert models[2]["labels"] == ["anger", "joy", "neutral"]
    (alias,) = catalog["aliases"]
    assert [(t["model"], t["weight"]) for t in alias["targets"]] == [("fake", 90), ("fake-v2", 10)]
    assert alias["shadow"] == {"model": "mood", "share": 0.25}


def test_a_job_names_its_model_in_json_or_in_the_query_of_an_upload(tmp_path: Path) -> None:
    api = FakeApi(many=True)
    upload = tmp_path / "reviews.csv"
    upload.write_text("text\ngreat\n")
    lines = tmp_path / "reviews.txt"
    lines.write_text("one\ntwo\n")

    with client_for(api) as client:
        client.submit(["a"], model="mood")
        client.submit(file=lines, model="feeling")
        client.submit(file=upload, model="fake-v2")
        client.submit(file=upload)

    posts = [r for r in api.calls if r.url.path == "/v1/jobs"]
    assert [json.loads(r.content) for r in posts[:2]] == [
        {"texts": ["a"], "model": "mood"},
        {"texts": ["one", "two"], "model": "feeling"},
    ]
    assert posts[2].url.params["model"] == "fake-v2"
    assert posts[2].url.params["text_column"] == "text"
    assert "model" not in posts[3].url.params


async def test_the_async_client_takes_a_model_compares_and_reads_the_catalog() -> None:
    api = FakeApi(max_texts=2, many=True)
    http = httpx.AsyncClient(base_url=BASE, transport=api.transport())

    async with AsyncSpectrumClient(http=http, sleep=Sleeps().sleep) as client:
        labels = [p["label"] async for p in client.predict_many("abc", model="mood")]
        await client.submit(["x"], model="mood")
        compared = await client.compare(["same"], ["fake", "fake-v2"])
        catalog = await client.catalog()

    assert labels == ["a", "b", "c"]
    assert [b.get("model") for b in api.bodies("/v1/predict")] == ["mood", "mood"]
    assert api.bodies("/v1/jobs") == [{"texts": ["x"], "model": "mood"}]
    assert compared["agreement"] == 1.0
    assert catalog["default"] == "fake"


def test_compare_sends_the_models_in_order_and_reads_the_answers_side_by_side() -> None:
    api = FakeApi(many=True)
    with client_for(api) as client:
        answer = client.compare(["same", "we disagree"], ["fake-v2", "feeling"])

    assert api.bodies("/v1/compare") == [
        {"texts": ["same", "we disagree"], "models": ["fake-v2", "feeling"]}
    ]
    assert [m["name"] for m in answer["models"]] == ["fake-v2", "fake"]
    first, second = answer["results"]
    assert [a["model"]["name"] for a in first["answers"]] == ["fake-v2", "fake"]
    assert (first["agree"], second["agree"], answer["agreement"]) == (True, False, 0.5)


def test_cli_predict_and_submit_take_model(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    upload = tmp_path / "in.jsonl"
    upload.write_text('{"text": "x"}\n')

    assert run(capsys, "predict", "--model", "mood", "a", "b")[0] == 0
    assert run(capsys, "predict", "c")[0] == 0
    assert run(capsys, "submit", str(upload), "--model", "feeling")[0] == 0

    assert api.bodies("/v1/predict") == [{"texts": ["a", "b"], "model": "mood"}, {"texts": ["c"]}]
    whole = json.loads(
        run(capsys, "predict", "--model", "feeling", "--json", "d", "e", "f", "g")[1]
    )
    assert (whole["model"]["name"], whole["alias"]) == ("fake", "feeling")
    assert [p["label"] for p in whole["predictions"]] == ["d", "e", "f", "g"]
    (job,) = [r for r in api.calls if r.url.path == "/v1/jobs"]
    assert job.url.params["model"] == "feeling"


def test_cli_models_lists_labels_workers_the_default_and_alias_splits(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "models")

    assert code == 0
    models, aliases = out.split("\n\n")
    *table, note = models.splitlines()
    assert note == "* the default model (a request that names none gets fake)"
    assert [line.split() for line in table] == [
        ["NAME", "VERSION", "RUNTIME", "WORKERS", "ALIASES", "LABELS"],
        ["fake", "*", "fake-hash", "lexicon", "2", "feeling", "NEGATIVE,POSITIVE"],
        ["fake-v2", "fake-v2-hash", "lexicon", "1", "feeling", "NEGATIVE,POSITIVE"],
        ["mood", "mood-hash", "lexicon", "0", "-", "anger,joy,neutral"],
    ]
    assert [re.split(r"\s{2,}", line) for line in aliases.splitlines()] == [
        ["ALIAS", "SPLIT", "SHADOW"],
        ["feeling", "fake 90%, fake-v2 10%", "mood 25%"],
    ]


def test_cli_compare_prints_a_row_per_text_and_the_agreement_over_every_batch(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["one", "two", "we disagree", "four"]  # two requests: the fake takes 3 at most
    code, out, _ = run(capsys, "compare", "--models", "fake, fake-v2", *texts)

    assert code == 0
    assert api.bodies("/v1/compare") == [
        {"texts": texts[:3], "models": ["fake", "fake-v2"]},
        {"texts": texts[3:], "models": ["fake", "fake-v2"]},
    ]
    lines = out.splitlines()
    assert lines[0].split() == ["AGREE", "fake", "fake-hash", "fake-v2", "fake-v2-hash", "TEXT"]
    assert [line.split()[0] for line in lines[1:5]] == ["yes", "yes", "NO", "yes"]
    assert lines[3].split() == ["NO", "we", "disagree", "0.750", "OTHER", "0.750", "we", "disagree"]
    assert lines[5] == "agreement: 75% (3 of 4 texts)"

    code, out, _ = run(capsys, "compare", "--models", "fake,fake-v2", "--json", *texts)
    whole = json.loads(out)
    assert [r["index"] for r in whole["results"]] == [0, 1, 2, 3]  # counted over the batches
    assert whole["agreement"] == 0.75


def test_cli_compare_of_models_with_other_labels_has_no_agreement(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nb\n"))
    code, out, _ = run(capsys, "compare", "--models", "fake,mood")

    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:3]] == ["-", "-"]
    assert out.splitlines()[-1] == "agreement: - (the models have different labels)"


@pytest.mark.parametrize("models", ["fake", "fake,", ",fake"])
def test_cli_compare_needs_two_models(
    api: FakeApi, capsys: pytest.CaptureFixture[str], models: str
) -> None:
    code, _, err = run(capsys, "compare", "--models", models, "text")

    assert code == 2
    assert "two or more" in err
    assert api.bodies("/v1/compare") == []

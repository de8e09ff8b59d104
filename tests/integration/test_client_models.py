"""The client and the `spectrum` command against a real gateway of many models.

Two lexicon workers under their own names (a sentiment model and a second version of
it) and the emotion lexicon, an alias over the two versions with a shadow, on a private
Redis so that no other test's models are listed: `spectrum models`, `--model` on predict
and submit, and `spectrum compare`, read against the API's own answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectrum_client import SpectrumClient, cli
from spectrum_dev.private_redis import PrivateRedis
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

NAMES = ("sentiment-vader", "sentiment-vader-v2")
EMOTION = "emotion"
ALIASES = {
    "sentiment": {
        "targets": {NAMES[0]: 90, NAMES[1]: 10},
        "shadow": {"model": EMOTION, "share": 0.5},
    }
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    stack = Stack(
        tmp_path_factory.mktemp("models"),
        redis.url,
        model_name=NAMES[0],
        aliases=json.dumps(ALIASES),
    )
    try:
        stack.start_worker()
        for model_id, name in [("vader", NAMES[1]), (EMOTION, EMOTION)]:
            worker = stack.harness.start_worker(
                stack.env(model_id=model_id, model_name=name), name=f"worker-{name}"
            )
            stack.harness.wait_registered(worker, redis.url, f"{name}.interactive", 90)
        stack.start_api()
        yield stack
    finally:
        stack.stop()
        redis.stop()


def spectrum(capsys: pytest.CaptureFixture[str], stack: Stack, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["--url", stack.base_url, *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


def test_models_lists_every_model_the_default_and_the_alias_split(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    with SpectrumClient(stack.base_url) as client:
        catalog = client.catalog()
    _, out = spectrum(capsys, stack, "models")

    assert catalog["default"] == NAMES[0]
    assert sorted(m["name"] for m in catalog["models"]) == sorted([*NAMES, EMOTION])
    models, aliases = out.split("\n\n")
    rows = {line.split()[0]: line.split() for line in models.splitlines()[1:-1]}
    assert rows[NAMES[0]][1] == "*"  # the default
    assert rows[NAMES[1]][-2:] == ["sentiment", "NEGATIVE,POSITIVE"]
    emotion = next(m for m in catalog["models"] if m["name"] == EMOTION)
    assert rows[EMOTION][-1] == ",".join(emotion["labels"])
    assert len(emotion["labels"]) == 9
    assert [re.split(r"\s{2,}", line) for line in aliases.splitlines()] == [
        ["ALIAS", "SPLIT", "SHADOW"],
        ["sentiment", f"{NAMES[0]} 90%, {NAMES[1]} 10%", f"{EMOTION} 50%"],
    ]


def test_predict_and_submit_go_to_the_model_named(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out = spectrum(capsys, stack, "predict", "--model", EMOTION, "--json", "I am so happy!")
    answer = json.loads(out)
    assert answer["model"]["name"] == EMOTION
    (prediction,) = answer["predictions"]
    probabilities = prediction["probabilities"]
    assert len(probabilities) == 9
    assert probabilities["joy"] > 0  # "happy" is tagged joy (among others)
    assert probabilities[prediction["label"]] == max(probabilities.values())

    _, out = spectrum(capsys, stack, "predict", "--model", "sentiment", "--json", "Fine.")
    assert json.loads(out)["alias"] == "sentiment"

    source = tmp_path / "reviews.csv"
    source.write_text("text\nWhat a wonderful film.\nDull and slow.\n")
    _, out = spectrum(capsys, stack, "submit", str(source), "--model", NAMES[1], "--wait")
    job_id = out.split()[0]
    with SpectrumClient(stack.base_url) as client:
        job = client.status(job_id)
        results = [item["label"] for item in client.results(job_id)]
    assert (job["state"], job["model"]) == ("succeeded", NAMES[1])
    assert results == ["POSITIVE", "NEGATIVE"]


def test_compare_prints_the_apis_answers_and_the_agreement(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["What a wonderful film.", "Dull and slow.", "Not bad at all!"]
    with SpectrumClient(stack.base_url) as client:
        expected = client.compare(texts, list(NAMES))
    _, out = spectrum(capsys, stack, "compare", "--models", ",".join(NAMES), *texts)

    lines = out.splitlines()
    assert lines[0].split()[0] == "AGREE"
    for line, result in zip(lines[1:4], expected["results"], strict=True):
        labels = [a["label"] for a in result["answers"]]
        agree, first, _, second, _ = line.split()[:5]
        assert [agree, first, second] == ["yes" if result["agree"] else "NO", *labels]
    assert expected["agreement"] == 1.0  # two versions of one lexicon
    assert lines[4] == "agreement: 100% (3 of 3 texts)"

    _, out = spectrum(capsys, stack, "compare", "--models", f"{NAMES[0]},{EMOTION}", *texts)
    assert out.splitlines()[-1] == "agreement: - (the models have different labels)"

"""The registry picks a runtime kind per model id, and each built-in model loads through it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import BUILT_IN_MODELS, RUNTIMES, UnknownRuntime, choose_runtime


def test_built_in_ids_get_their_own_kind_and_directories_get_a_transformer_runtime(
    tmp_path: Path,
) -> None:
    assert choose_runtime(Settings(model_id="vader")) == "lexicon"
    assert choose_runtime(Settings(model_id="toxicity")) == "sklearn"
    assert choose_runtime(Settings(model_id="emotion")) == "emotion-lexicon"
    # A directory without an OpenVINO IR, or a hub id, is PyTorch's.
    assert choose_runtime(Settings(model_id=str(tmp_path))) == "torch"
    assert choose_runtime(Settings(model_id="distilbert-base-uncased")) == "torch"
    # An explicit kind wins over the id.
    assert choose_runtime(Settings(model_id=str(tmp_path), runtime="lexicon")) == "lexicon"
    assert choose_runtime(Settings(model_id="toxicity", runtime="torch")) == "torch"


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownRuntime, match="known: auto, lexicon"):
        choose_runtime(Settings(model_id="vader", runtime="onnx"))


def test_every_kind_names_a_module_with_a_loader_and_every_built_in_a_kind() -> None:
    assert set(BUILT_IN_MODELS.values()) <= set(RUNTIMES)
    for module in RUNTIMES.values():
        # find_spec, not import: torch and openvino are optional extras.
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        assert spec.origin is not None
        assert "\ndef load(settings: Settings)" in Path(spec.origin).read_text(encoding="utf-8")


def test_emotion_gives_every_emotion_a_probability_and_neutral_when_nothing_matches() -> None:
    pytest.importorskip("nrclex")
    from spectrum.worker.runtimes import load_runtime

    runtime, card = load_runtime(Settings(model_id="emotion"))
    assert card.runtime == "emotion-lexicon"
    assert card.name == "emotion"
    assert runtime.labels == card.labels
    assert card.labels == [
        "anger",
        "anticipation",
        "disgust",
        "fear",
        "joy",
        "sadness",
        "surprise",
        "trust",
        "neutral",
    ]
    texts = ["I panic, I am afraid", "the chair is brown", "RAGE!!", "a murder"]
    rows = runtime.predict(texts)
    assert [len(row) for row in rows] == [9, 9, 9, 9]
    assert all(abs(sum(row) - 1) < 1e-9 for row in rows)
    top = [card.labels[row.index(max(row))] for row in rows]
    assert top[0] == "fear"
    assert rows[1] == [0.0] * 8 + [1.0]
    assert top[2] == "anger"
    assert rows[3][card.labels.index("neutral")] == 0.0
    # The same text alone gets the same row.
    assert runtime.predict([texts[0]]) == [rows[0]]


def test_emotion_reads_inflections_and_drops_negated_words() -> None:
    pytest.importorskip("nrclex")
    from spectrum.worker.runtimes.emotion import load_emotion

    runtime, _ = load_emotion("emotion")
    # "murders" is not listed, "murder" is.
    assert runtime.lookup("murders") == runtime.lookup("murder") != []
    assert sum(runtime.counts("I am not afraid").values()) == 0
    assert runtime.counts("I am afraid")["fear"] == 1
    # A clause ends the negation's reach.
    assert runtime.counts("no, I am afraid")["fear"] == 1
    assert sum(runtime.counts("I don't hate it").values()) == 0
    # Naming who people are carries no emotion, whatever the lexicon says.
    assert sum(runtime.counts("a lesbian immigrant").values()) == 0


def test_toxicity_serves_the_packaged_classifier_with_full_probabilities() -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("profanity_check")
    from spectrum.worker.runtimes import load_runtime

    runtime, card = load_runtime(Settings(model_id="toxicity"))
    assert card.labels == runtime.labels == ["NON_TOXIC", "TOXIC"]
    assert card.runtime == "sklearn"
    assert card.source.startswith("alt-profanity-check==")
    assert len(card.version) == 12
    rows = runtime.predict(["have a lovely day", "shut up you stupid idiot"])
    assert all(abs(sum(row) - 1) < 1e-9 for row in rows)
    assert rows[0][0] > 0.5
    assert rows[1][1] > 0.5
    assert runtime.predict(["have a lovely day"]) == [rows[0]]


def test_a_local_sklearn_pipeline_is_served_with_its_own_labels(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["good great fine", "great good", "bad awful", "awful terrible bad"]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    pipeline.fit(texts, ["pos", "pos", "neg", "neg"])
    joblib.dump(pipeline, tmp_path / "pipe.joblib")
    from spectrum.worker.runtimes import load_runtime

    runtime, card = load_runtime(
        Settings(model_id=str(tmp_path / "pipe.joblib"), runtime="sklearn", model_name="mine")
    )
    assert card.name == "mine"
    # predict_proba's columns follow classes_, which scikit-learn sorts.
    assert card.labels == ["neg", "pos"]
    good, bad = runtime.predict(["good great", "awful bad"])
    assert good[1] > good[0]
    assert bad[0] > bad[1]

"""An alias's parts merged back: every text's answer at its own place, naming its model."""

from __future__ import annotations

from spectrum.api.predict.predictor import Answered, Placed, predictions_of
from spectrum.shared.predictions import Answer


def answer(label: str, cached: bool = False) -> Answer:
    other = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
    return Answer(label, 0.8, {label: 0.8, other: 0.2}, cached, False)


def test_one_models_answers_keep_their_order_and_name_it() -> None:
    part = Answered("m", [answer("POSITIVE"), answer("NEGATIVE", cached=True)], ["v2", "v1"])
    predictions = predictions_of(["a", "b"], [part])
    assert [
        (p.label, p.model and p.model.name, p.model and p.model.version) for p in predictions
    ] == [
        ("POSITIVE", "m", "v2"),
        ("NEGATIVE", "m", "v1"),
    ]


def test_an_alias_split_is_answered_in_input_order() -> None:
    stable = Placed(
        Answered("stable", [answer("POSITIVE"), answer("POSITIVE")], ["s", "s"]), [0, 3]
    )
    canary = Placed(
        Answered("canary", [answer("NEGATIVE"), answer("NEGATIVE")], ["c", "c"]), [1, 2]
    )
    predictions = predictions_of(["t0", "t1", "t2", "t3"], [canary, stable])
    assert [p.model.name if p.model else None for p in predictions] == [
        "stable",
        "canary",
        "canary",
        "stable",
    ]
    assert [p.label for p in predictions] == ["POSITIVE", "NEGATIVE", "NEGATIVE", "POSITIVE"]

"""Shadow traffic is bounded: skipped, and counted, when the candidate has no live worker
or too many shadow calls are in flight; texts the candidate answered already are not copied."""

from __future__ import annotations

from typing import Any

from spectrum.api.models.aliases import Alias, Shadow
from spectrum.api.models.catalog import CatalogView
from spectrum.api.models.schemas import ServedModel
from spectrum.api.observability.metrics import REGISTRY
from spectrum.api.predict.predictor import Predictor
from spectrum.api.predict.schemas import Prediction
from spectrum.shared.config import Settings
from tests.unit.inprocess import CARD

ALIAS = Alias("shadowed", (("m", 1),), Shadow("cand", 1.0))


class CachedOnly:
    """A catalog whose cached view has the candidate with `live` workers."""

    def __init__(self, live: int) -> None:
        cards = {"m": CARD, "cand": CARD.model_copy(update={"name": "cand"})}
        self.cached = CatalogView("m", cards, {"m.interactive": 1, "cand.interactive": live})


def predictor(live: int, max_in_flight: int) -> Predictor:
    settings = Settings(log_json=True, model_name="m", shadow_max_in_flight=max_in_flight)
    nothing: Any = None
    return Predictor(settings, nothing, nothing, CachedOnly(live), nothing, nothing)  # type: ignore[arg-type]


def given(model: str) -> Prediction:
    return Prediction(
        label="POSITIVE",
        score=0.9,
        probabilities={"NEGATIVE": 0.1, "POSITIVE": 0.9},
        cached=True,
        model=ServedModel(name=model, version="v1"),
    )


def skipped(reason: str) -> float:
    labels = {"alias": "shadowed", "candidate": "cand", "reason": reason}
    return REGISTRY.get_sample_value("spectrum_shadow_skipped_total", labels) or 0.0


async def test_no_live_candidate_skips_the_shadow() -> None:
    before = skipped("no_worker")
    shadowing = predictor(live=0, max_in_flight=8)
    shadowing._shadow(ALIAS, ["a", "b"], [given("m"), given("m")])
    assert skipped("no_worker") == before + 1
    assert not shadowing._shadows


async def test_too_many_shadow_calls_in_flight_skip_the_shadow() -> None:
    before = skipped("busy")
    shadowing = predictor(live=1, max_in_flight=0)
    shadowing._shadow(ALIAS, ["a"], [given("m")])
    assert skipped("busy") == before + 1
    assert not shadowing._shadows


async def test_texts_the_candidate_answered_are_not_shadowed() -> None:
    before = skipped("busy"), skipped("no_worker")
    shadowing = predictor(live=0, max_in_flight=0)
    shadowing._shadow(ALIAS, ["a"], [given("cand")])  # nothing to copy: no skip either
    assert (skipped("busy"), skipped("no_worker")) == before

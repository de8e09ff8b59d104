"""The capacity-test stand-in: the cost it sleeps, its answers, and how settings select it."""

from __future__ import annotations

import pytest

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import choose_runtime, load_runtime
from spectrum.worker.runtimes.fixed import FixedCostRuntime, load_fixed


def test_a_pass_sleeps_its_fixed_cost_plus_each_texts_share() -> None:
    slept: list[float] = []
    runtime = FixedCostRuntime(pass_s=0.005, text_s=0.002, batch_size=4, sleep=slept.append)

    runtime.predict(["a", "b", "c"])  # one pass
    runtime.predict([f"t{i}" for i in range(9)])  # three passes of at most 4

    assert slept == pytest.approx([0.005 + 3 * 0.002, 3 * 0.005 + 9 * 0.002])
    assert runtime.cost_s(9) == pytest.approx(slept[1])
    assert runtime.cost_s(0) == 0


def test_answers_depend_on_the_text_alone() -> None:
    runtime = FixedCostRuntime(0.0, 0.0, batch_size=2, sleep=lambda _: None)
    texts = [f"review number {i}" for i in range(50)]

    rows = runtime.predict(texts)
    again = FixedCostRuntime(0.0, 0.0, batch_size=32, sleep=lambda _: None).predict(
        list(reversed(texts))
    )

    assert runtime.labels == ["NEGATIVE", "POSITIVE"]
    assert all(len(row) == 2 and abs(sum(row) - 1) < 1e-12 for row in rows)
    assert all(0.0 <= row[1] <= 1.0 for row in rows)
    assert rows == list(reversed(again))  # batching and order change nothing
    # A hash spreads the answers: both labels win for some texts.
    assert {row[1] > 0.5 for row in rows} == {True, False}


def test_a_zero_cost_runtime_never_sleeps_and_bad_costs_are_refused() -> None:
    def refuse(_: float) -> None:
        raise AssertionError("slept")

    FixedCostRuntime(0.0, 0.0, batch_size=1, sleep=refuse).predict(["x"])
    with pytest.raises(ValueError, match="costs"):
        FixedCostRuntime(-1.0, 0.0, batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        FixedCostRuntime(0.0, 0.0, batch_size=0)


def test_the_card_names_the_costs_so_cached_answers_never_cross_costs() -> None:
    _, slow = load_fixed("scale", pass_ms=5, text_ms=25, batch_size=32)
    _, fast = load_fixed("scale", pass_ms=0, text_ms=0, batch_size=32)

    assert slow.runtime == "fixed"
    assert slow.labels == ["NEGATIVE", "POSITIVE"]
    assert slow.version == "fixed-5ms-25ms"
    assert fast.version != slow.version


def test_model_id_fixed_selects_the_stand_in_with_the_cost_settings() -> None:
    settings = Settings(model_id="fixed", fixed_pass_ms=7, fixed_text_ms=3, batch_size=8)

    assert choose_runtime(settings) == "fixed"
    assert choose_runtime(Settings(model_id="vader", runtime="fixed")) == "fixed"
    runtime, card = load_runtime(settings)
    assert isinstance(runtime, FixedCostRuntime)
    assert (runtime.pass_s, runtime.text_s, runtime.batch_size) == (0.007, 0.003, 8)
    assert card.name == "fixed"

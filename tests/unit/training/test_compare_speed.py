"""The alternating speed comparison of two builds of a model."""

from __future__ import annotations

from training.compare_speed import rounds


class Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def predict(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(self.name)
        return [[0.5, 0.5] for _ in texts]


def test_rounds_warm_both_then_take_turns_in_alternating_order() -> None:
    calls: list[str] = []
    runtimes = {"before": Recorder("before", calls), "after": Recorder("after", calls)}

    speeds = rounds(runtimes, ["a text"] * 4, count=3)

    assert calls == ["before", "after", "before", "after", "after", "before", "before", "after"]
    assert {name: len(values) for name, values in speeds.items()} == {"before": 3, "after": 3}
    assert all(v > 0 for values in speeds.values() for v in values)

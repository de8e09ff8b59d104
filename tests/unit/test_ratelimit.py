"""GCRA arithmetic with an explicit clock: no Redis, no sleeping."""

from __future__ import annotations

from api.edge.ratelimit import Decision, gcra

INTERVAL_MS = 100.0  # 10 requests a second
BURST = 3


def run(times_ms: list[float]) -> list[Decision]:
    tat: float | None = None
    decisions = []
    for now in times_ms:
        decision, tat = gcra(tat, now, INTERVAL_MS, BURST)
        decisions.append(decision)
    return decisions


def test_a_burst_is_allowed_then_refused() -> None:
    first, second, third, fourth = run([0, 0, 0, 0])
    assert [d.allowed for d in (first, second, third, fourth)] == [True, True, True, False]
    assert [d.remaining for d in (first, second, third)] == [2, 1, 0]
    assert fourth.retry_after_ms == 100
    assert fourth.reset_ms == 300


def test_the_rate_refills_one_request_per_interval() -> None:
    decisions = run([0, 0, 0, 100, 150, 200])
    assert [d.allowed for d in decisions] == [True, True, True, True, False, True]
    assert decisions[4].retry_after_ms == 50


def test_a_refused_request_does_not_push_the_limit_further() -> None:
    decisions = run([0, 0, 0, *([10] * 50), 100])
    assert decisions[-1].allowed


def test_after_rest_the_full_burst_is_back() -> None:
    decisions = run([0, 0, 0, 10_000])
    assert decisions[-1].allowed
    assert decisions[-1].remaining == BURST - 1


def test_headers_carry_the_draft_names_in_whole_seconds() -> None:
    refused = Decision(allowed=False, limit=3, remaining=0, reset_ms=250, retry_after_ms=1)
    headers = dict(refused.headers())
    assert headers[b"ratelimit-limit"] == b"3"
    assert headers[b"ratelimit-remaining"] == b"0"
    assert headers[b"ratelimit-reset"] == b"1"
    assert refused.retry_after_s == 1
    assert Decision(False, 3, 0, 2500, 1200).retry_after_s == 2

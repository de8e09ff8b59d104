"""The bounds of an analytics query: windows, buckets, and the 422s beyond them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spectrum.api.analytics.window import MAX_BUCKETS, Window, as_utc, bucket_start
from spectrum.shared.errors import InvalidInput

NOW = datetime(2026, 12, 1, 12, 30, 15, tzinfo=UTC)


def test_absent_ends_default_to_the_last_day() -> None:
    window = Window.of(None, None, now=NOW)
    assert window == Window(NOW - timedelta(days=1), NOW)


def test_ends_are_taken_to_utc_and_naive_ones_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = Window.of(
        datetime(2026, 12, 1, 12, 0, tzinfo=plus_two), datetime(2026, 12, 1, 11, 0), now=NOW
    )
    assert window.since == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert window.until == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    assert as_utc(datetime(2026, 1, 1)).tzinfo is UTC


def test_an_empty_or_backward_window_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before until") as caught:
        Window.of(NOW, NOW, now=NOW)
    assert caught.value.problems[0]["loc"] == ["query", "since"]
    with pytest.raises(InvalidInput, match="before until"):
        Window.of(NOW, NOW - timedelta(seconds=1), now=NOW)


def test_a_window_spans_at_most_31_days() -> None:
    Window.of(NOW - timedelta(days=31), NOW, now=NOW)
    with pytest.raises(InvalidInput, match="at most 31 days"):
        Window.of(NOW - timedelta(days=31, seconds=1), NOW, now=NOW)


def test_bucket_starts_are_whole_minutes_hours_and_days() -> None:
    assert bucket_start(NOW, "minute") == datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    assert bucket_start(NOW, "hour") == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert bucket_start(NOW, "day") == datetime(2026, 12, 1, tzinfo=UTC)


def test_buckets_count_the_partial_ones_at_both_ends() -> None:
    window = Window(
        datetime(2026, 12, 1, 10, 30, tzinfo=UTC), datetime(2026, 12, 1, 12, 1, tzinfo=UTC)
    )
    assert window.buckets("hour") == 3  # 10:00, 11:00, 12:00
    assert window.buckets("day") == 1
    assert window.buckets("minute") == 91
    whole = Window(datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert whole.buckets("hour") == 2


def test_more_than_the_bucket_bound_is_refused_with_the_count() -> None:
    fits = Window(NOW - timedelta(minutes=MAX_BUCKETS - 1), NOW)
    fits.check_buckets("minute")
    wide = Window.of(NOW - timedelta(days=2), NOW, now=NOW)
    with pytest.raises(InvalidInput, match=r"\d+ minute buckets asked for, at most 1500"):
        wide.check_buckets("minute")
    wide.check_buckets("hour")
    Window.of(NOW - timedelta(days=31), NOW, now=NOW).check_buckets("hour")  # 745 buckets


def test_a_window_at_the_edge_of_the_calendar_is_refused_not_an_error() -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        Window.of(None, datetime(1, 1, 1, 12, tzinfo=UTC), now=NOW)

"""loadtest/lone.py: a variant is settings by name, or none."""

from __future__ import annotations

from loadtest.lone import variant


def test_a_variant_is_comma_separated_settings_or_the_defaults() -> None:
    assert variant("default") == {}
    assert variant("wide_pass_tokens=0") == {"wide_pass_tokens": "0"}
    assert variant("wide_pass_tokens=0,batch_max_wait_ms=5") == {
        "wide_pass_tokens": "0",
        "batch_max_wait_ms": "5",
    }

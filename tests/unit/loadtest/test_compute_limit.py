"""loadtest/compute_limit.py: an encoder pass's FLOPs, counted by hand for MiniLM-L6."""

from __future__ import annotations

import pytest

from loadtest.compute_limit import flops_per_sentence

MINILM = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6}


def test_minilm_costs_about_seven_tenths_of_a_gflop_for_32_tokens() -> None:
    # Per layer and token: 4 projections of 384x384, 384x1536 twice, and attention's
    # 2 x 384 x 32 for scores and sum; two FLOPs a multiply-add; 6 layers; 32 tokens.
    per_token = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536 + 2 * 384 * 32)
    assert flops_per_sentence(MINILM, 32) == pytest.approx(per_token * 32)
    assert flops_per_sentence(MINILM, 32) / 1e9 == pytest.approx(0.69, abs=0.01)


def test_attention_grows_the_cost_faster_than_the_tokens() -> None:
    short, long = flops_per_sentence(MINILM, 16), flops_per_sentence(MINILM, 128)
    assert long / short > 128 / 16

"""The exponents the plugin exists to prove, measured for real on the CPU at N=256..2048."""

from __future__ import annotations

import pytest

from pytest_attncomplexity import linear_attention, naive_attention, sdpa_attention

pytestmark = pytest.mark.slow  # sweeps at real sizes: `pytest -m "not slow"` leaves them out

SIZES = [256, 512, 1024, 2048]


@pytest.mark.parametrize(
    ("fn", "flops", "memory"),
    [(naive_attention, 2, 2), (sdpa_attention, 2, 1), (linear_attention, 1, 1)],
    ids=["naive", "sdpa", "linear"],
)
def test_flop_and_memory_exponents_of_the_references(attn_scaling, fn, flops, memory):
    result = attn_scaling(fn, sizes=SIZES, metrics=["flops", "memory"], device="cpu")
    assert result.exponent("flops") == pytest.approx(flops, abs=0.02)
    assert result.exponent("memory") == pytest.approx(memory, abs=0.15)
    assert result.fit("memory").complexity == f"N^{memory}".replace("N^1", "N")


@pytest.mark.parametrize(("fn", "memory"), [(naive_attention, 2), (sdpa_attention, 1)], ids=["naive", "sdpa"])
def test_memory_exponents_of_a_training_step_with_the_built_in_inputs(attn_scaling, fn, memory):
    # The built-in q, k, v require grad in train mode: the backward computes their gradients, and the peak holds
    # what autograd saved (naive: the N×N probabilities; SDPA's CPU flash kernel: O(N) statistics).
    result = attn_scaling(fn, sizes=SIZES, metrics=["memory"], mode="train", device="cpu")
    assert result.exponent("memory") == pytest.approx(memory, abs=0.15 if memory == 2 else 0.2)


def test_naive_attention_time_reads_quadratic(attn_scaling):
    # Time is the noisy metric: a generous band here; its spread is measured in benchmarks/.
    result = attn_scaling(naive_attention, sizes=SIZES, metrics=["time"], device="cpu", time_budget=1.5)
    result.assert_exponent("time", 2, tol=0.5)

"""Copy this file into your test suite: it proves how three attention implementations scale with N.

Run it with the report:  pytest --attn-scaling examples/
"""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import geometric, linear_attention, naive_attention, sdpa_attention

# The device is picked automatically (the GPU when there is one). A GPU runs attention at N=256 in a few
# microseconds, where fixed launch costs hide the N² growth of time: sweep larger N there.
SIZES = geometric(2048, 16384) if torch.cuda.is_available() else geometric(256, 2048)


def test_naive_attention_is_quadratic_in_time_and_memory(attn_scaling):
    result = attn_scaling(naive_attention, sizes=SIZES, metrics=["time", "memory", "flops"])
    result.assert_exponent("flops", 2, tol=0.05)
    result.assert_exponent("memory", 2, tol=0.2)
    # Time on a CPU crosses cache levels between these sizes (local slopes of about 1.9, 2.5, 2.0 here): a wider band.
    result.assert_exponent("time", 2, tol=0.5)


# The marker declares the exponents next to the test; they are checked after the body, on every result it measured.
@pytest.mark.attn_scaling(memory=1, flops=2, tol=0.2)
def test_sdpa_is_linear_in_memory(attn_scaling):
    attn_scaling(sdpa_attention, sizes=SIZES, metrics=["memory", "flops"])


def test_linear_attention_is_linear_in_time_and_memory(attn_scaling):
    # expect= asserts the exponents at the call; its time claim, known before timing, ends the timing as soon as the
    # samples decide it instead of spending the whole time budget.
    attn_scaling(
        linear_attention,
        sizes=SIZES,
        metrics=["time", "memory", "flops"],
        expect={"flops": (1, 0.05), "memory": (1, 0.2), "time": (1, 0.4)},
    )


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_training_step_of_sdpa_stays_linear_in_memory(attn_scaling, causal):
    # mode="train" runs forward and backward: memory includes what autograd saves for the backward pass.
    result = attn_scaling(
        lambda q, k, v: sdpa_attention(q, k, v, causal=causal),
        sizes=SIZES,
        metrics=["memory"],
        mode="train",
        label=f"sdpa train {'causal' if causal else 'full'}",
    )
    result.assert_exponent("memory", 1, tol=0.2)


def test_module_built_per_n_with_setup(attn_scaling):
    # setup(n) builds whatever depends on N (here a module and its input) outside the measurement.
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def setup(n):
        layer = torch.nn.MultiheadAttention(embed_dim=256, num_heads=4, batch_first=True, device=device)
        x = torch.randn(1, n, 256, device=device)
        return lambda: layer(x, x, x, need_weights=True)  # returns the N×N weights: quadratic memory

    result = attn_scaling(setup=setup, sizes=SIZES, metrics=["memory"], device=device, label="nn.MultiheadAttention")
    result.assert_exponent("memory", 2, tol=0.2)

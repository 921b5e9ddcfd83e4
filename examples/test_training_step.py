"""A training step (mode="train": forward and backward): memory includes what autograd saves for the backward,
so naive attention keeps its N×N probabilities (N²) while SDPA saves only its output and log-sum-exp (N); and the
step's FLOPs are a fixed multiple of the forward's.

Run it with the report:  pytest --attn-scaling examples/test_training_step.py
"""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import geometric, naive_attention, sdpa_attention

SIZES = geometric(2048, 16384) if torch.cuda.is_available() else geometric(256, 2048)


@pytest.mark.parametrize(
    ("fn", "memory", "backward_share"),
    [
        (naive_attention, 2, 2.0),  # backward: two matmuls per forward matmul
        (sdpa_attention, 1, 2.5),  # backward also recomputes the scores (PyTorch's FLOP formula for it)
    ],
    ids=["naive", "sdpa"],
)
def test_training_step_memory_and_flops(attn_scaling, fn, memory, backward_share):
    step = attn_scaling(fn, sizes=SIZES, metrics=["memory", "flops"], mode="train", label=f"{fn.__name__} train")
    step.assert_exponent("memory", memory, tol=0.2)
    forward = attn_scaling(fn, sizes=SIZES, metrics=["flops"], label=f"{fn.__name__} forward")
    ratios = [s / f for s, f in zip(step.values("flops"), forward.values("flops"), strict=True)]
    assert ratios == pytest.approx([1 + backward_share] * len(SIZES))

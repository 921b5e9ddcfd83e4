"""Causal attention through SDPA's is_causal=True, and the same attention with an explicit N×N mask built inside the
call: the memory exponent shows the regression (1 → 2) that a config change to an explicit mask brings.

Run it with the report:  pytest --attn-scaling examples/test_causal_vs_mask.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pytest_attncomplexity import geometric

SIZES = geometric(2048, 16384) if torch.cuda.is_available() else geometric(256, 2048)


def sdpa_is_causal(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def sdpa_with_a_mask(q, k, v):
    # The same causal attention with the mask spelled out: an N×N float tensor, allocated on every call.
    n = q.shape[-2]
    mask = torch.full((n, n), float("-inf"), dtype=q.dtype, device=q.device).triu(1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_is_causal_keeps_memory_linear(attn_scaling):
    attn_scaling(sdpa_is_causal, sizes=SIZES, metrics=["memory"]).assert_exponent("memory", 1, tol=0.2)


def test_an_explicit_mask_makes_memory_quadratic(attn_scaling):
    # The mask alone is N² (4 bytes each in float32): 1.82 here on the CPU (local slopes 1.37, 1.89, 2.00), as the
    # kernel's own linear buffers fade behind it.
    attn_scaling(sdpa_with_a_mask, sizes=SIZES, metrics=["memory"]).assert_exponent("memory", 2, tol=0.3)

"""torch.nn.MultiheadAttention, built per N through setup=: returning the attention weights costs N² memory, and
so does the module's inference fast path on the CPU (eval() under no_grad), even when no weights are asked for.

Run it with the report:  pytest --attn-scaling examples/test_multihead_attention.py
"""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import geometric

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SIZES = geometric(2048, 16384) if DEVICE == "cuda" else geometric(256, 2048)


def mha(need_weights: bool, training: bool):
    def setup(n):
        layer = torch.nn.MultiheadAttention(256, 4, batch_first=True, device=DEVICE).train(training)
        x = torch.randn(1, n, 256, device=DEVICE)
        return lambda: layer(x, x, x, need_weights=need_weights)

    return setup


@pytest.mark.parametrize(
    ("need_weights", "training", "expected"),
    [
        (True, True, 2),  # the (N, N) weights averaged over heads are returned: 1.88 here
        (False, True, 1),  # no weights: the module calls scaled_dot_product_attention (flash on the CPU): 1.00
        (False, False, 2),  # eval() under no_grad: the native fast path, which on the CPU forms the scores: 1.78
    ],
    ids=["weights", "no-weights", "eval-fast-path"],
)
def test_multihead_attention_memory(attn_scaling, need_weights, training, expected):
    if DEVICE == "cuda" and not training:
        pytest.skip("the fast path's memory was measured on the CPU only; run it on your GPU to see what it does")
    result = attn_scaling(
        setup=mha(need_weights, training),
        sizes=SIZES,
        metrics=["memory"],
        device=DEVICE,
        label=f"MultiheadAttention need_weights={need_weights}{'' if training else ', eval'}",
    )
    result.assert_exponent("memory", expected, tol=0.3 if expected == 2 else 0.2)

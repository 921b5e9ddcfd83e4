"""Attention modules from public packages, built per N through setup=, classified by their memory exponent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

pytestmark = pytest.mark.slow  # sweeps at real sizes: `pytest -m "not slow"` leaves them out

SIZES = [256, 512, 1024, 2048]
DIM = 256


def _setup(make_layer: Callable[[], torch.nn.Module]) -> Callable[[int], Callable[[], object]]:
    def setup(n: int) -> Callable[[], object]:
        torch.manual_seed(0)
        layer = make_layer().eval()
        x = torch.randn(1, n, DIM)
        return lambda: layer(x)

    return setup


def _performer() -> torch.nn.Module:
    performer = pytest.importorskip("performer_pytorch")
    return performer.SelfAttention(dim=DIM, heads=4, dim_head=64, causal=False)


def _linear_attention_transformer() -> torch.nn.Module:
    pytest.importorskip("linear_attention_transformer")
    from linear_attention_transformer.linear_attention_transformer import SelfAttention

    return SelfAttention(dim=DIM, heads=4)


def _x_transformers(flash: bool) -> Callable[[], torch.nn.Module]:
    def make() -> torch.nn.Module:
        pytest.importorskip("x_transformers")
        from x_transformers.x_transformers import Attention

        return Attention(dim=DIM, heads=4, dim_head=64, flash=flash)

    return make


@pytest.mark.parametrize(
    ("make_layer", "complexity"),
    [
        (_performer, "N"),
        (_linear_attention_transformer, "N"),
        (_x_transformers(flash=False), "N^2"),
        (_x_transformers(flash=True), "N"),
    ],
    ids=["performer-pytorch", "linear-attention-transformer", "x-transformers-math", "x-transformers-flash"],
)
def test_public_attention_modules_are_classified_by_memory(attn_scaling, make_layer, complexity):
    make_layer()  # skips here, before measuring, when the package is not installed
    result = attn_scaling(setup=_setup(make_layer), sizes=SIZES, metrics=["memory"], device="cpu")
    assert result.fit("memory").complexity == complexity
    result.assert_exponent("memory", 2 if complexity == "N^2" else 1, tol=0.2)


def test_torch_multihead_attention_returning_weights_is_quadratic(attn_scaling):
    def setup(n: int) -> Callable[[], object]:
        layer = torch.nn.MultiheadAttention(DIM, 4, batch_first=True)
        x = torch.randn(1, n, DIM)
        return lambda: layer(x, x, x, need_weights=True)

    result = attn_scaling(setup=setup, sizes=SIZES, metrics=["memory"], device="cpu")
    assert result.fit("memory").complexity == "N^2"

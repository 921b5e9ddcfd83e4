"""Attention modules from public packages, built per N through setup=, classified by their memory exponent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from pytest_attncomplexity import geometric
from pytest_attncomplexity.report.text import format_result

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


def test_a_bert_training_step_is_quadratic_in_memory_past_its_fixed_part(attn_scaling):
    transformers = pytest.importorskip("transformers")
    # One eager-attention layer of hidden size 128 with 2 heads: its training step peaks at 18, 18, 38, 139, 533 MiB
    # at N=256..4096 (2026-11-29, torch 2.13.0+cpu). The flat head is the parameters' gradients (17.7 MiB, 14.9 of
    # them the word embeddings'); over every size the exponent reads 1.34, past the first two 1.91. Hidden size 128
    # keeps the sweep near 4 s: BertConfig's 768 took 37 s (132, 134, 245, 851, 3215 MiB; 1.24, then 1.86).
    config = _bert_config(transformers, "eager", max_positions=4096)
    torch.manual_seed(0)
    model = transformers.BertModel(config).train()

    def setup(n: int) -> Callable[[], object]:
        ids = torch.randint(0, config.vocab_size, (1, n))
        return lambda: model(input_ids=ids)

    sizes = geometric(256, 4096)
    result = attn_scaling(
        setup=setup, sizes=sizes, metrics=["memory"], device="cpu", mode="train", label="1-layer BertModel (eager)"
    )
    fit = result.assert_exponent("memory", 2, tol=0.2)
    assert fit.overhead_sizes == (256, 512)
    assert 10 * 2**20 < fit.fixed_part < 20 * 2**20
    assert result.fit_on("memory", sizes, trim=False).exponent < 1.8  # what the whole range reads: 2 cannot pass
    assert any(
        line.strip().startswith("memory: N=256, N=512 left out of the exponent: a fixed part of ≈")
        for line in format_result(result)
    )


def _bert_config(transformers: Any, attn_implementation: str, max_positions: int) -> Any:
    """One BERT layer of hidden size 128 with 2 heads: seconds per sweep where BertConfig's defaults take minutes."""
    return transformers.BertConfig(
        num_hidden_layers=1,
        hidden_size=128,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=max_positions,
        attn_implementation=attn_implementation,
    )


def _bert_forward(attn_implementation: str) -> Callable[[int], Callable[[], object]]:
    transformers = pytest.importorskip("transformers")
    config = _bert_config(transformers, attn_implementation, max(SIZES))

    def setup(n: int) -> Callable[[], object]:
        model = transformers.BertModel(config).eval()
        ids = torch.randint(0, config.vocab_size, (1, n))
        return lambda: model(input_ids=ids).last_hidden_state

    return setup


def _line_in(module: object, text: str) -> int:
    import inspect

    lines, _ = inspect.getsourcelines(module)  # type: ignore[arg-type]
    return 1 + next(i for i, line in enumerate(lines) if text in line)


def test_eager_bert_s_breakdown_names_the_n_by_n_operator_at_its_line_and_sdpa_s_has_none(attn_scaling):
    pytest.importorskip("transformers")
    from transformers.models.bert import modeling_bert

    eager = attn_scaling(setup=_bert_forward("eager"), sizes=SIZES, metrics=["memory"], device="cpu", label="eager")
    largest = eager.breakdown("memory")[0]
    assert largest.exponent == pytest.approx(2.0, abs=0.1) and largest.share > 0.3
    assert largest.name in ("aten::bmm", "aten::mul", "aten::matmul", "aten::_softmax")
    scores = _line_in(modeling_bert, "torch.matmul(query, key.transpose")
    assert largest.where is not None and largest.where.endswith(f"modeling_bert.py:{scores}")
    assert largest.shape_with(largest.largest_n) is not None and "N, N" in largest.shape_with(largest.largest_n)

    fused = attn_scaling(setup=_bert_forward("sdpa"), sizes=SIZES, metrics=["memory"], device="cpu", label="sdpa")
    assert [g for g in fused.breakdown("memory") if (g.exponent or 0) > 1.2 and g.share > 0.10] == []


@pytest.mark.parametrize("flash", [False, True], ids=["math", "flash"])
def test_x_transformers_breakdown_points_into_its_attend_module(attn_scaling, flash):
    make = _x_transformers(flash)
    make()  # skips here when x-transformers is not installed
    result = attn_scaling(setup=_setup(make), sizes=SIZES, metrics=["memory"], device="cpu")
    growing = [g for g in result.breakdown("memory") if (g.exponent or 0) > 1.2 and g.share > 0.10]
    if flash:
        assert growing == []
    else:
        assert len(growing) >= 2 and all(g.exponent == pytest.approx(2.0, abs=0.1) for g in growing)
        assert all(g.where is not None and "x_transformers/attend.py:" in g.where for g in growing)
        assert "aten::_softmax" in [g.name for g in growing]

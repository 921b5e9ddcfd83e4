"""The built-in inputs beyond self-attention over N, measured for real on the CPU: another axis swept (head_dim,
batch, heads, kv_len), cross-attention, grouped-query heads, masks, dtypes, and what fn receives with each."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from pytest_attncomplexity import (
    DtypeUnavailable,
    ScalingResult,
    ScalingRunner,
    SweepConfig,
    SweepError,
    linear_attention,
    make_qkv,
    naive_attention,
    run_sweep,
    sdpa_attention,
)
from pytest_attncomplexity.attention import make_mask
from pytest_attncomplexity.core.explain import points_table
from pytest_attncomplexity.report.html import render_html
from pytest_attncomplexity.report.text import format_result

from .inner import FAST

run = ScalingRunner()


def _sweep(fn: Any = sdpa_attention, **kwargs: Any) -> ScalingResult:
    settings: dict[str, Any] = {**FAST, "metrics": ["flops"], "device": "cpu", **kwargs}
    return run(fn, **settings)


class Recorder:
    """SDPA that notes what it was called with at each size (the shapes, dtypes and keywords fn receives)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        self.calls.append({"q": q, "k": k, "v": v, **kwargs})
        return F.scaled_dot_product_attention(q, k, v, **kwargs)

    def first_per_shape(self) -> list[dict[str, Any]]:
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for call in self.calls:
            seen.setdefault((tuple(call["q"].shape), tuple(call["k"].shape)), call)
        return list(seen.values())


# The checks, at sizes that keep each under a second.


def test_a_head_dim_sweep_at_fixed_n_has_a_flop_exponent_of_one_in_d():
    for fn in (naive_attention, sdpa_attention):
        result = _sweep(fn, axis="head_dim", seq_len=256, sizes=[16, 32, 64, 128, 256])
        assert result.exponent("flops") == pytest.approx(1.0, abs=0.02)
        assert result.environment.axis == "head_dim"
        assert result.environment.shape == {"batch": 1, "heads": 8, "seq_len": 256}


def test_grouped_query_inputs_through_sdpa_are_quadratic_in_flops_and_linear_in_memory():
    result = _sweep(heads=8, kv_heads=2, sizes=[256, 512, 1024, 2048], metrics=["flops", "memory"])
    assert result.exponent("flops") == pytest.approx(2.0, abs=0.02)
    assert result.exponent("memory") == pytest.approx(1.0, abs=0.2)
    # The FLOPs count the query heads: a k, v head shared by 4 query heads is multiplied 4 times.
    assert result.points["flops"][0].value == 4 * 8 * 256**2 * 64
    assert result.kernels[256] == ("flash (CPU)",)


# The other axes.


@pytest.mark.parametrize(
    ("axis", "sizes", "fixed"),
    [("batch", [1, 2, 4], {}), ("heads", [2, 4, 8], {"kv_heads": 2}), ("kv_len", [64, 128, 256], {})],
)
def test_every_other_axis_sweeps_the_dimension_it_names(axis, sizes, fixed):
    recorder = Recorder()
    result = _sweep(recorder, axis=axis, seq_len=32, sizes=sizes, **fixed)
    assert result.exponent("flops") == pytest.approx(1.0, abs=0.02)  # attention is linear in each of them
    q_shapes = [tuple(call["q"].shape) for call in recorder.first_per_shape()]
    k_shapes = [tuple(call["k"].shape) for call in recorder.first_per_shape()]
    if axis == "batch":
        assert q_shapes == [(b, 8, 32, 64) for b in sizes]
    elif axis == "heads":
        assert q_shapes == [(1, h, 32, 64) for h in sizes] and k_shapes == [(1, 2, 32, 64)] * 3
    else:
        assert q_shapes == [(1, 8, 32, 64)] * 3 and k_shapes == [(1, 8, m, 64) for m in sizes]


def test_cross_attention_keeps_k_and_v_at_kv_len_while_n_grows():
    recorder = Recorder()
    result = _sweep(recorder, kv_len=48, metrics=["flops"])
    assert [(c["q"].shape[-2], c["k"].shape[-2], c["v"].shape[-2]) for c in recorder.first_per_shape()] == [
        (64, 48, 48),
        (128, 48, 48),
        (256, 48, 48),
    ]
    assert result.exponent("flops") == pytest.approx(1.0, abs=0.02)  # N queries against a fixed number of keys
    assert result.environment.shape == {"batch": 1, "heads": 8, "head_dim": 64, "kv_len": 48}


# What fn receives.


def test_a_causal_mask_is_passed_as_is_causal():
    recorder = Recorder()
    _sweep(recorder, mask="causal")
    assert all(call.get("is_causal") is True and "attn_mask" not in call for call in recorder.calls)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_explicit_masks_are_causal_tensors_of_n_by_kv_len_made_before_the_call(dtype):
    for kind in ("bool", "float"):
        recorder = Recorder()
        _sweep(recorder, mask=kind, kv_len=80, dtype=dtype, sizes=[64, 96, 128])
        for call in recorder.first_per_shape():
            mask, n = call["attn_mask"], call["q"].shape[-2]
            allowed = torch.ones(n, 80, dtype=torch.bool).tril()
            assert mask.shape == (n, 80) and "is_causal" not in call
            if kind == "bool":
                assert mask.dtype == torch.bool and torch.equal(mask, allowed)
            else:
                assert mask.dtype == dtype and torch.equal(mask == 0, allowed)
                assert bool(torch.isneginf(mask[~allowed]).all())


def test_the_mask_is_not_counted_as_the_calls_memory():
    def ignores_the_mask(q, k, v, attn_mask):
        return sdpa_attention(q, k, v)

    masked = _sweep(ignores_the_mask, mask="float", metrics=["memory"])
    plain = _sweep(sdpa_attention, metrics=["memory"])
    assert masked.values("memory") == plain.values("memory")


def test_grouped_query_inputs_pass_enable_gqa_with_k_and_v_of_kv_heads():
    recorder = Recorder()
    _sweep(recorder, heads=8, kv_heads=1)  # multi-query attention: one k, v head
    call = recorder.calls[0]
    assert call["enable_gqa"] is True
    assert call["q"].shape == (1, 8, 64, 64) and call["k"].shape == call["v"].shape == (1, 1, 64, 64)


def test_a_training_step_computes_the_gradients_of_the_built_in_inputs():
    forward = _sweep(sdpa_attention, kv_heads=2)
    train = _sweep(sdpa_attention, kv_heads=2, mode="train")
    # The backward of attention does 2.5 times the forward's matmul work: the gradients of q, k and v.
    assert [t / f for t, f in zip(train.values("flops"), forward.values("flops"), strict=True)] == [3.5] * 3
    recorder = Recorder()
    _sweep(recorder, mode="train", mask="bool")
    call = recorder.calls[0]
    assert call["q"].requires_grad and call["k"].requires_grad and call["v"].requires_grad
    assert not call["attn_mask"].requires_grad


# The references take the same keywords as scaled_dot_product_attention.


@pytest.mark.parametrize("kind", ["causal", "bool", "float", "gqa", "cross"])
def test_naive_attention_agrees_with_sdpa_on_every_built_in_input(kind):
    kv_heads = 2 if kind == "gqa" else None
    q, k, v = make_qkv(40, heads=4, head_dim=16, kv_len=56 if kind == "cross" else None, kv_heads=kv_heads)
    kwargs: dict[str, Any] = {
        "causal": {"is_causal": True},
        "bool": {"attn_mask": make_mask("bool", 40)},
        "float": {"attn_mask": make_mask("float", 40)},
        "gqa": {"enable_gqa": True},
        "cross": {},
    }[kind]
    expected = F.scaled_dot_product_attention(q, k, v, **kwargs)
    torch.testing.assert_close(naive_attention(q, k, v, **kwargs), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(sdpa_attention(q, k, v, **kwargs), expected)


def test_linear_attention_repeats_the_kv_heads_of_grouped_query_inputs():
    q, k, v = make_qkv(32, heads=4, head_dim=16, kv_heads=2)
    repeated = linear_attention(q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1))
    torch.testing.assert_close(linear_attention(q, k, v, enable_gqa=True), repeated)
    with pytest.raises(ValueError, match="q has 4 heads and k, v have 2: grouped-query attention needs enable_gqa"):
        naive_attention(q, k, v)


# Dtypes.


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_inputs_run_with_masks_and_grouped_heads(dtype):
    recorder = Recorder()
    result = _sweep(recorder, dtype=dtype, mask="float", kv_heads=4, metrics=["flops", "memory"])
    assert result.environment.dtype == str(dtype).removeprefix("torch.")
    assert (
        {call["q"].dtype for call in recorder.calls} == {call["attn_mask"].dtype for call in recorder.calls} == {dtype}
    )


def _cpu_runs(dtype: torch.dtype) -> bool:
    """Whether both references run in ``dtype`` on the CPU (torch 2.13: float8 matmuls do, their attention not)."""
    q = torch.ones(1, 2, 8, 4).to(dtype)
    try:
        naive_attention(q, q, q)
        sdpa_attention(q, q, q)
    except (NotImplementedError, RuntimeError):
        return False
    return True


@pytest.mark.skipif(_cpu_runs(torch.float8_e4m3fn), reason="this torch runs attention in float8 on the CPU")
def test_a_dtype_the_device_cannot_run_skips_with_pytorchs_words(attn_scaling):
    with pytest.raises(DtypeUnavailable, match=r"dtype=torch.float8_e4m3fn cannot run sdpa_attention on cpu: .*"):
        run_sweep(SweepConfig(sizes=(64, 128, 256), metrics=("flops",), device="cpu", dtype=torch.float8_e4m3fn),
                  sdpa_attention)  # fmt: skip
    with pytest.raises(pytest.skip.Exception, match=r"not implemented for 'Float8_e4m3fn'"):
        attn_scaling(naive_attention, dtype=torch.float8_e4m3fn, **FAST, metrics=["flops"], device="cpu")


# The reports and the JSON name the axis.


def test_the_reports_and_the_json_name_the_axis_instead_of_n():
    result = _sweep(naive_attention, axis="batch", seq_len=64, sizes=[1, 2, 4], mask="bool", metrics=["flops"])
    lines = format_result(result, predict_n=65536)
    assert lines[1].endswith("float32, forward, batch swept at heads=8, head_dim=64, seq_len=64, bool attn_mask")
    assert "batch range" in lines[2] and not any(line.startswith("  predicted at") for line in lines)
    assert points_table(result, "flops").splitlines()[0].split()[:2] == ["batch", "flops"]
    page = render_html([result], {}, {})
    assert "<th>batch range</th>" in page and "<summary>flops: every batch</summary>" in page
    document = json.loads(json.dumps(result.to_json()))
    assert (document["axis"], document["mask"]) == ("batch", "bool")
    assert ScalingResult.from_json(document).to_json() == result.to_json()


def test_a_plot_labels_its_x_axis_with_the_axis_swept():
    pytest.importorskip("matplotlib")
    from pytest_attncomplexity.report.plot import make_figure

    result = _sweep(sdpa_attention, axis="head_dim", seq_len=64, sizes=[16, 32, 64])
    axes = make_figure([result], "t").axes[0]
    assert axes.get_xlabel() == "head dimension head_dim"
    assert any(label.startswith("fit: head_dim") for label in axes.get_legend_handles_labels()[1])


# Bad arguments.


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(axis="length"), "axis must be one of 'seq_len', 'kv_len', 'batch', 'heads', 'head_dim'; got 'length'"),
        (dict(axis="head_dim"), "axis='head_dim' needs seq_len=, the fixed sequence length of q"),
        (dict(seq_len=128), "seq_len=128 was given, but axis='seq_len' sweeps seq_len: its values are sizes="),
        (dict(axis="head_dim", seq_len=64, head_dim=32), "head_dim=32 was given, but axis='head_dim' sweeps head_dim"),
        (dict(axis="kv_len", seq_len=64, kv_len=64), "kv_len=64 was given, but axis='kv_len' sweeps kv_len"),
        (dict(kv_len=0), "kv_len must be a positive integer, got 0"),
        (dict(seq_len=64.0, axis="batch"), "seq_len must be a positive integer, got 64.0"),
        (dict(heads=8, kv_heads=3), "kv_heads=3 must divide the number of query heads, but heads=8 is not a multiple"),
        (dict(kv_heads=16), "kv_heads=16 must divide the number of query heads, but heads=8 is not a multiple"),
        (
            dict(axis="heads", seq_len=64, kv_heads=2),  # FAST sizes are 64, 128, 256 heads: all even
            None,
        ),
        (dict(axis="heads", seq_len=64, kv_heads=3), "but heads=64 (a size of axis='heads') is not a multiple of it"),
        (dict(mask="tril"), "mask must be one of 'causal', 'bool', 'float', or None for no mask; got 'tril'"),
        (
            dict(dtype=torch.int32),
            "dtype must be a torch.dtype of floating point such as torch.float16, got torch.int32",
        ),
        (
            dict(kv_len=64, inputs=lambda n: make_qkv(n)),
            "kv_len=64 shapes the built-in q, k, v, which inputs= replaces",
        ),
        (dict(mask="causal", inputs=lambda n: make_qkv(n)), "mask='causal' shapes the built-in q, k, v, which inputs="),
        (dict(fn=linear_attention, mask="bool"), "mask='bool' passes attn_mask= to fn, and linear_attention takes no"),
        (dict(fn=lambda q, k, v: q, kv_heads=2), "kv_heads=2 passes enable_gqa= to fn, and <lambda> takes no"),
    ],
)
def test_bad_input_settings_are_named_with_their_values(kwargs, message):
    fn = kwargs.pop("fn", sdpa_attention)
    if message is None:  # a valid combination, for contrast: it is measured
        assert _sweep(fn, **kwargs).exponent("flops") == pytest.approx(1.0, abs=0.02)
        return
    with pytest.raises(ValueError, match=_escaped(message)):
        _sweep(fn, **kwargs)


def test_settings_of_the_built_in_inputs_are_refused_with_setup():
    with pytest.raises(ValueError, match=_escaped("heads=4 shapes the built-in q, k, v, which setup= replaces")):
        run(setup=lambda n: lambda: None, heads=4, **FAST, metrics=["flops"], device="cpu")


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_a_float32_operator_missing_is_the_users_bug_not_a_dtype_skip():
    def buggy(q, k, v):
        return torch.bitwise_and(q, k)  # no float kernel: "not implemented for 'Float'"

    with pytest.raises(SweepError, match=r"not implemented for 'Float'"):
        _sweep(buggy, metrics=["flops"])

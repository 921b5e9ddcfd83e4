"""Which SDPA kernel ran at each N, and pinning a backend: real sweeps on the CPU (small N), and the report line."""

from __future__ import annotations

import json

import pytest
import torch

from pytest_attncomplexity import (
    BackendUnavailable,
    Environment,
    Point,
    ScalingResult,
    ScalingRunner,
    SweepConfig,
    linear_attention,
    make_qkv,
    naive_attention,
    run_sweep,
    sdpa_attention,
)
from pytest_attncomplexity.core.explain import kernel_line

from .inner import FAST, FAST_SIZES


def _sweep(fn, metrics=("flops",), *, inputs=None, label=None, **settings):
    return run_sweep(SweepConfig(device="cpu", metrics=metrics, **FAST, **settings), fn, inputs=inputs, label=label)


def causal_sdpa(q, k, v):
    return sdpa_attention(q, k, v, causal=True)


def _narrow_values(n):
    """q, k with head_dim 16 and v with 8: the CPU flash kernel needs one head_dim, so PyTorch falls back to math."""
    q, k, v = make_qkv(n, heads=2, head_dim=16)
    return q, k, v[..., :8].contiguous()


# Three ways the kernels are read: from the CPU memory profile, around the FLOP count, from one more call.
@pytest.mark.parametrize("metrics", [["memory"], ["flops"], ["time"], ["time", "memory", "flops"]])
def test_causal_sdpa_names_the_cpu_flash_kernel_at_every_n_whatever_the_metrics(metrics):
    result = _sweep(causal_sdpa, metrics)
    assert result.kernels == {n: ("flash (CPU)",) for n in FAST_SIZES}
    line = kernel_line(result)
    assert line is not None and not line.changes
    assert line.text == "SDPA kernel: flash (CPU) at every N"


def test_the_same_call_pinned_to_math_names_math_and_the_pin():
    result = _sweep(causal_sdpa, ["memory"], sdpa_backend="math")
    assert result.kernels == {n: ("math",) for n in FAST_SIZES}
    assert result.environment.sdpa_backend == "math"
    line = kernel_line(result)
    assert line is not None and line.text == "SDPA kernel: math at every N (pinned: math)"


def test_a_call_that_falls_back_names_the_math_path():
    result = _sweep(sdpa_attention, ["flops"], inputs=_narrow_values)
    assert set(result.kernels.values()) == {("math",)}


@pytest.mark.parametrize("fn", [naive_attention, linear_attention])
def test_attention_without_sdpa_reports_no_kernel(fn):
    result = _sweep(fn, ["memory"])
    assert result.kernels == {n: () for n in FAST_SIZES}
    assert kernel_line(result) is None


def test_a_training_step_names_its_kernel_once():
    # forward and backward are two operators of the same kernel
    assert set(_sweep(causal_sdpa, ["flops"], mode="train").kernels.values()) == {("flash (CPU)",)}


def test_a_kernel_that_changes_between_sizes_is_flagged():
    def narrows_from_128(q, k, v):
        return sdpa_attention(q, k, v[..., :32].contiguous() if q.shape[-2] >= 128 else v)

    result = _sweep(narrows_from_128, ["flops"])
    line = kernel_line(result)
    assert line is not None and line.changes
    assert line.text == "SDPA kernel: flash (CPU) at N=64, math at N=128..256: changes between sizes"


def test_the_pin_holds_for_every_call_and_is_lifted_after():
    flash_enabled = []

    def noting(q, k, v):
        flash_enabled.append(torch.backends.cuda.flash_sdp_enabled())
        return sdpa_attention(q, k, v)

    before = torch.backends.cuda.flash_sdp_enabled()
    _sweep(noting, ["time", "memory", "flops"], sdpa_backend="math")
    assert len(flash_enabled) > 3 * len(FAST_SIZES)  # first calls, FLOPs, memory and the timing rounds
    assert not any(flash_enabled)
    assert torch.backends.cuda.flash_sdp_enabled() == before
    assert _sweep(sdpa_attention).kernels[64] == ("flash (CPU)",)


def test_a_pinned_backend_that_cannot_run_the_case_gives_pytorchs_reason():
    with pytest.raises(BackendUnavailable) as refused:
        _sweep(sdpa_attention, ["flops"], sdpa_backend="flash", inputs=_narrow_values, label="narrow")
    message = str(refused.value)
    assert message.startswith("sdpa_backend='flash' cannot run narrow on cpu: ")
    assert "Flash attention requires q,k,v to have the same last dimension" in message  # PyTorch's own words
    assert "Triggered internally" not in message
    assert isinstance(refused.value.__cause__, RuntimeError)


@pytest.mark.parametrize(("backend", "kernel"), [("efficient", "memory-efficient"), ("cudnn", "cuDNN")])
def test_a_cuda_only_backend_pinned_on_the_cpu_says_so(backend, kernel):
    with pytest.raises(BackendUnavailable, match=f"PyTorch has no {kernel} attention kernel for the CPU"):
        _sweep(causal_sdpa, ["memory"], sdpa_backend=backend)


def test_a_backend_that_stops_running_at_some_n_ends_the_sweep_there_as_skipped():
    def narrows_from_256(q, k, v):
        return sdpa_attention(q, k, v[..., :32].contiguous() if q.shape[-2] >= 256 else v)

    result = _sweep(narrows_from_256, ["flops"], sdpa_backend="flash", label="narrows")
    assert result.halt is not None and (result.halt.n, result.halt.status) == (256, "skipped")
    assert result.halt.reason.startswith("sdpa_backend='flash' cannot run narrows on cpu: ")
    assert result.sizes("flops") == (64, 128)
    assert result.kernels == {64: ("flash (CPU)",), 128: ("flash (CPU)",)}


@pytest.mark.parametrize("backend", ["fast", "MATH", 1])
def test_an_unknown_backend_is_named(backend):
    message = f"sdpa_backend must be one of 'math', 'flash', 'efficient', 'cudnn', or None.*got {backend!r}"
    with pytest.raises(ValueError, match=message):
        ScalingRunner()(sdpa_attention, sdpa_backend=backend, **FAST)


def _synthetic(kernels: dict[int, tuple[str, ...]], backend: str | None = None) -> ScalingResult:
    env = Environment("cuda:0", "a GPU", "2.13.0", 0, "float16", "forward", sdpa_backend=backend)
    points = {"memory": tuple(Point(n, (float(n),)) for n in (256, 512, 1024, 2048))}
    return ScalingResult("sdpa", env, points, nodeid="t.py::test", kernels=kernels)


def test_the_line_groups_consecutive_sizes_and_names_several_kernels_of_one_call():
    result = _synthetic(
        {256: ("math",), 512: ("math",), 1024: ("flash", "math"), 2048: ("memory-efficient",)}, backend=None
    )
    line = kernel_line(result)
    assert line is not None and line.changes
    assert line.text == (
        "SDPA kernel: math at N=256..512, flash + math at N=1024, memory-efficient at N=2048: changes between sizes"
    )
    assert kernel_line(_synthetic({})) is None  # a result read from a file written before kernels were recorded


def test_kernels_and_the_pin_survive_the_json_round_trip():
    result = _synthetic({256: ("cuDNN",), 512: ("cuDNN",), 1024: (), 2048: ("math",)}, backend="cudnn")
    document = json.loads(json.dumps(result.to_json()))
    assert document["kernels"] == {"256": ["cuDNN"], "512": ["cuDNN"], "1024": [], "2048": ["math"]}
    assert document["sdpa_backend"] == "cudnn"
    again = ScalingResult.from_json(document)
    assert again == result and again.to_json() == result.to_json()
    del document["kernels"], document["sdpa_backend"]  # written before they were recorded
    older = ScalingResult.from_json(document)
    assert older.kernels == {} and older.environment.sdpa_backend is None

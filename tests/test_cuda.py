"""The CUDA paths, on a real GPU; skipped with the reason where there is none (CI never has one)."""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import linear_attention, naive_attention, sdpa_attention

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SIZES = [1024, 2048, 4096, 8192]


def test_memory_and_flops_exponents_on_the_gpu(attn_scaling):
    naive = attn_scaling(naive_attention, sizes=SIZES, metrics=["memory", "flops"], device="cuda")
    fused = attn_scaling(sdpa_attention, sizes=SIZES, metrics=["memory", "flops"], device="cuda", dtype=torch.float16)
    linear = attn_scaling(linear_attention, sizes=SIZES, metrics=["memory", "flops"], device="cuda")
    assert naive.environment.device.startswith("cuda")
    naive.assert_exponent("memory", 2, tol=0.15)
    fused.assert_exponent("memory", 1, tol=0.15)
    linear.assert_exponent("memory", 1, tol=0.15)
    for result, flops in ((naive, 2), (fused, 2), (linear, 1)):
        assert result.exponent("flops") == pytest.approx(flops, abs=0.02)


def test_time_on_the_gpu_uses_events_and_reads_quadratic_at_large_n(attn_scaling):
    result = attn_scaling(naive_attention, sizes=SIZES, metrics=["time"], device="cuda", time_budget=1.0)
    assert all(len(p.samples) >= 5 for p in result.points["time"])
    result.assert_exponent("time", 2, tol=0.3)


def test_train_mode_on_the_gpu(attn_scaling):
    result = attn_scaling(
        sdpa_attention,
        sizes=SIZES,
        metrics=["memory", "flops"],
        device="cuda",
        dtype=torch.bfloat16,
        mode="train",
    )
    result.assert_exponent("memory", 1, tol=0.15)
    result.assert_exponent("flops", 2, tol=0.02)


def test_sweep_gives_the_gpu_memory_back(attn_scaling):
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    attn_scaling(naive_attention, sizes=[512, 1024, 2048], device="cuda", time_budget=0.2)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before


def test_auto_picks_the_gpu(attn_scaling):
    result = attn_scaling(sdpa_attention, sizes=[256, 512, 1024], metrics=["flops"])
    assert result.environment.device.startswith("cuda")
    assert result.environment.device_name == torch.cuda.get_device_name()


def test_gpu_out_of_memory_is_data_and_memory_comes_back(attn_scaling):
    # fp32 N×N scores for 8 heads: 8 GiB at N=16384, 32 GiB at 32768, 128 GiB at 65536 (more than any one GPU).
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    sizes = [2048, 4096, 8192, 16384, 32768, 65536, 131072]
    result = attn_scaling(naive_attention, sizes=sizes, metrics=["memory", "time"], device="cuda", time_budget=0.5)
    assert result.halt is not None and result.halt.status == "oom"
    assert "out of memory" in result.halt.reason.lower()
    assert len(result.sizes("memory")) >= 3
    result.assert_exponent("memory", 2, tol=0.15)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before
    after = attn_scaling(sdpa_attention, sizes=[1024, 2048, 4096], metrics=["memory"], device="cuda")
    assert after.halt is None

"""Real measurements on the CPU, through the public API (small N: these check behaviour, not precision)."""

from __future__ import annotations

import time

import pytest
import torch

from pytest_attncomplexity import (
    ScalingRunner,
    SweepConfig,
    SweepError,
    linear_attention,
    make_qkv,
    naive_attention,
    run_sweep,
    sdpa_attention,
)
from pytest_attncomplexity.measure.flops import count_flops
from pytest_attncomplexity.measure.memory import peak_memory

CPU = torch.device("cpu")
HEADS, HEAD_DIM = 8, 64


def _flops(fn, n):
    q, k, v = make_qkv(n)
    with torch.no_grad():
        return count_flops(lambda: fn(q, k, v))


def test_flops_of_naive_attention_are_the_two_matmuls():
    assert _flops(naive_attention, 128) == 4 * HEADS * 128**2 * HEAD_DIM


def test_flops_of_cpu_sdpa_are_counted_like_the_cuda_kernels():
    # PyTorch counts 0 for the CPU flash kernel; the plugin registers the formula of the CUDA kernels.
    assert _flops(sdpa_attention, 128) == 4 * HEADS * 128**2 * HEAD_DIM


def test_flops_of_linear_attention_grow_with_n_not_n_squared():
    expected = 4 * HEADS * 128 * HEAD_DIM**2 + 2 * HEADS * 128 * HEAD_DIM
    assert _flops(linear_attention, 128) == expected


def test_flops_of_a_training_step_include_the_backward_pass():
    q, k, v = make_qkv(128, requires_grad=True)
    forward = count_flops(lambda: sdpa_attention(q, k, v))
    step = count_flops(lambda: sdpa_attention(q, k, v).sum().backward())
    assert step == forward * 3.5  # the backward of attention does 2.5 times the forward's matmul work


def test_peak_memory_sees_the_score_matrix_and_not_the_inputs():
    n = 512
    q, k, v = make_qkv(n)
    with torch.no_grad():
        naive = peak_memory(lambda: naive_attention(q, k, v), CPU)
        fused = peak_memory(lambda: sdpa_attention(q, k, v), CPU)
    scores = HEADS * n * n * 4
    assert scores <= naive < 4 * scores
    output = HEADS * n * HEAD_DIM * 4
    assert output <= fused < scores


def test_peak_memory_counts_buffers_freed_before_the_end():
    def scratch() -> torch.Tensor:
        big = torch.empty(4 * 2**20, dtype=torch.uint8)
        big.fill_(1)
        del big
        return torch.zeros(16)

    assert 4 * 2**20 <= peak_memory(scratch, CPU) < 5 * 2**20


def test_sweep_measures_every_metric_at_every_size(fast_sizes):
    config = SweepConfig(device="cpu", sizes=fast_sizes, time_budget=0.2, min_rounds=3)
    result = run_sweep(config, naive_attention)
    assert result.metrics == ("time", "memory", "flops")
    for metric in result.metrics:
        assert result.sizes(metric) == tuple(fast_sizes)
        assert all(v > 0 for v in result.values(metric))
    assert all(len(p.samples) >= 3 for p in result.points["time"])
    assert result.exponent("flops") == pytest.approx(2.0, abs=1e-9)
    assert result.environment.device == "cpu"
    assert result.environment.threads == 1
    assert result.label == "naive_attention"


def test_cpu_thread_count_is_restored_after_the_sweep(fast_sizes):
    before = torch.get_num_threads()
    run_sweep(
        SweepConfig(device="cpu", sizes=fast_sizes, metrics=["time", "memory"], time_budget=0.1, min_rounds=3),
        sdpa_attention,
    )
    assert torch.get_num_threads() == before


def test_memory_that_is_zero_everywhere_says_what_to_check(fast_sizes):
    from pytest_attncomplexity import FitError

    result = run_sweep(SweepConfig(device="cpu", sizes=fast_sizes, metrics=["memory"]), setup=lambda n: lambda: None)
    assert result.values("memory") == (0.0, 0.0, 0.0)
    with pytest.raises(FitError, match="allocated nothing on the measured device: with setup=, put the module"):
        result.fit("memory")


def test_memory_of_inputs_made_by_setup_is_not_counted():
    def setup(n):
        held = torch.ones(n, 1024)  # made by setup: not the call's memory
        return lambda: held.sum()

    result = run_sweep(SweepConfig(device="cpu", sizes=[256, 512, 1024], metrics=["memory"]), setup=setup)
    assert max(result.values("memory")) < 4096


def test_train_mode_memory_includes_what_autograd_saves():
    sizes = [128, 256, 512]
    forward = run_sweep(SweepConfig(device="cpu", sizes=sizes, metrics=["memory"]), naive_attention)
    train = run_sweep(SweepConfig(device="cpu", sizes=sizes, metrics=["memory"], mode="train"), naive_attention)
    for f, t in zip(forward.values("memory"), train.values("memory"), strict=True):
        assert t > 1.5 * f


def test_custom_inputs_and_keywords():
    def inputs(n):
        q, k, v = make_qkv(n, heads=2, head_dim=16)
        return {"q": q, "k": k, "v": v}

    result = run_sweep(
        SweepConfig(device="cpu", sizes=[64, 128, 256], metrics=["flops"]), sdpa_attention, inputs=inputs
    )
    assert result.values("flops")[0] == 4 * 2 * 64**2 * 16
    assert result.environment.dtype == "user inputs"


def test_half_precision_inputs_are_what_the_call_gets_and_take_half_the_memory():
    seen = []

    def noting_the_dtype(q, k, v):
        seen.append(q.dtype)
        return naive_attention(q, k, v)

    sizes = [256, 512, 1024]  # the N×N scores dominate the peak from here on
    single = run_sweep(SweepConfig(device="cpu", sizes=sizes, metrics=["memory"]), naive_attention)
    half = run_sweep(SweepConfig(device="cpu", sizes=sizes, metrics=["memory"], dtype=torch.bfloat16), noting_the_dtype)
    assert set(seen) == {torch.bfloat16}
    assert half.environment.dtype == "bfloat16"
    assert half.exponent("memory") > 1.5
    assert 0.4 <= half.values("memory")[-1] / single.values("memory")[-1] <= 0.6


def test_time_is_in_seconds_on_an_absolute_scale():
    # A call that spins for N microseconds: a unit slip, or a division by the loop count too many or too few (calls
    # under 1 ms are looped: 4 times at N=250), would be off by 4 or more, far outside a factor of 2.
    def spinning_for_n_microseconds(n):
        def call():
            end = time.perf_counter() + n * 1e-6
            while time.perf_counter() < end:
                pass

        return call

    result = run_sweep(
        SweepConfig(device="cpu", sizes=[250, 500, 1000, 2000], metrics=["time"], time_budget=0.3, min_rounds=3),
        setup=spinning_for_n_microseconds,
    )
    for n, seconds in zip(result.sizes("time"), result.values("time"), strict=True):
        assert 0.5 * n * 1e-6 <= seconds <= 2 * n * 1e-6, (n, seconds)
    assert result.exponent("time") == pytest.approx(1.0, abs=0.2)


def test_the_thread_counts_are_the_ones_the_call_runs_with(fast_sizes):
    seen = []

    def noting_the_threads(q, k, v):
        seen.append(torch.get_num_threads())
        return sdpa_attention(q, k, v)

    other = torch.get_num_threads() + 1  # not what torch runs with anyway
    timed = SweepConfig(device="cpu", sizes=fast_sizes, metrics=["time"], threads=other, time_budget=0.1)
    run_sweep(timed, noting_the_threads)
    assert set(seen) == {other}
    seen.clear()
    run_sweep(SweepConfig(device="cpu", sizes=fast_sizes, metrics=["memory"], threads=other), noting_the_threads)
    # At each N the first call runs with the timing threads, the profiled call with one: the profiler sees the
    # allocations of the calling thread only.
    assert seen == [other, 1] * len(fast_sizes)


def test_a_training_step_through_setup_starts_without_gradients_at_every_call(fast_sizes):
    layer = torch.nn.Linear(64, 64)

    def setup(n):
        x = torch.randn(n, 64)
        return lambda: layer(x)

    result = run_sweep(SweepConfig(device="cpu", sizes=fast_sizes, metrics=["memory"], mode="train"), setup=setup)
    assert layer.weight.grad is None and layer.bias.grad is None  # nothing accumulates from one call to the next
    # Each call allocates the parameters' gradients afresh, as the first step of a training run does.
    assert min(result.values("memory")) >= (layer.weight.numel() + layer.bias.numel()) * 4


@pytest.mark.parametrize("interrupted_call", [1, 2, 12], ids=["first call", "memory profile", "timing round"])
def test_ctrl_c_inside_a_sweep_leaves_the_process_as_it_was(interrupted_call, fast_sizes):
    import gc
    import os
    import resource

    threads, limit, stderr = torch.get_num_threads(), resource.getrlimit(resource.RLIMIT_AS), os.fstat(2)
    calls = []

    def interrupted(q, k, v):
        calls.append(q.shape[-2])
        if len(calls) == interrupted_call:
            raise KeyboardInterrupt
        return sdpa_attention(q, k, v)

    other = threads + 1  # a count the sweep must set and then restore
    config = SweepConfig(device="cpu", sizes=fast_sizes, metrics=["memory", "time"], threads=other, time_budget=0.1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, interrupted)
    assert gc.isenabled()
    assert torch.get_num_threads() == threads
    assert resource.getrlimit(resource.RLIMIT_AS) == limit
    assert (os.fstat(2).st_dev, os.fstat(2).st_ino) == (stderr.st_dev, stderr.st_ino)


def test_an_inconclusive_time_verdict_is_measured_again_for_real():
    # Each N spins for N microseconds, except that the calls built first for the smallest N spin twice as long: the
    # first sweep reads about 0.83 with a wide interval (inconclusive for 1 ± 0.1). The re-measure builds its calls
    # anew, and their clean samples, more numerous than the first ones, carry the value.
    built = []

    def setup(n):
        built.append(n)
        factor = 2.0 if n == 500 and built.count(500) == 1 else 1.0

        def call():
            end = time.perf_counter() + factor * n * 1e-6
            while time.perf_counter() < end:
                pass

        return call

    result = ScalingRunner()(setup=setup, sizes=[500, 1000, 2000, 4000], metrics=["time"], time_budget=0.3)
    first = len(result.points["time"][0].samples)
    verdict = result.check("time", 1, tol=0.1)
    assert built == [500, 1000, 2000, 4000] * 2  # the retimer ran a real sweep of every measured size
    assert result.remeasured == 1 and len(result.points["time"][0].samples) > 2 * first
    assert verdict.outcome == "pass"
    assert [v.outcome for v in result.checks] == ["pass"]


def test_fn_raising_at_some_n_names_that_n():
    def breaks_at_128(q, k, v):
        if q.shape[-2] == 128:
            raise RuntimeError("kernel not built for this length")
        return sdpa_attention(q, k, v)

    with pytest.raises(SweepError, match=r"breaks_at_128 failed at N=128: RuntimeError: kernel not built") as failure:
        run_sweep(SweepConfig(device="cpu", sizes=[64, 128, 256], metrics=["flops", "memory"]), breaks_at_128)
    assert isinstance(failure.value.__cause__, RuntimeError)
    kept = failure.value.result  # what was measured before the failing N is not lost
    assert kept.sizes("flops") == (64,)
    assert [(p.n, p.status) for p in kept.points["memory"]] == [(64, "ok"), (128, "error"), (256, "not run")]
    assert kept.halt.n == 128


def test_nan_in_the_output_is_reported_with_its_n():
    def nan_from_256(q, k, v):
        out = sdpa_attention(q, k, v)
        return out * float("nan") if q.shape[-2] >= 256 else out

    with pytest.raises(
        SweepError,
        match=r"nan_from_256 failed at N=256: NonFiniteOutput: the output has 131072 NaN or Inf value\(s\) out of",
    ):
        run_sweep(SweepConfig(device="cpu", sizes=[64, 128, 256], metrics=["flops"]), nan_from_256)


def _allocation_fails_from(limit: int):
    """Attention that asks the real CPU allocator for an impossible buffer once N reaches ``limit``."""

    def attention(q, k, v):
        if q.shape[-2] >= limit:
            torch.empty(2**62, dtype=torch.uint8)
        return naive_attention(q, k, v)

    return attention


def test_out_of_memory_ends_the_sweep_and_the_fit_uses_the_points_below():
    sizes = [64, 128, 256, 512, 1024]
    result = run_sweep(
        SweepConfig(device="cpu", sizes=sizes, metrics=["memory", "flops", "time"], time_budget=0.1, min_rounds=3),
        _allocation_fails_from(1024),
    )
    assert result.halt is not None and result.halt.n == 1024 and result.halt.status == "oom"
    assert "can't allocate memory" in result.halt.reason
    for metric in ("memory", "flops", "time"):
        assert result.sizes(metric) == (64, 128, 256, 512)
        assert result.points[metric][-1].status == "oom"
    assert result.exponent("flops") == pytest.approx(2.0)
    document = result.to_json()
    assert document["halt"]["n"] == 1024
    assert document["metrics"]["memory"]["excluded"][0]["status"] == "oom"


def test_out_of_memory_with_too_few_points_below_is_a_clear_fit_error():
    from pytest_attncomplexity import FitError

    result = run_sweep(
        SweepConfig(device="cpu", sizes=[64, 128, 256, 512], metrics=["memory"]), _allocation_fails_from(256)
    )
    assert [p.status for p in result.points["memory"]] == ["ok", "ok", "oom", "not run"]
    with pytest.raises(
        FitError, match=r"memory has 2 measured point\(s\) before the sweep ended \(out of memory at N=256"
    ):
        result.fit("memory")


def test_failing_sweep_still_reaches_the_session_record():
    kept = []
    runner = ScalingRunner(record=kept.append, nodeid="t.py::test")
    with pytest.raises(SweepError):
        runner(lambda q, k, v: 1 / 0 if q.shape[-2] > 64 else q, sizes=[64, 128, 256], metrics=["flops"], device="cpu")
    assert len(kept) == 1 and kept[0].nodeid == "t.py::test" and kept[0].halt.n == 128


def test_train_mode_without_gradients_says_what_to_do(fast_sizes):
    def no_grad_inputs(n):
        return make_qkv(n)

    with pytest.raises(SweepError, match="mode='train' needs an output"):
        run_sweep(
            SweepConfig(device="cpu", sizes=fast_sizes, metrics=["memory"], mode="train"),
            sdpa_attention,
            inputs=no_grad_inputs,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of fn"),
        ({"fn": 3}, "fn must be callable, got 3"),
        ({"fn": sdpa_attention, "setup": lambda n: None}, "give exactly one of fn"),
        ({"setup": lambda n: 5}, r"setup\(64\) must return a zero-argument callable, got 5"),
        ({"fn": sdpa_attention, "dtype": "float16"}, "dtype must be a torch.dtype"),
    ],
)
def test_bad_call_arguments_are_named(kwargs, message):
    runner = ScalingRunner()
    with pytest.raises((ValueError, SweepError), match=message):
        runner(sizes=[64, 128, 256], metrics=["flops"], device="cpu", **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where there is no GPU")
def test_cuda_without_a_gpu_is_reported_as_unavailable(fast_sizes):
    from pytest_attncomplexity import DeviceUnavailable

    with pytest.raises(DeviceUnavailable, match="CUDA is not available"):
        ScalingRunner()(sdpa_attention, sizes=fast_sizes, metrics=["flops"], device="cuda")


def test_time_budget_stops_growing_n_and_reports_the_rest_as_skipped():
    result = run_sweep(
        SweepConfig(device="cpu", sizes=[64, 128, 256, 512, 1024], metrics=["flops"], max_time=1e-9), naive_attention
    )
    assert [p.status for p in result.points["flops"]] == ["ok", "skipped", "skipped", "skipped", "skipped"]
    assert result.halt.n == 128
    assert "over the time budget of 1 ns (max_time= or --attn-max-time)" in result.points["flops"][1].reason


def test_memory_budget_skips_sizes_whose_predicted_peak_is_too_large():
    # Naive attention, 8 heads, fp32: about 0.3 MiB of scores at N=64, x4 per doubling; 3 MiB fits up to N=128.
    result = run_sweep(
        SweepConfig(device="cpu", sizes=[32, 64, 128, 256, 512], metrics=["flops"], max_memory="3MiB"),
        naive_attention,
    )
    assert result.sizes("flops") == (32, 64, 128)
    assert result.halt.status == "skipped" and result.halt.n == 256
    assert "over the memory budget of 3 MiB (max_memory= or --attn-max-memory)" in result.halt.reason
    assert result.metrics == ("flops",)  # memory was measured for the prediction, not reported


def test_budget_from_the_session_options():
    from pytest_attncomplexity.core.options import PluginOptions

    runner = ScalingRunner(PluginOptions(max_memory=3 * 2**20))
    result = runner(naive_attention, sizes=[32, 64, 128, 256], metrics=["memory"], device="cpu")
    assert result.halt is not None and result.halt.status == "skipped"

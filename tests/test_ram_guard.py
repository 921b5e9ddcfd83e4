"""The RAM guard: host readings, predictions, and real CPU sweeps against a smaller machine played through the one
function the guard reads availability from (``measure.host.available_memory``)."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap

import pytest
import torch

from pytest_attncomplexity import ScalingRunner, naive_attention, sdpa_attention
from pytest_attncomplexity.core.budget import predict_peak
from pytest_attncomplexity.core.config import SweepConfig, parse_ram_guard
from pytest_attncomplexity.core.options import PluginOptions
from pytest_attncomplexity.measure import host
from pytest_attncomplexity.measure.cgroup import cgroup_room
from pytest_attncomplexity.measure.estimate import estimate_host_peak, is_stateless, worst_case_bytes

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and sets RLIMIT_AS")
MiB, GiB = 2**20, 2**30


@pytest.fixture
def machine_with(monkeypatch: pytest.MonkeyPatch):
    """Make the guard see ``available`` bytes free, whatever this machine has."""

    def play(available: int) -> None:
        monkeypatch.setattr(host, "available_memory", lambda: host.Headroom(available, "a test's machine"))

    return play


@pytest.mark.parametrize(
    ("value", "share"),
    [(0.5, 0.5), ("0.25", 0.25), ("80%", 0.8), (1, 1.0), (True, 0.8), (False, None), (0, None), ("OFF ", None)],
)
def test_the_share_is_a_fraction_a_percentage_or_off(value, share):
    assert parse_ram_guard(value) == share


@pytest.mark.parametrize("value", [1.5, "-0.2", "lots", "200%", None])
def test_a_bad_share_names_itself(value):
    with pytest.raises(ValueError, match=r"ram_guard must be a share of the available memory in \(0, 1\]"):
        parse_ram_guard(value)


def test_the_share_from_the_ini_file_names_the_key():
    class Config:
        def getoption(self, name):
            return None

        def getini(self, name):
            return "half" if name == "attn_ram_guard" else ""

    with pytest.raises(ValueError, match=r"ini key attn_ram_guard must be a share .* got 'half'"):
        PluginOptions.from_pytest_config(Config())
    assert SweepConfig(sizes=(64, 128, 256)).ram_guard == 0.8
    assert SweepConfig(sizes=(64, 128, 256), ram_guard=False).ram_guard is None


def test_prediction_sees_the_growth_a_fixed_part_hides():
    # Peaks of a 1-layer BERT training step: local slopes 0.02, 1.26, 1.90; it took 138 MiB at N=2048 (the local
    # power law alone says 89) and 532 MiB at N=4096.
    bert = {256: 15.2 * MiB, 512: 15.4 * MiB, 1024: 37 * MiB, 2048: 138 * MiB}
    assert 138 * MiB <= predict_peak({n: bert[n] for n in (256, 512, 1024)}, 2048) <= 2 * 138 * MiB
    assert 532 * MiB <= predict_peak(bert, 4096) <= 1.2 * 532 * MiB
    # Pure power laws are extrapolated exactly, linear ones are not taken for quadratic.
    for k in (1, 2):
        law = {n: 3.0 * n**k for n in (256, 512, 1024, 2048)}
        assert predict_peak(law, 8192) == pytest.approx(3.0 * 8192**k)
    # Sizes need not be geometric, and a fixed part does not bend the extrapolation.
    for k in (1, 2):
        law = {n: 5e6 + 3.0 * n**k for n in (256, 512, 4096)}
        assert predict_peak(law, 8192) == pytest.approx(5e6 + 3.0 * 8192**k)
    # A step steeper than attention ever grows (allocator noise at small N) is not extrapolated as it is.
    assert predict_peak({256: 1e3, 512: 1e6}, 1024) == pytest.approx(1e6 * 2**3)


@linux_only
def test_host_readings_see_this_process():
    assert host.available_memory().bytes > 0
    with host.peak_growth() as growth:
        block = bytearray(200 * MiB)  # touched: resident
        del block
    assert 190 * MiB <= growth.bytes <= 260 * MiB  # the peak, though the block is gone again


@linux_only
def test_the_address_space_cap_refuses_what_would_not_fit_and_is_lifted_after():
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with host.address_space_cap(64 * MiB) as cap:
        assert cap is not None
        with pytest.raises(MemoryError):
            bytearray(512 * MiB)
        small = bytearray(4 * MiB)  # the process goes on allocating within the cap
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert len(small) == 4 * MiB


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("version", [1, 2])
def test_the_tightest_cgroup_limit_up_the_hierarchy_is_the_headroom(tmp_path, version):
    # A /proc/self of the process's own, and a cgroup file system with the limits on the parent of its cgroup.
    mount = tmp_path / "cgroup"
    fstype = "cgroup2 cgroup2 rw" if version == 2 else "cgroup cgroup rw,memory"
    controllers = "0::" if version == 2 else "4:memory:"
    _write(tmp_path / "proc" / "mountinfo", f"35 31 0:32 / {mount} rw,relatime - {fstype}\n")
    _write(tmp_path / "proc" / "cgroup", f"{controllers}/jobs/ci-run\n")
    limit, usage, stat = (
        ("memory.max", "memory.current", "inactive_file")
        if version == 2
        else ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    )
    no_limit = "max" if version == 2 else "9223372036854771712"
    _write(mount / "jobs" / "ci-run" / limit, f"{no_limit}\n")
    _write(mount / "jobs" / "ci-run" / usage, f"{1 * GiB}\n")
    _write(mount / "jobs" / limit, f"{4 * GiB}\n")
    _write(mount / "jobs" / usage, f"{3 * GiB}\n")
    _write(mount / "jobs" / "memory.stat", f"anon 1\n{stat} {512 * MiB}\n")  # page cache the kernel can reclaim

    assert cgroup_room(tmp_path / "proc") == (
        4 * GiB - (3 * GiB - 512 * MiB),
        f"cgroup limit 4 GiB of {mount / 'jobs'}",
    )


def test_no_cgroup_limit_means_no_cgroup_headroom(tmp_path):
    _write(tmp_path / "proc" / "mountinfo", "")
    _write(tmp_path / "proc" / "cgroup", "0::/\n")
    assert cgroup_room(tmp_path / "proc") is None


def test_a_mount_point_that_is_not_utf8_does_not_stop_the_reading(tmp_path):
    mount = tmp_path / "cgroup"
    mountinfo = f"36 31 0:40 / /mnt/donn\xe9es rw - ext4 /dev/sdb rw\n35 31 0:32 / {mount} rw - cgroup2 cgroup2 rw\n"
    _write(tmp_path / "proc" / "cgroup", "0::/job\n")
    (tmp_path / "proc" / "mountinfo").write_bytes(mountinfo.encode("latin-1"))
    _write(mount / "job" / "memory.max", f"{2 * GiB}\n")
    _write(mount / "job" / "memory.current", f"{1 * GiB}\n")
    assert cgroup_room(tmp_path / "proc") == (1 * GiB, f"cgroup limit 2 GiB of {mount / 'job'}")


def test_only_calls_that_keep_nothing_are_run_on_fake_tensors():
    assert is_stateless(naive_attention)
    assert is_stateless(functools.partial(sdpa_attention, causal=True))
    assert is_stateless(torch.nn.functional.scaled_dot_product_attention)
    assert not is_stateless(lambda q, k, v: naive_attention(q, k, v))
    assert not is_stateless(torch.nn.MultiheadAttention(16, 2))


def test_the_fake_tensor_estimate_matches_what_the_call_takes():
    from pytest_attncomplexity.attention import make_qkv

    def build(heads=16, n=1024):
        q, k, v = make_qkv(n, heads=heads)
        return lambda: naive_attention(q, k, v)

    estimate = estimate_host_peak(build)
    # Inputs (3 × 4 MiB), scores and their scaled copy (2 × 64 MiB), output (4 MiB): 144 MiB, nothing allocated.
    assert estimate == pytest.approx(144 * MiB, rel=0.05)
    assert estimate_host_peak(lambda: lambda: torch.ones(3).nonzero().item()) is None  # data-dependent: no estimate


@pytest.mark.parametrize("train", [False, True], ids=["forward", "train"])
def test_the_worst_case_that_spares_the_estimate_bounds_every_reference(train):
    from pytest_attncomplexity import linear_attention
    from pytest_attncomplexity.attention import make_qkv

    bound = worst_case_bytes(batch=2, heads=4, n=512, head_dim=32, itemsize=4, train=train)
    for fn in (naive_attention, sdpa_attention, linear_attention):

        def build(fn=fn):
            q, k, v = make_qkv(512, batch=2, heads=4, head_dim=32, requires_grad=train)

            def step():
                out = fn(q, k, v)
                if train:
                    out.sum().backward()

            return step

        estimate = estimate_host_peak(build)
        assert estimate is not None and 0 < estimate <= bound, fn.__name__


@linux_only
def test_the_first_size_that_cannot_fit_is_skipped_before_anything_is_allocated(machine_with):
    machine_with(8 * GiB)
    with host.peak_growth() as growth:
        r = ScalingRunner()(naive_attention, sizes=[65536, 131072, 262144], metrics=["memory"], device="cpu")
    assert growth.bytes < 512 * MiB  # one call at N=65536 would take 256 GiB
    assert r.halt is not None and r.halt.status == "skipped" and r.halt.n == 65536
    assert "(worked out on fake tensors) does not fit the RAM guard: 80% of the 8 GiB available now" in r.halt.reason
    assert [p.status for p in r.points["memory"]] == ["skipped"] * 3


@linux_only
def test_a_size_predicted_not_to_fit_is_skipped_with_the_figures(machine_with):
    machine_with(1 * GiB)  # 819 MiB for the sweep: N=2048 takes about 600 MiB with 16 heads, N=4096 four times that
    r = ScalingRunner()(naive_attention, sizes=[256, 512, 1024, 2048, 4096], metrics=["memory"], heads=16, device="cpu")
    assert r.sizes("memory") == (256, 512, 1024, 2048)
    assert r.halt is not None and (r.halt.n, r.halt.status) == (4096, "skipped")
    assert r.halt.reason.startswith("predicted host memory ")
    assert "at N=4096 (extrapolated from the sizes measured) does not fit the RAM guard: 80% of the 1 GiB" in (
        r.halt.reason
    )
    r.assert_exponent("memory", 2, tol=0.1)


@linux_only
def test_what_the_prediction_cannot_see_fails_cleanly_under_the_cap(machine_with):
    # A lambda is user code: not estimated on fake tensors, so the first N runs, under the address-space cap.
    import resource

    machine_with(1 * GiB)
    before = resource.getrlimit(resource.RLIMIT_AS)
    r = ScalingRunner()(
        lambda q, k, v: naive_attention(q, k, v),
        sizes=[8192, 16384, 32768],
        heads=16,
        metrics=["memory"],
        device="cpu",
        label="wrapped naive",
    )
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert r.halt is not None and (r.halt.n, r.halt.status) == (8192, "oom")
    assert "can't allocate memory" in r.halt.reason
    assert r.halt.reason.endswith(
        "(the RAM guard capped the process's growth at 819 MiB, 80% of the 1 GiB available now (a test's machine))"
    )


@linux_only
def test_with_the_guard_off_nothing_is_skipped_or_capped(machine_with, fast_sizes):
    import resource

    machine_with(1 * MiB)
    limits = []

    def naive_noting_the_limit(q, k, v):
        limits.append(resource.getrlimit(resource.RLIMIT_AS))
        return naive_attention(q, k, v)

    r = ScalingRunner()(naive_noting_the_limit, sizes=fast_sizes, metrics=["memory"], device="cpu", ram_guard="off")
    assert r.halt is None and r.sizes("memory") == tuple(fast_sizes)
    assert set(limits) == {resource.getrlimit(resource.RLIMIT_AS)}


@linux_only
def test_one_size_is_no_base_for_the_next_when_steps_are_coarse(machine_with):
    # The first N's resident peak holds what the process takes once (about 80 MB of profiler and FLOP counter
    # here); extrapolated as N² from N=256 to 2048 that alone would be 5 GiB, and SDPA takes 20 MB there.
    machine_with(5 * GiB)
    r = ScalingRunner()(sdpa_attention, sizes=[256, 2048, 4096], metrics=["memory", "flops"], device="cpu")
    assert r.halt is None and r.sizes("memory") == (256, 2048, 4096)


@linux_only
def test_threads_a_sweep_starts_under_the_cap_do_not_end_the_process():
    # libgomp ends the process when it cannot start a thread, and a thread's stack must fit under the cap: the
    # sweep starts its threads before it sets the cap. A subprocess, since the failure is the process's end.
    script = textwrap.dedent(
        """
        from pytest_attncomplexity import ScalingRunner, naive_attention
        from pytest_attncomplexity.measure import host

        host.available_memory = lambda: host.Headroom(300 * 2**20, "a small machine")
        r = ScalingRunner()(
            lambda q, k, v: naive_attention(q, k, v), sizes=[256, 512, 1024], metrics=["time", "flops"],
            time_budget=0.2, threads=64, device="cpu",
        )
        print("measured", r.sizes("time"))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "measured (256, 512, 1024)" in run.stdout


def test_a_function_that_caches_what_it_makes_still_gets_real_tensors(machine_with):
    # The worst case at its first N (32 heads, N=512: 134 MB of scores) does not fit in 80 MiB, so the guard wants
    # an estimate; run on fake tensors, the cache would hand a fake mask to the real call. It takes about 20 MB.
    machine_with(100 * MiB)

    @functools.cache
    def causal_mask(n):
        return torch.ones(n, n, dtype=torch.bool).tril()

    def masked(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(q.shape[-2]))

    r = ScalingRunner()(masked, sizes=[512, 640, 768], heads=32, metrics=["memory"], device="cpu")
    assert r.halt is None
    assert type(causal_mask(512)) is torch.Tensor


def test_xdist_workers_share_the_memory_they_all_see(machine_with, monkeypatch):
    from pytest_attncomplexity.measure.guard import RamGuard

    machine_with(8 * GiB)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    guard = RamGuard(0.8)
    assert guard.room().bytes == int(0.2 * 8 * GiB)
    assert guard.fits(1.5 * GiB) and not guard.fits(1.7 * GiB)
    reason = guard.before(4096, {1024: 0.1 * GiB, 2048: 0.5 * GiB})
    assert "does not fit the RAM guard: 20% (80% / 4 xdist workers) of the 8 GiB available now" in reason


@linux_only
@pytest.mark.parametrize(
    ("error", "status", "names_the_cap"),
    [
        (OSError(12, "Cannot allocate memory"), "oom", True),  # ENOMEM: mapping a checkpoint, say
        (RuntimeError("can't start new thread"), "error", True),
        (KeyError("no kernel for 128"), "error", False),
    ],
)
def test_failures_under_the_cap_name_it_where_it_may_be_the_cause(machine_with, error, status, names_the_cap):
    from pytest_attncomplexity import SweepError

    machine_with(8 * GiB)

    def fails_at_128(q, k, v):
        if q.shape[-2] == 128:
            raise error
        return sdpa_attention(q, k, v)

    try:
        halt = ScalingRunner()(fails_at_128, sizes=[64, 128, 256], metrics=["flops"], device="cpu").halt
    except SweepError as failure:
        halt = failure.result.halt
    assert halt is not None and (halt.n, halt.status) == (128, status)
    assert ("the RAM guard capped the process's growth at 6.4 GiB" in halt.reason) is names_the_cap

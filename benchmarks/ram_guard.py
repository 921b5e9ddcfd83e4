"""What the RAM guard costs, and whether it saves the session it is there for.

    python benchmarks/ram_guard.py [--repeats 5] [--session]

1. Cost. The guard's steps timed one by one (the availability reading, the resident-peak reset and readings around
   each N, the address-space cap around each attempt, the first-N estimate on fake tensors), and whole sweeps
   (SDPA and naive attention, memory and FLOPs at N=256..2048; these metrics take the same time in every run, so a
   difference is the guard's) with the guard on and off, alternating, median of --repeats.
2. --session: the session of issue 8 as a new user runs it, in a subprocess: SDPA's memory, then naive attention
   with 16 heads at N=2048..16384 (about 34 GB at N=16384). Without the guard the kernel's OOM killer ended this
   session on a 24 GiB machine (exit 137, no report). Prints the exit status, the seconds, the skip and the JSON.
   Needs about 10 GB free: naive attention at N=8192 takes 8.6 GB.
Results are written down in docs/memory.md with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import torch

from pytest_attncomplexity import ScalingRunner, naive_attention, sdpa_attention
from pytest_attncomplexity.attention import make_qkv
from pytest_attncomplexity.core.config import DEFAULT_RAM_GUARD
from pytest_attncomplexity.measure import host
from pytest_attncomplexity.measure.device import start_thread_pool
from pytest_attncomplexity.measure.estimate import estimate_host_peak
from pytest_attncomplexity.measure.guard import RamGuard

SIZES = [256, 512, 1024, 2048]


def per_call_us(step: Callable[[], object], repeats: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1e6


def guard_steps() -> None:
    guard = RamGuard(DEFAULT_RAM_GUARD)

    def growth() -> None:
        with host.peak_growth():
            pass

    def cap() -> None:
        room = guard.room()
        with host.address_space_cap(room.bytes if room else None):
            pass

    print("guard steps, µs per call:")
    print(f"  available_memory (MemAvailable + cgroup files)  {per_call_us(host.available_memory):8.1f}")
    before_us = per_call_us(lambda: guard.before(4096, {1024: 1e8, 2048: 4e8}))
    print(f"  guard.before (prediction + availability)       {before_us:8.1f}")
    print(f"  peak_growth around a block (reset + 2 readings) {per_call_us(growth):8.1f}")
    print(f"  address-space cap on and off (with availability) {per_call_us(cap):8.1f}")
    print(f"  starting the thread pool (1 thread), before a cap {per_call_us(lambda: start_thread_pool(1), 200):8.1f}")
    start = time.perf_counter()
    from torch._subclasses.fake_tensor import FakeTensorMode

    FakeTensorMode()  # the first fake tensor mode of a session imports torch._dynamo

    print(f"  first FakeTensorMode of a session (imports)   {(time.perf_counter() - start) * 1e3:8.1f} ms")
    for fn in (naive_attention, sdpa_attention):

        def build(fn: Callable[..., torch.Tensor] = fn) -> Callable[[], object]:
            q, k, v = make_qkv(256)
            return lambda: fn(q, k, v)

        times = []
        for _ in range(20):
            start = time.perf_counter()
            estimate_host_peak(build)
            times.append(time.perf_counter() - start)
        print(f"  first-N estimate, {fn.__name__} N=256            {statistics.median(times) * 1e3:8.1f} ms")


def sweeps_on_and_off(repeats: int) -> None:
    runner = ScalingRunner()
    print(f"whole sweeps, N={SIZES[0]}..{SIZES[-1]}, memory and FLOPs, median of {repeats} (guard on / off, s):")
    for fn in (sdpa_attention, naive_attention):
        seconds: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeats):
            for guarded in (True, False):
                start = time.perf_counter()
                runner(fn, sizes=SIZES, metrics=["memory", "flops"], device="cpu", ram_guard=guarded)
                seconds[guarded].append(time.perf_counter() - start)
        on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
        print(f"  {fn.__name__:16s} {on:.3f} / {off:.3f}  ({(on - off) * 1e3:+.1f} ms)")


ISSUE_SESSION = """
from pytest_attncomplexity import naive_attention, sdpa_attention

def test_first(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["memory"], device="cpu")

def test_big(attn_scaling):
    attn_scaling(naive_attention, sizes=[2048, 4096, 8192, 16384], heads=16, metrics=["memory"], device="cpu")
"""


def issue_session() -> None:
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "test_issue.py").write_text(textwrap.dedent(ISSUE_SESSION))
        start = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--attn-scaling", "--attn-scaling-json=o.json"],
            cwd=directory,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        print(f"the session of issue 8: exit status {run.returncode} in {seconds:.1f} s")
        for line in run.stdout.splitlines():
            if "sweep ended" in line or "passed" in line or "failed" in line or line.startswith("  memory "):
                print("  " + line.strip())
        document = json.loads(Path(directory, "o.json").read_text())
        print(f"  JSON: run {document['run']}")
        for result in document["results"]:
            memory = result["metrics"]["memory"]
            print(
                f"  JSON: {result['nodeid']} {result['outcome']}: sizes {memory['sizes']}, exponent "
                f"{memory['exponent']:.3f}, excluded {[(e['n'], e['status']) for e in memory['excluded']]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--session", action="store_true", help="also run the session of issue 8 (needs ~10 GB)")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"available now: {host.available_memory()}")
    guard_steps()
    sweeps_on_and_off(args.repeats)
    if args.session:
        issue_session()


if __name__ == "__main__":
    main()

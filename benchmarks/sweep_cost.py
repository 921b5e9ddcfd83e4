"""Where the wall time of one sweep goes: the user's calls by what they were for, and what is not a user's call.

    python benchmarks/sweep_cost.py [--sweeps 3] [--sizes 256:4096] [--metrics time] [--fn sdpa|naive|linear]

The function under test is wrapped to add up the seconds spent inside it, and the sweep's steps are wrapped to add
up theirs (building the inputs, the FLOP count, the memory profile, an extra profiled call to see the SDPA kernel
where one is made, the timing); the first call at each N is what those leave of measure_size. Run it on a checkout
from before a change too (put it first on PYTHONPATH): a step that the checkout does not have shows as absent.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from pytest_attncomplexity import ScalingRunner, linear_attention, naive_attention, sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes
from pytest_attncomplexity.sweep import run as run_module
from pytest_attncomplexity.sweep import size as size_module

FUNCTIONS: dict[str, Callable[..., object]] = {
    "sdpa": sdpa_attention,
    "naive": naive_attention,
    "linear": linear_attention,
}
STEPS = {  # module, function: what it is for
    (size_module, "build_call"): "build the inputs",
    (size_module, "count_flops_by_operator"): "FLOP count (1 call per N)",
    (size_module, "peak_memory_and_operators"): "memory profile (1 call per N)",
    (size_module, "observe_kernels"): "a call to see the SDPA kernel",  # checkouts from before 2026-12-06
    (run_module, "time_calls"): "timing: plan and rounds",
    (run_module, "measure_size"): "measure_size, all of it",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--sizes", default="256:4096")
    parser.add_argument("--metrics", default="time")
    parser.add_argument("--fn", choices=sorted(FUNCTIONS), default="sdpa")
    args = parser.parse_args()
    sizes, metrics, fn = parse_sizes(args.sizes), args.metrics.split(","), FUNCTIONS[args.fn]
    spent: collections.Counter[str] = collections.Counter()
    for (module, name), what in STEPS.items():
        if hasattr(module, name):
            setattr(module, name, _adding_up(getattr(module, name), what, spent))
    inside: collections.Counter[str] = collections.Counter()
    measured = _adding_up(fn, "calls", inside)

    import pytest_attncomplexity

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; package at "
        f"{os.path.dirname(pytest_attncomplexity.__file__)}; {args.fn}, N={sizes}, metrics={metrics}, "
        f"{args.sweeps} sweeps; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    runner = ScalingRunner()
    runner(measured, sizes=sizes[:3], metrics=metrics, device="cpu")  # imports, the profiler's first start
    rows: dict[str, list[float]] = collections.defaultdict(list)
    for sweep in range(args.sweeps):
        spent.clear()
        inside.clear()
        start = time.perf_counter()
        runner(measured, sizes=sizes, metrics=metrics, device="cpu", seed=sweep)
        wall = time.perf_counter() - start
        steps = dict(spent)
        whole = steps.pop("measure_size, all of it", 0.0)
        parts = sum(v for k, v in steps.items() if k != "timing: plan and rounds")
        steps["first call at each N, output check"] = whole - parts
        steps["outside the steps (fits, checks, ...)"] = wall - whole - steps.get("timing: plan and rounds", 0.0)
        for what, seconds in steps.items():
            rows[what].append(seconds)
        rows["wall"].append(wall)
        rows["inside the user's calls"].append(inside["calls"])
        rows["wall / inside"].append(wall / inside["calls"])
    print()
    print("| step | seconds per sweep (median, range) |")
    print("| --- | --- |")
    for what, values in rows.items():
        print(f"| {what} | {statistics.median(values):.3f} ({min(values):.3f}..{max(values):.3f}) |")


def _adding_up(function: Callable[..., Any], what: str, spent: collections.Counter[str]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[what] += time.perf_counter() - start

    return wrapper


if __name__ == "__main__":
    main()

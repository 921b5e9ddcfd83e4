"""Seconds per sweep and how often the time verdicts are right: timed to the budget, and stopped once decided.

    python benchmarks/sequential_timing.py [--runs 20] [--sizes 256:4096] [--conditions quiet,busy]
                                           [--modes budget,decided] [--json out.json]

Three claims, each checked --runs times per mode and condition, N = --sizes, the default settings otherwise
(1 thread, 3 s time budget, CPU):

- SDPA time 2 ± 0.5 and linear attention time 1 ± 0.4, both correct: every fail is a false failure (inconclusive
  verdicts are counted apart);
- SDPA time 1 ± 0.3, wrong: every pass is a missed detection.

Modes: ``budget`` measures without a claim known up front, then checks (ScalingResult.check, re-measure included:
the path of assert_exponent); ``decided`` passes the claim as ``expect=`` so the timing stops once the samples
decide it. The runs of the two modes alternate, so the machine's drift does not favour either. Conditions: ``quiet``,
and ``busy`` with one more process spinning on a core beside the test.

Each sweep is timed on the wall, and the function under test is wrapped to add up the seconds spent inside it:
wall / inside is what the sweep costs beyond the user's calls; the timing's own seconds (rounds) come from the
result. With ``--modes budget`` the script also runs on a checkout from before sequential timing existed (put it
first on PYTHONPATH), which gives the "before" figures.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from _series import busy_neighbour

from pytest_attncomplexity import ScalingResult, ScalingRunner, linear_attention, sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes
from pytest_attncomplexity.core.verdict import InconclusiveExponent

CASES: tuple[tuple[str, Callable[..., object], float, float, bool], ...] = (
    ("SDPA 2 ± 0.5 (correct)", sdpa_attention, 2.0, 0.5, True),
    ("linear 1 ± 0.4 (correct)", linear_attention, 1.0, 0.4, True),
    ("SDPA 1 ± 0.3 (wrong)", sdpa_attention, 1.0, 0.3, False),
)


class Inside:
    """``fn`` wrapped to add up the seconds spent inside it (a perf_counter pair per call: well under 1 µs)."""

    def __init__(self, fn: Callable[..., object]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.__name__ = getattr(fn, "__name__", "fn")

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def one_run(mode: str, fn: Callable[..., object], expected: float, tol: float, sizes: list[int], seed: int) -> dict:
    kept: list[ScalingResult] = []
    runner = ScalingRunner(record=kept.append)
    wrapped = Inside(fn)
    common: dict[str, Any] = dict(sizes=sizes, metrics=["time"], device="cpu", seed=seed, label=wrapped.__name__)
    start = time.perf_counter()
    if mode == "budget":
        result = runner(wrapped, **common)
        outcome = str(result.check("time", expected, tol).outcome)
    else:
        try:
            runner(wrapped, expect={"time": (expected, tol)}, **common)
            outcome = "pass"
        except InconclusiveExponent:
            outcome = "inconclusive"
        except AssertionError:
            outcome = "fail"
        result = kept[-1]
    wall = time.perf_counter() - start
    timing = getattr(result, "timing", None)
    return {
        "outcome": outcome,
        "exponent": result.exponent("time"),
        "wall": wall,
        "inside": wrapped.seconds,
        "timing_seconds": timing.seconds if timing is not None else None,
        "rounds": timing.rounds if timing is not None else None,
        "interval": list(timing.interval) if timing is not None and timing.interval is not None else None,
        "remeasured": result.remeasured,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="256:4096")
    parser.add_argument("--conditions", default="quiet,busy")
    parser.add_argument("--modes", default="budget,decided")
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    modes = args.modes.split(",")
    import pytest_attncomplexity

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; package at "
        f"{os.path.dirname(pytest_attncomplexity.__file__)}; N={sizes}, {args.runs} runs per claim, mode and "
        f"condition; default settings (1 thread, 3 s time budget); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    ScalingRunner()(sdpa_attention, sizes=[256, 512, 1024], metrics=["time"], device="cpu")  # imports, first fits
    runs: dict[tuple[str, str, str], list[dict]] = collections.defaultdict(list)
    for condition in args.conditions.split(","):
        with busy_neighbour(condition == "busy"):
            for name, fn, expected, tol, _ in CASES:
                for run in range(args.runs):
                    for mode in modes if run % 2 == 0 else modes[::-1]:
                        runs[(condition, name, mode)].append(one_run(mode, fn, expected, tol, sizes, seed=run))
    print()
    print("| condition | claim | mode | pass | fail | inconclusive | s/sweep (median, range) | rounds | wall / inside "
          "calls | exponents |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (condition, name, mode), results in runs.items():
        counts = collections.Counter(r["outcome"] for r in results)
        walls = [r["wall"] for r in results]
        rounds = [r["rounds"] for r in results if r["rounds"] is not None]
        shown_rounds = f"{min(rounds)}..{max(rounds)}" if rounds else "-"
        ratio = statistics.median(r["wall"] / r["inside"] for r in results)
        exponents = [r["exponent"] for r in results]
        print(
            f"| {condition} | {name} | {mode} | {counts['pass']} | {counts['fail']} | {counts['inconclusive']} | "
            f"{statistics.median(walls):.2f} ({min(walls):.2f}..{max(walls):.2f}) | {shown_rounds} | {ratio:.3f} | "
            f"{min(exponents):.3f}..{max(exponents):.3f} |"
        )
    print()
    for (condition, name, mode), results in runs.items():
        intervals = [r["interval"] for r in results if r.get("interval")]
        if intervals:
            lows, highs = [i[0] for i in intervals], [i[1] for i in intervals]
            print(
                f"{condition}, {name}, {mode}: decided in {len(intervals)} of {len(results)} runs; the interval that "
                f"decided ran from {min(lows):.3f}..{max(lows):.3f} to {min(highs):.3f}..{max(highs):.3f}"
            )
    if len(modes) == 2:
        print()
        for condition in args.conditions.split(","):
            for name, *_ in CASES:
                fixed = statistics.median(r["wall"] for r in runs[(condition, name, modes[0])])
                decided = statistics.median(r["wall"] for r in runs[(condition, name, modes[1])])
                print(f"{condition}, {name}: {modes[1]} / {modes[0]} = {decided / fixed:.3f} of the wall time")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({" / ".join(key): value for key, value in runs.items()}, out, indent=1)


if __name__ == "__main__":
    main()

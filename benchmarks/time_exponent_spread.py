"""Spread of the time exponent over repeated sweeps, and seconds per sweep, quiet and beside a busy process.

    python benchmarks/time_exponent_spread.py [--sizes 256:4096] [--sweeps 5] [--threads 1] [--budgets 1,2,4,8]

The busy neighbour is one extra process spinning on a core, what a shared CI runner often has beside a test.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch
from _series import busy_neighbour, time_sweeps

from pytest_attncomplexity import sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256:4096")
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budgets", default="1,2,4,8", help="time budgets per sweep to compare, in seconds")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    budgets = [float(b) for b in args.budgets.split(",")]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; SDPA B1 H8 D64 float32, "
        f"N={sizes}, {args.threads} thread(s), {args.sweeps} sweeps per row"
    )
    print(f"{'condition':<15} {'budget':>6}  {'median':>6}  {'spread':>6}  {'s/sweep':>7}  exponents")
    for busy in (False, True):
        with busy_neighbour(busy):
            for budget in budgets:
                exponents, seconds, _ = time_sweeps(
                    sdpa_attention, sizes, args.sweeps, device="cpu", threads=args.threads, time_budget=budget
                )
                print(
                    f"{'busy neighbour' if busy else 'quiet':<15} {budget:>6g}  {statistics.median(exponents):>6.3f}"
                    f"  {max(exponents) - min(exponents):>6.3f}  {statistics.median(seconds):>7.1f}  "
                    f"{[round(e, 3) for e in exponents]}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

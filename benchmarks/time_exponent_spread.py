"""Spread of the time exponent over repeated sweeps, and seconds per sweep, quiet and beside a busy process.

    python benchmarks/time_exponent_spread.py [--sizes 256:4096] [--sweeps 5] [--threads 1] [--time-budget 3]

The busy neighbour is one extra process spinning on a core, what a shared CI runner often has beside a test.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from _series import time_sweeps

from pytest_attncomplexity import sdpa_attention
from pytest_attncomplexity.sizes import parse_sizes


@contextmanager
def busy_neighbour(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256:4096")
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--time-budget", type=float, default=3.0)
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; SDPA B1 H8 D64 "
        f"float32, N={sizes}, {args.threads} thread(s), time budget {args.time_budget} s, {args.sweeps} sweeps"
    )
    for busy in (False, True):
        with busy_neighbour(busy):
            exponents, seconds, _ = time_sweeps(
                sdpa_attention, sizes, args.sweeps, device="cpu", threads=args.threads, time_budget=args.time_budget
            )
        print(
            f"{'busy neighbour' if busy else 'quiet':<15} exponents {[round(e, 3) for e in exponents]}  "
            f"median {statistics.median(exponents):.3f}  spread (max-min) {max(exponents) - min(exponents):.3f}  "
            f"seconds per sweep {statistics.median(seconds):.1f} (max {max(seconds):.1f})"
        )


if __name__ == "__main__":
    main()

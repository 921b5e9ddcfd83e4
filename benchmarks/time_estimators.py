"""Which statistic of a point's time samples gives the steadiest exponent: the same raw samples, several estimators.

    python benchmarks/time_estimators.py [--sizes 256:4096] [--sweeps 10] [--budget 3]

Each sweep times SDPA once (1 thread, the plugin's own rounds); every estimator is then applied to the same
samples, so the comparison is free of the machine's drift between runs. Quiet, then beside a busy process.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Callable, Sequence

import torch
from _series import busy_neighbour

from pytest_attncomplexity import ScalingRunner, sdpa_attention
from pytest_attncomplexity.core.fit import fit_power_law
from pytest_attncomplexity.core.sizes import parse_sizes

Estimator = Callable[[Sequence[float]], float]


def _quantile(share: float) -> Estimator:
    def estimate(samples: Sequence[float]) -> float:
        ordered = sorted(samples)
        return ordered[round(share * (len(ordered) - 1))]

    return estimate


ESTIMATORS: dict[str, Estimator] = {
    "median": statistics.median,
    "lower quartile": _quantile(0.25),
    "minimum": min,
    "faster-half mean": lambda s: statistics.fmean(sorted(s)[: max(1, len(s) // 2)]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256:4096")
    parser.add_argument("--sweeps", type=int, default=10)
    parser.add_argument("--budget", type=float, default=3.0)
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; SDPA B1 H8 D64 float32, "
        f"N={sizes}, 1 thread, budget {args.budget:g} s, {args.sweeps} sweeps per condition"
    )
    print(f"{'condition':<15} {'estimator':<17} {'median':>6}  {'sd':>6}  {'spread':>6}")
    runner = ScalingRunner()
    for busy in (False, True):
        with busy_neighbour(busy):
            sweeps = [
                runner(sdpa_attention, sizes=sizes, metrics=["time"], device="cpu", time_budget=args.budget, seed=s)
                for s in range(args.sweeps)
            ]
        for name, estimate in ESTIMATORS.items():
            exponents = []
            for result in sweeps:
                points = result.points["time"]
                exponents.append(fit_power_law([p.n for p in points], [estimate(p.samples) for p in points]).exponent)
            print(
                f"{'busy neighbour' if busy else 'quiet':<15} {name:<17} {statistics.median(exponents):>6.3f}  "
                f"{statistics.stdev(exponents):>6.4f}  {max(exponents) - min(exponents):>6.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

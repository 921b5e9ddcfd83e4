"""How often the verdicts are right: false failures of correct claims, and detection of an injected regression.

    python benchmarks/verdict_reliability.py [--runs 20] [--sizes 256:2048]

1. Correct claims about SDPA on the CPU (time 2 ± 0.5, memory 1 ± 0.2), each checked --runs times with one busy
   process spinning beside the test: every fail or inconclusive verdict is a false alarm.
2. The same memory claim on an injected regression, SDPA given an explicit N×N boolean mask built inside the
   call (what a model does when it passes a mask instead of is_causal): every pass is a missed regression.
Verdicts go through ScalingResult.check, the same path as assert_exponent, re-measure included.
Results are written down in docs/precision.md with the machine and date.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time

import torch
import torch.nn.functional as F
from _series import busy_neighbour

from pytest_attncomplexity import ScalingRunner, sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes


def masked_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    n = q.shape[-2]
    mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="256:2048")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    runner = ScalingRunner()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; N={sizes}, "
        f"{args.runs} runs each, default settings (1 thread, 3 s time budget)"
    )
    with busy_neighbour(True):
        verdicts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        exponents: dict[str, list[float]] = collections.defaultdict(list)
        start = time.perf_counter()
        for run in range(args.runs):
            result = runner(sdpa_attention, sizes=sizes, metrics=["time", "memory"], device="cpu", seed=run)
            for metric, expected, tol in (("time", 2, 0.5), ("memory", 1, 0.2)):
                verdict = result.check(metric, expected, tol)
                verdicts[f"SDPA {metric} {expected} ± {tol}"][verdict.outcome] += 1
                exponents[f"SDPA {metric} {expected} ± {tol}"].append(verdict.fit.exponent)
        correct_seconds = (time.perf_counter() - start) / args.runs
        start = time.perf_counter()
        for run in range(args.runs):
            result = runner(masked_sdpa, sizes=sizes, metrics=["memory"], device="cpu", seed=run)
            verdict = result.check("memory", 1, 0.2)
            verdicts["masked SDPA memory 1 ± 0.2 (regression)"][verdict.outcome] += 1
            exponents["masked SDPA memory 1 ± 0.2 (regression)"].append(verdict.fit.exponent)
        regression_seconds = (time.perf_counter() - start) / args.runs
    for claim, counts in verdicts.items():
        values = exponents[claim]
        print(
            f"{claim:<42} pass {counts['pass']:>2}  fail {counts['fail']:>2}  inconclusive {counts['inconclusive']:>2}"
            f"   exponent {min(values):.3f} .. {max(values):.3f}"
        )
    print(f"seconds per run: correct claims {correct_seconds:.1f}, regression {regression_seconds:.1f}")


if __name__ == "__main__":
    main()

"""Exponents and seconds per sweep of the reference attentions on a CUDA GPU (figures for docs/gpu.md).

python benchmarks/gpu_scaling.py [--sizes 1024:16384] [--sweeps 5]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _series import time_sweeps

from pytest_attncomplexity import ScalingRunner, linear_attention, naive_attention, sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1024:16384")
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--time-budget", type=float, default=1.0)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here")
    sizes = parse_sizes(args.sizes)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, sizes {sizes}")
    runner = ScalingRunner()
    cases = [
        ("naive fp32", naive_attention, torch.float32),
        ("naive fp16", naive_attention, torch.float16),
        ("sdpa fp32", sdpa_attention, torch.float32),
        ("sdpa fp16", sdpa_attention, torch.float16),
        ("linear fp32", linear_attention, torch.float32),
    ]
    for name, fn, dtype in cases:
        static = runner(fn, sizes=sizes, metrics=["memory", "flops"], device="cuda", dtype=dtype)
        exponents, seconds, last = time_sweeps(
            fn, sizes, args.sweeps, device="cuda", dtype=dtype, time_budget=args.time_budget
        )
        times = ", ".join(f"{n}: {v * 1e3:.3f} ms" for n, v in zip(sizes, last.values("time"), strict=True))
        print(
            f"{name:<12} memory {static.exponent('memory'):.3f} ({static.fit('memory').complexity}), "
            f"flops {static.exponent('flops'):.3f}, time {statistics.median(exponents):.3f} "
            f"(spread {max(exponents) - min(exponents):.3f} over {args.sweeps} sweeps, "
            f"{statistics.median(seconds):.2f} s per sweep)"
        )
        print(f"{'':<12} local slopes of time {[round(s, 2) for s in last.fit('time').local_slopes]}; {times}")
        mem = ", ".join(f"{n}: {v / 2**20:.1f} MiB" for n, v in zip(sizes, static.values("memory"), strict=True))
        print(f"{'':<12} peak memory {mem}")


if __name__ == "__main__":
    main()

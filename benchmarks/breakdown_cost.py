"""What the breakdown by operator costs a sweep: seconds per sweep with it (the default) and without it
(ATTNCOMPLEXITY_BREAKDOWN=off), for the counted metrics alone (memory and FLOPs, where the extra work is) and for a
whole sweep with time at the default budget.

    python benchmarks/breakdown_cost.py [--sizes 256:2048] [--sweeps 3]

The breakdown comes from the CPU memory profile the sweep makes anyway; what it adds is the profiler recording shapes
and Python frames, and reading the event tree. Results are written down in docs/breakdown.md with the machine and
date.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from pytest_attncomplexity import ScalingRunner, sdpa_attention
from pytest_attncomplexity.core.sizes import parse_sizes
from pytest_attncomplexity.sweep.size import BREAKDOWN_SWITCH


def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    return scores.softmax(dim=-1) @ v


def causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return sdpa_attention(q, k, v, is_causal=True)


def bert_setup(sizes: list[int]) -> Callable[[int], Callable[[], object]] | None:
    try:
        import transformers
    except ImportError:
        return None
    config = transformers.BertConfig(
        hidden_size=128,
        num_attention_heads=2,
        intermediate_size=512,
        num_hidden_layers=1,
        max_position_embeddings=max(sizes),
        attn_implementation="eager",
    )

    def setup(n: int) -> Callable[[], object]:
        model = transformers.BertModel(config).eval()
        ids = torch.randint(0, config.vocab_size, (1, n))
        return lambda: model(input_ids=ids).last_hidden_state

    return setup


def seconds(run: Callable[[], object], sweeps: int) -> float:
    taken = []
    for _ in range(sweeps):
        start = time.perf_counter()
        run()
        taken.append(time.perf_counter() - start)
    return statistics.median(taken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256:2048")
    parser.add_argument("--sweeps", type=int, default=3)
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    runner = ScalingRunner()
    subjects: dict[str, dict[str, object]] = {"naive": {"fn": naive}, "sdpa causal": {"fn": causal}}
    setup = bert_setup(sizes)
    if setup is not None:
        subjects["BERT eager (1 layer)"] = {"setup": setup}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; N={sizes}, CPU")
    print(f"{'subject':<22} {'metrics':<20} {'without':>8} {'with':>8} {'added':>8}")
    runner(naive, sizes=sizes[:3], metrics=["memory", "flops"], device="cpu")  # the profiler's first use: 1 s or so
    for name, call in subjects.items():
        for metrics in (["memory", "flops"], ["time", "memory", "flops"]):
            figures = {}
            for switch in ("off", "on"):
                os.environ[BREAKDOWN_SWITCH] = switch

                def sweep(call: dict[str, object] = call, metrics: list[str] = metrics) -> object:
                    return runner(sizes=sizes, metrics=metrics, device="cpu", **call)  # type: ignore[arg-type]

                figures[switch] = seconds(sweep, args.sweeps)
            added = figures["on"] - figures["off"]
            print(
                f"{name:<22} {','.join(metrics):<20} {figures['off']:>7.2f}s {figures['on']:>7.2f}s {added:>+7.2f}s"
            )
    os.environ.pop(BREAKDOWN_SWITCH, None)


if __name__ == "__main__":
    main()

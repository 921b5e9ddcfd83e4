"""Does the baseline gate cry wolf, and does it catch what it is there for?

    python benchmarks/compare_reliability.py [--runs 20] [--detect-runs 5]

A project with two tests, each sweeping time and memory at N=256..2048 with the default budget (SDPA with
``is_causal=True``, and naive attention), saves a baseline on a quiet machine. Then, beside a busy neighbour (one
process spinning on a core, what a shared CI runner often has), it compares with the gate CI would use,
``exponent:0.3,time-value:20%,memory-value:10%``:
1. --runs runs of the unchanged code: every failed test is a false regression (regressed or inconclusive).
2. --detect-runs runs with each call made twice (a 2× constant-factor slowdown): detected when the time value of
   both tests regressed.
3. --detect-runs runs of SDPA with an explicit N×N float mask built inside the call: detected when its memory
   exponent regressed.
Each run is a fresh pytest session in a subprocess, as in CI. Results are written down in docs/gating.md with the
machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

import torch
from _series import busy_neighbour

from pytest_attncomplexity.measure.device import device_name

PROJECT = """
import os

import torch
import torch.nn.functional as F

from pytest_attncomplexity import naive_attention

REPEAT = 2 if os.environ.get("SLOWDOWN") else 1


def sdpa_causal(q, k, v):
    for _ in range(REPEAT):
        if os.environ.get("EXPLICIT_MASK"):
            n = q.shape[-2]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.full((n, n), float("-inf")).triu(1))
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return out


def naive(q, k, v):
    for _ in range(REPEAT):
        out = naive_attention(q, k, v)
    return out


def test_sdpa_causal(attn_scaling):
    attn_scaling(sdpa_causal, sizes=[256, 512, 1024, 2048], metrics=["time", "memory"])


def test_naive(attn_scaling):
    attn_scaling(naive, sizes=[256, 512, 1024, 2048], metrics=["time", "memory"])
"""
GATE = "exponent:0.3,time-value:20%,memory-value:10%"


def session(path: Path, *args: str, **env: str) -> tuple[int, float, dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--attn-device=cpu", *args],
        cwd=path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    document = json.loads((path / "r.json").read_text()) if (path / "r.json").exists() else {}
    return done.returncode, seconds, document


def margins(document: dict) -> dict[str, list[float]]:
    """Per 'test metric exponent' the change, and per 'test metric value' the ratio: how far from the rules."""
    found: dict[str, list[float]] = {}
    for result in document.get("results", []):
        test = result["nodeid"].split("::")[-1]
        comparison = result.get("comparison") or {}
        for c in comparison.get("exponents", []):
            found.setdefault(f"{test} {c['metric']} exponent change", []).append(c["delta"])
        for c in comparison.get("values", []):
            found.setdefault(f"{test} {c['metric']} value ratio", []).append(c["ratio"])
    return found


def changes(document: dict) -> dict[str, list[str]]:
    """Per test: 'metric kind: change' for every judged change."""
    found: dict[str, list[str]] = {}
    for result in document.get("results", []):
        comparison = result.get("comparison") or {}
        lines = [f"{c['metric']} exponent: {c['change']}" for c in comparison.get("exponents", [])]
        lines += [f"{c['metric']} value: {c['change']}" for c in comparison.get("values", [])]
        found[result["nodeid"].split("::")[-1]] = lines
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--detect-runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.node()}: {device_name(torch.device('cpu'))}, {os.cpu_count()} cores, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "test_gate.py").write_text(textwrap.dedent(PROJECT))
        code, seconds, _ = session(path, "--attn-scaling-save=main")
        print(f"baseline saved (quiet): exit {code}, {seconds:.1f} s")
        compare = ("--attn-scaling-compare-fail=" + GATE, "--attn-scaling-json=r.json")
        with busy_neighbour(True):
            for label, env, runs in (
                ("unchanged", {}, args.runs),
                ("2x slower", {"SLOWDOWN": "1"}, args.detect_runs),
                ("N×N mask", {"EXPLICIT_MASK": "1"}, args.detect_runs),
            ):
                tally: Counter[str] = Counter()
                spread: dict[str, list[float]] = {}
                failed_runs, durations = 0, []
                for _ in range(runs):
                    code, seconds, document = session(path, *compare, **env)
                    durations.append(seconds)
                    failed_runs += code != 0
                    for test, lines in changes(document).items():
                        tally.update(f"{test}: {line}" for line in lines)
                    for name, numbers in margins(document).items():
                        spread.setdefault(name, []).extend(numbers)
                print(f"\n{label}: {runs} runs beside a busy process, {failed_runs} failed, "
                      f"{min(durations):.1f}..{max(durations):.1f} s per run")
                for line, count in sorted(tally.items()):
                    print(f"  {count:>3} x {line}")
                for name, numbers in sorted(spread.items()):
                    print(f"  {name}: {min(numbers):+.3f} .. {max(numbers):+.3f}")


if __name__ == "__main__":
    main()

"""Spread of time exponents measured by pytest-xdist workers at once, with and without the timing lock, against a
serial run; and what each session took.

    python benchmarks/xdist_spread.py [--sizes 256:2048] [--tests 4] [--repeats 2] [--workers 2]

Each session runs the same test file: ``--tests`` time sweeps of naive attention and as many of SDPA (B1 H8 D64
float32, 1 thread, the default budget of 3 s, each with its own shuffle seed), plus a memory sweep in each test as
real suites have. Three conditions, each ``--repeats`` times, interleaved: serial (no -n), ``-n WORKERS`` with
the lock (the default), and ``-n WORKERS`` with ATTNCOMPLEXITY_TIMING_LOCK=off. Spread = max − min of the
exponents of one function in one session. "load" is the machine's 1-minute load average when the session ended:
over the session's own workers, other processes were running (this script does not start any). Results are written
down in docs/precision.md with the machine and date.
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
from pathlib import Path

import torch

from pytest_attncomplexity.core.sizes import parse_sizes

TESTS = """
import pytest
from pytest_attncomplexity import naive_attention, sdpa_attention

SIZES = {sizes}

@pytest.mark.parametrize("seed", range({tests}))
@pytest.mark.parametrize("fn", [naive_attention, sdpa_attention], ids=["naive", "sdpa"])
def test_sweep(attn_scaling, fn, seed):
    attn_scaling(fn, sizes=SIZES, metrics=["time", "memory"], device="cpu", seed=seed)
"""

CONDITIONS = {
    "serial": ([], {}),
    "-n {workers}, lock": (["-n", "{workers}"], {}),
    "-n {workers}, no lock": (["-n", "{workers}"], {"ATTNCOMPLEXITY_TIMING_LOCK": "off"}),
}


def run_session(directory: Path, args: list[str], env: dict[str, str]) -> tuple[dict[str, list[float]], float, float]:
    """Time exponents per function, the session's wall time, and the load average when it ended."""
    out = directory / "results.json"
    out.unlink(missing_ok=True)
    environment = {**os.environ, **env}
    environment.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--attn-scaling-json={out}", *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    load = os.getloadavg()[0]
    if done.returncode != 0:
        raise SystemExit(f"session {args} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    exponents: dict[str, list[float]] = {}
    for result in json.loads(out.read_text())["results"]:
        exponents.setdefault(result["label"], []).append(result["metrics"]["time"]["exponent"])
    return exponents, seconds, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256:2048")
    parser.add_argument("--tests", type=int, default=4, help="sweeps of each function per session")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; B1 H8 D64 float32, "
        f"N={list(sizes)}, 1 thread, budget 3 s, {args.tests} sweeps of each function per session"
    )
    print(f"{'condition':<16} {'function':<16} {'median':>6}  {'spread':>6}  {'session s':>9}  {'load':>4}  exponents")
    with tempfile.TemporaryDirectory(prefix="xdist_spread-") as name:
        directory = Path(name)
        (directory / "test_spread.py").write_text(textwrap.dedent(TESTS.format(sizes=list(sizes), tests=args.tests)))
        for _ in range(args.repeats):
            for condition, (flags, env) in CONDITIONS.items():
                label = condition.format(workers=args.workers)
                exponents, seconds, load = run_session(directory, [f.format(workers=args.workers) for f in flags], env)
                for function, values in sorted(exponents.items()):
                    print(
                        f"{label:<16} {function:<16} {statistics.median(values):>6.3f}  "
                        f"{max(values) - min(values):>6.3f}  {seconds:>9.1f}  {load:>4.1f}  "
                        f"{[round(v, 3) for v in values]}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

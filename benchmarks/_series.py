"""Shared by the benchmark scripts: repeated time sweeps of one function, and a busy neighbour process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_attncomplexity import ScalingResult, ScalingRunner


def time_sweeps(
    fn: Callable[..., object], sizes: list[int], sweeps: int, **kwargs: Any
) -> tuple[list[float], list[float], ScalingResult]:
    """Time exponents and seconds of ``sweeps`` sweeps (each its own shuffle seed), and the last result."""
    runner = ScalingRunner()
    exponents, seconds = [], []
    result: ScalingResult | None = None
    for sweep in range(sweeps):
        start = time.perf_counter()
        result = runner(fn, sizes=sizes, metrics=["time"], seed=sweep, **kwargs)
        seconds.append(time.perf_counter() - start)
        exponents.append(result.exponent("time"))
    assert result is not None, "sweeps must be at least 1"
    return exponents, seconds, result


@contextmanager
def busy_neighbour(enabled: bool) -> Iterator[None]:
    """One extra process spinning on a core, what a shared CI runner often has beside a test."""
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

"""Shared by the benchmark scripts: repeated time sweeps of one function, with the seconds each took."""

from __future__ import annotations

import time
from collections.abc import Callable
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

"""Beyond the measured sizes: the memory wall (the largest N whose peak fits) and values predicted at a chosen N.

Both come from the fitted power law, so they hold as far as the exponent does; the report says which sizes the
fit saw. No torch, no pytest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .axes import SEQ_LEN
from .fit import FitError
from .records import OUT_OF_MEMORY
from .result import ScalingResult
from .units import format_value

MAX_WALL = 1e15  # past this N a wall means nothing for attention (and exp() would overflow on the way)


@dataclass(frozen=True)
class MemoryWall:
    """The largest N whose predicted peak memory stays within ``limit`` bytes (None: memory does not grow)."""

    n: int | None
    limit: int
    limit_name: str  # what the limit is: the device's memory, or --attn-max-memory
    measured_oom: int | None = None  # the N where the sweep itself ran out of memory, if it did
    beyond: bool = False  # the wall lies past MAX_WALL: memory grows too slowly to ever fill the limit
    symbol: str = "N"  # the axis swept, as the reports name it

    def describe(self) -> str:
        within = f"{format_value('memory', self.limit)} ({self.limit_name})"
        x = self.symbol
        if self.n is not None:
            text = f"memory wall: {x} ≈ {self.n:,} fills {within} with the call's peak (inputs not counted)"
        elif self.beyond:
            text = f"memory wall: beyond {x} = {MAX_WALL:.0e}, the peak grows too slowly to fill {within}"
        else:
            text = f"memory wall: none, the peak does not grow with {x} ({within})"
        if self.measured_oom is not None:
            text += f"; the sweep ran out of memory at {x}={self.measured_oom:,}"
        return text


def memory_wall(result: ScalingResult, max_memory: int | None = None) -> MemoryWall | None:
    """From the memory fit: the largest N that fits in ``max_memory`` if given, else in the device's memory.

    None when memory was not measured, cannot be fitted, or the device's memory is unknown.
    """
    if "memory" not in result.metrics:
        return None
    try:
        fit = result.fit("memory")
    except FitError:
        return None
    capacity = result.environment.memory_capacity
    if max_memory is not None and (not capacity or max_memory < capacity):
        limit, limit_name = max_memory, "--attn-max-memory"
    elif capacity:
        what = "GPU memory" if result.environment.device.startswith("cuda") else "the machine's RAM"
        limit, limit_name = capacity, what
    else:
        return None
    oom = result.halt.n if result.halt is not None and result.halt.status == OUT_OF_MEMORY else None
    symbol = result.symbol
    if fit.exponent <= 0:
        return MemoryWall(None, limit, limit_name, oom, symbol=symbol)
    log_wall = (math.log(limit) - fit.log_intercept) / fit.exponent  # in log space: exp() of it may overflow
    if log_wall > math.log(MAX_WALL):
        return MemoryWall(None, limit, limit_name, oom, beyond=True, symbol=symbol)
    wall = int(math.exp(log_wall) * (1 + 1e-9))  # 1e-9: rounding of exp/log
    return MemoryWall(wall, limit, limit_name, oom, symbol=symbol)


def predict_at(result: ScalingResult, n: int) -> dict[str, float]:
    """Each fitted metric's value at N along its power law (metrics that cannot be fitted are left out)."""
    predicted: dict[str, float] = {}
    for metric in result.metrics:
        try:
            predicted[metric] = result.fit(metric).predict(n)
        except FitError:
            continue
    return predicted


def describe_prediction(result: ScalingResult, n: int) -> str | None:
    """What each fit predicts at sequence length ``n`` (--attn-predict-n); None for a sweep along another axis,
    whose fits say nothing about N."""
    if result.environment.axis != SEQ_LEN:
        return None
    predicted = predict_at(result, n)
    if not predicted:
        return None
    largest = max(max(result.sizes(metric)) for metric in predicted)
    shown = ", ".join(f"{metric} ≈ {format_value(metric, value)}" for metric, value in predicted.items())
    return f"predicted at N={n:,}: {shown} (extrapolated from N ≤ {largest:,})"

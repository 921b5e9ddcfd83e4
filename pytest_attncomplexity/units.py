"""Units of the metrics and human-readable formatting of their values (no torch, no pytest)."""

from __future__ import annotations

METRICS: tuple[str, ...] = ("time", "memory", "flops")

UNITS: dict[str, str] = {"time": "s", "memory": "B", "flops": "FLOP"}

_TIME_STEPS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_BYTE_STEPS = ((2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
_FLOP_STEPS = (
    (1e15, "PFLOP"),
    (1e12, "TFLOP"),
    (1e9, "GFLOP"),
    (1e6, "MFLOP"),
    (1e3, "kFLOP"),
    (1.0, "FLOP"),
)


def _scaled(value: float, steps: tuple[tuple[float, str], ...]) -> str:
    for factor, suffix in steps:
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}"
    factor, suffix = steps[-1]
    return f"{value / factor:.3g} {suffix}"


def format_value(metric: str, value: float) -> str:
    """Format one measured value of ``metric`` with a readable unit, e.g. ``1.25 ms`` or ``64 MiB``."""
    if value != value:  # NaN
        return "nan"
    if metric == "time":
        return _scaled(value, _TIME_STEPS)
    if metric == "memory":
        return _scaled(value, _BYTE_STEPS)
    if metric == "flops":
        return _scaled(value, _FLOP_STEPS)
    return f"{value:.4g}"

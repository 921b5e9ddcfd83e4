"""Units of the metrics and human-readable formatting of their values (no torch, no pytest)."""

from __future__ import annotations

import re

METRICS: tuple[str, ...] = ("time", "memory", "flops")

UNITS: dict[str, str] = {"time": "s", "memory": "B", "flops": "FLOP"}

_TIME_STEPS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
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


_SIZE_SUFFIXES = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


_SIZE = re.compile(r"^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)([a-z]*)$")


def parse_bytes(text: object) -> int:
    """``"8GiB"``, ``"512MB"``, ``"1.5e9"`` or a number of bytes."""
    problem = f"a memory size must be a positive amount like 8GiB, 512MB or 1e9 (bytes), got {text!r}"
    if isinstance(text, bool):
        raise ValueError(problem)
    if isinstance(text, int | float):
        value, factor = float(text), 1
    else:
        match = _SIZE.match(str(text).strip().lower().replace(" ", ""))
        if match is None or match.group(2) not in _SIZE_SUFFIXES:
            raise ValueError(problem)
        value, factor = float(match.group(1)), _SIZE_SUFFIXES[match.group(2)]
    if not 0 < value < float("inf"):
        raise ValueError(problem)
    return int(value * factor)

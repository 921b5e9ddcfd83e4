"""The lines that give a result's FLOP/s at each N and, on CUDA, its share of the device's peak: shared by the
terminal report and the HTML page (no torch)."""

from __future__ import annotations

from ..core.records import PeakRate
from ..core.result import ScalingResult

_RATE_STEPS = ((1e15, "PFLOP/s"), (1e12, "TFLOP/s"), (1e9, "GFLOP/s"), (1e6, "MFLOP/s"), (1e3, "kFLOP/s"))


def rate_unit(rate: float) -> tuple[float, str]:
    """The factor and unit a FLOP/s figure reads best in: ``(1e9, "GFLOP/s")`` for 4.2e9."""
    return next(((factor, unit) for factor, unit in _RATE_STEPS if rate >= factor), (1.0, "FLOP/s"))


def format_rate(rate: float) -> str:
    factor, unit = rate_unit(rate)
    return f"{rate / factor:.3g} {unit}"


def flop_rate_lines(result: ScalingResult) -> list[str]:
    """``FLOP/s (GFLOP/s): 3.21 at N=256, 4.1 at 512, ...`` (one unit, that of the largest figure), and on CUDA
    ``share of peak: 12% at N=2048, ... of 989 TFLOP/s (vendor figure: H100 SXM, bfloat16, dense)``; nothing when
    FLOPs and time were not both measured."""
    rates = sorted(result.flop_rates().items())
    if not rates:
        return []
    sizes = [n for n, _ in rates]
    factor, unit = rate_unit(max(rate for _, rate in rates))
    lines = [f"FLOP/s ({unit}): " + _at_each_n([f"{rate / factor:.3g}" for _, rate in rates], sizes, result.symbol)]
    peak = result.environment.peak
    if peak is not None and peak.flop_rate > 0:
        shares = _at_each_n([f"{rate / peak.flop_rate:.0%}" for _, rate in rates], sizes, result.symbol)
        lines.append(f"share of peak: {shares} of {describe_peak(peak)}")
    return lines


def describe_peak(peak: PeakRate) -> str:
    return f"{format_rate(peak.flop_rate)} ({peak.source})"


def _at_each_n(figures: list[str], sizes: list[int], symbol: str) -> str:
    """``3.21 at N=256, 4.1 at 512, 5 at 1024``: the axis (N, head_dim, ...) named once, at the first figure."""
    named = [f"{symbol}={sizes[0]}", *map(str, sizes[1:])] if sizes else []
    return ", ".join(f"{figure} at {n}" for figure, n in zip(figures, named, strict=True))

"""Budgets that stop a sweep from growing N: a call that takes too long, or a peak memory predicted too large.

No torch, no pytest: the sweep asks before each N (memory) and after it (time); an answer is the reason to skip
the remaining sizes, reported as skipped points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .units import format_value


@dataclass(frozen=True)
class Budget:
    max_time: float | None = None  # seconds one call may take before N stops growing
    max_memory: int | None = None  # bytes the predicted peak of the next N may reach

    def after(self, n: int, call_seconds: float) -> str | None:
        """Why the sizes after N are skipped, or None: the call at N took longer than max_time."""
        if self.max_time is not None and call_seconds > self.max_time:
            return (
                f"a call at N={n} took {format_value('time', call_seconds)}, over the time budget of "
                f"{format_value('time', self.max_time)} (max_time= or --attn-max-time)"
            )
        return None

    def before(self, n: int, peaks: Mapping[int, float]) -> str | None:
        """Why N and the sizes after it are skipped, or None: the peak predicted at N exceeds max_memory."""
        if self.max_memory is None:
            return None
        predicted = predict_peak(peaks, n)
        if predicted is not None and predicted > self.max_memory:
            return (
                f"predicted peak memory {format_value('memory', predicted)} at N={n} is over the memory budget of "
                f"{format_value('memory', self.max_memory)} (max_memory= or --attn-max-memory)"
            )
        return None


# Attention's memory grows at most as N² over N (the N×N scores); a steeper step between two sizes is allocator
# noise at small sizes, and extrapolating it would skip sizes that fit. 3 leaves room for N³ layouts.
MAX_GROWTH_EXPONENT = 3.0


def predict_peak(peaks: Mapping[int, float], n: int) -> float | None:
    """Extrapolate the peak at N from the peaks measured below it (quadratic from a single one).

    Two laws, and the larger of them: the local power law of the two largest sizes (the wall that matters is where
    the curve is going, not its average), and, from three sizes on, a fixed part plus a growing part c + a·N^k,
    with k from how the growth between sizes grows. A fixed part (weights, their gradients, workspaces) flattens
    the local slope while the N-dependent part keeps its own rate: a 1-layer BERT training step's peaks of 15.2,
    15.4 and 37 MiB at N=256..1024 have local slopes of 0.02 and 1.26; the first law predicts 89 MiB at N=2048,
    the second 210 MiB, and the step took 138 MiB.
    """
    sizes = sorted(size for size, peak in peaks.items() if peak > 0 and size < n)
    if not sizes:
        return None
    last = sizes[-1]
    if len(sizes) == 1:
        return float(peaks[last] * (n / last) ** 2.0)  # one point: the worst case of attention, the N×N scores
    before = sizes[-2]
    slope = math.log(peaks[last] / peaks[before]) / math.log(last / before)
    power_law = float(peaks[last] * (n / last) ** min(max(slope, 0.0), MAX_GROWTH_EXPONENT))
    if len(sizes) == 2:
        return power_law
    return max(power_law, _fixed_plus_growth(sizes[-3:], peaks, n) or 0.0)


def _fixed_plus_growth(sizes: list[int], peaks: Mapping[int, float], n: int) -> float | None:
    """The peak at N along c + a·N^k through three sizes; None where the peaks do not grow at both steps."""
    first, middle, last = sizes
    rise_low, rise_high = peaks[middle] - peaks[first], peaks[last] - peaks[middle]
    if rise_low <= 0 or rise_high <= 0:
        return None
    k = _growth_exponent(first, middle, last, rise_high / rise_low)
    scale = rise_high / (last**k - middle**k)
    return float(peaks[last] + scale * (n**k - last**k))


def _growth_exponent(first: int, middle: int, last: int, rise_ratio: float) -> float:
    """k with (last^k − middle^k) / (middle^k − first^k) = rise_ratio, within [0.1, MAX_GROWTH_EXPONENT].

    The ratio grows with k, so bisection finds it; sizes need not be geometric.
    """

    def ratio(k: float) -> float:
        return float((last**k - middle**k) / (middle**k - first**k))

    low, high = 0.1, MAX_GROWTH_EXPONENT
    if rise_ratio <= ratio(low):
        return low
    if rise_ratio >= ratio(high):
        return high
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if ratio(mid) < rise_ratio else (low, mid)
    return (low + high) / 2

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


def predict_peak(peaks: Mapping[int, float], n: int) -> float | None:
    """Extrapolate the peak at N along the local slope of the two largest sizes measured (quadratic from one).

    The last local slope, not the whole fit, because the wall that matters is where the curve is going.
    """
    sizes = sorted(size for size, peak in peaks.items() if peak > 0 and size < n)
    if not sizes:
        return None
    last = sizes[-1]
    if len(sizes) == 1:
        slope = 2.0  # one point: assume the worst case of attention, the N×N scores
    else:
        before = sizes[-2]
        slope = math.log(peaks[last] / peaks[before]) / math.log(last / before)
    return float(peaks[last] * (n / last) ** max(slope, 0.0))

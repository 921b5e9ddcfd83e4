"""Log-log fits of measured values against N: exponent, confidence interval, local slopes, complexity class.

scipy only: no torch, no pytest, so the fit is tested on synthetic data of known exponent.
The slope is Theil-Sen (median of pairwise slopes): one disturbed point moves it far less than it moves least
squares, and scipy gives its confidence interval from the distribution of the pairwise slopes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Candidate growth laws, Google Benchmark's set; the fitted one has the smallest log-space residual.
COMPLEXITY_CLASSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "1": lambda n: np.ones_like(n),
    "log N": np.log2,
    "N": lambda n: n,
    "N log N": lambda n: n * np.log2(n),
    "N^2": lambda n: n**2,
    "N^3": lambda n: n**3,
}


class FitError(ValueError):
    """The values cannot be fitted (too few points, zero or negative values)."""


@dataclass(frozen=True)
class Fit:
    """A power law ``value ≈ c · N^exponent`` fitted on log(value) against log(N)."""

    metric: str
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    exponent: float
    ci: tuple[float, float]
    r2: float
    local_slopes: tuple[float, ...]
    complexity: str
    log_intercept: float
    # Leading sizes left out of the slope because a fixed part dominates them (see overhead_head): a per-call cost
    # in time, parameter gradients and buffers in memory.
    overhead_sizes: tuple[int, ...] = ()
    # That fixed part as fitted, in the metric's unit (seconds, bytes); 0.0 when no size was left out.
    fixed_part: float = 0.0

    def predict(self, n: float) -> float:
        """The fitted value at N = ``n``."""
        return math.exp(self.log_intercept + self.exponent * math.log(n))


def local_slopes(sizes: Sequence[float], values: Sequence[float]) -> tuple[float, ...]:
    """Slopes of log(value) against log(N) between consecutive sizes: where the curve bends, they show it."""
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.asarray(values, dtype=float))
    return tuple(float(s) for s in np.diff(y) / np.diff(x))


def best_complexity(sizes: Sequence[float], values: Sequence[float]) -> str:
    """The class among ``COMPLEXITY_CLASSES`` whose shape, scaled by a free constant, fits best in log space."""
    n = np.asarray(sizes, dtype=float)
    y = np.log(np.asarray(values, dtype=float))
    best_name, best_error = "", math.inf
    for name, law in COMPLEXITY_CLASSES.items():
        shape = law(n)
        if np.any(shape <= 0):  # log N is 0 at N=1: that law cannot be scaled to fit
            continue
        residual = y - np.log(shape)
        error = float(np.sum((residual - residual.mean()) ** 2))
        if error < best_error - 1e-12:
            best_name, best_error = name, error
    return best_name


# A leading point is overhead-dominated when the fitted fixed cost is more than this share of its value.
OVERHEAD_SHARE = 0.25
# ...and only when the overhead model's squared log residuals are under this share of a plain power law's.
OVERHEAD_FIT_GAIN = 0.25
MIN_TAIL_POINTS = 3


def overhead_head(
    sizes: Sequence[float],
    values: Sequence[float],
    max_overhead: float | None = None,
    *,
    prove_fixed_part: bool = False,
) -> tuple[int, float]:
    """How many leading sizes a fixed part dominates, and that part: fit ``v = c + a·N^k`` (c ≥ 0) in log space and
    count the first sizes where ``c`` is more than OVERHEAD_SHARE of the value, keeping MIN_TAIL_POINTS. Returns
    ``(0, 0.0)`` when nothing is left out.

    A call that costs a fixed few microseconds (a launch, Python dispatch) plus its real work reads flat at small N:
    a true N² can read as ~1 there. A training step's memory has a fixed part too (parameter gradients, an
    embedding's gradient, workspaces). The power law is then fitted to the tail, where the growing part dominates.
    ``max_overhead`` caps ``c`` (time: a launch, not a cache level). ``prove_fixed_part`` asks the first two sizes
    to prove a part that does not grow, and that it dominates the first (memory: below).
    """
    if len(sizes) <= MIN_TAIL_POINTS:
        return 0, 0.0
    from scipy.optimize import curve_fit

    n = np.asarray(sizes, dtype=float)
    v = np.asarray(values, dtype=float)
    tail_slope = math.log(v[-1] / v[-2]) / math.log(n[-1] / n[-2])
    c0 = 0.5 * float(v.min())
    start = [c0, max(tail_slope, 0.1), math.log(max(v[-1] - c0, v[-1] * 1e-3)) - max(tail_slope, 0.1) * math.log(n[-1])]

    def model(size: np.ndarray, c: float, k: float, log_a: float) -> np.ndarray:
        return np.asarray(np.log(c + np.exp(log_a + k * np.log(size))))

    try:
        (c, k, log_a), _ = curve_fit(
            model, n, np.log(v), p0=start, bounds=([0.0, 0.0, -np.inf], [float(v.min()), 6.0, np.inf]), maxfev=2000
        )
    except (RuntimeError, ValueError):  # no convergence: keep every point
        return 0, 0.0
    # Only an overhead that explains the bend: a cache cliff in the middle of the range also bends the curve, and
    # trimming the head there would steepen the exponent instead of correcting it.
    x, y = np.log(n), np.log(v)
    plain = float(np.sum((y - np.polyval(np.polyfit(x, y, 1), x)) ** 2))
    with_overhead = float(np.sum((y - model(n, c, k, log_a)) ** 2))
    if with_overhead > OVERHEAD_FIT_GAIN * plain:
        return 0, 0.0
    # A fixed cost larger than a launch or a dispatch is something else (a cache level the curve crosses).
    if max_overhead is not None and c > max_overhead:
        return 0, 0.0
    # Parts that grow like N (the activations of projections and feed-forward layers) bend a quadratic memory curve
    # the same way, and the model above mistakes them for a fixed part: nn.MultiheadAttention(1024, 4) in forward
    # (6, 14, 44, 152, 560 MiB at N=256..4096) read as "3 MiB fixed" at N=256, its qkv projection. Parts that grow
    # like N or faster make the second size at least r = N₂/N₁ times the first; what it lacks of that is the least
    # fixed part the head proves, (r·v₁ − v₂)/(r − 1), and it must dominate the first size as c must: 99% of it for
    # a 1-layer BERT training step (its parameters' gradients), none for that layer, 8 bytes of 160 KiB for naive
    # attention's training step at N=16, whose head is its inputs' gradients (linear).
    if prove_fixed_part:
        ratio = n[1] / n[0]
        if (ratio * v[0] - v[1]) / (ratio - 1) <= OVERHEAD_SHARE * v[0]:
            return 0, 0.0
    head = 0
    while head < len(v) - MIN_TAIL_POINTS and c > OVERHEAD_SHARE * v[head]:
        head += 1
    return head, (float(c) if head else 0.0)


def fit_power_law(
    sizes: Sequence[int],
    values: Sequence[float],
    metric: str = "value",
    trim_overhead: bool = False,
    max_overhead: float | None = None,
    prove_fixed_part: bool = False,
) -> Fit:
    """Fit ``values ≈ c · sizes^k`` and return the exponent k with its 95% CI, r², local slopes and class.

    With ``trim_overhead``, leading sizes dominated by a fixed part (``overhead_head``) of at most
    ``max_overhead`` (and, with ``prove_fixed_part``, only where the first two sizes prove it) are left out of the
    exponent, its CI, r² and class, and the part is kept as ``fixed_part``; the local slopes still cover every size.
    """
    if len(sizes) != len(values):
        raise FitError(f"{metric}: {len(sizes)} sizes but {len(values)} values")
    if len(sizes) < 2:
        raise FitError(f"{metric}: a fit needs at least 2 points, got {len(sizes)}")
    if any(not n > 0 for n in sizes):
        raise FitError(f"{metric}: sizes must be positive, got {list(sizes)}")
    bad = [(n, v) for n, v in zip(sizes, values, strict=True) if not (v > 0 and math.isfinite(v))]
    if bad:
        shown = ", ".join(f"N={n}: {v!r}" for n, v in bad)
        raise FitError(f"{metric}: cannot fit a log-log slope through values that are not positive ({shown})")

    head, fixed_part = (
        overhead_head(sizes, values, max_overhead, prove_fixed_part=prove_fixed_part) if trim_overhead else (0, 0.0)
    )
    x = np.log(np.asarray(sizes[head:], dtype=float))
    y = np.log(np.asarray(values[head:], dtype=float))
    from scipy import stats  # imported on first fit: scipy.stats is slow to import and pytest loads us always

    theil = stats.theilslopes(y, x, alpha=0.95)
    slope = float(theil.slope)
    intercept = float(theil.intercept)
    low, high = float(theil.low_slope), float(theil.high_slope)

    residual = y - (intercept + slope * x)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 1.0

    return Fit(
        metric=metric,
        sizes=tuple(int(n) for n in sizes),
        values=tuple(float(v) for v in values),
        exponent=slope,
        ci=(min(low, slope), max(high, slope)),
        r2=r2,
        local_slopes=local_slopes(sizes, values),
        complexity=best_complexity(sizes[head:], values[head:]),
        log_intercept=intercept,
        overhead_sizes=tuple(int(n) for n in sizes[:head]),
        fixed_part=fixed_part,
    )

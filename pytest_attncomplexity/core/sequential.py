"""Sequential timing: stop timing as soon as the samples decide every claim on the time exponent known before
measuring (``expect=``, the marker's ``time=``). No torch, no pytest: the sweep calls ``look`` after each round of
timing, and unit tests call it on synthetic samples.

At each look the exponent is fitted as the verdict fits it (``fit_points``), and two intervals are asked of it:

- the fit's own 95% CI (Theil-Sen over the sizes), which the final verdict fails on. It spans how far the sizes'
  slopes disagree (a cache cliff, a fixed part), which more samples do not narrow;
- the noise interval ê ± z·se. ``se`` is the standard error of the exponent that the scatter of the samples at
  each size gives, carried through the Theil-Sen slope: what more rounds would average away. ``z`` is
  Bonferroni-corrected for every look the sweep may take, K = the rounds its budget bought:
  z = Φ⁻¹(1 − α/(2K)), α = 0.01 (K = 5: z = 3.09; K = 25: z = 3.54).

A claim passes early when both intervals lie inside its band ``expected ± tol``, and fails early when both lie
wholly outside it; timing stops when every claim is decided. Otherwise it goes on to the budget, and the verdict is
given as without a claim. The early decisions agree with the verdict given on the same samples (a pass has the
exponent in the band, a fail has the 95% CI outside it), so ``check`` and ``assert_exponent`` give them unchanged.

Why these intervals. An early fail asks for what a fixed budget fails on, on the samples at hand, and the noise
interval besides: whatever the number of looks, the chance that sampling noise alone decides a claim early, one
way or the other, stays under α = 1% for the whole sweep (Bonferroni holds for looks however correlated, and with
5 to 25 looks it costs little over a group-sequential boundary such as Pocock's). So the repeated looks add at most
1% to today's false-failure rate, and in practice far less, since the fit's CI must miss the band too. An early
pass asks for the fit's CI inside the band, not only the exponent, so a curve whose slopes disagree is timed to the
budget as before. The figures are in docs/precision.md (benchmarks/sequential_timing.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .fit import FitError
from .records import Point
from .result import MIN_FIT_POINTS, fit_points
from .verdict import FAIL, PASS, Outcome

ALPHA = 0.01  # the chance, over all looks of a sweep, that noise alone decides a claim early
# Draws of the noise through the Theil-Sen slope; the standard error they give is within about 3% of its value.
NOISE_DRAWS = 1000


@dataclass(frozen=True)
class TimeClaim:
    """A claim on the time exponent known before timing: ``expected ± tol``."""

    expected: float
    tol: float

    @property
    def band(self) -> tuple[float, float]:
        return (self.expected - self.tol, self.expected + self.tol)

    def describe(self) -> str:
        return f"{self.expected:g} ± {self.tol:g}"


@dataclass(frozen=True)
class Look:
    """What one look at the samples saw: the exponent, the fit's 95% CI, the noise interval and each claim's
    outcome (None: not decided yet)."""

    rounds: int
    planned: int
    exponent: float
    ci: tuple[float, float]
    noise: tuple[float, float]
    outcomes: tuple[Outcome | None, ...]

    @property
    def decided(self) -> bool:
        return all(outcome is not None for outcome in self.outcomes)

    @property
    def interval(self) -> tuple[float, float]:
        """Both intervals together: what must lie inside a band, or wholly outside it."""
        return (min(self.ci[0], self.noise[0]), max(self.ci[1], self.noise[1]))


def critical_z(looks: int, alpha: float = ALPHA) -> float:
    """The two-sided z of each of ``looks`` looks, Bonferroni-corrected so that all of them together err with a
    chance of at most ``alpha``."""
    if looks < 1:
        raise ValueError(f"looks must be at least 1, got {looks!r}")
    return NormalDist().inv_cdf(1 - alpha / (2 * looks))


def look(
    samples: Mapping[int, Sequence[float]],
    claims: Sequence[TimeClaim],
    rounds: int,
    planned: int,
    alpha: float = ALPHA,
) -> Look | None:
    """Decide each claim on the samples so far (seconds per call at each N), or None while they cannot be fitted:
    a size without samples, fewer than MIN_FIT_POINTS sizes, a value the fit refuses (a CUDA event that read 0 s),
    or no size with two samples to show the noise. Timing then goes on, and the verdict sees every sample."""
    if any(not values for values in samples.values()) or len(samples) < MIN_FIT_POINTS:
        return None
    sizes = sorted(samples)
    try:
        fit = fit_points("time", tuple((n, Point(n, tuple(samples[n])).value) for n in sizes))
    except FitError:
        return None
    fitted = sizes[len(fit.overhead_sizes) :]  # the sizes past a fixed per-call cost, as the verdict fits
    se = exponent_noise(fitted, samples)
    if se is None:
        return None
    z = critical_z(planned, alpha)
    noise = (fit.exponent - z * se, fit.exponent + z * se)
    seen = Look(rounds, planned, fit.exponent, fit.ci, noise, ())
    return Look(rounds, planned, fit.exponent, fit.ci, noise, tuple(_decide(seen.interval, c) for c in claims))


def _decide(interval: tuple[float, float], claim: TimeClaim) -> Outcome | None:
    low, high = claim.band
    if low <= interval[0] and interval[1] <= high:
        return PASS
    if interval[1] < low or interval[0] > high:
        return FAIL
    return None


def exponent_noise(sizes: Sequence[int], samples: Mapping[int, Sequence[float]]) -> float | None:
    """The standard error of the fitted exponent that the scatter of the samples gives; None when no size has two
    samples to show it.

    At each size the log of the value (the mean of the faster half of k samples) is taken to scatter by the standard
    deviation of the log samples over √(k // 2). A size with fewer than three samples, whose own deviation says
    little, takes the largest deviation of any size: on the CPU the scatter shrinks as N grows (an IQR of 25–50% of
    the median at N=256, about 3% at N=4096, in docs/precision.md), so the largest N, the one that has a single
    sample after the first round, is not given less than it can have. That noise is carried through the Theil-Sen
    slope (the median of the pairwise slopes) by drawing it NOISE_DRAWS times around the values measured, with a
    fixed seed so that a look is repeatable.
    """
    spreads = {n: statistics.stdev(math.log(s) for s in samples[n]) for n in sizes if len(samples[n]) >= 2}
    if not spreads or len(sizes) < 2:
        return None
    largest = max(spreads.values())
    scatter = np.array(
        [
            (spreads[n] if len(samples[n]) >= 3 else largest) / math.sqrt(max(1, len(samples[n]) // 2))
            for n in sizes
        ]
    )
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log([Point(n, tuple(samples[n])).value for n in sizes])
    first, second = np.triu_indices(len(sizes), k=1)
    drawn = y + np.random.default_rng(0).standard_normal((NOISE_DRAWS, len(sizes))) * scatter
    slopes = (drawn[:, second] - drawn[:, first]) / (x[second] - x[first])
    return float(np.std(np.median(slopes, axis=1)))

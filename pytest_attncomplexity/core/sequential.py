"""Sequential timing: stop timing as soon as the samples decide every claim on the time exponent known before
measuring (``expect=``, the marker's ``time=``). No torch, no pytest: the sweep calls ``look`` after the rounds of
``LOOK_ROUNDS`` (1, 2, 4, 8, 16), and unit tests call it on synthetic samples.

At each look the exponent is fitted as the verdict fits it (``fit_points``), and two intervals are asked of it:

- the fit's own 95% CI (Theil-Sen over the sizes), which the final verdict fails on. It spans how far the sizes'
  slopes disagree (a cache cliff, a fixed part), which more samples do not narrow;
- the noise interval ê ± t·se: what more rounds could still move the exponent by. ``se`` is the standard error of
  the exponent that the scatter of the samples gives, carried through the Theil-Sen slope (``exponent_noise``);
  ``t`` is Student's quantile for the degrees of freedom that scatter was estimated with, Bonferroni-corrected for
  every look the sweep may take: t at 1 − α/(2K), α = 0.01, K the looks before the rounds the budget bought run
  out (K = 3 for the 5 rounds of the default budget on SDPA at N=256..4096).

A claim passes early when both intervals lie inside its band ``expected ± tol``, and fails early when both lie
wholly outside it; timing stops when every claim is decided. Otherwise it goes on to the budget, and the verdict is
given as without a claim. The early decisions agree with the verdict given on the same samples (a pass has the
exponent in the band, a fail has the 95% CI outside it), so ``check`` and ``assert_exponent`` give them unchanged.

Why these intervals. An early fail asks for what a fixed budget fails on, on the samples at hand, and the noise
interval besides. Under the model of the noise (independent scatter of the log samples at each size, as the
samples show it), the chance that noise alone decides a claim early, over all looks of a sweep, is at most α = 1%
per claim: Bonferroni holds for looks however correlated, and with 3 to 5 looks it costs little over a
group-sequential boundary such as Pocock's. Noise the model does not see (a slow phase of the machine that hits
every sample of one size in one round) can make it more; the measured false-failure rates are in
docs/precision.md (benchmarks/sequential_timing.py), and the simulations in tests/test_sequential.py. An early pass
asks for the fit's CI inside the band, not only the exponent, so a curve whose slopes disagree is timed to the
budget as before.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from .records import Point
from .result import MIN_FIT_POINTS, fit_points
from .verdict import FAIL, PASS, Outcome

ALPHA = 0.01  # the chance, over all looks of a sweep, that noise alone decides a claim early
# The rounds after which the samples are looked at: doubling, so that a sweep the claim cannot decide pays few fits
# (each 5 to 40 ms) and a small Bonferroni correction.
LOOK_ROUNDS = (1, 2, 4, 8, 16)
# Draws of the noise through the Theil-Sen slope; the standard error they give is within about 3% of its value.
NOISE_DRAWS = 1000
# A value made of fewer than 4 samples is not yet the mean of a faster half: it sits higher than it will, by up to
# about 0.8 standard deviations of the samples (the lower half of a normal scatter averages 0.8 below its mean).
FEW_SAMPLES = 4
FEW_SAMPLES_BIAS = 0.8


@dataclass(frozen=True)
class TimeClaim:
    """A claim on the time exponent known before timing: ``expected ± tol``."""

    expected: float
    tol: float

    @property
    def band(self) -> tuple[float, float]:
        return (self.expected - self.tol, self.expected + self.tol)


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


def looks_at(rounds: int, planned: int) -> bool:
    """Whether the samples are looked at after ``rounds`` of the ``planned`` rounds (never after the last: the
    verdict then sees them all)."""
    return rounds in LOOK_ROUNDS and rounds < planned


def looks_before(planned: int) -> int:
    """How many looks a sweep of ``planned`` rounds takes at the most (at least 1, for the correction)."""
    return max(1, sum(1 for r in LOOK_ROUNDS if r < planned))


def critical_value(looks: int, dof: float | None = None, alpha: float = ALPHA) -> float:
    """The two-sided critical value of each of ``looks`` looks, Bonferroni-corrected so that all of them together
    err with a chance of at most ``alpha``: Student's t for a scatter estimated with ``dof`` degrees of freedom,
    the normal z for a known one (None)."""
    if looks < 1:
        raise ValueError(f"looks must be at least 1, got {looks!r}")
    level = 1 - alpha / (2 * looks)
    if dof is None:
        return NormalDist().inv_cdf(level)
    from scipy.stats import t as student

    return float(student.ppf(level, dof))


def look(
    samples: Mapping[int, Sequence[float]],
    claims: Sequence[TimeClaim],
    rounds: int,
    planned: int,
    alpha: float = ALPHA,
) -> Look | None:
    """Decide each claim on the samples so far (seconds per call at each N), or None while they cannot be fitted:
    a size without samples, fewer than MIN_FIT_POINTS sizes, a sample that is not positive (a CUDA event that read
    0 s), or no size with two samples to show the noise. Timing then goes on, and the verdict sees every sample."""
    if any(not values for values in samples.values()) or len(samples) < MIN_FIT_POINTS:
        return None
    if not all(s > 0 and math.isfinite(s) for values in samples.values() for s in values):
        return None  # a CUDA event that read 0 s: no log scatter; the verdict judges what the fit makes of it
    sizes = sorted(samples)
    fit = fit_points("time", tuple((n, Point(n, tuple(samples[n])).value) for n in sizes))
    fitted = sizes[len(fit.overhead_sizes) :]  # the sizes past a fixed per-call cost, as the verdict fits
    noise_of = exponent_noise(fitted, samples)
    if noise_of is None:
        return None
    se, dof = noise_of
    t = critical_value(looks_before(planned), dof, alpha)
    noise = (fit.exponent - t * se, fit.exponent + t * se)
    seen = Look(rounds, planned, fit.exponent, fit.ci, noise, ())
    return replace(seen, outcomes=tuple(_decide(seen.interval, claim) for claim in claims))


def _decide(interval: tuple[float, float], claim: TimeClaim) -> Outcome | None:
    low, high = claim.band
    if low <= interval[0] and interval[1] <= high:
        return PASS
    if interval[1] < low or interval[0] > high:
        return FAIL
    return None


def exponent_noise(sizes: Sequence[int], samples: Mapping[int, Sequence[float]]) -> tuple[float, int] | None:
    """The standard error of the fitted exponent that the scatter of the samples gives, and the degrees of freedom
    that scatter was estimated with; None when no size has two samples to show it.

    The scatter is the standard deviation of the log samples. Pooled over the sizes (each with k − 1 degrees of
    freedom), it is the least any size is given; a size with three samples or more is given its own where that is
    larger, and a size with fewer, whose own says little, the largest of any size: on the CPU the scatter shrinks as
    N grows (an IQR of 25–50% of the median at N=256, about 3% at N=4096, in docs/precision.md), so the largest N,
    the one with a single sample after the first round, is not given less than it can have. The log of a value (the
    mean of the faster half of k samples) scatters by that over √(k // 2), and a value of fewer than FEW_SAMPLES
    samples may also sit up to FEW_SAMPLES_BIAS of it high. That is carried through the Theil-Sen slope (the median
    of the pairwise slopes) by drawing it NOISE_DRAWS times around the values measured, with a fixed seed so that a
    look is repeatable.
    """
    if len(sizes) < 2:
        return None
    logs = {n: [math.log(s) for s in samples[n]] for n in sizes}
    spreads = {n: statistics.stdev(values) for n, values in logs.items() if len(values) >= 2}
    if not spreads:
        return None
    dof = sum(len(logs[n]) - 1 for n in spreads)
    pooled = math.sqrt(sum((len(logs[n]) - 1) * spreads[n] ** 2 for n in spreads) / dof)
    largest = max(spreads.values())
    uncertainty = []
    for n in sizes:
        k = len(logs[n])
        scatter = max(spreads[n], pooled) if k >= 3 else largest
        bias = FEW_SAMPLES_BIAS if k < FEW_SAMPLES else 0.0
        uncertainty.append(scatter * math.sqrt(1 / max(1, k // 2) + bias**2))
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log([Point(n, tuple(samples[n])).value for n in sizes])
    first, second = np.triu_indices(len(sizes), k=1)
    drawn = y + np.random.default_rng(0).standard_normal((NOISE_DRAWS, len(sizes))) * np.array(uncertainty)
    slopes = (drawn[:, second] - drawn[:, first]) / (x[second] - x[first])
    return float(np.std(np.median(slopes, axis=1))), dof

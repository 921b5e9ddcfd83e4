"""The stopping rule of sequential timing (core/sequential.py), on synthetic samples of known exponent and noise:
what it decides, when it waits, and how often noise alone makes it decide."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from pytest_attncomplexity.core.records import Point
from pytest_attncomplexity.core.result import fit_points
from pytest_attncomplexity.core.sequential import (
    TimeClaim,
    critical_value,
    exponent_noise,
    look,
    looks_at,
    looks_before,
)
from pytest_attncomplexity.core.verdict import FAIL, PASS, judge

SIZES = [256, 512, 1024, 2048, 4096]
ROUND = {256: 8, 512: 8, 1024: 4, 2048: 2, 4096: 1}  # what one round of an SDPA sweep takes at each N


def _samples(exponent: float, noise: float, rounds: int, rng: random.Random) -> dict[int, list[float]]:
    """Seconds per call along c·N^exponent, each sample off by a lognormal factor of sd ``noise``."""
    return {
        n: [1e-9 * n**exponent * math.exp(rng.gauss(0, noise)) for _ in range(count * rounds)]
        for n, count in ROUND.items()
    }


def test_a_claim_far_from_the_exponent_is_decided_after_one_round():
    samples = _samples(2.0, 0.05, 1, random.Random(0))
    seen = look(samples, [TimeClaim(2, 0.5), TimeClaim(1, 0.3)], rounds=1, planned=5)
    assert seen is not None and seen.decided
    assert seen.outcomes == (PASS, FAIL)
    low, high = seen.interval
    assert 1.5 < low < seen.exponent < high < 2.5
    # The early outcomes are those the verdict gives on the same samples: check() and assert_exponent agree.
    fit = fit_points("time", tuple((n, Point(n, tuple(s)).value) for n, s in sorted(samples.items())))
    assert judge(fit, 2, 0.5).outcome == PASS and judge(fit, 1, 0.3).outcome == FAIL


def test_a_claim_whose_band_the_interval_straddles_waits():
    samples = _samples(2.45, 0.05, 1, random.Random(1))
    seen = look(samples, [TimeClaim(2, 0.5), TimeClaim(2.45, 1.0)], rounds=1, planned=5)
    assert seen is not None and not seen.decided
    assert seen.outcomes == (None, PASS)  # one claim decided is not enough: the timing goes on


def test_a_curve_whose_slopes_disagree_is_not_passed_early_on_its_exponent_alone():
    # Noise-free, but a cache cliff: local slopes 1.0, 1.0, 2.0, 1.0. The exponent lies in 1 ± 0.4, the fit's CI
    # reaches out of it: timed to the budget, as without a claim.
    values = {256: 1.0, 512: 2.0, 1024: 4.0, 2048: 16.0, 4096: 32.0}
    samples = {n: [v * 1e-3] * ROUND[n] for n, v in values.items()}
    samples[256] = [1e-3, 1.0001e-3, *samples[256][2:]]  # two samples that differ: a scatter to borrow
    seen = look(samples, [TimeClaim(1, 0.4)], rounds=1, planned=5)
    assert seen is not None
    assert 0.6 <= seen.exponent <= 1.4 and seen.ci[1] > 1.4
    assert seen.outcomes == (None,)


def test_no_look_before_every_size_has_samples_and_one_shows_the_noise():
    rng = random.Random(2)
    samples = _samples(2.0, 0.05, 1, rng)
    assert look({**samples, 4096: []}, [TimeClaim(2, 0.5)], 1, 5) is None
    single = {n: s[:1] for n, s in samples.items()}
    assert exponent_noise(SIZES, single) is None
    assert look(single, [TimeClaim(2, 0.5)], 1, 5) is None
    assert look({256: samples[256], 512: samples[512]}, [TimeClaim(2, 0.5)], 1, 5) is None  # too few sizes


def test_a_size_with_few_samples_takes_the_largest_scatter():
    rng = random.Random(3)
    samples = _samples(2.0, 0.02, 3, rng)
    quiet = exponent_noise(SIZES, samples)
    samples[256] = [1e-4 * math.exp(rng.gauss(0, 0.3)) for _ in range(24)]  # the noisy small N
    noisy_small = exponent_noise(SIZES, samples)
    # N=4096 keeps its three samples, then only its first: its own small scatter gives way to N=256's.
    samples[4096] = samples[4096][:1]
    borrowed = exponent_noise(SIZES, samples)
    assert quiet is not None and noisy_small is not None and borrowed is not None
    assert quiet[0] < noisy_small[0] < borrowed[0]
    # The degrees of freedom of the pooled scatter: k − 1 at every size with two samples or more.
    assert quiet[1] == sum(3 * count - 1 for count in ROUND.values())
    assert borrowed[1] == quiet[1] - 2


def test_the_interval_narrows_as_rounds_add_samples():
    widths = {1: 0.0, 2: 0.0, 6: 0.0}
    for seed in range(20):
        samples = _samples(2.0, 0.1, 6, random.Random(seed))
        for rounds in widths:
            taken = {n: s[: ROUND[n] * rounds] for n, s in samples.items()}
            seen = look(taken, [TimeClaim(2, 0.5)], rounds, 6)
            assert seen is not None
            widths[rounds] += seen.noise[1] - seen.noise[0]
    assert widths[1] > widths[2] > widths[6]


def test_the_looks_double_and_the_critical_value_is_corrected_for_them():
    assert [r for r in range(1, 26) if looks_at(r, 25)] == [1, 2, 4, 8, 16]
    assert [r for r in range(1, 6) if looks_at(r, 5)] == [1, 2, 4]  # never after the last round: the verdict's
    assert (looks_before(1), looks_before(5), looks_before(25)) == (1, 3, 5)
    assert critical_value(1) == pytest.approx(2.576, abs=1e-3)  # a known scatter: the normal z
    assert critical_value(5) == pytest.approx(3.090, abs=1e-3)
    # An estimated one: Student's t, wider the fewer degrees of freedom it rests on.
    assert critical_value(3, dof=18) == pytest.approx(stats.t.ppf(1 - 0.01 / 6, 18))  # 3.380
    assert critical_value(3, dof=4) > critical_value(3, dof=18) > critical_value(3)
    with pytest.raises(ValueError, match="looks must be at least 1, got 0"):
        critical_value(0)


@pytest.mark.parametrize(
    ("plan", "shared"),
    [
        (ROUND, 0.0),  # an SDPA sweep at N=256..4096
        ({128: 4, 256: 2, 512: 1}, 0.0),  # three sizes: the scatter rests on few samples
        (ROUND, 0.1),  # a slow phase of the machine that hits every sample of one size in one round
    ],
    ids=["five-sizes", "three-sizes", "shared-noise"],
)
def test_noise_alone_rarely_decides_a_claim_on_the_edge_of_its_band(plan, shared):
    """The exponent sits exactly on the edge of the band: neither outcome is right, so every early decision is
    noise deciding. Over 200 sweeps of 5 rounds (looks after rounds 1, 2 and 4), with the scatter of a loaded CPU at
    small N (sd 0.15 of the log), noise decides at most about α = 1% of them."""
    rng = random.Random(5)
    claim = TimeClaim(2.5, 0.5)  # band [2, 3]; the exponent is 2
    decided = 0
    for _ in range(200):
        samples: dict[int, list[float]] = {n: [] for n in plan}
        for rounds in range(1, 5):
            for n, count in plan.items():
                phase = rng.gauss(0, shared)
                samples[n] += [1e-9 * n**2 * math.exp(rng.gauss(0, 0.15) + phase) for _ in range(count)]
            seen = look(samples, [claim], rounds, 5) if looks_at(rounds, 5) else None
            if seen is not None and seen.decided:
                decided += 1
                break
    assert decided <= 4  # 2%: α plus the slack of 200 draws


def test_samples_the_fit_refuses_leave_the_claim_undecided():
    samples = _samples(2.0, 0.05, 1, random.Random(6))
    samples[512] = [0.0] * len(samples[512])  # a CUDA event that read 0 s: no power law through it
    assert look(samples, [TimeClaim(2, 0.5)], 1, 5) is None
    samples[512] = [1e-3, 0.0, 1e-3, 1e-3]  # one such sample: the value can be fitted, its log scatter cannot
    assert look(samples, [TimeClaim(2, 0.5)], 1, 5) is None

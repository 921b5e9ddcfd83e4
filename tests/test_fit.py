"""The fit, on synthetic data of known exponent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_attncomplexity import FitError, fit_power_law, geometric
from pytest_attncomplexity.fit import best_complexity, local_slopes

SIZES = geometric(256, 16384)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_exact_power_law_gives_its_exponent(exponent):
    values = [3e-6 * n**exponent for n in SIZES]
    fit = fit_power_law(SIZES, values, "time")
    assert fit.exponent == pytest.approx(exponent, abs=1e-9)
    assert fit.ci[0] == pytest.approx(exponent, abs=1e-9)
    assert fit.ci[1] == pytest.approx(exponent, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.local_slopes == pytest.approx([exponent] * (len(SIZES) - 1))
    assert fit.predict(1000) == pytest.approx(3e-6 * 1000**exponent, rel=1e-9)


@pytest.mark.parametrize(
    ("law", "expected"),
    [
        (lambda n: 5.0 + 0 * n, "1"),
        (lambda n: 2 * math.log2(n), "log N"),
        (lambda n: 7 * n, "N"),
        (lambda n: n * math.log2(n), "N log N"),
        (lambda n: 0.1 * n**2, "N^2"),
        (lambda n: n**3, "N^3"),
    ],
)
def test_complexity_class_is_recognised(law, expected):
    values = [law(n) for n in SIZES]
    assert best_complexity(SIZES, values) == expected
    assert fit_power_law(SIZES, values).complexity == expected


def test_noisy_data_with_an_outlier_keeps_the_exponent_inside_the_interval():
    rng = np.random.default_rng(7)
    values = [1e-9 * n**2 * math.exp(rng.normal(0, 0.05)) for n in SIZES]
    values[2] *= 3.0  # one disturbed point: Theil-Sen barely moves
    fit = fit_power_law(SIZES, values, "time")
    assert abs(fit.exponent - 2.0) < 0.1
    assert fit.ci[0] <= fit.exponent <= fit.ci[1]
    assert fit.ci[0] < 2.0 < fit.ci[1]
    assert fit.r2 < 1.0


def test_wider_noise_widens_the_confidence_interval():
    rng = np.random.default_rng(1)
    quiet = [n**2 * math.exp(rng.normal(0, 0.01)) for n in SIZES]
    loud = [n**2 * math.exp(rng.normal(0, 0.3)) for n in SIZES]
    width = [fit.ci[1] - fit.ci[0] for fit in (fit_power_law(SIZES, quiet), fit_power_law(SIZES, loud))]
    assert width[0] < width[1]


def test_local_slopes_show_a_bend():
    sizes = [256, 512, 1024, 2048]
    values = [1.0, 2.0, 8.0, 32.0]  # linear, then quadratic
    assert local_slopes(sizes, values) == pytest.approx([1.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("sizes", "values", "message"),
    [
        ([256], [1.0], "at least 2 points"),
        ([256, 512], [1.0], "2 sizes but 1 values"),
        ([256, 512, 1024], [1.0, 0.0, 4.0], "N=512: 0.0"),
        ([256, 512, 1024], [1.0, float("nan"), 4.0], "N=512: nan"),
        ([0, 512, 1024], [1.0, 2.0, 4.0], "sizes must be positive"),
    ],
)
def test_unfittable_data_is_a_clear_error(sizes, values, message):
    with pytest.raises(FitError, match=message):
        fit_power_law(sizes, values, "memory")


def test_fixed_overhead_at_small_n_is_left_out_of_the_exponent():
    sizes = geometric(1024, 16384)
    values = [12e-6 + 4e-12 * n**2 for n in sizes]  # 12 µs per call plus quadratic work
    plain = fit_power_law(sizes, values, "time")
    trimmed = fit_power_law(sizes, values, "time", trim_overhead=True)
    assert plain.exponent < 1.8
    assert trimmed.overhead_sizes == (1024, 2048)
    assert trimmed.exponent == pytest.approx(2.0, abs=0.15)  # 15% overhead remains at N=4096
    assert len(trimmed.local_slopes) == len(sizes) - 1  # the bend stays visible


@pytest.mark.parametrize(
    "sizes",
    [geometric(256, 4096), [256, 512, 1024]],
    ids=["pure power law", "three points"],
)
def test_nothing_is_trimmed_without_overhead_or_spare_points(sizes):
    values = [n**2 * (1.0 if len(sizes) > 3 else 1 + 1e5 / n**2) for n in sizes]
    fit = fit_power_law(sizes, values, "time", trim_overhead=True)
    assert fit.overhead_sizes == ()


def test_a_fixed_cost_larger_than_a_launch_is_not_trimmed():
    sizes = geometric(1024, 16384)
    values = [1e-3 + 4e-12 * n**2 * 250 for n in sizes]  # 1 ms "overhead": a cache level, not a launch
    assert fit_power_law(sizes, values, "time", trim_overhead=True).overhead_sizes != ()
    assert fit_power_law(sizes, values, "time", trim_overhead=True, max_overhead=100e-6).overhead_sizes == ()

"""The fit, on synthetic data of known exponent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_attncomplexity import FitError, fit_power_law, geometric
from pytest_attncomplexity.core.fit import best_complexity, local_slopes, overhead_head

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


MiB = 2**20
TRAIN_SIZES = geometric(256, 4096)


def _memory_fit(values: list[float]):
    return fit_power_law(TRAIN_SIZES, values, "memory", trim_overhead=True, prove_fixed_part=True)


@pytest.mark.parametrize(
    ("law", "fixed", "exponent"),
    [
        (lambda n: 16 * MiB + 4 * MiB * (n / 256) ** 2, 16 * MiB, 2.0),  # parameter gradients + N² scores
        (lambda n: 16 * MiB + 2 * MiB * (n / 256), 16 * MiB, 1.0),  # the same beside a fused kernel's O(N)
        # A peak is a maximum over the call, not a sum: the gradients' peak at small N, the scores' at large N.
        (lambda n: max(18 * MiB, 0.3 * MiB + 2 * MiB * (n / 256) ** 2), 18 * MiB, 2.0),
    ],
    ids=["fixed + N^2", "fixed + N", "max(fixed, N^2)"],
)
def test_a_fixed_part_of_memory_is_left_out_and_estimated(law, fixed, exponent):
    values = [law(n) for n in TRAIN_SIZES]
    plain = fit_power_law(TRAIN_SIZES, values, "memory")
    trimmed = _memory_fit(values)
    assert trimmed.overhead_sizes == (256, 512)  # the fixed part dominates them; 3 sizes are always kept
    assert trimmed.fixed_part == pytest.approx(fixed, rel=0.15)
    assert trimmed.exponent > plain.exponent
    assert abs(trimmed.exponent - exponent) < abs(plain.exponent - exponent)
    assert len(trimmed.local_slopes) == len(TRAIN_SIZES) - 1


@pytest.mark.parametrize(
    "law",
    [
        lambda n: 4 * MiB * (n / 256) ** 2,
        lambda n: 2 * MiB * (n / 256),
        # An N-sized buffer that doubles from N=2048 on (a workspace a kernel takes only at large N): a bend in the
        # middle that no fixed part explains.
        lambda n: 2 * MiB * (n / 256) * (1 if n <= 1024 else 2),
        lambda n: n * math.log2(n),
        lambda n: 1e6 * (n / 256) / (1 + n / 1024),  # concave: growth that slows down
        # Naive attention: the output (linear) beside the scores (N²), 6% of the first size (4.5 MiB at N=256).
        lambda n: 0.06 * MiB * (n / 256) + 0.94 * MiB * (n / 256) ** 2,
        # A part that grows like N (a wide projection's activations) at half the first size (below).
        lambda n: 0.5 * MiB * (n / 256) + 0.5 * MiB * (n / 256) ** 2,
    ],
    ids=["N^2", "N", "N with a step", "N log N", "concave", "naive attention", "N + N^2"],
)
def test_memory_without_a_fixed_part_is_fitted_over_every_size(law):
    values = [law(n) for n in TRAIN_SIZES]
    fit = _memory_fit(values)
    assert fit.overhead_sizes == () and fit.fixed_part == 0.0
    assert fit.exponent == fit_power_law(TRAIN_SIZES, values, "memory").exponent


def test_a_fixed_part_is_left_out_only_where_it_dominates():
    sizes = geometric(256, 2048)  # four sizes: at most the first is left out
    dominant = [16 * MiB + 4 * MiB * (n / 256) ** 2 for n in sizes]
    assert fit_power_law(sizes, dominant, "memory", trim_overhead=True, prove_fixed_part=True).overhead_sizes == (256,)
    small = [0.2 * MiB + 0.8 * MiB * (n / 256) ** 2 for n in TRAIN_SIZES]  # 20% of the first size: kept
    assert _memory_fit(small).overhead_sizes == ()


@pytest.mark.parametrize(
    ("sizes", "values"),
    [
        (TRAIN_SIZES, [0.5 * MiB * (n / 256) + 0.5 * MiB * (n / 256) ** 2 for n in TRAIN_SIZES]),
        # Naive attention's training step at N=16..256 as measured: its inputs' gradients (linear) and an 8-byte
        # scalar, then the N² scores.
        ([16, 32, 64, 128, 256], [163848.0, 327688.0, 655376.0, 2097168.0, 7340048.0]),
    ],
    ids=["N + N^2", "naive attention's training step"],
)
def test_a_part_that_grows_like_n_is_not_taken_for_a_fixed_part(sizes, values):
    head, _ = overhead_head(sizes, values)
    assert head > 0  # the model of a fixed part alone explains this bend with one
    fit = fit_power_law(sizes, values, "memory", trim_overhead=True, prove_fixed_part=True)
    assert fit.overhead_sizes == ()  # the second size is twice the first: nothing proves a part that does not grow

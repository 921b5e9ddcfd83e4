"""Comparing a result with its baseline: the rule grammar and the judgments (synthetic points of known shape)."""

from __future__ import annotations

import random

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.comparison import Change, ResultComparison
from pytest_attncomplexity.core.records import Halt
from pytest_attncomplexity.core.rules import parse_rules, rule_for
from pytest_attncomplexity.gate.compare import compare_result

SIZES = (256, 512, 1024, 2048)
ENV = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")


def _memory(exponent: float, scale: float = 1.0, sizes: tuple[int, ...] = SIZES) -> ScalingResult:
    points = tuple(Point(n, (scale * 100.0 * n**exponent,)) for n in sizes)
    return ScalingResult("attn", ENV, {"memory": points}, nodeid="t.py::test")


def _time(seconds_at: dict[int, float], spread: float = 0.02, samples: int = 15, seed: int = 0) -> ScalingResult:
    """Samples scattered by ``spread`` around each value, with a few slow outliers, as real timings are."""
    rng = random.Random(seed)
    points = []
    for n, value in seconds_at.items():
        drawn = [value * (1 + abs(rng.gauss(0, spread))) for _ in range(samples)]
        drawn[rng.randrange(samples)] *= 1.5
        points.append(Point(n, tuple(drawn)))
    return ScalingResult("attn", ENV, {"time": tuple(points)}, nodeid="t.py::test")


def test_rules_read_every_form_and_pick_the_named_metric_first():
    rules = parse_rules("exponent:0.3, memory:0.1,time-value:10%,value:25%,flops-exponent:0.05")
    assert [(r.kind, r.metric, r.threshold) for r in rules] == [
        ("exponent", None, 0.3),
        ("exponent", "memory", 0.1),
        ("value", "time", pytest.approx(0.1)),
        ("value", None, 0.25),
        ("exponent", "flops", 0.05),
    ]
    assert rule_for(rules, "exponent", "memory").threshold == 0.1  # named beats "any metric"
    assert rule_for(rules, "exponent", "time").threshold == 0.3
    assert rule_for(rules, "value", "memory").threshold == 0.25
    assert rule_for(parse_rules("time:0.2"), "exponent", "memory") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("exponent", "cannot read 'exponent': expected exponent:DELTA"),
        ("speed:0.3", "cannot read 'speed:0.3'"),
        ("latency-value:10%", "unknown metric 'latency' in 'latency-value:10%'"),
        ("value:0.2", "a value threshold is a percentage such as 20%, got 'value:0.2'"),
        ("exponent:30%", "an exponent threshold is a difference of exponents such as 0.3, not a percentage"),
        ("memory:-1", "the threshold of 'memory:-1' must be a number >= 0"),
        ("time:fast", "the threshold of 'time:fast' is not a number"),
        (" , ", "no expression in ' , '"),
    ],
)
def test_a_bad_rule_names_the_flag_and_the_expression(text, problem):
    with pytest.raises(ValueError, match=r"^--attn-scaling-compare-fail: ") as error:
        parse_rules(text)
    assert problem in str(error.value)


def test_an_exponent_rise_past_the_threshold_regresses():
    comparison = compare_result(_memory(2.0), _memory(1.0), parse_rules("exponent:0.3"), "0001_main")
    (change,) = comparison.exponents
    assert change.change == Change.REGRESSED and change.delta == pytest.approx(1.0)
    assert change.sizes == SIZES and change.rule == "exponent:0.3"
    assert "memory exponent 1.000 (95% CI 1.000 to 1.000) -> 2.000" in change.describe()
    assert "+1.000 over N=256..2048: regressed (exponent:0.3)" in change.describe()


def test_same_shape_is_unchanged_and_a_fall_is_an_improvement_never_a_failure():
    rules = parse_rules("exponent:0.3")
    assert compare_result(_memory(1.0, 1.3), _memory(1.0), rules, "b").exponents[0].change == Change.UNCHANGED
    assert compare_result(_memory(1.0), _memory(2.0), rules, "b").exponents[0].change == Change.IMPROVED
    assert compare_result(_memory(1.25), _memory(1.0), rules, "b").exponents[0].change == Change.UNCHANGED


def test_a_rise_the_intervals_do_not_confirm_is_inconclusive():
    # A bent curve, then the same curve times N^0.5: a rise of 0.5, but the bend makes both intervals wide.
    bent = dict(zip(SIZES, (1.0, 4.0, 5.0, 40.0), strict=True))
    before = ScalingResult("attn", ENV, {"memory": tuple(Point(n, (v,)) for n, v in bent.items())})
    now = ScalingResult("attn", ENV, {"memory": tuple(Point(n, (v * (n / 256) ** 0.5,)) for n, v in bent.items())})
    (change,) = compare_result(now, before, parse_rules("memory:0.3"), "b").exponents
    assert change.delta == pytest.approx(0.5)
    assert change.baseline_ci[1] - change.baseline_ci[0] > 1
    assert change.change == Change.INCONCLUSIVE


def test_exponents_are_compared_on_the_sizes_both_runs_measured():
    before = _memory(1.0, sizes=(128, 256, 512, 1024))
    now = _memory(1.0, sizes=(256, 512, 1024, 2048, 4096))
    (change,) = compare_result(now, before, parse_rules("exponent:0.1"), "b").exponents
    assert change.sizes == (256, 512, 1024)
    too_few = compare_result(_memory(1.0, sizes=(1024, 2048, 4096)), before, parse_rules("exponent:0.1"), "b")
    assert too_few.exponents == ()
    assert "memory exponent: 1 size(s) measured in both runs (1024); a comparison needs 3" in too_few.notes


def test_a_memory_value_rule_judges_the_ratio_at_the_largest_shared_n():
    rules = parse_rules("memory-value:20%")
    grown = compare_result(_memory(1.0, 1.5), _memory(1.0), rules, "b").values[0]
    assert (grown.n, grown.change, grown.p_value) == (2048, Change.REGRESSED, None)
    assert grown.ratio == pytest.approx(1.5)
    assert compare_result(_memory(1.0, 1.1), _memory(1.0), rules, "b").values[0].change == Change.UNCHANGED
    assert compare_result(_memory(1.0, 0.5), _memory(1.0), rules, "b").values[0].change == Change.IMPROVED


def test_a_time_value_needs_the_slowdown_and_the_samples_to_agree():
    base = {n: 1e-9 * n**2 for n in SIZES}
    rules = parse_rules("time-value:10%")
    twice = compare_result(_time({n: 2 * v for n, v in base.items()}, seed=1), _time(base), rules, "b").values[0]
    assert twice.change == Change.REGRESSED and twice.p_value < 0.002
    same = compare_result(_time(base, seed=2), _time(base), rules, "b").values[0]
    assert same.change == Change.UNCHANGED
    # 30% slower in its faster half, but five scattered samples a side cannot show it at p < 0.002.
    few = compare_result(
        _time({n: 1.3 * v for n, v in base.items()}, spread=0.3, samples=5, seed=3),
        _time(base, spread=0.3, samples=5),
        rules,
        "b",
    ).values[0]
    assert few.ratio > 1.1 and few.p_value >= 0.002
    assert few.change == Change.INCONCLUSIVE


def test_without_a_rule_changes_are_numbers_only_and_a_new_result_is_new():
    comparison = compare_result(_memory(2.0), _memory(1.0), (), "0001_main")
    assert {c.change for c in comparison.changes} == {Change.NOT_GATED}
    new = compare_result(_memory(2.0), None, parse_rules("exponent:0.3"), "0001_main")
    assert new == ResultComparison("0001_main", found=False)


def test_a_comparison_survives_its_json_form():
    result = _memory(2.0)
    result.comparison = compare_result(result, _memory(1.0), parse_rules("exponent:0.3,value:10%"), "0001_main")
    again = ScalingResult.from_json(result.to_json())
    assert again.comparison == result.comparison


def test_running_out_of_memory_where_the_baseline_did_not_is_a_regression():
    before = _memory(1.0)
    now = _memory(2.0, sizes=(256, 512))
    now.points["memory"] = (*now.points["memory"], Point(1024, (), "oom", "out of memory"))
    now.halt = Halt(1024, "oom", "out of memory")
    comparison = compare_result(now, before, parse_rules("exponent:0.3"), "b")
    assert comparison.exponents == ()  # 2 shared sizes: no exponent to compare...
    assert comparison.stop is not None and comparison.stop.change == Change.REGRESSED  # ...but the stop says it
    assert "ran out of memory at N=1024 (out of memory), where the baseline measured up to N=2048" in (
        comparison.stop.describe()
    )
    skipped = _memory(1.0, sizes=(256, 512, 1024))
    skipped.halt = Halt(2048, "skipped", "over the RAM guard")
    assert compare_result(skipped, before, parse_rules("exponent:0.3"), "b").stop.change == Change.INCONCLUSIVE
    assert compare_result(now, before, (), "b").stop.change == Change.NOT_GATED
    assert ScalingResult.from_json(now.to_json()).halt == now.halt


def test_both_runs_leave_out_the_same_overhead_dominated_sizes():
    # The same N² work; the per-call cost fell from 110 µs (over the trimming cap: kept) to 12 µs (trimmed).
    sizes = (128, 256, 512, 1024, 2048)

    def timed(overhead: float) -> ScalingResult:
        points = tuple(Point(n, (overhead + 2e-10 * n**2,) * 3) for n in sizes)
        return ScalingResult("attn", ENV, {"time": points}, nodeid="t.py::test")

    before, now = timed(110e-6), timed(12e-6)
    assert now.fit("time").overhead_sizes and not before.fit("time").overhead_sizes
    (change,) = compare_result(now, before, parse_rules("time:0.3"), "b").exponents
    assert change.sizes == sizes[len(now.fit("time").overhead_sizes) :]  # the sizes both were fitted on
    assert change.change != Change.REGRESSED  # a lower overhead is no steeper growth


def test_both_runs_leave_out_the_sizes_a_fixed_part_of_memory_dominates():
    # The same N² scores; the run now also trains 16 MiB of parameters, whose gradients dominate its first sizes.
    sizes = (256, 512, 1024, 2048, 4096)

    def peaks(fixed: float) -> ScalingResult:
        points = tuple(Point(n, (max(fixed, 4 * 2**20 * (n / 256) ** 2),)) for n in sizes)
        return ScalingResult("attn", ENV, {"memory": points}, nodeid="t.py::test")

    before, now = peaks(0.0), peaks(16 * 2**20)
    assert now.fit("memory").overhead_sizes == (256, 512) and not before.fit("memory").overhead_sizes
    (change,) = compare_result(now, before, parse_rules("memory:0.3"), "b").exponents
    assert change.sizes == sizes[2:]  # the sizes both were fitted on
    assert change.delta == pytest.approx(0.0, abs=0.01) and change.change == Change.UNCHANGED


def test_three_shared_sizes_can_make_a_rise_inconclusive_at_most():
    sizes = (256, 512, 1024)
    (change,) = compare_result(
        _memory(2.0, sizes=sizes), _memory(1.0, sizes=sizes), parse_rules("memory:0.3"), "b"
    ).exponents
    assert change.delta == pytest.approx(1.0) and change.change == Change.INCONCLUSIVE


def test_a_time_value_is_never_judged_on_one_sample():
    base = {n: 1e-9 * n**2 for n in SIZES}
    rules = parse_rules("time-value:10%")
    one = compare_result(_time({n: 3 * v for n, v in base.items()}, samples=1), _time(base), rules, "b").values[0]
    assert one.change == Change.INCONCLUSIVE and one.p_value is None
    assert "1 sample(s) on one side: no test can tell a change from noise" in one.describe()
    five = compare_result(_time({n: 3 * v for n, v in base.items()}, samples=5), _time(base, samples=5), rules, "b")
    assert five.values[0].change == Change.INCONCLUSIVE  # 1/252 is the smallest p 5 against 5 can give
    assert "5 and 5 samples cannot reach p < 0.002 whatever they hold" in five.values[0].describe()


def test_results_of_different_axes_are_not_compared():
    before = _memory(1.0)
    now = _memory(2.0)
    now.environment = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward", axis="head_dim")
    comparison = compare_result(now, before, parse_rules("exponent:0.3"), "b")
    assert comparison.found and comparison.changes == ()
    assert comparison.notes == ("swept head_dim now, seq_len in the baseline: not compared",)


def test_a_memory_regression_behind_a_fixed_part_is_confirmed_over_every_size():
    # 18 MiB fixed plus a linear part, then the same plus an N² part: 3 sizes past the fixed part are too few to
    # confirm the rise there, the 4 shared sizes confirm it.
    mib = 2**20

    def model(quadratic: float) -> ScalingResult:
        points = tuple(Point(n, (18 * mib + 4096.0 * n + quadratic * n**2,)) for n in SIZES)
        return ScalingResult("bert", ENV, {"memory": points}, nodeid="t.py::test")

    before, now = model(0.0), model(40.0)
    (change,) = compare_result(now, before, parse_rules("memory:0.3"), "b").exponents
    assert change.change == Change.REGRESSED
    assert change.delta > 0.3

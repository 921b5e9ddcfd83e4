"""Judge a result against its baseline entry by the rules of ``--attn-scaling-compare-fail`` (core/rules.py): the
two judgments they make, and a sweep that stopped where the baseline did not. No torch, no pytest.

An exponent rule (``exponent:0.3``, ``memory:0.2``) fails a result when its exponent rose by more than the threshold
*and* the intervals say the rise is real: the lower end of the rise's own 95% interval is past the threshold. That
interval combines the two fits' intervals as independent errors do (the root of the sum of squares of the current
fit's lower and the baseline's upper half-width); requiring the two intervals to be apart by the threshold would ask
more than 95% confidence and miss real rises of short sweeps. A rise past the threshold that the intervals do not
confirm is inconclusive. A value rule (``value:20%``, ``time-value:10%``) judges the constant factor at the largest
N both runs measured: for memory and FLOPs (exact counts) the ratio alone, for time the ratio and a one-sided Mann-
Whitney test on the raw samples, as asv does (p < 0.002): a slowdown that the samples cannot tell from noise is
inconclusive. Both runs are fitted on the sizes they share, so a sweep that grew does not read as a change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..core.comparison import SIGNIFICANCE, Change, ExponentChange, ResultComparison, StopChange, ValueChange
from ..core.fit import Fit, FitError
from ..core.records import OUT_OF_MEMORY, SKIPPED
from ..core.result import MIN_FIT_POINTS, NOISY_METRICS, ScalingResult
from ..core.rules import EXPONENT, VALUE, Rule, rule_for

# Fewer shared sizes than this make a rise inconclusive at most: with 3 points, scipy's Theil-Sen interval is the
# range of the pairwise slopes, which holds the true slope about 2 times in 3, not 19 in 20.
MIN_CONFIRM_POINTS = 4


def compare_result(
    current: ScalingResult, baseline: ScalingResult | None, rules: Sequence[Rule], name: str
) -> ResultComparison:
    """Every metric both measured: its exponent change and its value change, each judged by its rule (if any)."""
    if baseline is None:
        return ResultComparison(name, found=False)
    axis, axis_before = current.environment.axis, baseline.environment.axis
    if axis != axis_before:  # sizes of different axes: nothing in common to compare
        return ResultComparison(name, True, notes=(f"swept {axis} now, {axis_before} in the baseline: not compared",))
    exponents: list[ExponentChange] = []
    values: list[ValueChange] = []
    notes: list[str] = []
    for metric in current.metrics:
        if metric not in baseline.metrics:
            notes.append(f"{metric}: not measured in the baseline")
            continue
        exponent = compare_exponent(current, baseline, metric, rule_for(rules, EXPONENT, metric))
        value = compare_value(current, baseline, metric, rule_for(rules, VALUE, metric))
        for outcome, kept in ((exponent, exponents), (value, values)):
            if isinstance(outcome, str):
                notes.append(outcome)
            else:
                kept.append(outcome)  # type: ignore[arg-type]
    stop = compare_stop(current, baseline, rules)
    return ResultComparison(name, True, tuple(exponents), tuple(values), tuple(notes), stop)


def compare_stop(current: ScalingResult, baseline: ScalingResult, rules: Sequence[Rule]) -> StopChange | None:
    """A sweep that ended at a size the baseline measured lost the points a comparison would judge: running out of
    memory there is a regression, a skip (a budget, the RAM guard: they depend on the machine's state) inconclusive.
    """
    halt = current.halt
    if halt is None or halt.status not in (OUT_OF_MEMORY, SKIPPED):
        return None
    measured = [n for metric in baseline.metrics for n in baseline.sizes(metric)]
    if not measured or halt.n > max(measured):
        return None
    change, rule = Change.NOT_GATED, ""
    if rules:
        gate = rule_for(rules, EXPONENT, "memory") or rules[0]
        change = Change.REGRESSED if halt.status == OUT_OF_MEMORY else Change.INCONCLUSIVE
        rule = gate.text
    return StopChange(halt.n, str(halt.status), halt.reason, max(measured), change, rule)


def compare_exponent(
    current: ScalingResult, baseline: ScalingResult, metric: str, rule: Rule | None
) -> ExponentChange | str:
    """The exponent change over the shared sizes, or why it cannot be compared."""
    shared = sorted(set(current.sizes(metric)) & set(baseline.sizes(metric)))
    if len(shared) < MIN_FIT_POINTS:
        return (
            f"{metric} exponent: {len(shared)} size(s) measured in both runs ({_sizes(shared)}); a comparison needs "
            f"{MIN_FIT_POINTS}"
        )
    try:
        now, before = current.fit_on(metric, shared), baseline.fit_on(metric, shared)
        if now.overhead_sizes != before.overhead_sizes:
            # Each run left out the sizes its own fixed part dominates (a per-call cost, a model's parameter
            # gradients): fit both on the same sizes, past the longer head, or a changed fixed part reads as a
            # changed exponent.
            head = max(len(now.overhead_sizes), len(before.overhead_sizes))
            now = current.fit_on(metric, shared[head:], trim=False)
            before = baseline.fit_on(metric, shared[head:], trim=False)
    except FitError as error:
        return f"{metric} exponent: cannot be compared: {error}"
    change = _judge_exponents(now, before, rule)
    if change == Change.INCONCLUSIVE and len(_fitted(now)) < MIN_CONFIRM_POINTS <= len(shared):
        # The sizes past the head rose past the threshold, but are too few to confirm it: the fit over every shared
        # size may (a memory regression of a model with a fixed part, swept at 4 sizes, has 3 left past the head).
        whole_now = current.fit_on(metric, shared, trim=False)
        whole_before = baseline.fit_on(metric, shared, trim=False)
        if _judge_exponents(whole_now, whole_before, rule) == Change.REGRESSED:
            now, before, change = whole_now, whole_before, Change.REGRESSED
    return ExponentChange(
        metric,
        before.exponent,
        before.ci,
        now.exponent,
        now.ci,
        _fitted(now),
        change,
        rule.text if rule else "",
    )


def _fitted(fit: Fit) -> tuple[int, ...]:
    return tuple(n for n in fit.sizes if n not in fit.overhead_sizes)


def _judge_exponents(now: Fit, before: Fit, rule: Rule | None) -> Change:
    if rule is None:
        return Change.NOT_GATED
    delta = now.exponent - before.exponent
    # The 95% interval of the change, one side at a time: how far down a rise, or up a fall, could really be.
    rise_low = delta - math.hypot(now.exponent - now.ci[0], before.ci[1] - before.exponent)
    fall_low = -delta - math.hypot(now.ci[1] - now.exponent, before.exponent - before.ci[0])
    if rise_low > rule.threshold and len(_fitted(now)) >= MIN_CONFIRM_POINTS:
        return Change.REGRESSED
    if delta > rule.threshold:
        return Change.INCONCLUSIVE
    if fall_low > rule.threshold:
        return Change.IMPROVED
    return Change.UNCHANGED


def compare_value(current: ScalingResult, baseline: ScalingResult, metric: str, rule: Rule | None) -> ValueChange | str:
    """The value change at the largest N both runs measured, or why it cannot be compared."""
    shared = sorted(set(current.sizes(metric)) & set(baseline.sizes(metric)))
    if not shared:
        return f"{metric} value: no size measured in both runs"
    n = shared[-1]
    now, before = current.point_at(metric, n), baseline.point_at(metric, n)
    assert now is not None and before is not None  # both measured n
    if not before.value > 0:
        return f"{metric} value: the baseline's is {before.value:g} at N={n}; a ratio needs a positive one"
    ratio = now.value / before.value
    noisy = metric in NOISY_METRICS
    p_worse = p_better = None
    if noisy and len(now.samples) > 1 and len(before.samples) > 1:
        from scipy.stats import mannwhitneyu

        p_worse = float(mannwhitneyu(now.samples, before.samples, alternative="greater").pvalue)
        p_better = float(mannwhitneyu(now.samples, before.samples, alternative="less").pvalue)
    change = Change.NOT_GATED
    if rule is not None:
        worse, better = ratio > 1 + rule.threshold, ratio < 1 / (1 + rule.threshold)
        # Time is never judged on one number: a side with a single sample has no test, and stays inconclusive.
        if worse:
            confirmed = p_worse < SIGNIFICANCE if p_worse is not None else not noisy
            change = Change.REGRESSED if confirmed else Change.INCONCLUSIVE
        elif better and (p_better < SIGNIFICANCE if p_better is not None else not noisy):
            change = Change.IMPROVED
        else:
            change = Change.UNCHANGED
    p_value = p_worse if ratio >= 1 else p_better
    samples = (len(now.samples), len(before.samples))
    return ValueChange(metric, n, before.value, now.value, change, p_value, rule.text if rule else "", samples)


def _sizes(sizes: Sequence[int]) -> str:
    return ", ".join(map(str, sizes)) or "none"

"""The rules of ``--attn-scaling-compare-fail``: ``exponent:0.3``, ``memory:0.2``, ``value:20%``,
``time-value:10%``, read into Rules at start-up, and the rule that judges a metric. No torch, no pytest (the
judging itself is gate/compare.py's)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .units import METRICS

EXPONENT = "exponent"
VALUE = "value"
_RULE = re.compile(r"^(?:(?P<metric>[a-z]+)-)?(?P<kind>[a-z]+):(?P<threshold>[^:]+)$")


@dataclass(frozen=True)
class Rule:
    """One ``--attn-scaling-compare-fail`` expression: what it judges (an exponent or a value), of which metric
    (None: every metric) and the largest change it allows (exponent units, or a fraction of the value)."""

    kind: str
    metric: str | None
    threshold: float
    text: str


def parse_rules(text: str, source: str = "--attn-scaling-compare-fail") -> tuple[Rule, ...]:
    """``exponent:0.3,memory:0.2,value:20%,time-value:10%`` as Rules; ValueError naming the expression."""
    rules = []
    for raw in text.split(","):
        expression = raw.strip().lower()
        if expression:
            rules.append(_parse_rule(expression, source))
    if not rules:
        raise ValueError(f"{source}: no expression in {text!r}; give e.g. exponent:0.3 or memory:0.2,time-value:10%")
    return tuple(rules)


def _parse_rule(expression: str, source: str) -> Rule:
    grammar = (
        "exponent:DELTA, METRIC:DELTA or METRIC-exponent:DELTA (an exponent rise such as 0.3), value:PERCENT or "
        f"METRIC-value:PERCENT (a slowdown or growth such as 20%); METRIC is one of {', '.join(METRICS)}"
    )
    match = _RULE.match(expression)
    if match is None:
        raise ValueError(f"{source}: cannot read {expression!r}: expected {grammar}")
    metric, kind, threshold = match["metric"], match["kind"], match["threshold"].strip()
    if metric is None and kind in METRICS:  # memory:0.2 is memory-exponent:0.2
        metric, kind = kind, EXPONENT
    if metric is not None and metric not in METRICS:
        raise ValueError(f"{source}: unknown metric {metric!r} in {expression!r}; choose from {', '.join(METRICS)}")
    if kind not in (EXPONENT, VALUE):
        raise ValueError(f"{source}: cannot read {expression!r}: expected {grammar}")
    if kind == VALUE:
        if not threshold.endswith("%"):
            raise ValueError(f"{source}: a value threshold is a percentage such as 20%, got {expression!r}")
        amount = _number(threshold[:-1], expression, source) / 100
    else:
        if threshold.endswith("%"):
            raise ValueError(
                f"{source}: an exponent threshold is a difference of exponents such as 0.3, not a percentage: "
                f"{expression!r}"
            )
        amount = _number(threshold, expression, source)
    return Rule(kind, metric, amount, expression)


def _number(text: str, expression: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{source}: the threshold of {expression!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{source}: the threshold of {expression!r} must be a number >= 0")
    return value


def rule_for(rules: Sequence[Rule], kind: str, metric: str) -> Rule | None:
    """The rule that judges ``kind`` of ``metric``: one naming the metric wins over one for every metric; of
    several, the strictest."""
    named = [r for r in rules if r.kind == kind and r.metric == metric]
    general = [r for r in rules if r.kind == kind and r.metric is None]
    candidates = named or general
    return min(candidates, key=lambda r: r.threshold) if candidates else None

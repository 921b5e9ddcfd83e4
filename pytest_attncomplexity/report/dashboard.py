"""A run's exponents and values in the formats CI dashboards read, so that they chart this plugin's results unchanged.

- github-action-benchmark's ``customSmallerIsBetter``: a list of ``{"name", "unit", "value", "range", "extra"}``
  (``value`` a number, the others strings). Per result and metric, one entry for the exponent (unit ``exponent``,
  ``range`` the 95% interval's half-width, ``extra`` the interval, the sizes and the class) and one for the value at
  the largest N (its unit; for time ``range`` is half the interquartile range). Smaller is better for both.
- the Bencher Metric Format: ``{benchmark: {measure: {"value", "lower_value", "upper_value"}}}``, one benchmark per
  result, a measure per exponent (its 95% interval as the bounds) and per value.

A metric with no fit (too few sizes measured) has no exponent entry: its value still goes out. Names leave out
pytest-xdist's ``@group`` suffix, as baselines do. No torch, no pytest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.fit import Fit, FitError
from ..core.nodeids import plain_nodeid
from ..core.records import Point
from ..core.result import NOISY_METRICS, ScalingResult
from ..core.units import format_value
from ..gate.storage import numbered

UNIT_NAMES = {"time": "s", "memory": "bytes", "flops": "FLOP"}


def result_name(result: ScalingResult, occurrence: int) -> str:
    """``tests/test_x.py::test_causal [sdpa]``, ``#2`` after the label for the second sweep of it in the test."""
    repeat = f" #{occurrence}" if occurrence > 1 else ""
    # Without pytest-xdist's @group suffix: a chart must not split in two when the --dist mode changes.
    return f"{plain_nodeid(result.nodeid)} [{result.label}]{repeat}"


@dataclass(frozen=True)
class MetricNumbers:
    """What a dashboard shows of one metric of a result: its fit (None when there is none) and its point at the
    largest N measured (None when none was)."""

    metric: str
    fit: Fit | None
    sizes: tuple[int, ...]
    point: Point | None


def metric_numbers(result: ScalingResult) -> list[MetricNumbers]:
    numbers = []
    for metric in result.metrics:
        sizes = result.sizes(metric)
        try:
            fit: Fit | None = result.fit(metric)
        except FitError:
            fit = None
        point = result.point_at(metric, sizes[-1]) if sizes else None
        if point is not None and not math.isfinite(point.value):
            point = None  # JSON has no NaN: a dashboard rejects the whole file for one
        numbers.append(MetricNumbers(metric, fit, sizes, point))
    return numbers


def custom_smaller_is_better(results: Sequence[ScalingResult]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for occurrence, result in numbered(results):
        name = result_name(result, occurrence)
        env = result.environment
        where = f"{env.device} ({env.device_name}), torch {env.torch_version}"
        for numbers in metric_numbers(result):
            metric, fit, sizes, point = numbers.metric, numbers.fit, numbers.sizes, numbers.point
            if fit is not None:
                half_width = max(fit.exponent - fit.ci[0], fit.ci[1] - fit.exponent)
                entries.append(
                    {
                        "name": f"{name} {metric} exponent",
                        "unit": "exponent",
                        "value": round(fit.exponent, 4),
                        "range": f"± {half_width:.3f}",
                        "extra": f"95% CI {fit.ci[0]:.3f} to {fit.ci[1]:.3f} over {result.symbol}={sizes[0]}.."
                        f"{sizes[-1]} ({len(sizes)} sizes), O({fit.complexity})\n{where}",
                    }
                )
            if point is not None:
                entry: dict[str, Any] = {
                    "name": f"{name} {metric} at {result.symbol}={point.n}",
                    "unit": UNIT_NAMES.get(metric, ""),
                    "value": point.value,
                    "extra": f"{format_value(metric, point.value)} at {result.symbol}={point.n}, "
                    f"{len(point.samples)} sample(s)\n{where}",
                }
                if metric in NOISY_METRICS and len(point.samples) > 1:
                    entry["range"] = f"± {point.iqr / 2:.3g}"
                entries.append(entry)
    return entries


def bencher_metric_format(results: Sequence[ScalingResult]) -> dict[str, dict[str, dict[str, float]]]:
    benchmarks: dict[str, dict[str, dict[str, float]]] = {}
    for occurrence, result in numbered(results):
        measures: dict[str, dict[str, float]] = {}
        for numbers in metric_numbers(result):
            fit, point, metric = numbers.fit, numbers.point, numbers.metric
            if fit is not None:
                measures[f"{metric} exponent"] = {
                    "value": fit.exponent,
                    "lower_value": fit.ci[0],
                    "upper_value": fit.ci[1],
                }
            if point is not None:
                measures[f"{metric} at {result.symbol}={point.n} ({UNIT_NAMES.get(metric, '')})"] = {
                    "value": point.value
                }
        benchmarks[result_name(result, occurrence)] = measures
    return benchmarks

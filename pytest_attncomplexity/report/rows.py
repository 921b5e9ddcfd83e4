"""One summary row per metric of a result, shared by the terminal, HTML and Markdown reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.fit import Fit, FitError
from ..core.result import ScalingResult


@dataclass(frozen=True)
class MetricRow:
    """The fit of one metric (or why there is none) and the sizes it saw."""

    metric: str
    span: str  # "256..2048 (4)", or "none measured"
    fit: Fit | None
    error: str = ""

    @property
    def ci(self) -> str:
        return f"{self.fit.ci[0]:.3f} .. {self.fit.ci[1]:.3f}" if self.fit else "-"

    @property
    def slopes(self) -> str:
        return " ".join(f"{s:.2f}" for s in self.fit.local_slopes) if self.fit else ""


def results_by_test(results: Sequence[ScalingResult]) -> dict[str, list[ScalingResult]]:
    """The results of each test, in the order the tests ran (a result without a node id stands under its label)."""
    grouped: dict[str, list[ScalingResult]] = {}
    for result in results:
        grouped.setdefault(result.nodeid or result.label, []).append(result)
    return grouped


def metric_rows(result: ScalingResult) -> list[MetricRow]:
    rows = []
    for metric in result.metrics:
        sizes = result.sizes(metric)
        span = f"{sizes[0]}..{sizes[-1]} ({len(sizes)})" if sizes else "none measured"
        try:
            rows.append(MetricRow(metric, span, result.fit(metric)))
        except FitError as error:
            rows.append(MetricRow(metric, span, None, str(error)))
    return rows

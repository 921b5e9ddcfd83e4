"""The breakdown of a result in the reports: for each metric, the operators (and lines) that hold the most of it at
the largest N, with their exponents. Shown for a metric whose claim missed or whose exponent regressed against the
baseline, and for every metric with ``--attn-breakdown``; the JSON holds it always. Shared by the terminal report
and the HTML page."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.breakdown import BreakdownGroup
from ..core.comparison import Change
from ..core.result import ScalingResult
from ..core.verdict import Outcome

SHOWN_GROUPS = 4  # per metric: the largest shares at the largest N
MIN_SHOWN_SHARE = 0.01  # smaller groups are left out of the reports (the JSON keeps them)
_OF = {"memory": "of the peak", "time": "of the profiled self time", "flops": "of the FLOPs"}


@dataclass(frozen=True)
class MetricBreakdown:
    metric: str
    n: int  # the largest N, where the shares are taken
    groups: tuple[BreakdownGroup, ...]

    def title(self, symbol: str) -> str:
        return f"{self.metric} by operator, share {_OF.get(self.metric, 'of the total')} at {symbol}={self.n}"


def missed_metrics(result: ScalingResult) -> set[str]:
    """The metrics of a claim that did not pass, or of an exponent that regressed against the baseline."""
    missed = {v.metric for v in result.checks if v.outcome != Outcome.PASS}
    if result.comparison is not None:
        missed |= {c.metric for c in result.comparison.exponents if c.change in (Change.REGRESSED, Change.INCONCLUSIVE)}
    return missed


def shown_breakdowns(result: ScalingResult, everything: bool = False) -> list[MetricBreakdown]:
    """What the reports show of a result's breakdown: each metric missed (or every one, ``everything``) that the
    sweep broke down, its largest groups first."""
    wanted = set(result.metrics) if everything else missed_metrics(result)
    shown = []
    for metric in result.metrics:
        if metric not in wanted:
            continue
        groups = [g for g in result.breakdown(metric) if g.share >= MIN_SHOWN_SHARE][:SHOWN_GROUPS]
        if groups:
            shown.append(MetricBreakdown(metric, max(groups[0].values), tuple(groups)))
    return shown


def group_cells(group: BreakdownGroup, symbol: str) -> tuple[str, str, str, str, str]:
    """share, exponent, operator, line, shape: one row of the breakdown."""
    exponent = "-" if group.exponent is None else f"{group.exponent:.2f}"
    shape = group.shape_with(group.largest_n, symbol) or ""
    return (f"{group.share:.0%}", exponent, group.name, group.where or "-", shape)


def breakdown_lines(result: ScalingResult, everything: bool = False) -> list[str]:
    """The terminal's lines: a title per metric, then ``49%  ^2.00  aten::_softmax  test_a.py:12  (1, 8, N, N)``."""
    lines = []
    for shown in shown_breakdowns(result, everything):
        lines.append(f"{shown.title(result.symbol)}:")
        for group in shown.groups:
            share, exponent, name, where, shape = group_cells(group, result.symbol)
            lines.append(f"  {share:>4}  exponent {exponent:>5}  {name}  {where}  {shape}".rstrip())
    return lines

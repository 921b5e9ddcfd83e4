"""A session's comparison with a saved baseline: which baseline, where it differs from this run, each test's
results judged against their entries in it, and the messages a regression fails its test with. No torch, no
pytest (the plugin calls it after each test's body)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.comparison import Change, ExponentChange, ResultComparison, StopChange, ValueChange
from ..core.explain import pointing_lines
from ..core.result import NOISY_METRICS, ScalingResult
from ..core.rules import EXPONENT, Rule, rule_for
from ..core.units import format_value
from .compare import compare_result
from .storage import Baseline, numbered, result_key


@dataclass
class BaselineGate:
    baseline: Baseline
    rules: tuple[Rule, ...]
    differences: Sequence[str] = ()  # where the baseline was measured, against now (a warning when not empty)

    def compare_test(self, results: Sequence[ScalingResult], *, retime: bool = True) -> tuple[list[str], list[str]]:
        """Compare each result of one test with its baseline entry (and keep the comparison on the result).

        Returns the failure messages of the regressions and those of the inconclusive changes. A time change that
        is inconclusive is measured again first (as a verdict is), when the result can be and ``retime`` allows
        (not for a test that failed already).
        """
        entries = self.baseline.entries
        regressions: list[str] = []
        inconclusive: list[str] = []
        for occurrence, result in numbered(results):
            entry = entries.get(result_key(result, occurrence))
            comparison = compare_result(result, entry, self.rules, self.baseline.name)
            if retime and entry is not None and _noisy_inconclusive(comparison) and result.retime("time"):
                comparison = compare_result(result, entry, self.rules, self.baseline.name)
            result.comparison = comparison
            if entry is None:
                continue
            for changes, into in (
                (comparison.with_change(Change.REGRESSED), regressions),
                (comparison.with_change(Change.INCONCLUSIVE), inconclusive),
            ):
                into.extend(self._explain(result, entry, change) for change in changes)
        return regressions, inconclusive

    def message(self, regressions: Sequence[str], inconclusive: Sequence[str]) -> str:
        """The failure text of a test: which baseline, then each change with its numbers."""
        if regressions:
            head = f"regressed against baseline {self.baseline.describe()}:"
        else:
            head = f"inconclusive against baseline {self.baseline.describe()} (noise could explain the change):"
        return "\n\n".join([head, *regressions, *inconclusive])

    def missing(self, results: Sequence[ScalingResult]) -> list[str]:
        """Baseline entries that no result of this run matched (deselected, renamed or removed tests). Read from the
        results' comparisons, so it holds on pytest-xdist's controller too, where the workers compared."""
        matched = {
            result_key(result, occurrence)
            for occurrence, result in numbered(results)
            if result.comparison is not None and result.comparison.found
        }
        return [
            f"{nodeid} [{label}]" + (f" #{occurrence}" if occurrence > 1 else "")
            for (nodeid, label, occurrence) in self.baseline.entries
            if (nodeid, label, occurrence) not in matched
        ]

    def summary(self) -> dict[str, Any]:
        """The comparison's header, for the JSON and HTML reports."""
        return {
            "baseline": self.baseline.name,
            "path": str(self.baseline.path),
            "saved": self.baseline.saved,
            "commit": dict(self.baseline.commit),
            "environment": dict(self.baseline.environment),
            "rules": [rule.text for rule in self.rules],
            "differences": list(self.differences),
        }

    def _explain(
        self, result: ScalingResult, entry: ScalingResult, change: ExponentChange | ValueChange | StopChange
    ) -> str:
        shared = [m for m in result.metrics if m in entry.metrics]
        metric = change.metric if change.metric in shared else next(iter(shared), None)
        table = side_by_side(result, entry, metric) if metric else []
        pointing: list[str] = []
        if isinstance(change, ExponentChange) and change.change in (Change.REGRESSED, Change.INCONCLUSIVE):
            rule = rule_for(self.rules, EXPONENT, change.metric)
            pointing = pointing_lines(result, change.metric, change.baseline + (rule.threshold if rule else 0.0))
        return "\n".join([f"{result.label}: {change.describe()}", *pointing, *table])


def _noisy_inconclusive(comparison: ResultComparison) -> bool:
    return any(c.metric in NOISY_METRICS for c in comparison.with_change(Change.INCONCLUSIVE))


def side_by_side(result: ScalingResult, entry: ScalingResult, metric: str) -> list[str]:
    """The values of ``metric`` at each N, in the baseline and now."""
    before = {p.n: p for p in entry.points_of(metric) if p.measured}
    now = {p.n: p for p in result.points_of(metric) if p.measured}
    lines = [f"  {'N':>8}  {'baseline':>12}  {'now':>12}  {'ratio':>7}"]
    for n in sorted(set(before) | set(now)):
        old = format_value(metric, before[n].value) if n in before else "-"
        new = format_value(metric, now[n].value) if n in now else "-"
        ratio = f"{now[n].value / before[n].value:.3f}" if n in before and n in now and before[n].value > 0 else "-"
        lines.append(f"  {n:>8}  {old:>12}  {new:>12}  {ratio:>7}")
    return lines


def count_changes(results: Sequence[ScalingResult]) -> Mapping[str, int]:
    """How many results are new, and how many metric changes regressed, improved, ... in this run."""
    counts: dict[str, int] = {}
    for result in results:
        comparison = result.comparison
        if comparison is None:
            continue
        if not comparison.found:
            counts["new"] = counts.get("new", 0) + 1
        for change in comparison.changes:
            counts[change.change] = counts.get(change.change, 0) + 1
    return counts

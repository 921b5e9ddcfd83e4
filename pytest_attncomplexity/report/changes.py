"""The comparison with a baseline in words: one line per change of a result, and the terminal's section. Shared by
the terminal, HTML and Markdown reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.result import ScalingResult
from ..gate.storage import commit_phrase


def change_lines(result: ScalingResult) -> list[tuple[str, str]]:
    """(change, text) for each compared metric of ``result``: exponents first, then values, then what could not be
    compared; a result missing from the baseline is one ("new", ...) line."""
    comparison = result.comparison
    if comparison is None:
        return []
    if not comparison.found:
        return [("new", f"not in baseline {comparison.baseline}: nothing to compare with")]
    lines = [(str(c.change), c.describe()) for c in comparison.changes]
    lines += [("not compared", note) for note in comparison.notes]
    return lines


def describe_baseline(summary: Mapping[str, Any]) -> str:
    return f"baseline {summary['baseline']} (saved {summary['saved']}{commit_phrase(summary.get('commit') or {})})"


def counts_phrase(counts: Mapping[str, int]) -> str:
    order = ("regressed", "inconclusive", "improved", "unchanged", "not gated", "new")
    return ", ".join(f"{counts[name]} {name}" for name in order if counts.get(name)) or "nothing compared"


def format_comparison(results: Sequence[ScalingResult], summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The terminal's comparison section as (change, line): the baseline, what differs, each result's changes, what
    did not run. ``change`` is the line's kind of change ("" for the others), for its colour."""
    rules = ", ".join(summary["rules"]) or "none: changes are reported, never failures (--attn-scaling-compare-fail)"
    lines = [("", f"compared with {describe_baseline(summary)}"), ("", f"rules: {rules}")]
    lines += [("", f"measured elsewhere: {difference}") for difference in summary["differences"]]
    for result in results:
        changes = change_lines(result)
        if changes:
            lines.append(("", f"{result.nodeid} [{result.label}]"))
            lines += [(change, f"  {text}") for change, text in changes]
    lines += [("", f"in the baseline, not run now: {missing}") for missing in summary["missing"]]
    lines.append(("", f"changes: {counts_phrase(summary['counts'])}"))
    return lines

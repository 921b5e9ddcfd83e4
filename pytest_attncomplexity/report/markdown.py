"""The Markdown table appended to ``$GITHUB_STEP_SUMMARY``: one row per measured metric, with its verdicts."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.result import ScalingResult
from .changes import change_lines, counts_phrase, describe_baseline
from .rows import metric_rows

_ICONS = {"passed": "✅", "failed": "❌", "error": "❌", "skipped": "⏭️", "xfailed": "⚠️", "xpassed": "⚠️"}


def _cell(text: str) -> str:
    """Text safe inside a GitHub table cell: no pipes, no newlines, no HTML (``<locals>`` would vanish as a tag)."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(
    results: Sequence[ScalingResult], outcomes: Mapping[str, str], comparison: Mapping[str, Any] | None = None
) -> str:
    lines = [
        "",  # the summary file may hold a previous step's text without a final newline
        "### Attention scaling",
        "",
        "| test | outcome | result | metric | exponent | 95% CI | class | checked against | verdict |",
        "| --- | --- | --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for result in results:
        outcome = outcomes.get(result.nodeid, "unknown")
        for row in metric_rows(result):
            checks = [v for v in result.checks if v.metric == row.metric]
            claim = ", ".join(f"{v.expected:g} ± {v.tol:g}" for v in checks) or "-"
            verdict = ", ".join(v.outcome for v in checks) or "-"
            if row.fit is not None:
                numbers = [f"{row.fit.exponent:.3f}", row.ci, f"O({row.fit.complexity})"]
            else:
                numbers = ["-", "-", _cell(row.error)]
            cells = [
                f"<code>{_cell(result.nodeid)}</code>",
                f"{_ICONS.get(outcome, '')} {outcome}".strip(),
                _cell(result.label),
                row.metric,
                *numbers,
                claim,
                verdict,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if not results:
        lines.append("| no test used the attn_scaling fixture | | | | | | | | |")
    if comparison is not None:
        lines += _comparison_table(results, comparison)
    return "\n".join(lines) + "\n"


def _comparison_table(results: Sequence[ScalingResult], comparison: Mapping[str, Any]) -> list[str]:
    lines = [
        "",
        f"Compared with {_cell(describe_baseline(comparison))}: {_cell(counts_phrase(comparison['counts']))}",
        *(f"- measured elsewhere: {_cell(difference)}" for difference in comparison["differences"]),
        *(f"- in the baseline, not run now: <code>{_cell(missing)}</code>" for missing in comparison["missing"]),
    ]
    if not any(change_lines(result) for result in results):
        return lines
    lines += ["", "| test | result | change | details |", "| --- | --- | --- | --- |"]
    for result in results:
        for change, text in change_lines(result):
            icon = {"regressed": "❌ ", "inconclusive": "⚠️ ", "improved": "✅ "}.get(change, "")
            cells = [f"<code>{_cell(result.nodeid)}</code>", _cell(result.label), f"{icon}{change}", _cell(text)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines

"""The Markdown table appended to ``$GITHUB_STEP_SUMMARY``: one row per measured metric, with its verdicts."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from ..results import ScalingResult
from .rows import metric_rows

_ICONS = {"passed": "✅", "failed": "❌", "error": "❌", "skipped": "⏭️", "xfailed": "⚠️", "xpassed": "⚠️"}


def _cell(text: str) -> str:
    """Text safe inside a GitHub table cell: no pipes, no newlines, no HTML (``<locals>`` would vanish as a tag)."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[ScalingResult], outcomes: Mapping[str, str]) -> str:
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
    return "\n".join(lines) + "\n"

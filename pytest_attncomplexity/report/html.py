"""``--attn-scaling-html``: one self-contained page (inline CSS and SVG, no script, nothing fetched).

Per test: a badge with the test's outcome, the verdicts given, the exponent table, the points, the memory wall and
predictions, and the log-log figure. At the top: where it ran (torch, device, threads, dtype).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..core.explain import OVERHEAD_PHRASE, fixed_part_phrase, kernel_line, noisy_phrase
from ..core.extrapolate import describe_prediction, memory_wall
from ..core.fit import FitError
from ..core.result import ScalingResult
from ..core.units import format_value
from .breakdown import MetricBreakdown, group_cells, shown_breakdowns
from .changes import change_lines, counts_phrase, describe_baseline
from .efficiency import flop_rate_lines
from .rows import metric_rows, results_by_test
from .text import describe_environment

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 16px 24px; color: #1d2327; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 8px; }
h2 { font-size: 16px; margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
section.test { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 16px; margin: 16px 0; }
.head { display: flex; gap: 12px; align-items: center; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; font-size: 12px;
         text-transform: uppercase; color: #fff; white-space: nowrap; }
.passed, .pass { background: #1a7f37; } .failed, .fail, .error { background: #cf222e; }
.skipped, .xfailed, .xpassed, .inconclusive { background: #9a6700; } .unknown { background: #6e7781; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 3px 10px; text-align: right; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
.env, .note { color: #57606a; font-size: 13px; } .note { margin: 2px 0; }
.plot svg { max-width: 100%; height: auto; } .missing { color: #9a6700; }
.incomplete { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 10px; }
pre.message { background: #fff8f8; border-left: 3px solid #cf222e; padding: 8px 10px; overflow-x: auto;
              font-size: 12px; white-space: pre-wrap; }
ul.checks { margin: 6px 0; padding-left: 18px; } details { margin: 6px 0; } summary { cursor: pointer; }
"""


def render_html(
    results: Sequence[ScalingResult],
    outcomes: Mapping[str, str],
    plots: Mapping[str, str],
    *,
    messages: Mapping[str, str] | None = None,
    plot_note: str = "",
    max_memory: int | None = None,
    predict_n: int | None = None,
    run_note: str = "",
    comparison: Mapping[str, Any] | None = None,
    breakdown: bool = False,
) -> str:
    """The page. ``outcomes``: test outcome per nodeid; ``plots``: inline SVG per nodeid (missing: ``plot_note``);
    ``run_note``: shown at the top while the run has not finished (a page left by a killed run says so)."""
    by_test = results_by_test(results)
    sections = [
        _test_section(
            nodeid,
            group,
            outcomes.get(nodeid, "unknown"),
            (messages or {}).get(nodeid, ""),
            plots.get(nodeid),
            plot_note,
            max_memory,
            predict_n,
            breakdown,
        )
        for nodeid, group in by_test.items()
    ]
    environments = sorted({describe_environment(r) for r in results})
    counts = _outcome_counts([outcomes.get(nodeid, "unknown") for nodeid in by_test])
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    body = [
        "<h1>Attention scaling</h1>",
        f'<p class="env">{escape(stamp)} · {len(by_test)} test(s): {escape(counts)}</p>',
        f'<p class="incomplete">{escape(run_note)}</p>' if run_note else "",
        _comparison_header(comparison) if comparison is not None else "",
        '<p class="env">' + "<br>".join(escape(e) for e in environments) + "</p>" if environments else "",
        *sections,
    ]
    if not by_test:
        body.append("<p>No test used the attn_scaling fixture.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Attention scaling</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


_CHANGE_CLASS = {"regressed": "fail", "inconclusive": "inconclusive", "improved": "pass", "new": "unknown"}


def _comparison_header(comparison: Mapping[str, Any]) -> str:
    rules = ", ".join(comparison["rules"]) or "none (reported only)"
    lines = [
        f"Compared with {describe_baseline(comparison)}; rules: {rules}; {counts_phrase(comparison['counts'])}.",
        *(f"Measured elsewhere: {difference}." for difference in comparison["differences"]),
        *(f"In the baseline, not run now: {missing}." for missing in comparison["missing"]),
    ]
    return '<p class="env">' + "<br>".join(escape(line) for line in lines) + "</p>"


def _outcome_counts(outcomes: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in counts.items())


def _test_section(
    nodeid: str,
    results: Sequence[ScalingResult],
    outcome: str,
    message: str,
    plot: str | None,
    plot_note: str,
    max_memory: int | None,
    predict_n: int | None,
    breakdown: bool,
) -> str:
    parts = [
        '<section class="test">',
        f'<div class="head"><span class="badge {escape(outcome)}">{escape(outcome)}</span>'
        f"<h2>{escape(nodeid)}</h2></div>",
    ]
    if message:
        parts.append(f'<pre class="message">{escape(message[:4000])}</pre>')
    for result in results:
        parts += _result_block(result, max_memory, predict_n, breakdown)
    if plot is not None:
        parts.append(f'<div class="plot">{plot}</div>')
    elif plot_note:
        parts.append(f'<p class="missing">{escape(plot_note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _result_block(result: ScalingResult, max_memory: int | None, predict_n: int | None, breakdown: bool) -> list[str]:
    parts = [f"<h3>{escape(result.label)}</h3>", f'<p class="env">{escape(describe_environment(result))}</p>']
    if result.checks:
        items = [
            f'<li><span class="badge {v.outcome}">{v.outcome}</span> {escape(v.describe())}</li>' for v in result.checks
        ]
        parts.append('<ul class="checks">' + "".join(items) + "</ul>")
    changes = change_lines(result)
    if changes:
        items = [
            f'<li><span class="badge {_CHANGE_CLASS.get(c, "unknown")}">{escape(c)}</span> {escape(t)}</li>'
            for c, t in changes
        ]
        parts.append('<ul class="checks">' + "".join(items) + "</ul>")
    parts.append(_fit_table(result))
    parts += [f'<p class="note">{escape(line)}</p>' for line in flop_rate_lines(result)]
    kernels = kernel_line(result)
    if kernels is not None:
        # A kernel that changes between sizes makes the exponent mix two implementations: flagged like a warning.
        flag = '<span class="badge inconclusive">kernel changes</span> ' if kernels.changes else ""
        parts.append(f'<p class="note">{flag}{escape(kernels.text)}</p>')
    notes = [
        fixed_part_phrase(row.metric, row.fit, result.symbol)
        for row in metric_rows(result)
        if row.fit and row.fit.overhead_sizes
    ]
    if result.timing is not None and result.timing.claims:
        notes.append(result.timing.describe())
    if result.halt is not None:
        notes.append(f"sweep ended: {result.halt.describe(result.symbol)}")
    wall = memory_wall(result, max_memory)
    if wall is not None:
        notes.append(wall.describe())
    if predict_n is not None:
        prediction = describe_prediction(result, predict_n)
        if prediction:
            notes.append(prediction)
    parts += [f'<p class="note">{escape(note)}</p>' for note in notes]
    parts += [_breakdown_table(shown, result.symbol) for shown in shown_breakdowns(result, breakdown)]
    for metric in result.metrics:
        summary = f"{escape(metric)}: every {escape(result.symbol)}"
        parts.append(f"<details><summary>{summary}</summary>{_points_table(result, metric)}</details>")
    return parts


def _fit_table(result: ScalingResult) -> str:
    rows = [
        "<tr><th>metric</th><th>exponent</th><th>95% CI</th><th>r²</th><th>class</th>"
        f"<th>{escape(result.symbol)} range</th><th>local slopes</th></tr>"
    ]
    for row in metric_rows(result):
        fit = row.fit
        if fit is None:
            rows.append(f'<tr><td>{escape(row.metric)}</td><td colspan="6" class="note">{escape(row.error)}</td></tr>')
            continue
        rows.append(
            f"<tr><td>{escape(row.metric)}</td><td><b>{fit.exponent:.3f}</b></td><td>{row.ci}</td>"
            f"<td>{fit.r2:.4f}</td><td>O({escape(fit.complexity)})</td><td>{row.span}</td><td>{row.slopes}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _breakdown_table(shown: MetricBreakdown, symbol: str) -> str:
    rows = [
        f'<tr><th colspan="5">{escape(shown.title(symbol))}</th></tr>'
        "<tr><th>share</th><th>exponent</th><th>operator</th><th>line</th><th>shape</th></tr>"
    ]
    for group in shown.groups:
        rows.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in group_cells(group, symbol)) + "</tr>")
    return '<table class="breakdown">' + "".join(rows) + "</table>"


def _points_table(result: ScalingResult, metric: str) -> str:
    rows = [f"<tr><th>{escape(result.symbol)}</th><th>value</th><th>IQR</th><th>samples</th><th>status</th></tr>"]
    try:
        left_out = result.fit(metric).overhead_sizes
    except FitError:
        left_out = ()
    for point in result.points[metric]:
        if point.measured:
            iqr = format_value(metric, point.iqr) if len(point.samples) > 1 else "-"
            flag = f", {noisy_phrase(point)}" if point.noisy else ""
            flag += f", {OVERHEAD_PHRASE}" if point.n in left_out else ""
            rows.append(
                f"<tr><td>{point.n}</td><td>{escape(format_value(metric, point.value))}</td><td>{escape(iqr)}</td>"
                f"<td>{len(point.samples)}</td><td>ok{escape(flag)}</td></tr>"
            )
        else:
            status = f"{point.status}: {point.reason}" if point.reason else point.status
            rows.append(f'<tr><td>{point.n}</td><td colspan="3"></td><td>{escape(status)}</td></tr>')
    return "<table>" + "".join(rows) + "</table>"

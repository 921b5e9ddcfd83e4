"""``attn-scaling history --html``: the history of the saved baselines as one self-contained page (inline CSS and
SVG, no script, nothing fetched). At the top the changes past the rules, each naming its run and linking to its
chart; then per machine and device its runs, and per test one small chart per result and metric
(history_chart.py), each with its table of numbers a click away."""

from __future__ import annotations

import datetime
from html import escape

from ..core.units import format_value
from ..gate.history import Flagged, History, MachineHistory, Series
from ..gate.storage import commit_phrase
from .history_chart import series_chart
from .history_text import SHOWN_CHANGES, empty_phrase, short_change

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 16px 24px; color: #1d2327; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 8px; } h2 { font-size: 17px; margin: 24px 0 6px; }
h3 { font-size: 14px; margin: 18px 0 6px; font-family: ui-monospace, Menlo, Consolas, monospace;
     word-break: break-all; }
.env, .note { color: #57606a; font-size: 13px; }
.skipped { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 12px; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; }
.card.regressed { border-color: #cf222e; box-shadow: 0 0 0 1px #cf222e; }
.card h4 { margin: 0 0 4px; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 11px;
         text-transform: uppercase; color: #fff; white-space: nowrap; }
.regressed-badge { background: #cf222e; } .improved-badge { background: #1a7f37; }
.inconclusive-badge { background: #9a6700; }
table { border-collapse: collapse; margin: 6px 0; font-variant-numeric: tabular-nums; font-size: 12px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 2px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
th.change, td.change { text-align: left; white-space: normal; min-width: 160px; } .card details { overflow-x: auto; }
ul.flagged li { margin: 3px 0; } details { margin: 4px 0; } summary { cursor: pointer; color: #0969da; }
svg { max-width: 100%; height: auto; }
"""


def render_history_html(history: History) -> str:
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    rules = ", ".join(rule.text for rule in history.rules) or "none"
    anchors = _anchors(history)
    body = [
        "<h1>Attention scaling history</h1>",
        f'<p class="env">{escape(str(history.storage))} · {history.runs} saved run(s) on {len(history.machines)} '
        f"machine(s) and device(s) · rules: {escape(rules)}"
        + (f" · only {escape(history.filtered)}" if history.filtered else "")
        + f" · written {escape(stamp)}</p>",
    ]
    if history.skipped:
        items = "".join(f"<li>{escape(str(s.path))}: {escape(s.reason)}</li>" for s in history.skipped)
        body.append(f'<div class="skipped">Skipped {len(history.skipped)} file(s):<ul>{items}</ul></div>')
    if not history.machines:
        body.append(f"<p>{escape(empty_phrase(history))}.</p>")
    else:
        body.append(_flagged_list(history, anchors))
    for machine in history.machines:
        body.append(_machine_section(machine, anchors))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Attention scaling history</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _anchors(history: History) -> dict[int, str]:
    """An id for each series' card, for the links of the summary."""
    return {
        id(series): f"m{m}-s{s}"
        for m, machine in enumerate(history.machines)
        for s, series in enumerate(machine.series)
    }


def _flagged_list(history: History, anchors: dict[int, str]) -> str:
    flagged = history.flagged(*SHOWN_CHANGES)
    if not flagged:
        return "<h2>Changes past the rules</h2><p>None between consecutive runs.</p>"
    parts = ["<h2>Changes past the rules</h2>", '<ul class="flagged">']
    for change in SHOWN_CHANGES:
        parts += [_flagged_item(f, anchors) for f in flagged if f.change.change == change]
    return "".join([*parts, "</ul>"])


def _flagged_item(flagged: Flagged, anchors: dict[int, str]) -> str:
    run = flagged.entry.run
    kind = str(flagged.change.change)
    return (
        f'<li><span class="badge {kind}-badge">{escape(kind)}</span> in <b>{escape(run.name)}</b> '
        f"(saved {escape(run.saved)}{escape(commit_phrase(run.commit))}; against {escape(flagged.previous.name)}): "
        f'<a href="#{anchors[id(flagged.series)]}">{escape(flagged.series.title)}</a><br>'
        f'<span class="note">{escape(flagged.change.describe())}</span></li>'
    )


def _machine_section(machine: MachineHistory, anchors: dict[int, str]) -> str:
    rows = ["<tr><th>run</th><th>saved</th><th>commit</th><th>device</th><th>torch</th><th>results</th></tr>"]
    for run in machine.runs:
        environment = run.environment
        commit = commit_phrase(run.commit).removeprefix(", commit ") or "-"
        rows.append(
            f"<tr><td>{escape(run.name)}</td><td>{escape(run.saved)}</td><td>{escape(commit)}</td>"
            f"<td>{escape(str(environment.get('device_name') or environment.get('device') or '-'))}</td>"
            f"<td>{escape(str(environment.get('torch') or '-'))}</td><td>{len(run.results)}</td></tr>"
        )
    # A long history's runs fold away: the charts are what the page is for.
    shown = " open" if len(machine.runs) <= 12 else ""
    runs = f"<details{shown}><summary>{len(machine.runs)} run(s)</summary><table>{''.join(rows)}</table></details>"
    parts = [f"<h2>{escape(machine.key)}</h2>", runs]
    if not machine.series:
        parts.append("<p>No result matches.</p>")
    by_test: dict[str, list[Series]] = {}
    for series in machine.series:
        by_test.setdefault(series.test, []).append(series)
    for test, group in by_test.items():
        cards = "".join(_card(series, machine, anchors[id(series)]) for series in group)
        parts.append(f'<h3>{escape(test)}</h3><div class="cards">{cards}</div>')
    return "\n".join(parts)


def _card(series: Series, machine: MachineHistory, anchor: str) -> str:
    marked = [c.change for e in series.entries for c in e.changes if c.change in SHOWN_CHANGES]
    badges = "".join(
        f' <span class="badge {change}-badge">{escape(str(change))}</span>'
        for change in SHOWN_CHANGES
        if change in marked
    )
    repeat = f" #{series.occurrence}" if series.occurrence > 1 else ""
    regressed = " regressed" if "regressed" in marked else ""
    return (
        f'<div class="card{regressed}" id="{anchor}"><h4>{escape(series.label)}{repeat} · {escape(series.metric)}'
        f"{badges}</h4>{series_chart(series, machine.runs)}"
        f"<details><summary>table</summary>{_table(series)}</details></div>"
    )


def _table(series: Series) -> str:
    where = f"{series.symbol}={series.reference_n}" if series.reference_n else f"largest {series.symbol}"
    # The commit and date of each run are in the machine's table of runs, and in each run label's tooltip.
    rows = [
        f"<tr><th>run</th><th>exponent</th><th>95% CI</th><th>at {escape(where)}</th>"
        "<th class='change'>change</th></tr>"
    ]
    for entry in series.entries:
        if entry.fit is None:
            exponent, ci = "-", escape(entry.error[:80] or "no fit")
        else:
            exponent, ci = f"{entry.fit.exponent:.3f}", f"{entry.fit.ci[0]:.3f} to {entry.fit.ci[1]:.3f}"
        value = "-" if entry.value is None else format_value(series.metric, entry.value)
        if entry.value is not None and series.reference_n is None:
            value += f" at {entry.n}"
        change = "; ".join(short_change(c) for c in entry.changes if c.change in SHOWN_CHANGES)
        rows.append(
            f"<tr><td>{escape(entry.run.name)}</td><td>{exponent}</td><td>{ci}</td>"
            f'<td>{escape(value)}</td><td class="change">{escape(change)}</td></tr>'
        )
    return "<table>" + "".join(rows) + "</table>"

"""The history of saved baselines in the terminal (``attn-scaling history``): each machine's runs, then per result
and metric one line per run (exponent, 95% interval, value, change since the run before), then the changes past the
rules, each naming the run that made it."""

from __future__ import annotations

from ..core.comparison import Change, ExponentChange, StopChange, ValueChange
from ..core.units import format_value
from ..gate.history import Flagged, History, HistoryEntry, MachineHistory, Series
from ..gate.storage import Baseline, commit_phrase

# The changes a line shows: unchanged and not gated ones would only repeat the numbers beside them.
SHOWN_CHANGES = (Change.REGRESSED, Change.INCONCLUSIVE, Change.IMPROVED)


def format_history(history: History, *, changed_only: bool = False) -> list[str]:
    rules = ", ".join(rule.text for rule in history.rules) or "none"
    lines = [
        f"attention scaling history of {history.storage}: {history.runs} saved run(s) on "
        f"{len(history.machines)} machine(s) and device(s); rules: {rules}"
        + (f"; only {history.filtered}" if history.filtered else "")
    ]
    lines += [f"skipped {skipped.path}: {skipped.reason}" for skipped in history.skipped]
    if not history.machines:
        lines.append(empty_phrase(history))
        return lines
    for machine in history.machines:
        lines += ["", *run_lines(machine)]
        shown = [s for s in machine.series if not changed_only or series_changed(s)]
        if not machine.series:
            lines.append("  no result matches")
        for series in shown:
            lines += ["", *series_lines(series)]
    lines.append("")
    flagged = history.flagged(*SHOWN_CHANGES)
    if not flagged:
        lines.append("no change past the rules between consecutive runs")
    for change in SHOWN_CHANGES:
        kept = [f for f in flagged if f.change.change == change]
        if kept:
            lines.append(f"{change} past the rules ({len(kept)}):")
            lines += [f"  {flagged_line(f)}" for f in kept]
    return lines


def empty_phrase(history: History) -> str:
    if not history.storage.exists():
        return f"no saved baselines: {history.storage} does not exist (save one with --attn-scaling-save=NAME)"
    if history.filtered:
        return f"no saved baseline matches ({history.filtered})"
    return f"no saved baselines in {history.storage} (save one with --attn-scaling-save=NAME)"


def run_lines(machine: MachineHistory) -> list[str]:
    width = max(len(run.name) for run in machine.runs)
    lines = [f"{machine.key}: {len(machine.runs)} run(s)"]
    lines += [f"  {run.name:<{width}}  saved {run.saved}{commit_phrase(run.commit)}" for run in machine.runs]
    return lines


def series_changed(series: Series) -> bool:
    return any(entry.with_change(change) for entry in series.entries for change in SHOWN_CHANGES)


def series_lines(series: Series) -> list[str]:
    width = max(len(entry.run.name) for entry in series.entries)
    where = f"at {series.symbol}={series.reference_n}" if series.reference_n else f"at the largest {series.symbol}"
    lines = [f"  {series.title}", f"    {'run':<{width}}  {'exponent':>8}  {'95% CI':<16}  {where:>14}  change"]
    for entry in series.entries:
        lines.append(f"    {entry.run.name:<{width}}  {entry_cells(entry, series)}  {change_cell(entry)}".rstrip())
    return lines


def entry_cells(entry: HistoryEntry, series: Series) -> str:
    if entry.fit is None:
        exponent, ci = "-", "no fit"
    else:
        exponent, ci = f"{entry.fit.exponent:.3f}", f"{entry.fit.ci[0]:.3f} to {entry.fit.ci[1]:.3f}"
    value = "-" if entry.value is None else format_value(series.metric, entry.value)
    if entry.value is not None and series.reference_n is None:
        value += f" @{entry.n}"
    return f"{exponent:>8}  {ci:<16}  {value:>14}"


def change_cell(entry: HistoryEntry) -> str:
    return "; ".join(short_change(c) for c in entry.changes if c.change in SHOWN_CHANGES)


def short_change(change: ExponentChange | ValueChange | StopChange) -> str:
    rule = f" ({change.rule})" if change.rule else ""
    if isinstance(change, ExponentChange):
        return f"{change.change}: exponent {change.delta:+.3f}{rule}"
    if isinstance(change, ValueChange):
        return f"{change.change}: value x{change.ratio:.3f} at N={change.n}{rule}"
    return f"{change.change}: {change.describe()}"


def flagged_line(flagged: Flagged) -> str:
    run: Baseline = flagged.entry.run
    return (
        f"{run.describe()} against {flagged.previous.name}, on {flagged.machine}: {flagged.series.test} "
        f"[{flagged.series.label}] {flagged.change.describe()}"
    )

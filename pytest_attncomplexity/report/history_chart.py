"""One series of the history as a small inline SVG chart (no script, nothing fetched): the exponent over the saved
runs with its 95% interval as a band, and below it the value at the reference size on a log scale. A change past a
rule is marked where it happened: a ring on the point and a dashed line through both panels, red for a regression,
green for an improvement, amber for an inconclusive change. Each point's numbers are in its tooltip (``<title>``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from ..core.comparison import Change, ExponentChange, ValueChange
from ..core.units import format_value
from ..gate.history import HistoryEntry, Series
from ..gate.storage import Baseline, commit_phrase

WIDTH, LEFT, RIGHT = 372, 70, 12
EXPONENT_TOP, EXPONENT_HEIGHT = 20, 92
VALUE_TOP, VALUE_HEIGHT = 138, 62
HEIGHT = 222
COLOURS = {Change.REGRESSED: "#cf222e", Change.IMPROVED: "#1a7f37", Change.INCONCLUSIVE: "#9a6700"}
MARKED = (Change.REGRESSED, Change.INCONCLUSIVE, Change.IMPROVED)
LABEL_WIDTH = 30  # a run's number under the chart, in pixels
MIN_EXPONENT_SPAN = 0.5  # a drift of a few hundredths must not fill the panel and look like a cliff


def series_chart(series: Series, runs: Sequence[Baseline]) -> str:
    """The chart of ``series``, its points placed at their run's place among ``runs`` (every run of the machine, so
    the charts of one machine line up)."""
    place = {run.path: index for index, run in enumerate(runs)}
    xs = {id(entry): _x(place[entry.run.path], len(runs)) for entry in series.entries}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(series.title)}" font-family="system-ui, sans-serif" font-size="10">',
        *_marks(series, xs),
        *_exponent_panel(series, xs),
        *_value_panel(series, xs),
        *_run_labels(series, runs, xs),
        "</svg>",
    ]
    return "".join(parts)


def _x(index: int, count: int) -> float:
    if count == 1:
        return LEFT + (WIDTH - LEFT - RIGHT) / 2
    return LEFT + 6 + index * (WIDTH - LEFT - RIGHT - 12) / (count - 1)


def _change_of(entry: HistoryEntry, kind: type) -> Change | None:
    """The most serious change of one kind (exponent or value) an entry made, if marked."""
    found = [c.change for c in entry.changes if isinstance(c, kind) and c.change in MARKED]
    return min(found, key=MARKED.index) if found else None


def _marks(series: Series, xs: dict[int, float]) -> list[str]:
    parts = []
    for entry in series.entries:
        changes = [c.change for c in entry.changes if c.change in MARKED]
        if changes:
            colour = COLOURS[min(changes, key=MARKED.index)]
            x = xs[id(entry)]
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{EXPONENT_TOP - 4}" y2="{VALUE_TOP + VALUE_HEIGHT}" '
                f'stroke="{colour}" stroke-dasharray="3 3" stroke-width="1"/>'
            )
    return parts


def _exponent_panel(series: Series, xs: dict[int, float]) -> list[str]:
    fitted = [e for e in series.entries if e.fit is not None]
    parts = [_frame(EXPONENT_TOP, EXPONENT_HEIGHT, "exponent, 95% interval as a band")]
    if not fitted:
        return [*parts, _empty(EXPONENT_TOP, EXPONENT_HEIGHT, "no fit in any run")]
    lows = [e.fit.ci[0] for e in fitted if e.fit]
    highs = [e.fit.ci[1] for e in fitted if e.fit]
    low, high = min(lows), max(highs)
    if high - low < MIN_EXPONENT_SPAN:
        middle = (high + low) / 2
        low, high = middle - MIN_EXPONENT_SPAN / 2, middle + MIN_EXPONENT_SPAN / 2
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad

    def y(value: float) -> float:
        return EXPONENT_TOP + EXPONENT_HEIGHT * (high - value) / (high - low)

    # Whole exponents (O(N), O(N²)) as faint guides: where a series sits against them is what a reader looks for.
    for whole in range(math.ceil(low), math.floor(high) + 1):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(whole):.1f}" y2="{y(whole):.1f}" stroke="#d0d7de" '
            f'stroke-dasharray="2 3"/><text x="{LEFT - 4}" y="{y(whole) + 3:.1f}" text-anchor="end" '
            f'fill="#57606a">{whole}</text>'
        )
    exponents = [e.fit.exponent for e in fitted if e.fit]
    labelled = [y(float(whole)) for whole in range(math.ceil(low), math.floor(high) + 1)]
    for edge in sorted({min(exponents), max(exponents)}):
        parts += _tick(y(edge), f"{edge:.2f}", labelled)
    band_top = [f"{xs[id(e)]:.1f},{y(e.fit.ci[1]):.1f}" for e in fitted if e.fit]
    band_bottom = [f"{xs[id(e)]:.1f},{y(e.fit.ci[0]):.1f}" for e in reversed(fitted) if e.fit]
    if len(fitted) > 1:
        parts.append(f'<polygon points="{" ".join(band_top + band_bottom)}" fill="#0969da" fill-opacity="0.15"/>')
        line = " ".join(f"{xs[id(e)]:.1f},{y(e.fit.exponent):.1f}" for e in fitted if e.fit)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="1.5"/>')
    for entry in fitted:
        assert entry.fit is not None
        x = xs[id(entry)]
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(entry.fit.ci[0]):.1f}" y2="{y(entry.fit.ci[1]):.1f}" '
            'stroke="#0969da" stroke-opacity="0.5"/>'
        )
        tip = (
            f"{entry.run.name}: exponent {entry.fit.exponent:.3f} (95% CI {entry.fit.ci[0]:.3f} to "
            f"{entry.fit.ci[1]:.3f}){_changes_tip(entry, ExponentChange)}"
        )
        parts.append(_dot(x, y(entry.fit.exponent), _change_of(entry, ExponentChange), tip))
    return parts


def _value_panel(series: Series, xs: dict[int, float]) -> list[str]:
    where = f"{series.symbol}={series.reference_n}" if series.reference_n else f"each run's largest {series.symbol}"
    parts = [_frame(VALUE_TOP, VALUE_HEIGHT, f"{series.metric} at {where}, log scale")]
    valued = [e for e in series.entries if e.value is not None and math.isfinite(e.value) and e.value > 0]
    if not valued:
        return [*parts, _empty(VALUE_TOP, VALUE_HEIGHT, "no positive value")]
    logs = [math.log10(e.value) for e in valued if e.value]
    low, high = min(logs), max(logs)
    if high - low < 0.3:  # at least a factor of 2 tall: noise of a few percent stays small
        middle = (high + low) / 2
        low, high = middle - 0.15, middle + 0.15
    pad = (high - low) * 0.1

    def y(value: float) -> float:
        return VALUE_TOP + VALUE_HEIGHT * (high + pad - math.log10(value)) / (high - low + 2 * pad)

    labelled: list[float] = []
    for edge in sorted({min(e.value for e in valued if e.value), max(e.value for e in valued if e.value)}):
        parts += _tick(y(edge), format_value(series.metric, edge), labelled)
    if len(valued) > 1:
        line = " ".join(f"{xs[id(e)]:.1f},{y(e.value):.1f}" for e in valued if e.value)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#6639ba" stroke-width="1.5"/>')
    for entry in valued:
        assert entry.value is not None
        at = f" at {series.symbol}={entry.n}"
        tip = f"{entry.run.name}: {format_value(series.metric, entry.value)}{at}{_changes_tip(entry, ValueChange)}"
        parts.append(_dot(xs[id(entry)], y(entry.value), _change_of(entry, ValueChange), tip, "#6639ba"))
    return parts


def _run_labels(series: Series, runs: Sequence[Baseline], xs: dict[int, float]) -> list[str]:
    """The runs' numbers under the chart: all of them when they fit, else the first, the last and those marked."""
    place = {run.path: index for index, run in enumerate(runs)}
    marked = {place[e.run.path] for e in series.entries if any(c.change in MARKED for c in e.changes)}
    wanted = set(range(len(runs))) if len(runs) <= 10 else {0, len(runs) - 1, *marked}
    shown: list[int] = []
    for index in sorted(wanted):  # left to right, none closer than a label's width to the one before
        if shown and _x(index, len(runs)) - _x(shown[-1], len(runs)) < LABEL_WIDTH:
            if index != len(runs) - 1:
                continue
            shown.pop()  # the last run's label wins over the one it would overlap
        shown.append(index)
    parts = []
    for index in shown:
        run = runs[index]
        x = _x(index, len(runs))
        label = run.name.split("_", 1)[0]
        tip = f"{run.name}, saved {run.saved}{commit_phrase(run.commit)}"
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle" fill="#57606a"><title>{escape(tip)}</title>'
            f"{escape(label)}</text>"
        )
    return parts


def _tick(y: float, text: str, labelled: list[float]) -> list[str]:
    """A label on the y axis, unless it would overlap one already there (``labelled``: their heights)."""
    if any(abs(y - other) < 11 for other in labelled):
        return []
    labelled.append(y)
    return [f'<text x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#57606a">{escape(text)}</text>']


def _frame(top: int, height: int, title: str) -> str:
    return (
        f'<text x="{LEFT}" y="{top - 6}" fill="#1d2327">{escape(title)}</text>'
        f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{height}" fill="none" stroke="#d0d7de"/>'
    )


def _empty(top: int, height: int, text: str) -> str:
    return (
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{top + height / 2:.1f}" text-anchor="middle" '
        f'fill="#8c959f">{escape(text)}</text>'
    )


def _dot(x: float, y: float, change: Change | None, tip: str, colour: str = "#0969da") -> str:
    ring = ""
    if change is not None:
        ring = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6.5" fill="none" stroke="{COLOURS[change]}" stroke-width="2"/>'
    return f'<g>{ring}<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/><title>{escape(tip)}</title></g>'


def _changes_tip(entry: HistoryEntry, kind: type) -> str:
    return "".join(f"\n{c.describe()}" for c in entry.changes if isinstance(c, kind) and c.change in MARKED)

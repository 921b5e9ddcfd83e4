"""Log-log figures of a test's results: one panel per metric, every result of the test as one series.

Measured points carry their IQR as error bars, the fitted power law is drawn with its exponent in the legend, and
dashed O(N) and O(N²) lines give the eye a reference; sizes that ran out of memory, failed or were skipped are
marked at the top of the panel. matplotlib is optional (the ``[plot]`` extra) and imported only here.
"""

from __future__ import annotations

import functools
import io
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.axes import axis_label
from ..core.fit import FitError
from ..core.records import FAILED, OUT_OF_MEMORY, SKIPPED
from ..core.result import ScalingResult
from ..core.units import format_value
from .atomic import replace_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'pytest-attncomplexity[plot]' (or pip install matplotlib)"
_METRIC_TITLES = {"time": "time per call", "memory": "peak memory", "flops": "FLOPs per call"}
_MARKS = {
    OUT_OF_MEMORY: ("X", "#c0392b", "out of memory"),
    SKIPPED: ("s", "#7f8c8d", "skipped"),
    FAILED: ("D", "#2c3e50", "failed"),
}


_OUTCOME_COLORS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e"}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib(purpose: str) -> None:
    """Raise PlotUnavailable naming what needs matplotlib and the install command when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"{purpose} needs matplotlib, which is not installed: {INSTALL_HINT}") from None


def file_stem(nodeid: str) -> str:
    """A file name for a test: ``tests/test_a.py::test_b[x]`` -> ``tests_test_a__test_b_x``."""
    stem = nodeid.replace(".py::", "__").replace("::", "__")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.")
    return stem[:150] or "attn_scaling"


def make_figure(results: Sequence[ScalingResult], title: str, outcome: str = "") -> Figure:
    from matplotlib.figure import Figure

    metrics = list(dict.fromkeys(metric for result in results for metric in result.metrics))
    width = 5.2 * len(metrics)
    figure = Figure(figsize=(width, 4.4), layout="constrained")
    shown = f"{title} — {outcome}" if outcome else title
    figure.suptitle(_plain(_wrapped(shown, int(width * 11))), fontsize=11, color=_OUTCOME_COLORS.get(outcome, "black"))
    for index, metric in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), index + 1)
        _draw_metric(axes, [r for r in results if metric in r.metrics], metric)
    return figure


def _wrapped(title: str, width: int) -> str:
    """A long node id on several lines: first after ``::`` (file, then test), then wherever it must."""
    if len(title) <= width:
        return title
    parts = title.replace("::", "::\n").split("\n")
    return "\n".join(line for part in parts for line in textwrap.wrap(part, width, break_long_words=True) or [""])


def save_plots(
    results: Sequence[ScalingResult], directory: Path, title: str, stem: str | None = None, outcome: str = ""
) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` for one test into ``directory`` (stem: from the title by default)."""
    directory.mkdir(parents=True, exist_ok=True)
    figure = make_figure(results, title, outcome)
    written = []
    for suffix in ("png", "svg"):
        path = directory / f"{stem or file_stem(title)}.{suffix}"
        written.append(replace_atomically(path, functools.partial(_save, figure, suffix)))
    return written


def _save(figure: Figure, suffix: str, path: Path) -> None:
    figure.savefig(path, format=suffix, dpi=110)


def svg_text(results: Sequence[ScalingResult], title: str, id_prefix: str = "", outcome: str = "") -> str:
    """The figure as an SVG element, for inlining (text drawn as paths: no fonts are fetched).

    ``id_prefix`` goes in front of every id and reference to it, so that several figures in one page do not share
    ids (matplotlib names glyphs and axes the same way in every figure).
    """
    buffer = io.StringIO()
    make_figure(results, title, outcome).savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype: not allowed inside HTML
    if id_prefix:
        text = re.sub(r'\bid="([^"]+)"', rf'id="{id_prefix}\1"', text)
        text = re.sub(r'href="#([^"]+)"', rf'href="#{id_prefix}\1"', text)
        text = re.sub(r"url\(#([^)]+)\)", rf"url(#{id_prefix}\1)", text)
    return text


def _plain(text: str) -> str:
    """User text (node ids, labels) shown as typed: a ``$`` would start matplotlib's math mode."""
    return text.replace("$", r"\$")


def _readable_log_axis(axes: Any, metric: str) -> None:
    """Ticks in the metric's own units (1 ms, 16 MiB, 1 GFLOP); memory on powers of two, so ticks are whole MiB."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axes.set_yscale("log", base=2 if metric == "memory" else 10)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_value(metric, value)))
    low, high = axes.get_ylim()
    if metric != "memory" and high / low < 30:  # under ~1.5 decades: label the 2s and 5s too, or one tick is left
        axes.yaxis.set_minor_formatter(
            FuncFormatter(lambda value, _: format_value(metric, value) if _leading_digit(value) in (2, 5) else "")
        )
    else:
        axes.yaxis.set_minor_formatter(NullFormatter())


def _leading_digit(value: float) -> int:
    return int(f"{value:e}"[0]) if value > 0 else 0


def _pretty(complexity: str) -> str:
    return complexity.replace("^2", "²").replace("^3", "³")


def _draw_metric(axes: Any, results: Sequence[ScalingResult], metric: str) -> None:
    from matplotlib.ticker import NullLocator

    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]
    anchor: tuple[int, float] | None = None
    all_sizes: list[int] = []
    for index, result in enumerate(results):
        color = colors[index % len(colors)]
        points = result.points[metric]
        all_sizes += [p.n for p in points if p.measured or p.status in _MARKS]
        measured = [p for p in points if p.measured and p.value > 0]
        if measured:
            anchor = anchor or (measured[0].n, measured[0].value)
            values = [p.value for p in measured]
            low = [max(p.value - p.quartiles[0], 0.0) for p in measured]
            high = [max(p.quartiles[1] - p.value, 0.0) for p in measured]
            axes.errorbar(
                [p.n for p in measured],
                values,
                yerr=[low, high],
                fmt="o",
                color=color,
                capsize=3,
                markersize=5,
                label=f"{_plain(result.label)} (measured, IQR)" if len(results) > 1 else "measured (IQR bars)",
            )
        try:
            fit = result.fit(metric)
        except FitError:
            fit = None
        if fit is not None:
            xs = [fit.sizes[0], fit.sizes[-1]]
            name = f"{_plain(result.label)}: " if len(results) > 1 else "fit: "
            axes.plot(
                xs,
                [fit.predict(x) for x in xs],
                "-",
                color=color,
                linewidth=1.6,
                label=f"{name}{_plain(result.symbol)}$^{{{fit.exponent:.2f}}}$ → O({_pretty(fit.complexity)})",
            )
            if fit.overhead_sizes:
                trimmed = [p for p in measured if p.n in fit.overhead_sizes]
                axes.plot(
                    [p.n for p in trimmed],
                    [p.value for p in trimmed],
                    "o",
                    markersize=9,
                    markerfacecolor="none",
                    color="#999999",
                    label="left out: a fixed part dominates",
                )
        for point in points:
            if point.status in _MARKS:
                marker, mark_color, word = _MARKS[point.status]
                axes.plot(
                    [point.n],
                    [0.97],
                    marker,
                    color=mark_color,
                    markersize=9,
                    transform=axes.get_xaxis_transform(),
                    clip_on=False,
                    label=word,
                )
                axes.annotate(
                    word,
                    (point.n, 0.97),
                    xycoords=axes.get_xaxis_transform(),
                    xytext=(0, -14),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color=mark_color,
                )
    if anchor is not None and all_sizes:
        span = [min(all_sizes), max(all_sizes)]
        n0, v0 = anchor
        x = results[0].symbol
        for power, style, name in ((1, (0, (4, 3)), f"O({x})"), (2, (0, (1, 2)), f"O({x}²)")):
            axes.plot(
                span,
                [v0 * (x / n0) ** power for x in span],
                linestyle=style,
                color="#888888",
                linewidth=1,
                label=f"{name} reference",
            )
    axes.set_xscale("log", base=2)
    axes.margins(x=0.08)  # room for the marks and their words at the first and last N
    if anchor is not None:
        _readable_log_axis(axes, metric)
    else:  # nothing measured (out of memory at the first N): a log axis has no range to show
        axes.set_yticks([])
        axes.text(0.5, 0.5, "no size measured", transform=axes.transAxes, ha="center", color="#57606a")
    if all_sizes:
        ticks = sorted(set(all_sizes))
        axes.set_xticks(ticks, [str(n) for n in ticks], rotation=45 if len(ticks) > 6 else 0)
        axes.xaxis.set_minor_locator(NullLocator())  # only the measured sizes are labelled
    axes.set_xlabel(axis_label(results[0].environment.axis) if results else axis_label("seq_len"))
    axes.set_ylabel(_METRIC_TITLES.get(metric, metric))  # the ticks carry the units
    axes.grid(True, which="major", alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # one legend entry per label (several OOM marks, one entry)
    axes.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left")

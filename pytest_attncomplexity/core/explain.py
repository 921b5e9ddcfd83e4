"""The words a result is explained in: the failure message of a verdict (the claim, the SDPA kernel line, the noise
summary, the points table) and the phrases that the failure message, the terminal report and the HTML page share,
each written once, here. No torch, no pytest.

A result is read through ``Explained``, the few things a message needs, so that ``ScalingResult`` can raise with
these words without this module importing it back."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .breakdown import BreakdownGroup, describe_group, growing_past
from .fit import Fit, FitError
from .records import Environment, Point, TimingRecord
from .units import format_value
from .verdict import Outcome, Verdict


class Explained(Protocol):
    """What the words of a result read of it (ScalingResult has it all)."""

    @property
    def label(self) -> str: ...
    @property
    def environment(self) -> Environment: ...
    @property
    def kernels(self) -> Mapping[int, tuple[str, ...]]: ...
    @property
    def remeasured(self) -> int: ...
    @property
    def timing(self) -> TimingRecord | None: ...
    @property
    def symbol(self) -> str: ...
    def fit(self, metric: str) -> Fit: ...
    def sizes(self, metric: str) -> tuple[int, ...]: ...
    def points_of(self, metric: str) -> tuple[Point, ...]: ...
    def breakdown(self, metric: str) -> tuple[BreakdownGroup, ...]: ...

OVERHEAD_PHRASE = "a fixed part dominates: left out of the exponent"


def noisy_phrase(point: Point) -> str:
    """How a noisy point is flagged in the table of a failure message and in the HTML page."""
    return f"noisy (IQR {point.relative_iqr:.0%} of the median)"


def remeasured_phrase(times: int) -> str:
    return f"measured again {times} time(s) with a larger budget"


def fixed_part_phrase(metric: str, fit: Fit, symbol: str = "N") -> str:
    """The leading sizes a fit left out and the fixed part that dominates them (terminal report and HTML page);
    ``symbol`` names the axis."""
    shown = ", ".join(f"{symbol}={n}" for n in fit.overhead_sizes)
    part = "a fixed per-call cost" if metric == "time" else "a fixed part"
    size = format_value(metric, fit.fixed_part)
    return f"{metric}: {shown} left out of the exponent: {part} of ≈{size} dominates there"


def explain(result: Explained, verdict: Verdict) -> str:
    """The text of a verdict: the claim, the exponent with its CI, the noise if that decided, the table."""
    lines = [f"{result.label}: {verdict.describe()} on {result.environment.device}"]
    kernels = kernel_line(result)
    if kernels is not None:  # the math path where a fused kernel was expected is a common cause of a wrong exponent
        lines.append(kernels.text)
    if verdict.outcome != Outcome.PASS:
        lines += pointing_lines(result, verdict.metric, verdict.expected + verdict.tol)
    if verdict.outcome == Outcome.INCONCLUSIVE:
        lines.append(noise_summary(result, verdict.metric))
    timing = result.timing
    if verdict.metric == "time" and timing is not None and timing.stopped_early:  # why the samples are few
        lines.append(timing.describe())
    lines.append(points_table(result, verdict.metric))
    return "\n".join(lines)


def pointing_lines(result: Explained, metric: str, bound: float) -> list[str]:
    """The operators of ``metric`` whose exponent is past ``bound`` (a claim's band, a baseline's exponent and its
    rule), each with its line, shape and share: where the extra growth comes from."""
    return [f"  {describe_group(g, metric, result.symbol)}" for g in growing_past(result.breakdown(metric), bound)]


def noise_summary(result: Explained, metric: str) -> str:
    points = [p for p in result.points_of(metric) if p.measured]
    worst = max(points, key=lambda p: p.relative_iqr)
    again = f", {remeasured_phrase(result.remeasured)}" if result.remeasured else ""
    low, high = result.fit(metric).ci
    return (
        f"The measurement was too noisy to decide{again}: the IQR of the samples is "
        f"{statistics.median(p.relative_iqr for p in points):.0%} of the median at a typical N and "
        f"{worst.relative_iqr:.0%} at "
        f"{result.symbol}={worst.n}, and the exponent's 95% interval is {high - low:.2f} wide. Give the sweep more "
        "time (--attn-time-budget), start the sizes where one call takes longer, widen tol, or run on a quieter "
        "machine; --attn-inconclusive=skip|xfail turns this verdict into a skip or an xfail."
    )


def points_table(result: Explained, metric: str) -> str:
    """N, value (with IQR where there are samples) and the local slope from the previous measured N."""
    overhead: tuple[int, ...] = ()
    try:
        fit = result.fit(metric)
        slopes: Sequence[float | None] = (None, *fit.local_slopes)
        overhead = fit.overhead_sizes
    except FitError:
        slopes = [None] * len(result.sizes(metric))
    slope_of = dict(zip(result.sizes(metric), slopes, strict=True))
    rows = [f"{result.symbol:>8}  {metric:>12}  {'IQR':>10}  {'local slope':>11}"]
    for point in result.points_of(metric):
        if not point.measured:
            rows.append(f"{point.n:>8}  {point.status:>12}  {'':>10}  {'':>11}  {point.reason}")
            continue
        iqr = format_value(metric, point.iqr) if len(point.samples) > 1 else "-"
        slope = slope_of.get(point.n)
        shown_slope = "-" if slope is None else f"{slope:.3f}"
        flag = f"  {noisy_phrase(point)}" if point.noisy else ""
        if point.n in overhead:
            flag += f"  {OVERHEAD_PHRASE}"
        rows.append(f"{point.n:>8}  {format_value(metric, point.value):>12}  {iqr:>10}  {shown_slope:>11}{flag}")
    return "\n".join(rows)


@dataclass(frozen=True)
class KernelLine:
    text: str
    changes: bool  # a different kernel (or none) ran at some sizes: the sizes do not measure one implementation


def kernel_line(result: Explained) -> KernelLine | None:
    """``SDPA kernel: flash (CPU) at every N``, or each kernel with its sizes when it changes between them; None
    when the call ran no SDPA at any N (naive or linear attention) or nothing was observed."""
    observed = sorted(result.kernels.items())
    if not any(kernels for _, kernels in observed):
        return None
    runs: list[tuple[tuple[str, ...], list[int]]] = []  # consecutive sizes that ran the same kernels
    for n, kernels in observed:
        if runs and runs[-1][0] == kernels:
            runs[-1][1].append(n)
        else:
            runs.append((kernels, [n]))
    pinned = f" (pinned: {result.environment.sdpa_backend})" if result.environment.sdpa_backend else ""
    if len(runs) == 1:
        return KernelLine(f"SDPA kernel: {_names(runs[0][0])} at every {result.symbol}{pinned}", False)
    parts = ", ".join(f"{_names(kernels)} at {_span(sizes, result.symbol)}" for kernels, sizes in runs)
    return KernelLine(f"SDPA kernel: {parts}: changes between sizes{pinned}", True)


def _names(kernels: Sequence[str]) -> str:
    return " + ".join(kernels) if kernels else "none"


def _span(sizes: Sequence[int], symbol: str) -> str:
    return f"{symbol}={sizes[0]}" if len(sizes) == 1 else f"{symbol}={sizes[0]}..{sizes[-1]}"

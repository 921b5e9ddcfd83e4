"""The terminal report of ``--attn-scaling``: one table per result."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.axes import SEQ_LEN
from ..core.explain import fixed_part_phrase, kernel_line, remeasured_phrase
from ..core.extrapolate import describe_prediction, memory_wall
from ..core.fit import Fit
from ..core.records import NOISY_IQR_RATIO
from ..core.result import NOISY_METRICS, ScalingResult
from .breakdown import breakdown_lines
from .efficiency import flop_rate_lines
from .rows import metric_rows


def describe_environment(result: ScalingResult) -> str:
    env = result.environment
    threads = f", {env.threads} thread{'s' if env.threads != 1 else ''}" if env.threads else ""
    described = f"{env.device} ({env.device_name}), torch {env.torch_version}{threads}, {env.dtype}, {env.mode}"
    return described + "".join(f", {part}" for part in describe_inputs(result))


def describe_inputs(result: ScalingResult) -> list[str]:
    """What sets the built-in inputs apart from the default self-attention over N: the axis swept with the sizes
    fixed beside it, cross-attention, grouped-query heads, the mask."""
    env, parts = result.environment, []
    shape = env.shape
    if env.axis != SEQ_LEN:
        fixed = ", ".join(f"{name}={value}" for name, value in shape.items())
        parts.append(f"{env.axis} swept" + (f" at {fixed}" if fixed else ""))
    else:
        parts += [f"{name}={shape[name]}" for name in ("kv_len", "kv_heads") if name in shape]
    if env.mask is not None:
        parts.append("is_causal=True" if env.mask == "causal" else f"{env.mask} attn_mask")
    return parts


def format_result(
    result: ScalingResult, max_memory: int | None = None, predict_n: int | None = None, *, breakdown: bool = False
) -> list[str]:
    """One result's table and notes; its breakdown by operator for a missed metric, or every one (``breakdown``)."""
    title = f"{result.nodeid} [{result.label}]" if result.nodeid else result.label
    lines = [title, f"  {describe_environment(result)}"]
    lines.append(
        f"  {'metric':<8}{'exponent':>10}  {'95% CI':<17}{'r²':>7}  {'class':<11}{result.symbol + ' range':<18}"
        "local slopes"
    )
    for row in metric_rows(result):
        fit = row.fit
        if fit is None:
            lines.append(f"  {row.metric:<8}{'-':>10}  {'-':<17}{'-':>7}  {'-':<11}{row.span:<18}  {row.error}")
            continue
        lines.append(
            f"  {row.metric:<8}{fit.exponent:>10.3f}  {row.ci:<17}{fit.r2:>7.4f}  {'O(' + fit.complexity + ')':<11}"
            f"{row.span:<18}{row.slopes}"
        )
        lines.extend(f"    {note}" for note in _notes(result, row.metric, fit))
    lines.extend(f"  {line}" for line in flop_rate_lines(result))
    kernels = kernel_line(result)
    if kernels is not None:
        lines.append(f"  {kernels.text}")
    lines.extend(f"  {line}" for line in breakdown_lines(result, breakdown))
    if result.halt is not None:
        lines.append(f"  sweep ended: {result.halt.describe(result.symbol)}")
    wall = memory_wall(result, max_memory)
    if wall is not None:
        lines.append(f"  {wall.describe()}")
    prediction = describe_prediction(result, predict_n) if predict_n is not None else None
    if prediction:
        lines.append(f"  {prediction}")
    return [line.rstrip() for line in lines]


def _notes(result: ScalingResult, metric: str, fit: Fit) -> list[str]:
    notes = []
    if fit.overhead_sizes:
        notes.append(fixed_part_phrase(metric, fit, result.symbol))
    noisy = result.noisy_points(metric)
    if noisy:
        shown = ", ".join(f"{result.symbol}={p.n} ({p.relative_iqr:.0%})" for p in noisy)
        notes.append(f"{metric}: noisy points, IQR over {NOISY_IQR_RATIO:.0%} of the median: {shown}")
    if metric == "time" and result.timing is not None and result.timing.claims:  # where claims could end it early
        notes.append(result.timing.describe())
    if result.remeasured and metric in NOISY_METRICS:
        notes.append(f"{metric}: {remeasured_phrase(result.remeasured)} (inconclusive first)")
    return notes


def format_report(
    results: Sequence[ScalingResult],
    max_memory: int | None = None,
    predict_n: int | None = None,
    *,
    breakdown: bool = False,
) -> list[str]:
    if not results:
        return ["no test used the attn_scaling fixture"]
    lines: list[str] = []
    for result in results:
        if lines:
            lines.append("")
        lines.extend(format_result(result, max_memory, predict_n, breakdown=breakdown))
    return lines

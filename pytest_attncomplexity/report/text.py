"""The terminal report of ``--attn-scaling``: one table per result."""

from __future__ import annotations

from collections.abc import Sequence

from ..fit import Fit, FitError
from ..results import NOISY_IQR_RATIO, NOISY_METRICS, ScalingResult


def describe_environment(result: ScalingResult) -> str:
    env = result.environment
    threads = f", {env.threads} thread{'s' if env.threads != 1 else ''}" if env.threads else ""
    return f"{env.device} ({env.device_name}), torch {env.torch_version}{threads}, {env.dtype}, {env.mode}"


def format_result(result: ScalingResult) -> list[str]:
    title = f"{result.nodeid} [{result.label}]" if result.nodeid else result.label
    lines = [title, f"  {describe_environment(result)}"]
    lines.append(
        f"  {'metric':<8}{'exponent':>10}  {'95% CI':<17}{'r²':>7}  {'class':<11}{'N range':<18}{'local slopes'}"
    )
    for metric in result.metrics:
        sizes = result.sizes(metric)
        span = f"{sizes[0]}..{sizes[-1]} ({len(sizes)})" if sizes else "none measured"
        try:
            fit = result.fit(metric)
        except FitError as error:
            lines.append(f"  {metric:<8}{'-':>10}  {'-':<17}{'-':>7}  {'-':<11}{span:<18}  {error}")
            continue
        ci = f"{fit.ci[0]:.3f} .. {fit.ci[1]:.3f}"
        slopes = " ".join(f"{s:.2f}" for s in fit.local_slopes)
        lines.append(
            f"  {metric:<8}{fit.exponent:>10.3f}  {ci:<17}{fit.r2:>7.4f}  {'O(' + fit.complexity + ')':<11}"
            f"{span:<18}{slopes}"
        )
        lines.extend(f"    {note}" for note in _notes(result, metric, fit))
    if result.halt is not None:
        lines.append(f"  sweep ended: {result.halt.describe()}")
    return [line.rstrip() for line in lines]


def _notes(result: ScalingResult, metric: str, fit: Fit) -> list[str]:
    notes = []
    if fit.overhead_sizes:
        shown = ", ".join(f"N={n}" for n in fit.overhead_sizes)
        notes.append(f"{metric}: {shown} left out of the exponent: a fixed per-call cost dominates there")
    noisy = result.noisy_points(metric)
    if noisy:
        shown = ", ".join(f"N={p.n} ({p.relative_iqr:.0%})" for p in noisy)
        notes.append(f"{metric}: noisy points, IQR over {NOISY_IQR_RATIO:.0%} of the median: {shown}")
    if result.remeasured and metric in NOISY_METRICS:
        notes.append(f"{metric}: measured again {result.remeasured} time(s) with a larger budget (inconclusive first)")
    return notes


def format_report(results: Sequence[ScalingResult]) -> list[str]:
    if not results:
        return ["no test used the attn_scaling fixture"]
    lines: list[str] = []
    for result in results:
        if lines:
            lines.append("")
        lines.extend(format_result(result))
    return lines

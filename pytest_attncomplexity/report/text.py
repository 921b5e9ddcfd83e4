"""The terminal report of ``--attn-scaling``: one table per result."""

from __future__ import annotations

from collections.abc import Sequence

from ..fit import FitError
from ..results import ScalingResult


def describe_environment(result: ScalingResult) -> str:
    env = result.environment
    threads = f", {env.threads} thread{'s' if env.threads != 1 else ''}" if env.threads else ""
    return f"{env.device} ({env.device_name}), torch {env.torch_version}{threads}, {env.dtype}, {env.mode}"


def format_result(result: ScalingResult) -> list[str]:
    title = f"{result.nodeid} [{result.label}]" if result.nodeid else result.label
    lines = [title, f"  {describe_environment(result)}"]
    lines.append(f"  {'metric':<8}{'exponent':>10}  {'95% CI':<17}{'r²':>7}  {'class':<11}{'N range':<18}")
    for metric in result.metrics:
        sizes = result.sizes(metric)
        span = f"{sizes[0]}..{sizes[-1]} ({len(sizes)})"
        try:
            fit = result.fit(metric)
        except FitError as error:
            lines.append(f"  {metric:<8}{'-':>10}  {'-':<17}{'-':>7}  {'-':<11}{span:<18}  {error}")
            continue
        ci = f"{fit.ci[0]:.3f} .. {fit.ci[1]:.3f}"
        lines.append(
            f"  {metric:<8}{fit.exponent:>10.3f}  {ci:<17}{fit.r2:>7.4f}  {'O(' + fit.complexity + ')':<11}{span:<18}"
        )
    if result.halt is not None:
        lines.append(f"  sweep ended: {result.halt.describe()}")
    return [line.rstrip() for line in lines]


def format_report(results: Sequence[ScalingResult]) -> list[str]:
    if not results:
        return ["no test used the attn_scaling fixture"]
    lines: list[str] = []
    for result in results:
        if lines:
            lines.append("")
        lines.extend(format_result(result))
    return lines

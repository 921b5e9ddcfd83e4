"""Exponents declared next to a test, ``@pytest.mark.attn_scaling(time=2, memory=1, tol=0.2)``, and their check.

The marker's arguments are validated before the test runs (a typo is an error on that test, not a silent pass);
after the body, every result the test produced is checked against every declared exponent. No torch, no pytest.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .explain import explain
from .fit import FitError
from .result import ScalingResult
from .units import METRICS
from .verdict import DEFAULT_TOL, FAIL, INCONCLUSIVE, InconclusiveExponent, Verdict

MARKER = "attn_scaling"
MARKER_KEYWORDS = (*METRICS, "tol", "param")
MARKER_HELP = (
    f"{MARKER}(time=None, memory=None, flops=None, tol={DEFAULT_TOL}): after the test body, check every result the "
    "test measured through the attn_scaling fixture: each given exponent must lie within ±tol; with param='n' on a "
    "pytest-benchmark test parametrized over the size n, the time exponent is fitted across the group of sizes from "
    "pytest-benchmark's timings instead (pytest-attncomplexity)"
)


@dataclass(frozen=True)
class Claims:
    """Expected exponent per metric, and the tolerance they share."""

    expected: Mapping[str, float]
    tol: float = DEFAULT_TOL
    param: str | None = None  # a pytest-benchmark group's size parameter: the claims are checked on the group's fit

    def describe(self) -> str:
        shown = ", ".join(f"{metric}={value:g}" for metric, value in self.expected.items())
        grouped = f"param={self.param!r}, " if self.param is not None else ""
        return f"@pytest.mark.{MARKER}({grouped}{shown}, tol={self.tol:g})"

    def bands(self) -> dict[str, tuple[float, float]]:
        """Each declared metric's (expected, tol)."""
        return {metric: (value, self.tol) for metric, value in self.expected.items()}


def parse_expect(expect: object, metrics: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``expect={"time": (2, 0.5), "memory": 1}`` as (expected, tol) per metric (a bare number, or a tol of None,
    takes the default tol; a metric given None is not claimed, as with the marker); ValueError naming the key or
    value that is wrong, or a metric that ``metrics`` does not measure."""
    if not isinstance(expect, Mapping):
        raise ValueError(f'expect must be a dict such as {{"time": (2, 0.5), "memory": 1}}, got {expect!r}')
    bands: dict[str, tuple[float, float]] = {}
    for metric, claim in expect.items():
        if metric not in METRICS:
            raise ValueError(f"expect: unknown metric {metric!r}; choose from {', '.join(METRICS)}")
        if claim is None:
            continue
        if metric not in metrics:
            raise ValueError(
                f"expect names {metric!r}, but metrics={list(metrics)!r} does not measure it; add it to metrics="
            )
        if isinstance(claim, tuple | list) and len(claim) == 2:
            expected = _number(f"expect[{metric!r}]", claim[0])
            tol = DEFAULT_TOL if claim[1] is None else _number(f"expect[{metric!r}] tol", claim[1])
        elif isinstance(claim, tuple | list):
            raise ValueError(f"expect[{metric!r}] must be an exponent or (exponent, tol), got {claim!r}")
        else:
            expected, tol = _number(f"expect[{metric!r}]", claim), DEFAULT_TOL
        if tol < 0:
            raise ValueError(f"expect[{metric!r}]: tol must be >= 0, got {tol!r}")
        bands[str(metric)] = (expected, tol)
    return bands


def describe_expect(bands: Mapping[str, tuple[float, float]]) -> str:
    """How the failure message names claims passed as ``expect=``."""
    shown = ", ".join(f"{metric!r}: ({expected:g}, {tol:g})" for metric, (expected, tol) in bands.items())
    return f"attn_scaling(..., expect={{{shown}}})"


def parse_claims(args: Sequence[object], kwargs: Mapping[str, object]) -> Claims:
    """The marker's arguments as Claims; ValueError naming the argument for anything else."""
    prefix = f"@pytest.mark.{MARKER}"
    if args:
        raise ValueError(
            f"{prefix} takes keyword arguments only ({', '.join(MARKER_KEYWORDS)}), got positional {list(args)!r}"
        )
    unknown = [key for key in kwargs if key not in MARKER_KEYWORDS]
    if unknown:
        raise ValueError(f"{prefix}: unknown keyword argument {unknown[0]!r}; known: {', '.join(MARKER_KEYWORDS)}")
    expected: dict[str, float] = {}
    for metric in METRICS:
        if kwargs.get(metric) is not None:
            expected[metric] = _number(f"{prefix}: {metric}", kwargs[metric])
    tol = DEFAULT_TOL if kwargs.get("tol") is None else _number(f"{prefix}: tol", kwargs["tol"])
    if tol < 0:
        raise ValueError(f"{prefix}: tol must be >= 0, got {kwargs['tol']!r}")
    if not expected:
        raise ValueError(f"{prefix} declares no exponent; give at least one of {', '.join(METRICS)}")
    param = kwargs.get("param")
    if param is not None:
        if not isinstance(param, str) or not param:
            raise ValueError(f"{prefix}: param must name the test's size parameter (a non-empty string), got {param!r}")
        # pytest-benchmark measures time only: a memory or FLOP claim on its group could never be checked.
        untimed = [metric for metric in expected if metric != "time"]
        if untimed:
            raise ValueError(
                f"{prefix}(param={param!r}) fits pytest-benchmark's timings, which measure time only; "
                f"{untimed[0]}= cannot be checked that way: measure {untimed[0]} with the attn_scaling fixture"
            )
    return Claims(expected, tol, param)


def _number(name: str, value: object) -> float:
    # numbers.Real: numpy's scalars (np.float32(2), np.int64(1)) are numbers too
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _checked_before(result: ScalingResult, metric: str, expected: float, tol: float) -> Verdict | None:
    """The verdict the test body already got on this very claim (assert_exponent): not measured or counted twice."""
    return next(
        (v for v in result.checks if (v.metric, v.expected, v.tol) == (metric, expected, tol)),
        None,
    )


def check_claims(results: Sequence[ScalingResult], claims: Claims) -> None:
    """Check every declared exponent on every result (see check_exponents)."""
    if not results:
        raise AssertionError(
            f"{claims.describe()} declares exponents, but the test measured nothing through the attn_scaling fixture"
        )
    check_exponents(results, claims.bands(), claims.describe())


def check_exponents(results: Sequence[ScalingResult], bands: Mapping[str, tuple[float, float]], source: str) -> None:
    """Check every claimed exponent, (expected, tol) per metric, on every result; one AssertionError listing every
    miss, ``source`` naming where the claims were made.

    A confident miss, a metric that was not measured or cannot be fitted fail; if the only misses are too noisy to
    decide, InconclusiveExponent is raised instead, so ``--attn-inconclusive`` applies as it does to
    ``assert_exponent``. A claim the body already checked is not measured or counted again.
    """
    __tracebackhide__ = True  # expect= fails at the test's own line, not in here
    failures: list[str] = []
    inconclusive: list[str] = []
    for result in results:
        for metric, (expected, tol) in bands.items():
            if metric not in result.metrics:
                failures.append(
                    f"{result.label}: {source} declares {metric}, but {metric} was not measured "
                    f"(metrics measured: {', '.join(result.metrics)}); add it to metrics= or drop it from the marker"
                )
                continue
            try:
                verdict = _checked_before(result, metric, expected, tol) or result.check(metric, expected, tol)
            except FitError as error:
                failures.append(f"{result.label}: {metric} cannot be checked: {error}")
                continue
            if verdict.outcome == FAIL:
                failures.append(explain(result, verdict))
            elif verdict.outcome == INCONCLUSIVE:
                inconclusive.append(explain(result, verdict))
    if failures:
        raise AssertionError("\n\n".join([f"{source} failed:", *failures, *inconclusive]))
    if inconclusive:
        raise InconclusiveExponent("\n\n".join([f"{source} is inconclusive:", *inconclusive]))

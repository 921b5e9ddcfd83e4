"""What a test gets after its body: the marker's claims checked on every result it measured, the results compared
with the baseline, the exponents as junit properties; a miss or a regression fails the test with its numbers, an
inconclusive one follows --attn-inconclusive."""

from __future__ import annotations

import pytest

from ..core.claims import Claims, check_claims
from ..core.fit import FitError
from ..core.result import ScalingResult
from ..core.verdict import InconclusiveExponent
from ..gate.storage import numbered
from .compat import skip_at_test_line
from .session import AttnScalingSession

CLAIMS_KEY = pytest.StashKey[Claims]()


def check_after_body(
    item: pytest.Item,
    session: AttnScalingSession,
    results: list[ScalingResult],
    undecided: InconclusiveExponent | None,
) -> None:
    """The marker's claims and the baseline comparison. A regression is a failure whatever --attn-inconclusive does
    with an undecided claim, the body's own included."""
    failures: list[str] = []
    unsure = undecided
    claims = item.stash.get(CLAIMS_KEY, None)
    if claims is not None and claims.param is None:  # with param=, the group's fit is checked (benchmark/)
        try:
            check_claims(results, claims)
        except InconclusiveExponent as error:
            unsure = unsure or error
        except AssertionError as error:
            failures.append(str(error))
    if session.gate is not None:
        regressions, inconclusive = session.gate.compare_test(results)
        if regressions:
            failures.append(session.gate.message(regressions, inconclusive))
        elif inconclusive and unsure is None:
            unsure = InconclusiveExponent(session.gate.message([], inconclusive))
    if failures:
        if undecided is not None:
            failures.insert(0, str(undecided))
        pytest.fail("\n\n".join(failures), pytrace=False)
    if unsure is not None:
        # The body's own exception keeps its traceback, which points at the test's line.
        _inconclusive(session.options.inconclusive, unsure, traceback=unsure is undecided)
        raise unsure


def _inconclusive(policy: str, error: InconclusiveExponent, *, traceback: bool) -> None:
    """Skip or xfail the test as --attn-inconclusive says; or fail it (without a traceback into the plugin when the
    plugin's own check was inconclusive)."""
    if policy == "skip":
        raise skip_at_test_line(str(error)) from None
    if policy == "xfail":
        pytest.xfail(str(error))
    if not traceback:
        pytest.fail(str(error), pytrace=False)


def record_properties(item: pytest.Item, results: list[ScalingResult]) -> None:
    """``attn_scaling.<label>.<metric>.exponent`` (and its CI and class) for --junitxml."""
    for occurrence, result in numbered(results):
        # The same function swept twice in one test: label, label#2, ...
        name = result.label if occurrence == 1 else f"{result.label}#{occurrence}"
        for metric in result.metrics:
            prefix = f"attn_scaling.{name}.{metric}"
            try:
                fit = result.fit(metric)
            except FitError as error:
                item.user_properties.append((f"{prefix}.error", str(error)))
                continue
            item.user_properties += [
                (f"{prefix}.exponent", f"{fit.exponent:.4f}"),
                (f"{prefix}.ci", f"{fit.ci[0]:.4f} .. {fit.ci[1]:.4f}"),
                (f"{prefix}.complexity", f"O({fit.complexity})"),
            ]
        for verdict in result.checks:
            item.user_properties.append(
                (
                    f"attn_scaling.{name}.{verdict.metric}.verdict",
                    f"{verdict.outcome} (expected {verdict.expected:g} ± {verdict.tol:g})",
                )
            )

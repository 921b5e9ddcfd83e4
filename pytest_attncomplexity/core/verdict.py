"""Three verdicts on a claimed exponent: pass, fail, or inconclusive (too noisy to decide). No torch, no pytest.

pass:          the measured exponent lies in the expected band ``expected ± tol``.
fail:          the whole 95% confidence interval lies outside the band: the claim is wrong, not the measurement.
inconclusive:  the exponent is outside the band but its interval reaches into it: noise could explain the miss.
A gate that fails only on confident misses does not cry wolf on a noisy runner; an inconclusive verdict is
measured again with a larger budget before it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fit import Fit
from .textenum import TextEnum


class Outcome(TextEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


PASS = Outcome.PASS
FAIL = Outcome.FAIL
INCONCLUSIVE = Outcome.INCONCLUSIVE
INCONCLUSIVE_POLICIES = ("fail", "skip", "xfail")
DEFAULT_POLICY = "fail"
DEFAULT_TOL = 0.2  # the band around a claimed exponent, for assert_exponent, check and the marker


class InconclusiveExponent(AssertionError):
    """Too noisy to decide. An AssertionError, so it fails the test unless ``--attn-inconclusive`` says otherwise."""


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    metric: str
    expected: float
    tol: float
    fit: Fit

    @property
    def band(self) -> tuple[float, float]:
        return (self.expected - self.tol, self.expected + self.tol)

    def describe(self) -> str:
        low, high = self.band
        fit = self.fit
        measured = (
            f"{self.metric} exponent {fit.exponent:.3f} (95% CI {fit.ci[0]:.3f} to {fit.ci[1]:.3f}, "
            f"class O({fit.complexity}))"
        )
        band = f"the expected {self.expected:g} ± {self.tol:g} [{low:g}, {high:g}]"
        if self.outcome == PASS:
            return f"{measured} is within {band}"
        if self.outcome == FAIL:
            return f"{measured} is outside {band}"
        return f"inconclusive: {measured} is outside {band}, but its interval reaches into it"


def judge(fit: Fit, expected: float, tol: float) -> Verdict:
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    low, high = expected - tol, expected + tol
    if low <= fit.exponent <= high:
        outcome = PASS
    elif fit.ci[1] < low or fit.ci[0] > high:
        outcome = FAIL
    else:
        outcome = INCONCLUSIVE
    return Verdict(outcome, fit.metric, expected, tol, fit)


def validate_policy(policy: object, source: str = "--attn-inconclusive") -> str:
    if policy not in INCONCLUSIVE_POLICIES:
        raise ValueError(f"{source} must be one of {list(INCONCLUSIVE_POLICIES)}, got {policy!r}")
    return str(policy)

"""What comparing a result with its saved baseline found: per metric, the change of the exponent and of the value at
the largest N both runs measured, each judged against its rule. Records and their JSON form; no torch, no pytest
(the judging is in gate/compare.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .textenum import TextEnum
from .units import format_value


class Change(TextEnum):
    REGRESSED = "regressed"  # worse past the rule's threshold, and confidently so: the test fails
    INCONCLUSIVE = "inconclusive"  # worse past the threshold, but noise could explain it: --attn-inconclusive
    IMPROVED = "improved"  # better past the threshold, confidently: reported, never a failure
    UNCHANGED = "unchanged"  # within the threshold
    NOT_GATED = "not gated"  # no --attn-scaling-compare-fail rule covers it: the numbers are reported only


@dataclass(frozen=True)
class ExponentChange:
    """The exponent of one metric in the baseline and now, both fitted on the sizes both runs measured."""

    metric: str
    baseline: float
    baseline_ci: tuple[float, float]
    current: float
    current_ci: tuple[float, float]
    sizes: tuple[int, ...]
    change: Change
    rule: str = ""  # the --attn-scaling-compare-fail expression that judged it ("" when none did)

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    def describe(self) -> str:
        text = (
            f"{self.metric} exponent {self.baseline:.3f} (95% CI {self.baseline_ci[0]:.3f} to "
            f"{self.baseline_ci[1]:.3f}) -> {self.current:.3f} (95% CI {self.current_ci[0]:.3f} to "
            f"{self.current_ci[1]:.3f}), {self.delta:+.3f} over N={self.sizes[0]}..{self.sizes[-1]}"
        )
        return f"{text}: {self.change}{_by(self.rule)}"


@dataclass(frozen=True)
class ValueChange:
    """One metric's value at the largest N both runs measured. For time, ``p_value`` is the one-sided Mann-Whitney
    test on the raw samples that the change goes the way it does (None for exact counts)."""

    metric: str
    n: int
    baseline: float
    current: float
    change: Change
    p_value: float | None = None
    rule: str = ""
    samples: tuple[int, int] = (1, 1)  # how many samples now and in the baseline

    @property
    def ratio(self) -> float:
        return self.current / self.baseline if self.baseline > 0 else float("inf")

    def describe(self) -> str:
        numbers = (
            f"{self.metric} at N={self.n}: {format_value(self.metric, self.baseline)} -> "
            f"{format_value(self.metric, self.current)} (x{self.ratio:.3f}"
        )
        if self.p_value is not None:
            numbers += f", p = {self.p_value:.2g}"
        now, before = self.samples
        if self.change == Change.INCONCLUSIVE and min(now, before) < 2:
            numbers += f"; {min(now, before)} sample(s) on one side: no test can tell a change from noise"
        elif self.change == Change.INCONCLUSIVE and smallest_p_value(now, before) >= SIGNIFICANCE:
            numbers += f"; {now} and {before} samples cannot reach p < {SIGNIFICANCE:g} whatever they hold"
        return f"{numbers}): {self.change}{_by(self.rule)}"


@dataclass(frozen=True)
class StopChange:
    """The sweep ended at a size the baseline measured (out of memory, over a budget): the points it lost cannot be
    compared, and running out of memory where the baseline did not is itself a regression."""

    n: int
    status: str  # the halt's: "oom", "skipped"
    reason: str
    baseline_n: int  # the largest size the baseline measured
    change: Change
    rule: str = ""

    @property
    def metric(self) -> str:
        return "memory" if self.status == "oom" else "sweep"

    def describe(self) -> str:
        what = "ran out of memory" if self.status == "oom" else "stopped"
        return (
            f"the sweep {what} at N={self.n} ({self.reason}), where the baseline measured up to "
            f"N={self.baseline_n}: {self.change}{_by(self.rule)}"
        )


SIGNIFICANCE = 0.002  # asv's bar for a change in timing: p < 0.002 on the raw samples


def smallest_p_value(now: int, before: int) -> float:
    """The smallest one-sided Mann-Whitney p-value ``now`` and ``before`` samples can give (all of one side above
    all of the other): 5 against 5 cannot go below 1/252 = 0.004."""
    return 1 / math.comb(now + before, now) if now and before else 1.0


def _by(rule: str) -> str:
    return f" ({rule})" if rule else ""


@dataclass(frozen=True)
class ResultComparison:
    """A result against its entry in the baseline ``baseline`` (``found`` false: the result is new there)."""

    baseline: str
    found: bool
    exponents: tuple[ExponentChange, ...] = ()
    values: tuple[ValueChange, ...] = ()
    notes: tuple[str, ...] = ()  # what could not be compared, and why
    stop: StopChange | None = None

    @property
    def changes(self) -> tuple[ExponentChange | ValueChange | StopChange, ...]:
        return (*self.exponents, *self.values, *((self.stop,) if self.stop else ()))

    def with_change(self, change: Change) -> tuple[ExponentChange | ValueChange | StopChange, ...]:
        return tuple(c for c in self.changes if c.change == change)

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "found": self.found,
            "exponents": [
                {
                    "metric": c.metric,
                    "baseline": c.baseline,
                    "baseline_ci": list(c.baseline_ci),
                    "current": c.current,
                    "current_ci": list(c.current_ci),
                    "delta": c.delta,
                    "sizes": list(c.sizes),
                    "change": c.change,
                    "rule": c.rule,
                }
                for c in self.exponents
            ],
            "values": [
                {
                    "metric": c.metric,
                    "n": c.n,
                    "baseline": c.baseline,
                    "current": c.current,
                    "ratio": c.ratio,
                    "p_value": c.p_value,
                    "samples": list(c.samples),
                    "change": c.change,
                    "rule": c.rule,
                }
                for c in self.values
            ],
            "notes": list(self.notes),
            "stop": None
            if self.stop is None
            else {
                "n": self.stop.n,
                "status": self.stop.status,
                "reason": self.stop.reason,
                "baseline_n": self.stop.baseline_n,
                "change": self.stop.change,
                "rule": self.stop.rule,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultComparison:
        exponents = tuple(
            ExponentChange(
                metric=str(e["metric"]),
                baseline=float(e["baseline"]),
                baseline_ci=(float(e["baseline_ci"][0]), float(e["baseline_ci"][1])),
                current=float(e["current"]),
                current_ci=(float(e["current_ci"][0]), float(e["current_ci"][1])),
                sizes=tuple(int(n) for n in e["sizes"]),
                change=Change(e["change"]),
                rule=str(e.get("rule", "")),
            )
            for e in data.get("exponents", ())
        )
        values = tuple(
            ValueChange(
                metric=str(v["metric"]),
                n=int(v["n"]),
                baseline=float(v["baseline"]),
                current=float(v["current"]),
                change=Change(v["change"]),
                p_value=None if v.get("p_value") is None else float(v["p_value"]),
                rule=str(v.get("rule", "")),
                samples=(int(v["samples"][0]), int(v["samples"][1])),
            )
            for v in data.get("values", ())
        )
        notes = tuple(str(note) for note in data.get("notes", ()))
        stop = data.get("stop")
        stopped = (
            None
            if stop is None
            else StopChange(
                int(stop["n"]),
                str(stop["status"]),
                str(stop["reason"]),
                int(stop["baseline_n"]),
                Change(stop["change"]),
                str(stop.get("rule", "")),
            )
        )
        return cls(str(data["baseline"]), bool(data["found"]), exponents, values, notes, stopped)

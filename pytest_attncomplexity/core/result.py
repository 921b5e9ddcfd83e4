"""What a sweep measured: points per metric, their fits, the verdicts given on them and the JSON form (no torch,
no pytest). A result is a record: measuring is the runner's job, and the one time a verdict asks for more
samples it does so through a typed collaborator, the result's ``retimer``.

Just over 300 lines, one module: the record and its JSON form (``to_json``, ``from_json``) are one schema, read and
written together (the points themselves are records.py's)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .axes import DEFAULT_AXIS, axis_symbol
from .breakdown import BreakdownGroup, OperatorPart, fit_breakdown, operators_from_json, operators_to_json
from .comparison import ResultComparison
from .explain import explain
from .fit import Fit, FitError, fit_power_law
from .records import OUT_OF_MEMORY, SKIPPED, Environment, Halt, PeakRate, Point, TimingRecord
from .units import UNITS
from .verdict import DEFAULT_TOL, InconclusiveExponent, Outcome, Verdict, judge

# Why a metric can be zero at every N, and what to check.
_NOTHING_COUNTED = {
    "memory": "The call allocated nothing on the measured device: with setup=, put the module and its inputs on "
    "that device (the device= argument, or the GPU when device='auto' finds one)",
    "flops": "No operator the call ran has a FLOP formula in torch.utils.flop_counter (matmuls, convolutions, "
    "attention kernels do)",
    "time": "The call took no measurable time",
}


MIN_FIT_POINTS = 3
# The largest fixed per-call cost (a kernel launch, Python dispatch, a sync) that the time fit trims as overhead.
MAX_CALL_OVERHEAD_S = 100e-6
# The metrics whose leading sizes a fixed part can dominate, and whose fits leave those sizes out: a per-call cost in
# time; parameter gradients, an embedding's gradient, workspaces in a training step's memory (a 1-layer BERT: 18, 18,
# 38, 139, 533 MiB at N=256..4096, exponent 1.34 over all, 1.91 past the first two). FLOPs have no fixed part.
TRIMMED_METRICS = ("time", "memory")
NOISY_METRICS = ("time",)  # memory and FLOPs are counts: measuring them again gives the same numbers


class Retimer(Protocol):
    """Times the measured sizes of a result again, for a verdict that stayed too noisy: the extra samples per N, or
    None when it cannot (the runner's ``TimingRerun`` is the one there is)."""

    def __call__(self, result: ScalingResult, metric: str) -> Mapping[int, Sequence[float]] | None: ...


@dataclass
class ScalingResult:
    """The result of one ``attn_scaling(...)`` call: points per metric, fitted on demand."""

    label: str
    environment: Environment
    points: dict[str, tuple[Point, ...]]
    nodeid: str = ""
    halt: Halt | None = None
    retimer: Retimer | None = field(default=None, repr=False, compare=False)
    remeasured: int = 0  # how many times the retimer added samples
    checks: list[Verdict] = field(default_factory=list)  # every verdict given on this result, in order
    comparison: ResultComparison | None = None  # against the baseline of --attn-scaling-compare, once compared
    # The SDPA kernels the call ran at each N measured ("flash (CPU)", "math", ...; empty: no SDPA), read from the
    # operators it dispatched; an N absent was not observed.
    kernels: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Each metric's parts per operator and line at each N (core/breakdown.py): memory and self time from the CPU
    # memory profile, FLOPs from the counter; a metric absent was not broken down.
    operators: dict[str, dict[int, tuple[OperatorPart, ...]]] = field(default_factory=dict)
    # How time was measured: rounds, seconds, and the claims known before timing that stopped it early; None when
    # time was not measured.
    timing: TimingRecord | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.points)

    @property
    def symbol(self) -> str:
        """How the reports name a size: ``N`` for the sequence length, else the axis (``head_dim``)."""
        return axis_symbol(self.environment.axis)

    def sizes(self, metric: str) -> tuple[int, ...]:
        """The sizes measured for ``metric`` (points that ran out of memory or did not run are left out)."""
        return tuple(p.n for p in self._measured(metric))

    def values(self, metric: str) -> tuple[float, ...]:
        return tuple(p.value for p in self._measured(metric))

    def fit(self, metric: str) -> Fit:
        """The log-log fit of ``metric``: ``.exponent``, ``.ci``, ``.r2``, ``.local_slopes``, ``.complexity``."""
        points = self._measured(metric)
        if len(points) < MIN_FIT_POINTS and self.halt is not None:
            advice = {
                OUT_OF_MEMORY: "; start the sizes lower or use a device with more memory",
                SKIPPED: "; start the sizes lower or raise the budget",
            }.get(self.halt.status, "")
            raise FitError(
                f"{self.label}: {metric} has {len(points)} measured point(s) before the sweep ended "
                f"({self.halt.describe(self.symbol)}); a fit needs {MIN_FIT_POINTS}{advice}"
            )
        try:
            return fit_points(metric, tuple((p.n, p.value) for p in points))
        except FitError as error:
            if points and all(p.value == 0 for p in points):
                raise FitError(f"{self.label}: {error}. {_NOTHING_COUNTED[metric]}") from None
            raise

    def exponent(self, metric: str) -> float:
        return self.fit(metric).exponent

    def breakdown(self, metric: str) -> tuple[BreakdownGroup, ...]:
        """``metric`` split by the operator and line that made it, fitted group by group: largest share at the
        largest N first, each with ``.name``, ``.where``, ``.shape``, ``.exponent``, ``.share`` and ``.values`` per N.
        Empty where the sweep could not break it down (memory and time come from the CPU memory profile)."""
        self.points_of(metric)  # a metric that was not measured is a ValueError naming those that were
        return fit_breakdown(self.operators.get(metric, {}), metric)

    def fit_on(self, metric: str, sizes: Sequence[int], *, trim: bool = True) -> Fit:
        """The fit of ``metric`` over the measured points at ``sizes`` only (two runs compared on the same sizes);
        ``trim=False`` keeps every one of them, even where a fixed part dominates time or memory."""
        wanted = set(sizes)
        pairs = tuple((p.n, p.value) for p in self._measured(metric) if p.n in wanted)
        return fit_points(metric, pairs, trim)

    def flop_rates(self) -> dict[int, float]:
        """FLOP/s at each N where both FLOPs and time were measured: the FLOPs of one call over its time (the mean
        of the faster half of the samples, the value the time fit uses); empty unless both metrics were measured.
        A training step counts the FLOPs and the time of forward and backward together."""
        if "flops" not in self.points or "time" not in self.points:
            return {}
        times = {p.n: p.value for p in self._measured("time")}
        return {p.n: p.value / times[p.n] for p in self._measured("flops") if times.get(p.n, 0.0) > 0 and p.value > 0}

    def point_at(self, metric: str, n: int) -> Point | None:
        """The measured point of ``metric`` at N = ``n``, if there is one."""
        return next((p for p in self._measured(metric) if p.n == n), None)

    def check(self, metric: str, expected: float, tol: float = DEFAULT_TOL) -> Verdict:
        """The verdict on the claim ``exponent == expected ± tol``: pass, fail or inconclusive.

        An inconclusive verdict on a noisy metric (time) is given only after the retimer has timed the sizes once
        more with a larger budget and its samples were added.
        """
        verdict = judge(self.fit(metric), expected, tol)
        if verdict.outcome == Outcome.INCONCLUSIVE and self.retime(metric):
            verdict = judge(self.fit(metric), expected, tol)
        self.checks.append(verdict)
        return verdict

    def retime(self, metric: str) -> bool:
        """Time the measured sizes once more through the retimer and add the samples (a noisy metric that left a
        judgment undecided); whether samples were added."""
        if metric not in NOISY_METRICS or self.retimer is None:
            return False
        extra = self.retimer(self, metric)
        if not extra:
            return False
        self.extend_samples(metric, extra)
        self.remeasured += 1
        return True

    def assert_exponent(self, metric: str, expected: float, tol: float = DEFAULT_TOL) -> Fit:
        """Pass when the measured exponent of ``metric`` lies within ``expected ± tol``.

        Raises AssertionError when the claim is confidently wrong (the 95% interval lies outside the band), and
        InconclusiveExponent (an AssertionError) when the measurement stays too noisy to decide.
        """
        __tracebackhide__ = True  # the failure points at the test's own line, not at this method
        verdict = self.check(metric, expected, tol)
        if verdict.outcome == Outcome.PASS:
            return verdict.fit
        if verdict.outcome == Outcome.FAIL:
            raise AssertionError(explain(self, verdict))
        raise InconclusiveExponent(explain(self, verdict))

    def extend_samples(self, metric: str, extra: Mapping[int, Sequence[float]]) -> None:
        """Add samples measured again under the same settings to the measured points of ``metric``."""
        self.points[metric] = tuple(
            Point(p.n, p.samples + tuple(extra.get(p.n, ())), p.status, p.reason) if p.measured else p
            for p in self.points_of(metric)
        )

    def noisy_points(self, metric: str) -> tuple[Point, ...]:
        """Measured points whose IQR is more than NOISY_IQR_RATIO of their median."""
        return tuple(p for p in self._measured(metric) if p.noisy)

    def points_of(self, metric: str) -> tuple[Point, ...]:
        """Every point of ``metric``, measured or not; ValueError naming the metrics measured if it was not."""
        try:
            return self.points[metric]
        except KeyError:
            measured = ", ".join(self.points) or "none"
            raise ValueError(f"metric {metric!r} was not measured in {self.label}; measured: {measured}") from None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written by ``--attn-scaling-json``."""
        env = self.environment
        metrics: dict[str, Any] = {}
        for metric, points in self.points.items():
            measured = [p for p in points if p.measured]
            entry: dict[str, Any] = {
                "sizes": [p.n for p in measured],
                "values": [p.value for p in measured],
                "iqr": [p.iqr for p in measured],
                "samples": [list(p.samples) for p in measured],
                "unit": UNITS.get(metric, ""),
                "excluded": [{"n": p.n, "status": p.status, "reason": p.reason} for p in points if not p.measured],
                "noisy": [p.n for p in measured if p.noisy],
            }
            try:
                fit = self.fit(metric)
            except FitError as error:
                entry.update(exponent=None, ci=None, r2=None, complexity=None, local_slopes=None, error=str(error))
            else:
                entry.update(
                    overhead_sizes=list(fit.overhead_sizes),
                    fixed_part=fit.fixed_part if fit.overhead_sizes else None,
                    exponent=fit.exponent,
                    ci=list(fit.ci),
                    r2=fit.r2,
                    complexity=fit.complexity,
                    local_slopes=list(fit.local_slopes),
                )
            metrics[metric] = entry
        return {
            "nodeid": self.nodeid,
            "label": self.label,
            "device": env.device,
            "device_name": env.device_name,
            "torch": env.torch_version,
            "threads": env.threads,
            "dtype": env.dtype,
            "mode": env.mode,
            "shape": dict(env.shape),
            "axis": env.axis,
            "mask": env.mask,
            "metrics": metrics,
            "remeasured": self.remeasured,
            "timing": None if self.timing is None else self.timing.to_json(),
            "memory_capacity": env.memory_capacity,
            "sdpa_backend": env.sdpa_backend,
            "kernels": {str(n): list(names) for n, names in sorted(self.kernels.items())},
            "operators": operators_to_json(self.operators),
            "breakdown": {metric: [g.to_json() for g in self.breakdown(metric)] for metric in self.operators},
            "flop_rate": {str(n): rate for n, rate in sorted(self.flop_rates().items())},
            "peak_flop_rate": None
            if env.peak is None
            else {"flop_rate": env.peak.flop_rate, "source": env.peak.source},
            "checks": [
                {
                    "metric": v.metric,
                    "expected": v.expected,
                    "tol": v.tol,
                    "outcome": v.outcome,
                    "exponent": v.fit.exponent,
                }
                for v in self.checks
            ],
            "halt": None
            if self.halt is None
            else {"n": self.halt.n, "status": self.halt.status, "reason": self.halt.reason},
            "comparison": None if self.comparison is None else self.comparison.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScalingResult:
        """The result ``to_json`` wrote: points with their raw samples, the halt and the verdicts (their fits are
        computed again from the points, which gives the same numbers). KeyError or ValueError when ``data`` is not
        such a record."""
        environment = Environment(
            device=str(data["device"]),
            device_name=str(data["device_name"]),
            torch_version=str(data["torch"]),
            threads=int(data["threads"]),
            dtype=str(data["dtype"]),
            mode=str(data["mode"]),
            shape={str(k): int(v) for k, v in dict(data.get("shape") or {}).items()},
            memory_capacity=int(data.get("memory_capacity") or 0),
            sdpa_backend=None if data.get("sdpa_backend") is None else str(data["sdpa_backend"]),
            axis=str(data.get("axis") or DEFAULT_AXIS),  # a record from before there were axes swept N
            mask=None if data.get("mask") is None else str(data["mask"]),
            peak=None
            if not data.get("peak_flop_rate")
            else PeakRate(float(data["peak_flop_rate"]["flop_rate"]), str(data["peak_flop_rate"]["source"])),
        )
        points: dict[str, tuple[Point, ...]] = {}
        for metric, entry in dict(data["metrics"]).items():
            measured = [
                Point(int(n), tuple(samples)) for n, samples in zip(entry["sizes"], entry["samples"], strict=True)
            ]
            excluded = [Point(int(e["n"]), (), e["status"], str(e.get("reason", ""))) for e in entry["excluded"]]
            sizes = [p.n for p in measured + excluded]
            if len(set(sizes)) != len(sizes):  # a sweep measures each size once: a record that says otherwise is bad
                raise ValueError(f"{metric}: a size appears twice in {sorted(sizes)}")
            points[str(metric)] = tuple(sorted(measured + excluded, key=lambda p: p.n))
        halt = data.get("halt")
        result = cls(
            label=str(data["label"]),
            environment=environment,
            points=points,
            nodeid=str(data.get("nodeid", "")),
            halt=None if halt is None else Halt(int(halt["n"]), halt["status"], str(halt["reason"])),
            remeasured=int(data.get("remeasured", 0)),
            kernels={int(n): tuple(str(k) for k in names) for n, names in dict(data.get("kernels") or {}).items()},
            operators=operators_from_json(data.get("operators") or {}),
            timing=None if not data.get("timing") else TimingRecord.from_json(data["timing"]),
        )
        if data.get("comparison") is not None:
            result.comparison = ResultComparison.from_json(data["comparison"])
        for check in data.get("checks", ()):
            try:
                fit = result.fit(str(check["metric"]))
            except FitError:  # a verdict is only ever given on a fit; a record without one is kept without it
                continue
            outcome = Outcome(check["outcome"])
            result.checks.append(Verdict(outcome, fit.metric, float(check["expected"]), float(check["tol"]), fit))
        return result

    def _measured(self, metric: str) -> tuple[Point, ...]:
        return tuple(p for p in self.points_of(metric) if p.measured)


@functools.lru_cache(maxsize=1024)
def fit_points(metric: str, points: tuple[tuple[int, float], ...], trim: bool = True) -> Fit:
    """The fit of these (N, value) pairs as a result fits ``metric`` (verdicts, reports, the early stop of timing),
    computed once for the same pairs: new samples give new values."""
    return fit_power_law(
        [n for n, _ in points],
        [value for _, value in points],
        metric,
        trim_overhead=trim and metric in TRIMMED_METRICS,
        max_overhead=MAX_CALL_OVERHEAD_S if metric == "time" else None,
        # A memory peak is a maximum over the call, not a sum, so "fixed + a·N^k" is a poor model of it (k = 2.29
        # for a 1-layer BERT training step whose sizes past the fixed part give 1.91): it only finds the head, the
        # power law is fitted past it, and the first sizes must prove a part that does not grow (fit.overhead_head).
        prove_fixed_part=metric == "memory",
    )

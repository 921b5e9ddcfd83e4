"""The records a sweep fills: a point per metric and N (its raw samples, or why there are none), where the sweep
ran, and where it stopped early. No torch, no pytest."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .axes import DEFAULT_AXIS
from .textenum import TextEnum

NOISY_IQR_RATIO = 0.10


class PointStatus(TextEnum):
    """A point was measured, or why not. Only measured points are fitted; the values are what the JSON holds."""

    MEASURED = "ok"
    OUT_OF_MEMORY = "oom"
    FAILED = "error"
    NOT_RUN = "not run"
    SKIPPED = "skipped"  # over a budget (--attn-max-time, --attn-max-memory, the RAM guard)


MEASURED = PointStatus.MEASURED
OUT_OF_MEMORY = PointStatus.OUT_OF_MEMORY
FAILED = PointStatus.FAILED
NOT_RUN = PointStatus.NOT_RUN
SKIPPED = PointStatus.SKIPPED


@dataclass(frozen=True)
class Point:
    """One metric at one N: the raw samples and the value the fit uses, or why there are none.

    The value is the mean of the faster half of the samples. Interference (other processes, interrupts, a busy
    memory bus) only ever adds time, and it adds relatively more to short calls than to long ones, so a median
    bends the curve with it; the faster half is the call with the least interference, and averaging it is stabler
    than the minimum, which keeps falling as samples are added (figures in docs/precision.md). Memory and FLOPs
    have a single exact sample, which is their value.
    """

    n: int
    samples: tuple[float, ...]
    status: PointStatus = MEASURED
    reason: str = ""

    def __post_init__(self) -> None:
        # Built by hand ("oom", a list of samples) as well as by a sweep: the same record either way.
        object.__setattr__(self, "status", PointStatus(self.status))
        object.__setattr__(self, "samples", tuple(float(s) for s in self.samples))

    @property
    def measured(self) -> bool:
        return self.status == MEASURED

    @property
    def value(self) -> float:
        if not self.samples:
            return float("nan")
        faster_half = sorted(self.samples)[: max(1, len(self.samples) // 2)]
        return float(statistics.fmean(faster_half))

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples)) if self.samples else float("nan")

    @property
    def relative_iqr(self) -> float:
        """IQR as a share of the median (0 where the median is 0)."""
        return self.iqr / self.median if self.median > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.measured and self.relative_iqr > NOISY_IQR_RATIO

    @property
    def iqr(self) -> float:
        """Interquartile range of the samples; 0 for a single sample (memory and FLOPs are exact counts)."""
        if len(self.samples) < 2:
            return 0.0
        q1, q3 = self.quartiles
        return q3 - q1

    @property
    def quartiles(self) -> tuple[float, float]:
        """First and third quartile of the samples (both the value for a single sample)."""
        if len(self.samples) < 2:
            return (self.value, self.value)
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (float(q1), float(q3))


@dataclass(frozen=True)
class PeakRate:
    """The FLOP/s a device can reach for a dtype, and where that figure comes from: the vendor's dense figure for
    the device, or a large matmul measured on it (measure/peak.py). A result's FLOP/s is shown as a share of it."""

    flop_rate: float  # FLOP/s
    source: str  # e.g. "vendor figure: H100 SXM, bfloat16, dense" or "measured: 8192×8192 bfloat16 matmul"


@dataclass(frozen=True)
class Environment:
    """Where a sweep ran and with which settings: kept beside the numbers so they can be compared later."""

    device: str
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    mode: str
    shape: dict[str, int] = field(default_factory=dict)
    memory_capacity: int = 0  # bytes of memory the device has (GPU memory, or the machine's RAM); 0 if unknown
    sdpa_backend: str | None = None  # the SDPA backend pinned with sdpa_backend=; None: PyTorch chose
    axis: str = DEFAULT_AXIS  # what the sizes are the values of: seq_len, kv_len, batch, heads or head_dim
    mask: str | None = None  # the built-in inputs' mask: "causal", "bool", "float"; None: no mask
    peak: PeakRate | None = None  # the device's peak FLOP/s for the dtype (CUDA, built-in inputs); None: not known


@dataclass(frozen=True)
class Halt:
    """Where and why a sweep ended early: out of memory (data: the fit uses the points below) or an error."""

    n: int
    status: PointStatus
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", PointStatus(self.status))

    def describe(self, symbol: str = "N") -> str:
        """Where and why, with the size written ``N=2048`` (or ``head_dim=256``: ``symbol`` names the axis)."""
        if self.status == SKIPPED:
            return f"skipped from {symbol}={self.n}: {self.reason}"
        what = "out of memory" if self.status == OUT_OF_MEMORY else "failed"
        return f"{what} at {symbol}={self.n}: {self.reason}"


@dataclass(frozen=True)
class TimingRecord:
    """How a sweep's time was measured: the rounds run of those its budget bought, and the seconds they took. With
    claims on the time exponent known before timing (``expect=``, the marker's ``time=``), the claims, and, when the
    samples decided them all before the budget ran out, each outcome and the interval that decided it (see
    core/sequential.py)."""

    rounds: int
    planned: int
    seconds: float
    claims: tuple[tuple[float, float], ...] = ()  # (expected, tol) of each claim known before timing
    decided: tuple[str, ...] = ()  # "pass" or "fail" per claim where a look decided them all; () otherwise
    interval: tuple[float, float] | None = None  # the fit's CI and the noise interval together, at that look

    @property
    def stopped_early(self) -> bool:
        return bool(self.decided)

    def describe(self) -> str:
        """One line for the reports: how many rounds, and what the claims known up front did to them."""
        rounds = f"{self.rounds} of {self.planned} round{'s' if self.planned != 1 else ''} ({self.seconds:.2f} s)"
        claims = ", ".join(f"{expected:g} ± {tol:g}" for expected, tol in self.claims)
        if self.stopped_early and self.interval is not None:
            pairs = zip(self.claims, self.decided, strict=True)
            outcomes = ", ".join(f"{expected:g} ± {tol:g} {outcome}" for (expected, tol), outcome in pairs)
            low, high = self.interval
            return f"time: decided after {rounds}: {outcomes} (interval {low:.3f} to {high:.3f})"
        if self.claims:
            return f"time: timed to the budget, {rounds}: the claim(s) {claims} were not decided sooner"
        return f"time: timed to the budget, {rounds}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "planned": self.planned,
            "seconds": self.seconds,
            "claims": [list(claim) for claim in self.claims],
            "decided": list(self.decided),
            "interval": None if self.interval is None else list(self.interval),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TimingRecord:
        interval = data.get("interval")
        return cls(
            rounds=int(data["rounds"]),
            planned=int(data["planned"]),
            seconds=float(data["seconds"]),
            claims=tuple((float(e), float(t)) for e, t in data.get("claims") or ()),
            decided=tuple(str(outcome) for outcome in data.get("decided") or ()),
            interval=None if interval is None else (float(interval[0]), float(interval[1])),
        )

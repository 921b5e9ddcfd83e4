"""Frozen settings of one sweep, validated where they are built (no torch, no pytest).

Every default is written once, here: the option table (options.py), the session options, a sweep's settings and
the fixture's signature all refer to these names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .axes import DEFAULT_AXIS, SEQ_LEN, validate_axis
from .sizes import validate_sizes
from .units import METRICS, parse_bytes

MODES: tuple[str, ...] = ("forward", "train")
DEFAULT_SIZES: tuple[int, ...] = (256, 512, 1024, 2048)
DEFAULT_DEVICE = "auto"
DEFAULT_MODE = "forward"
DEFAULT_BATCH = 1
DEFAULT_HEADS = 8
DEFAULT_HEAD_DIM = 64
DEFAULT_SEED = 0
DEFAULT_THREADS = 1  # one intra-op thread times without bias beside other load (docs/precision.md)
DEFAULT_TIME_BUDGET = 3.0  # seconds of timed calls per sweep
DEFAULT_RAM_GUARD = 0.8  # share of the host's available memory a sweep may take
# The backends sdpa_backend= pins through torch.nn.attention.sdpa_kernel (measure/kernels.py maps them).
SDPA_BACKENDS: tuple[str, ...] = ("math", "flash", "efficient", "cudnn")
# The masks the built-in inputs can pass: "causal" as is_causal=True, "bool" and "float" as attn_mask=, a
# (seq_len, kv_len) tensor with the causal pattern made before measuring (attention.make_mask).
MASKS: tuple[str, ...] = ("causal", "bool", "float")
# The SweepConfig fields that shape the built-in inputs only: inputs= and setup= would ignore them.
BUILTIN_INPUT_FIELDS: tuple[str, ...] = ("seq_len", "kv_len", "batch", "heads", "head_dim", "kv_heads", "mask")


def validate_device(device: object) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:INDEX``."""
    if isinstance(device, str):
        name = device.strip().lower()
        if name in ("auto", "cpu", "cuda"):
            return name
        if name.startswith("cuda:") and name[5:].isdigit():
            return name
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:INDEX', got {device!r}")


def validate_sdpa_backend(backend: object) -> str | None:
    """None (PyTorch chooses) or one of SDPA_BACKENDS."""
    if backend is None or (isinstance(backend, str) and backend in SDPA_BACKENDS):
        return backend
    choices = ", ".join(repr(b) for b in SDPA_BACKENDS)
    raise ValueError(f"sdpa_backend must be one of {choices}, or None to let PyTorch choose; got {backend!r}")


def validate_metrics(metrics: object) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence) or not metrics:
        raise ValueError(f"metrics must be a non-empty list drawn from {list(METRICS)}, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {list(METRICS)}")
    return tuple(dict.fromkeys(metrics))  # keep order, drop repeats


_OFF = ("off", "none", "false", "no")


def parse_ram_guard(value: object, name: str = "ram_guard") -> float | None:
    """The RAM guard's share of the available memory: ``0.8``, ``"80%"``, ``True`` (the default share), or off
    (``False``, ``0``, ``"off"``): None."""
    if value is True:
        return DEFAULT_RAM_GUARD
    share: float | None = None
    if isinstance(value, int | float):
        share = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in _OFF:
            return None
        percent = text.endswith("%")
        try:
            share = float(text.removesuffix("%")) / (100 if percent else 1)
        except ValueError:
            share = None
    if share == 0:
        return None  # no share at all: the guard is off, as with False or "off"
    if share is None or not 0 < share <= 1:
        raise ValueError(
            f"{name} must be a share of the available memory in (0, 1] such as 0.8 or 80%, or off; got {value!r}"
        )
    return share


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def validate_mask(mask: object) -> str | None:
    """None (no mask) or one of MASKS."""
    if mask is None or (isinstance(mask, str) and mask in MASKS):
        return mask
    choices = ", ".join(repr(m) for m in MASKS)
    raise ValueError(f"mask must be one of {choices}, or None for no mask; got {mask!r}")


@dataclass(frozen=True)
class InputShape:
    """The shape of the built-in inputs at one size: q is (batch, heads, seq_len, head_dim), k and v are
    (batch, kv_heads, kv_len, head_dim)."""

    batch: int
    heads: int
    seq_len: int
    head_dim: int
    kv_len: int
    kv_heads: int


@dataclass(frozen=True)
class SweepConfig:
    """What one sweep measures and how. ``dtype`` is a ``torch.dtype``; ``None`` means float32.

    ``sizes`` are the values of ``axis`` (the sequence length by default); the other dimensions of the built-in
    inputs stay fixed at ``seq_len``, ``kv_len``, ``batch``, ``heads``, ``head_dim`` and ``kv_heads`` (None: the
    default, or for ``kv_len`` and ``kv_heads`` the same as ``seq_len`` and ``heads``). ``shape_at(size)`` gives the
    whole shape at one size.
    """

    sizes: tuple[int, ...]
    metrics: tuple[str, ...] = METRICS
    device: str = DEFAULT_DEVICE
    mode: str = DEFAULT_MODE
    dtype: Any = None
    batch: int | None = None  # None: DEFAULT_BATCH
    heads: int | None = None  # None: DEFAULT_HEADS
    head_dim: int | None = None  # None: DEFAULT_HEAD_DIM
    threads: int = DEFAULT_THREADS
    time_budget: float = DEFAULT_TIME_BUDGET
    min_rounds: int = 5
    max_rounds: int = 25
    seed: int = DEFAULT_SEED
    max_time: float | None = None
    max_memory: int | None = None
    ram_guard: float | None = DEFAULT_RAM_GUARD  # share of the host's available memory a sweep may take; None: off
    # A lock file the timing takes turns on with other processes (pytest-xdist workers); None: no turns. A GPU's
    # timing takes turns on a file of its own beside it (measure/timing_lock.py).
    timing_lock: str | None = None
    sdpa_backend: str | None = None  # pinned around every call of the sweep; None: PyTorch chooses
    # On CUDA, one profiled call more per N for the memory breakdown (the CPU's comes from its memory profile).
    breakdown: bool = False
    axis: str = DEFAULT_AXIS  # what the sizes are the values of
    seq_len: int | None = None  # the fixed length of q when another axis is swept (needed then)
    kv_len: int | None = None  # the length of k and v (cross-attention); None: the same as q's
    kv_heads: int | None = None  # heads of k and v (grouped-query attention, passed enable_gqa=True); None: heads
    mask: str | None = None  # None, "causal" (is_causal=True), "bool" or "float" (attn_mask=)
    # Claims on the time exponent known before timing, (expected, tol) each: the timing stops once the samples
    # decide them all (core/sequential.py); empty: timed to the budget.
    time_claims: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", validate_sizes(self.sizes))
        validate_sdpa_backend(self.sdpa_backend)
        object.__setattr__(self, "metrics", validate_metrics(self.metrics))
        object.__setattr__(self, "device", validate_device(self.device))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name in ("threads", "min_rounds", "max_rounds"):
            positive_int(name, getattr(self, name))
        self._check_input_shape()
        if self.max_rounds < self.min_rounds:
            raise ValueError(f"max_rounds ({self.max_rounds}) must be >= min_rounds ({self.min_rounds})")
        positive_float("time_budget", self.time_budget)
        if self.max_time is not None:
            positive_float("max_time", self.max_time)
        if self.max_memory is not None:
            object.__setattr__(self, "max_memory", parse_bytes(self.max_memory))
        if self.ram_guard is not None:
            object.__setattr__(self, "ram_guard", parse_ram_guard(self.ram_guard))
        self._check_time_claims()

    def _check_time_claims(self) -> None:
        for claim in self.time_claims:
            if (
                not isinstance(claim, tuple)
                or len(claim) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in claim)
                or claim[1] < 0
            ):
                raise ValueError(
                    f"time_claims must be (expected, tol) pairs of finite numbers, tol >= 0; got {claim!r}"
                )
        if self.time_claims and "time" not in self.metrics:
            raise ValueError(f"time_claims are given, but metrics={list(self.metrics)!r} does not measure time")

    def _check_input_shape(self) -> None:
        """The axis, the fixed dimensions and the mask: each named with its value when it is wrong."""
        axis = validate_axis(self.axis)
        validate_mask(self.mask)
        for name in ("seq_len", "kv_len", "batch", "heads", "head_dim", "kv_heads"):
            value = getattr(self, name)
            if value is None:
                continue
            positive_int(name, value)
            if name == axis:
                raise ValueError(
                    f"{name}={value!r} was given, but axis={axis!r} sweeps {name}: its values are sizes=; "
                    f"leave {name}= out"
                )
        if axis != SEQ_LEN and self.seq_len is None:
            raise ValueError(
                f"axis={axis!r} needs seq_len=, the fixed sequence length of q (and of k and v unless kv_len= is given)"
            )
        if self.kv_heads is not None:
            heads = self.sizes if axis == "heads" else (self.heads or DEFAULT_HEADS,)
            uneven = [h for h in heads if h % self.kv_heads]
            if uneven:
                where = f"heads={uneven[0]} (a size of axis='heads')" if axis == "heads" else f"heads={uneven[0]}"
                raise ValueError(
                    f"kv_heads={self.kv_heads} must divide the number of query heads, but {where} is not a multiple of "
                    "it (grouped-query attention shares each k, v head among heads // kv_heads query heads)"
                )

    def shape_at(self, size: int) -> InputShape:
        """The shape of the built-in inputs at one of the sizes."""
        dims = {
            "batch": self.batch or DEFAULT_BATCH,
            "heads": self.heads or DEFAULT_HEADS,
            "seq_len": self.seq_len or 0,
            "head_dim": self.head_dim or DEFAULT_HEAD_DIM,
            "kv_len": self.kv_len or 0,
        }
        dims[self.axis] = size
        seq_len = dims["seq_len"]
        return InputShape(
            batch=dims["batch"],
            heads=dims["heads"],
            seq_len=seq_len,
            head_dim=dims["head_dim"],
            kv_len=dims["kv_len"] or seq_len,
            kv_heads=self.kv_heads or dims["heads"],
        )

    def fixed_shape(self) -> dict[str, int]:
        """The dimensions of the built-in inputs that stay fixed through the sweep (the result's ``shape``): batch,
        heads, head_dim, and seq_len, kv_len, kv_heads where they are set, less the axis swept."""
        shape = {
            "batch": self.batch or DEFAULT_BATCH,
            "heads": self.heads or DEFAULT_HEADS,
            "head_dim": self.head_dim or DEFAULT_HEAD_DIM,
        }
        shape.update({name: getattr(self, name) for name in ("seq_len", "kv_len", "kv_heads") if getattr(self, name)})
        shape.pop(self.axis, None)
        return shape

"""Frozen settings of a sweep and of the plugin, validated where they are built (no torch, no pytest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .sizes import parse_sizes, validate_sizes
from .units import METRICS, parse_bytes
from .verdict import validate_policy

MODES: tuple[str, ...] = ("forward", "train")
DEFAULT_SIZES: tuple[int, ...] = (256, 512, 1024, 2048)
DEFAULT_RAM_GUARD = 0.8  # share of the host's available memory a sweep may take


def validate_device(device: object) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:INDEX``."""
    if isinstance(device, str):
        name = device.strip().lower()
        if name in ("auto", "cpu", "cuda"):
            return name
        if name.startswith("cuda:") and name[5:].isdigit():
            return name
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:INDEX', got {device!r}")


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


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SweepConfig:
    """What one sweep measures and how. ``dtype`` is a ``torch.dtype``; ``None`` means float32."""

    sizes: tuple[int, ...]
    metrics: tuple[str, ...] = METRICS
    device: str = "auto"
    mode: str = "forward"
    dtype: Any = None
    batch: int = 1
    heads: int = 8
    head_dim: int = 64
    threads: int = 1
    time_budget: float = 3.0
    min_rounds: int = 5
    max_rounds: int = 25
    seed: int = 0
    max_time: float | None = None
    max_memory: int | None = None
    ram_guard: float | None = DEFAULT_RAM_GUARD  # share of the host's available memory a sweep may take; None: off

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", validate_sizes(self.sizes))
        object.__setattr__(self, "metrics", validate_metrics(self.metrics))
        object.__setattr__(self, "device", validate_device(self.device))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name in ("batch", "heads", "head_dim", "threads", "min_rounds", "max_rounds"):
            _positive_int(name, getattr(self, name))
        if self.max_rounds < self.min_rounds:
            raise ValueError(f"max_rounds ({self.max_rounds}) must be >= min_rounds ({self.min_rounds})")
        _positive_float("time_budget", self.time_budget)
        if self.max_time is not None:
            _positive_float("max_time", self.max_time)
        if self.max_memory is not None:
            object.__setattr__(self, "max_memory", parse_bytes(self.max_memory))
        if self.ram_guard is not None:
            object.__setattr__(self, "ram_guard", parse_ram_guard(self.ram_guard))


class _PytestConfigLike(Protocol):
    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PluginOptions:
    """Session-wide settings from the command line, falling back to the ini file of the same name."""

    report: bool = False
    json_path: str | None = None
    sizes: tuple[int, ...] = DEFAULT_SIZES
    device: str = "auto"
    threads: int = 1
    time_budget: float = 3.0
    inconclusive: str = "fail"
    max_time: float | None = None
    max_memory: int | None = None
    plot_dir: str | None = None
    html_path: str | None = None
    predict_n: int | None = None
    ram_guard: float | None = DEFAULT_RAM_GUARD

    @property
    def writes_output(self) -> bool:
        """Whether any report was asked for (the header line and progress are shown only then or with -v)."""
        return bool(self.report or self.json_path or self.plot_dir or self.html_path)

    @classmethod
    def from_pytest_config(cls, config: _PytestConfigLike) -> PluginOptions:
        def pick(name: str) -> Any:
            value = config.getoption(name)
            return value if value is not None else config.getini(name)

        def source(name: str) -> str:
            """Where a value came from, for its error message: the flag, or the ini key."""
            return "--" + name.replace("_", "-") if config.getoption(name) is not None else f"ini key {name}"

        sizes_text = pick("attn_sizes")
        sizes = validate_sizes(parse_sizes(sizes_text)) if sizes_text else DEFAULT_SIZES
        threads = pick("attn_threads")
        budget = pick("attn_time_budget")
        max_time = pick("attn_max_time")
        max_memory = pick("attn_max_memory")
        predict_n = pick("attn_predict_n")
        ram_guard = pick("attn_ram_guard")
        return cls(
            report=bool(pick("attn_scaling")),
            json_path=pick("attn_scaling_json") or None,
            sizes=sizes,
            device=validate_device(pick("attn_device") or "auto"),
            threads=_positive_int(source("attn_threads"), _as_number(threads, int, source("attn_threads")))
            if threads
            else 1,
            time_budget=_positive_float(
                source("attn_time_budget"), _as_number(budget, float, source("attn_time_budget"))
            )
            if budget
            else 3.0,
            inconclusive=validate_policy(pick("attn_inconclusive") or "fail"),
            max_time=_positive_float(source("attn_max_time"), _as_number(max_time, float, source("attn_max_time")))
            if max_time
            else None,
            max_memory=_named(parse_bytes, source("attn_max_memory"), max_memory) if max_memory else None,
            plot_dir=pick("attn_scaling_plot") or None,
            html_path=pick("attn_scaling_html") or None,
            predict_n=_positive_int(source("attn_predict_n"), _as_number(predict_n, int, source("attn_predict_n")))
            if predict_n
            else None,
            ram_guard=parse_ram_guard(ram_guard, source("attn_ram_guard")) if ram_guard else DEFAULT_RAM_GUARD,
        )


def _named(parse: Any, name: str, value: object) -> Any:
    try:
        return parse(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _as_number(value: object, kind: type[int] | type[float], name: str) -> int | float:
    try:
        return kind(str(value).strip())
    except (TypeError, ValueError):
        noun = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {noun}, got {value!r}") from None

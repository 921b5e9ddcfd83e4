"""pytest-attncomplexity: measure how attention scales with sequence length N and assert the exponents.

Importing this package is cheap (pytest imports the plugin in every run): names that need torch are loaded on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .core.config import SweepConfig
from .core.fit import Fit, FitError, fit_power_law
from .core.options import PluginOptions
from .core.records import Environment, PeakRate, Point
from .core.result import ScalingResult
from .core.sizes import geometric
from .errors import BackendUnavailable, DeviceUnavailable, DtypeUnavailable, SweepError
from .sweep.runner import ScalingRunner

if TYPE_CHECKING:
    from .attention import linear_attention, make_qkv, naive_attention, sdpa_attention
    from .sweep.run import run_sweep

_LAZY = {
    "linear_attention": "attention",
    "make_qkv": "attention",
    "naive_attention": "attention",
    "sdpa_attention": "attention",
    "run_sweep": "sweep.run",
}

__all__ = [
    "BackendUnavailable",
    "DeviceUnavailable",
    "DtypeUnavailable",
    "Environment",
    "Fit",
    "FitError",
    "PeakRate",
    "PluginOptions",
    "Point",
    "ScalingResult",
    "ScalingRunner",
    "SweepConfig",
    "SweepError",
    "fit_power_law",
    "geometric",
    "linear_attention",
    "make_qkv",
    "naive_attention",
    "run_sweep",
    "sdpa_attention",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The peak FLOP/s of a CUDA device for a dtype, that a result's FLOP/s is shown as a share of.

Where NVIDIA publishes the figure for the device (VENDOR_PEAKS), that figure: dense (no 2:4 sparsity), the SXM or
PCIe part as its name says. Elsewhere a large square matmul is timed once per device and dtype in a session (about
a second at most): what the device achieves on the work it does best, not its nameplate. On the CPU there is none:
see docs/reports.md.
"""

from __future__ import annotations

import functools
import re

import torch

from ..core.records import PeakRate

# Dense peak TFLOP/s from NVIDIA's data sheets, by the dtype of the tensor cores doing the work: "tf32" is float32
# with torch.backends.cuda.matmul.allow_tf32 on; "float32" without it (the CUDA cores, PyTorch's default).
# Patterns are matched against torch.cuda.get_device_name(), first match wins (the NVL and PCIe parts before SXM).
VENDOR_PEAKS: tuple[tuple[str, str, dict[str, float]], ...] = (
    (r"\bH200 NVL", "H200 NVL", {"bfloat16": 835.5, "float16": 835.5, "tf32": 417.5, "float32": 60.0}),
    (r"\bH200\b", "H200 SXM", {"bfloat16": 989.4, "float16": 989.4, "tf32": 494.7, "float32": 66.9}),
    (r"\bH100 NVL", "H100 NVL", {"bfloat16": 835.5, "float16": 835.5, "tf32": 417.5, "float32": 60.0}),
    (r"\bH100 PCIe", "H100 PCIe", {"bfloat16": 756.5, "float16": 756.5, "tf32": 378.0, "float32": 51.2}),
    (r"\bH100\b", "H100 SXM", {"bfloat16": 989.4, "float16": 989.4, "tf32": 494.7, "float32": 66.9}),
    (r"\bA100\b", "A100", {"bfloat16": 312.0, "float16": 312.0, "tf32": 156.0, "float32": 19.5, "float64": 19.5}),
)

# The side of the square matmul timed where no vendor figure is known: large enough to reach the device's rate
# (2·8192³ ≈ 1.1 TFLOP a call), small enough to be quick on a small GPU in float32 (0.1 s at 10 TFLOP/s).
MATMUL_SIDE = 8192
_MATMUL_CALLS = 5


def peak_kind(dtype: torch.dtype) -> str:
    """The name of the dtype in VENDOR_PEAKS: float32 counts as "tf32" when PyTorch lets matmuls use TF32."""
    name = str(dtype).removeprefix("torch.")
    if name == "float32" and _matmuls_use_tf32():
        return "tf32"
    return name


def _matmuls_use_tf32() -> bool:
    """Read through the precision API when there is one: torch 2.9+ raises on the legacy allow_tf32 flag once a
    program has set the new one."""
    matmul = torch.backends.cuda.matmul
    precision = getattr(matmul, "fp32_precision", None)
    if precision is not None:
        if precision == "none":  # inherits the backend-wide setting
            precision = getattr(torch.backends, "fp32_precision", "ieee")
        return str(precision) == "tf32"
    return bool(matmul.allow_tf32)


def vendor_peak(device_name: str, kind: str) -> PeakRate | None:
    """The vendor's dense figure for this device and dtype, or None when the table has none (or the device is a MIG
    slice, which has a fraction of the part's cores)."""
    if "MIG" in device_name.upper().split():
        return None
    for pattern, part, figures in VENDOR_PEAKS:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            if kind not in figures:
                return None
            return PeakRate(figures[kind] * 1e12, f"vendor figure: {part}, {kind}, dense")
    return None


def measured_peak(device: torch.device, dtype: torch.dtype, side: int = MATMUL_SIDE) -> PeakRate:
    """The best FLOP/s of a few ``side``×``side`` matmuls in ``dtype`` on ``device``, after a warm-up call."""
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(side, side, device=device, dtype=dtype, generator=generator)
    b = torch.randn(side, side, device=device, dtype=dtype, generator=generator)
    flops = 2.0 * side**3
    torch.mm(a, b)
    best = float("inf")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(_MATMUL_CALLS):
            start, end = _event(), _event()
            start.record()
            torch.mm(a, b)
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
    else:  # only for the tests: the CPU gets no peak in a result
        import time

        for _ in range(_MATMUL_CALLS):
            began = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - began)
    kind = peak_kind(dtype)
    return PeakRate(flops / best, f"measured: {side}×{side} {kind} matmul, best of {_MATMUL_CALLS}")


def device_peak(device: torch.device, dtype: torch.dtype, name: str) -> PeakRate | None:
    """The peak a result on ``device`` (called ``name``) in ``dtype`` is a share of: the vendor's figure where the
    table has it, else a measured matmul (once per device, dtype and TF32 setting in a process); None on the CPU,
    and where the device cannot multiply in that dtype."""
    if device.type != "cuda":
        return None
    try:  # a share of a peak is a nicety: nothing about it may fail the sweep it describes
        kind = peak_kind(dtype)
        return vendor_peak(name, kind) or _measured_once(device, dtype, kind)
    except Exception:
        return None


@functools.lru_cache(maxsize=16)
def _measured_once(device: torch.device, dtype: torch.dtype, kind: str) -> PeakRate | None:
    try:
        return measured_peak(device, dtype)
    except (RuntimeError, TypeError):  # out of memory, or no matmul for this dtype (some float8 types)
        return None
    finally:
        torch.cuda.empty_cache()


def _event() -> torch.cuda.Event:
    return torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]

"""Which GPU a pytest-xdist worker measures on: worker gwK takes visible GPU K mod their count. No torch, no pytest.

The choice is made from text (CUDA_VISIBLE_DEVICES, the worker's id) and a count the NVIDIA driver lists in /proc,
so that nothing here initializes CUDA: CUDA reads CUDA_VISIBLE_DEVICES once, when it initializes, and a worker can
narrow it to its own GPU only before that. ``torch.cuda.device_count()`` is not used for the count: before CUDA is
initialized torch 2.13 asks NVML, but where NVML fails it falls back to ``cudaGetDeviceCount``, which initializes
CUDA (torch/cuda/__init__.py, ``device_count``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DRIVER_GPUS = "/proc/driver/nvidia/gpus"  # one directory per GPU (named by its PCI address)
PINNED_DEVICES = ("auto", "cuda")  # session devices a worker narrows to its own GPU; cuda:INDEX is the user's


def visible_gpus(cuda_visible_devices: str | None, driver_gpus: int | None) -> tuple[str, ...]:
    """The GPUs CUDA shows this process, as CUDA_VISIBLE_DEVICES entries: the variable's entries (indices or
    ``GPU-``/``MIG-`` uuids) up to the first one CUDA would not accept, as CUDA reads it; without the variable,
    ``0 .. driver_gpus - 1``; none when neither is known."""
    if cuda_visible_devices is None:
        return tuple(str(index) for index in range(driver_gpus or 0))
    entries: list[str] = []
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))):
            break  # CUDA ignores an invalid entry and everything after it ("-1" hides every GPU)
        if entry in entries:
            return ()  # CUDA shows no GPU at all when one is named twice
        entries.append(entry)
    return tuple(entries)


def worker_number(worker_id: str | None) -> int | None:
    """``gw3`` -> 3; None for anything else (not a pytest-xdist worker)."""
    match = re.fullmatch(r"gw(\d+)", worker_id or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class GpuChoice:
    """A worker's GPU: its CUDA_VISIBLE_DEVICES entry and its place among the ``count`` visible GPUs."""

    entry: str
    index: int
    count: int


def choose_gpu(worker_id: str | None, device: str, visible: Sequence[str]) -> GpuChoice | None:
    """Visible GPU K mod their count for worker gwK when the session's device is ``auto`` or ``cuda``; None when
    there is nothing to choose (another device, no GPU, not a worker)."""
    number = worker_number(worker_id)
    if number is None or device not in PINNED_DEVICES or not visible:
        return None
    index = number % len(visible)
    return GpuChoice(visible[index], index, len(visible))


@dataclass(frozen=True)
class Pinning:
    """How a worker gets its GPU: CUDA_VISIBLE_DEVICES narrowed to it (``environment``), or, where CUDA was already
    initialized in the worker and no longer reads the variable, the session's device set to its index
    (``device``)."""

    choice: GpuChoice
    environment: str | None = None
    device: str | None = None


def pin(choice: GpuChoice | None, cuda_initialized: bool) -> Pinning | None:
    if choice is None:
        return None
    if cuda_initialized:
        return Pinning(choice, device=f"cuda:{choice.index}")
    return Pinning(choice, environment=choice.entry)


def describe_plan(workers: int, device: str, visible: Sequence[str]) -> str | None:
    """The header's line on GPUs: each worker on its own, or several sharing one (round-robin); None when the
    workers do not choose GPUs (see choose_gpu)."""
    if workers < 1 or device not in PINNED_DEVICES or not visible:
        return None
    shown = ", ".join(visible)
    if workers <= len(visible):
        return f"each of the {workers} workers measures on its own GPU (worker gwK on visible GPU K: {shown})"
    per_gpu = math.ceil(workers / len(visible))
    return (
        f"{workers} workers share {len(visible)} GPU{'s' if len(visible) > 1 else ''} ({shown}) round-robin, up to "
        f"{per_gpu} per GPU (worker gwK on visible GPU K mod {len(visible)}); workers on one GPU take turns timing"
    )


def driver_gpu_count(path: str = DRIVER_GPUS) -> int | None:
    """GPUs the NVIDIA driver lists, without initializing CUDA; None where it lists none (no driver, not Linux)."""
    try:
        return len(os.listdir(path)) or None
    except OSError:
        return None


def cuda_driver_loaded(maps: str = "/proc/self/maps") -> bool:
    """Whether this process has loaded the CUDA driver (libcuda), which happens when CUDA initializes: after that
    CUDA_VISIBLE_DEVICES is no longer read. False where /proc is not there."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as mapped:
            return any("libcuda.so" in line for line in mapped)
    except OSError:
        return False


def environment_visible(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The GPUs visible to a process with this environment (the driver's count where the variable is unset)."""
    return visible_gpus(environ.get("CUDA_VISIBLE_DEVICES"), driver_gpu_count())

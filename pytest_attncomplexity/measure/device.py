"""Which device a sweep runs on, what it is called, and the CPU thread count while measuring."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator

import torch

from ..errors import DeviceUnavailable


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when there is a GPU, else the CPU; ``cuda`` without one raises DeviceUnavailable."""
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device={name!r} was asked for, but CUDA is not available here")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device={name!r} was asked for, but there are only {torch.cuda.device_count()} CUDA device(s)"
            )
        return torch.device("cuda", index)
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def memory_capacity(device: torch.device) -> int:
    """Bytes of memory on the device: the GPU's total memory, or the machine's physical RAM (0 if unknown)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return 0


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread count set to ``threads``, then restore it."""
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def start_thread_pool(threads: int) -> None:
    """Have torch's intra-op pool run ``threads`` threads: a parallel operation wide enough to need all of them
    (TensorIterator splits work into chunks of at least 32768 elements)."""
    with cpu_threads(threads):
        torch.ones(threads * 2**16).add_(1.0)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_environment(device_option: str) -> dict[str, str]:
    """What a saved baseline records of where it was measured, for the session's default device: the device, its
    name, the CPU, torch's and CUDA's versions (an unavailable device is named as asked, its sweeps skip)."""
    try:
        device = resolve_device(device_option)
        device_text, name = str(device), device_name(device)
    except DeviceUnavailable:
        device_text, name = device_option, "not available"
    return {
        "device": device_text,
        "device_name": name,
        "cpu": device_name(torch.device("cpu")),
        "torch": str(torch.__version__),
        "cuda": str(torch.version.cuda or ""),
    }

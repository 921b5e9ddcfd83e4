"""Peak bytes a call allocates above what was allocated before it.

CPU: the profiler's allocation events, summed in time order; the running sum's maximum is the peak. They include
buffers that fused kernels allocate inside (CPU flash attention's scratch), which tensor-level trackers miss.
Allocations made on other threads are not seen, so the caller runs this with one intra-op thread.
CUDA: the caching allocator's peak after a reset, above the bytes allocated before the call.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from .device import synchronize

EventTree = list[Any]  # the roots of the profiler's event tree (torch._C._profiler._ProfilerEvent)


def peak_memory(call: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated by one run of ``call`` on ``device`` above the bytes allocated before it."""
    return peak_memory_and_operators(call, device)[0]


def peak_memory_and_operators(
    call: Callable[[], object], device: torch.device, *, attribute: bool = True
) -> tuple[int, EventTree | None]:
    """The peak, and on the CPU the profiler's event tree of that same run, which names the operators it ran (see
    kernels.py) and, with ``attribute``, their shapes and Python frames (attribution.py); None on CUDA, whose peak
    comes from the caching allocator, without a profiler."""
    if device.type == "cuda":
        return _cuda_peak(call, device), None
    return _cpu_peak(call, attribute)


def _cuda_peak(call: Callable[[], object], device: torch.device) -> int:
    synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    output = call()
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del output
    return max(0, int(peak))


def _cpu_peak(call: Callable[[], object], attribute: bool) -> tuple[int, EventTree]:
    with warnings.catch_warnings():
        # Some torch versions warn that one-cycle profiles keep only that cycle's events: that is what we want.
        warnings.filterwarnings("ignore", message=".*Profiler clears events", category=UserWarning)
        # Shapes and Python frames name the operator and the line behind each block (attribution.py); they cost
        # little next to the memory profile itself (docs/reports.md has the figures).
        prof = profile(
            activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=attribute, with_stack=attribute
        )
        with quiet_stderr():
            prof.start()
        try:
            output = call()
            del output
        finally:
            with quiet_stderr():
                prof.stop()
    assert prof.profiler is not None and prof.profiler.kineto_results is not None
    tree = list(prof.profiler.kineto_results.experimental_event_tree())
    events = sorted(_allocation_events(tree))
    running = peak = 0
    for _, size in events:
        running += size
        peak = max(peak, running)
    return peak, tree


def _allocation_events(nodes: Iterable[Any]) -> Iterator[tuple[int, int]]:
    """(time, signed size) of every allocation and free in the profiler's event tree."""
    allocation = torch._C._profiler._EventType.Allocation
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.tag == allocation:
            yield node.start_time_ns, int(node.extra_fields.alloc_size)
        stack.extend(node.children)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Kineto writes ``USDT: ...`` lines to file descriptor 2 at every profile start and stop: drop them."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)

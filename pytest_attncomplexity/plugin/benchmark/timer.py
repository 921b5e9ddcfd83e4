"""pytest-benchmark's fixture: its raw per-call samples, and its timer made to synchronize CUDA."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

TIMER_ATTRIBUTE = "_timer"  # BenchmarkFixture's timer: private, read when benchmark(...) runs (tests check it is there)


def samples_of(fixture: Any) -> tuple[float, ...] | None:
    """The raw per-call times of a BenchmarkFixture (each round's time divided by its iterations), or None when it
    timed nothing (disabled, or benchmark(...) was never called)."""
    data = getattr(getattr(getattr(fixture, "stats", None), "stats", None), "data", None)
    if not data:
        return None
    return tuple(float(sample) for sample in data)


def replace_timer(fixture: Any, wrap: Callable[[Callable[[], float]], Callable[[], float]]) -> bool:
    """Have the fixture time with ``wrap(its timer)``; False when pytest-benchmark no longer keeps the timer where
    this plugin knows to find it. It must happen before the body calls benchmark(...), which reads it."""
    timer = getattr(fixture, TIMER_ATTRIBUTE, None)
    if not callable(timer):
        return False
    setattr(fixture, TIMER_ATTRIBUTE, wrap(timer))
    return True


_SYNCHRONIZED: dict[Callable[[], float], Callable[[], float]] = {}


def cuda_synchronized(timer: Callable[[], float]) -> Callable[[], float]:
    """``timer`` read after torch.cuda.synchronize(): a CUDA call returns once its kernels are queued, so an
    unsynchronized clock measures the launch, not the work. One wrapper per timer: pytest-benchmark caches a
    timer's precision by the function."""
    if timer not in _SYNCHRONIZED:
        import torch

        def synchronized() -> float:
            torch.cuda.synchronize()
            return timer()

        name = f"cuda_synchronized_{getattr(timer, '__name__', 'timer')}"
        synchronized.__name__ = synchronized.__qualname__ = name  # pytest-benchmark's JSON names the timer
        _SYNCHRONIZED[timer] = synchronized
    return _SYNCHRONIZED[timer]


def cuda_available() -> bool:
    torch = sys.modules.get("torch")  # not imported by the tests: they run nothing on CUDA through torch
    return torch is not None and bool(torch.cuda.is_available())

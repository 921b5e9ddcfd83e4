from __future__ import annotations

from collections.abc import Callable

import pytest

# In-process inner runs (pytester.runpytest_inprocess) drop the modules they imported when they end, and extension
# modules cannot be loaded twice in one process: a start-up that resolves a device imports torch, one that reads a
# baseline fits it (scipy.stats, which loads numpy.fft). Loaded here first, they outlive every inner run, whatever
# order the tests run in.
import scipy.stats  # noqa: F401
import torch  # also used below, and loaded here first for the reason above

from .inner import FAST_SIZES


@pytest.fixture
def fast_sizes() -> list[int]:
    """The small sizes behaviour tests sweep (tests/inner.py: the same for inner sessions)."""
    return list(FAST_SIZES)


@pytest.fixture
def matmul_calls() -> dict[int, Callable[[], object]]:
    """Calls of a few microseconds at three sizes, for timing tests that need real calls but no attention."""
    calls: dict[int, Callable[[], object]] = {}
    for n in (16, 32, 64):
        a = torch.randn(n, n)
        calls[n] = lambda a=a: a @ a
    return calls

"""What building the inputs and running a call once would take on the host, worked out without allocating it.

Under ``FakeTensorMode`` tensors carry shapes, dtypes and devices but no data; a dispatch mode beneath it adds up
the bytes of the CPU storages alive at once. Naive attention with 16 heads at N=16384 comes out at 34.6 GB in a few
milliseconds. Fused CPU kernels' internal scratch is not seen (it is O(N) and small). The first fake tensor of a
session costs about 0.7 s (torch imports its compiler stack for it), so a sweep asks for an estimate only when the
worst case of attention at its first N would not fit (``worst_case_bytes``).

Only calls that keep nothing between calls are run this way: user code can cache what it makes (a mask in a
``functools.cache``, a rotary table on a module), and a fake tensor left in such a cache would break the real call
that follows. Everything else is measured from its first N on, under the RAM guard's address-space cap.
"""

from __future__ import annotations

import functools
import inspect
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode


def is_stateless(fn: object) -> bool:
    """The plugin's reference implementations and torch's own functions (also inside ``functools.partial``)."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    if not (inspect.isfunction(target) or inspect.isbuiltin(target)):
        return False
    module = getattr(target, "__module__", None) or ""
    return module == "pytest_attncomplexity.attention" or module == "torch" or module.startswith("torch.")


def worst_case_bytes(batch: int, heads: int, n: int, head_dim: int, itemsize: int, train: bool) -> int:
    """An upper bound of what q, k, v of (batch, heads, N, head_dim) and attention over them take: the inputs (and
    their gradients), and up to four N×N score-sized buffers at once (eight with the backward pass; naive attention
    holds two forward, about three in a training step)."""
    inputs = 3 * batch * heads * n * head_dim * itemsize * (2 if train else 1)
    scores = (8 if train else 4) * batch * heads * n * n * max(itemsize, 4)
    return inputs + scores


def estimate_host_peak(build: Callable[[], Callable[[], object]]) -> int | None:
    """Peak CPU bytes of ``build()`` (making the inputs) and one run of the call it returns, on fake tensors.

    None where it cannot be worked out: an operator without a fake implementation, a data-dependent shape.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch._subclasses.fake_tensor import FakeTensorMode

            with FakeTensorMode():
                tracker = _LiveStorages()
                with tracker:
                    call = build()
                    call()
                    del call
    except Exception:  # any failure means "no estimate": the first N is then measured under the cap
        return None
    return tracker.peak


class _LiveStorages(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Adds up the bytes of the CPU storages that operators create, and takes them off when they are freed."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.live = 0
        self.peak = 0
        self._alive: set[int] = set()

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        output = func(*args, **(kwargs or {}))
        for value in pytree.tree_leaves(output):
            if isinstance(value, torch.Tensor) and value.device.type == "cpu":
                self._track(value.untyped_storage())
        return output

    def _track(self, storage: torch.UntypedStorage) -> None:
        key = id(storage)  # a view shares its base's storage object: counted once
        if key in self._alive:
            return
        size = int(storage.nbytes())
        self._alive.add(key)
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key, size)

    def _free(self, key: int, size: int) -> None:
        self._alive.discard(key)
        self.live -= size

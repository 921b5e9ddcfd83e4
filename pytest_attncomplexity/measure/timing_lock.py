"""Timing that takes turns: a file lock held while a sweep times, so that processes measuring at once on one
machine (pytest-xdist workers) do not time over each other.

Two processes timing on one CPU at once slow each other by different amounts at different N (caches, memory
bandwidth, a shared core), which bends the curve; memory and FLOP counts are exact and need no turns
(docs/precision.md has the figures). On CUDA each GPU has a lock of its own: workers that each have their own GPU
never wait, workers that share one take turns on it.

``fcntl.flock`` is released by the kernel when its process ends, also by a crash or SIGKILL: a worker that dies
while timing never leaves the others waiting.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch


def lock_file(base: str | None, device: torch.device) -> str | None:
    """The lock a sweep on ``device`` takes turns on: ``base`` for the CPU, ``base.gpu-<uuid>`` for a GPU (the
    same file for every process that sees that GPU, whatever its index there); None without a base."""
    if base is None or device.type != "cuda":
        return base
    return f"{base}.gpu-{_gpu_key(device)}"


def _gpu_key(device: torch.device) -> str:
    try:
        key = str(torch.cuda.get_device_properties(device).uuid)
    except (AttributeError, RuntimeError):  # no uuid on this torch: the index among the visible GPUs
        key = f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'all')}-{device.index}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", key)


@contextlib.contextmanager
def taking_turns(path: str | None) -> Iterator[None]:
    """Hold the lock ``path`` (created if missing) for the block; with None, or where there is no ``fcntl``
    (Windows), the block runs at once. A lock that cannot be opened is a warning, and the block runs without it."""
    if path is None or sys.platform == "win32":
        yield
        return
    import fcntl

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        warnings.warn(
            f"pytest-attncomplexity: cannot open the timing lock {path!r} ({error}): this sweep times without "
            "taking turns with the other workers, and its time may read less precisely",
            RuntimeWarning,
            stacklevel=3,
        )
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)

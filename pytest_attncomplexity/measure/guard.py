"""The RAM guard: a sweep stays within a share of the memory this machine has available, so that the kernel's OOM
killer never ends the session. No torch, no pytest.

On Linux with default overcommit a too-large CPU allocation succeeds, and touching it fills RAM until the kernel
kills the process: no report, no JSON, every result of the session lost (naive attention with 16 heads at N=16384,
about 34 GB, on a 24 GiB machine). The guard works in two ways:

- before each N it predicts what the N will take on the host (from the sizes measured before it, or an estimate
  while fewer than two are) and skips the N, as a ``skipped`` point with the figures, when that does not fit;
- while a CPU sweep runs it caps the process's address space at the same share, so that whatever the prediction
  missed fails as a clean allocation error (recorded as out of memory) instead of a kill.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.budget import predict_peak
from ..core.units import format_value
from . import host

# The cap never leaves less room than this: a process that can map nothing more cannot even fail cleanly.
MIN_ROOM = 256 * 2**20


@dataclass(frozen=True)
class Room:
    """Bytes the process may still grow by, and where they come from (the share of the memory available)."""

    bytes: int
    source: str  # "80% of the 21.9 GiB available (MemAvailable)"

    def describe(self) -> str:
        return f"the RAM guard capped the process's growth at {format_value('memory', self.bytes)}, {self.source}"


@dataclass(frozen=True)
class RamGuard:
    """``share`` of the memory available now that a sweep may take; None turns the guard off."""

    share: float | None

    @property
    def active(self) -> bool:
        return self.share is not None

    def before(self, n: int, needs: Mapping[int, float], estimate: float | None = None) -> str | None:
        """Why N (and the sizes after it) is skipped, or None: what N is predicted to take does not fit.

        ``needs``: host bytes each measured N took (resident peak over building and measuring it). From two sizes on
        they are extrapolated; one size is no base, since its peak holds what a process takes only once (imports,
        thread pools, the profiler, a CUDA context: 80 MB before SDPA's first call here), which as N² would skip
        sizes that fit. Until then ``estimate`` stands in: the first N worked out on fake tensors, or the second
        extrapolated from the first call's own peak.
        """
        predicted = predict_peak(needs, n) if len(needs) >= 2 else estimate
        if predicted is None:
            return None
        room = self.room(minimum=0)
        if room is None or predicted <= room.bytes:
            return None
        how = "worked out on fake tensors" if not needs else "extrapolated from the sizes measured"
        return (
            f"predicted host memory {format_value('memory', predicted)} at N={n} ({how}) does not fit the RAM guard: "
            f"{room.source} is {format_value('memory', room.bytes)}; --attn-ram-guard or ram_guard= set the share "
            "or turn the guard off"
        )

    def fits(self, predicted: float) -> bool:
        """Whether ``predicted`` host bytes fit the guard's share of the memory available now (always, when off)."""
        room = self.room(minimum=0)
        return room is None or predicted <= room.bytes

    def room(self, minimum: int = MIN_ROOM) -> Room | None:
        """How much the process may still grow by, or None (guard off, or the available memory is unknown here)."""
        if self.share is None:
            return None
        headroom = host.available_memory()
        if headroom is None:
            return None
        workers = _xdist_workers()
        share = self.share / workers  # the workers all see the same free memory
        shown = f"{share:.0%}" if workers == 1 else f"{share:.0%} ({self.share:.0%} / {workers} xdist workers)"
        source = f"{shown} of the {format_value('memory', headroom.bytes)} available now ({headroom.source})"
        return Room(max(minimum, int(share * headroom.bytes)), source)


def _xdist_workers() -> int:
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1

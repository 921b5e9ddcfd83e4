"""The RAM guard: a sweep stays within a share of the memory this machine has available, so that the kernel's OOM
killer never ends the session. No torch, no pytest.

On Linux with default overcommit a too-large CPU allocation succeeds, and touching it fills RAM until the kernel
kills the process: no report, no JSON, every result of the session lost (naive attention with 16 heads at N=16384,
about 34 GB, on a 24 GiB machine). The guard works in two ways:

- before each N it predicts what the N will take on the host (from the sizes measured before it, or for the first N
  an estimate on fake tensors) and skips the N, as a ``skipped`` point with the figures, when that does not fit;
- while a CPU sweep runs it caps the process's address space at the same share, so that whatever the prediction
  missed fails as a clean allocation error (recorded as out of memory) instead of a kill.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .budget import predict_peak
from .measure import host
from .units import format_value

DEFAULT_SHARE = 0.8
# The cap never leaves less room than this: threads a call starts reserve their stacks in the address space, and a
# thread that cannot start aborts the process, which is what the cap is there to prevent.
MIN_ROOM = 256 * 2**20


@dataclass(frozen=True)
class RamGuard:
    """``share`` of the memory available now that a sweep may take; None turns the guard off."""

    share: float | None = DEFAULT_SHARE

    @property
    def active(self) -> bool:
        return self.share is not None

    def effective_share(self) -> float | None:
        """The share for this process: divided among pytest-xdist workers, which all see the same free memory."""
        if self.share is None:
            return None
        return self.share / _xdist_workers()

    def before(self, n: int, needs: Mapping[int, float], estimate: float | None = None) -> str | None:
        """Why N (and the sizes after it) is skipped, or None: what N is predicted to take does not fit.

        ``needs``: host bytes each measured N took (resident peak over building and running it); ``estimate``: the
        bytes worked out for N on fake tensors, used when nothing has been measured yet.
        """
        share = self.effective_share()
        if share is None:
            return None
        predicted = predict_peak(needs, n)
        if predicted is None:
            predicted = estimate
        if predicted is None:
            return None
        headroom = host.available_memory()
        if headroom is None or predicted <= share * headroom.bytes:
            return None
        how = "worked out on fake tensors" if not needs else "extrapolated from the sizes measured"
        return (
            f"predicted host memory {format_value('memory', predicted)} at N={n} ({how}) does not fit the RAM guard: "
            f"{self._describe_share(share)} of the {format_value('memory', headroom.bytes)} available now "
            f"({headroom.source}) is {format_value('memory', share * headroom.bytes)}; --attn-ram-guard or "
            "ram_guard= set the share or turn the guard off"
        )

    def fits(self, predicted: float) -> bool:
        """Whether ``predicted`` host bytes fit the guard's share of the memory available now (always, when off)."""
        share = self.effective_share()
        headroom = host.available_memory() if share is not None else None
        return share is None or headroom is None or predicted <= share * headroom.bytes

    def room(self) -> Room | None:
        """How much the process may still grow while a sweep runs, or None (guard off, availability unknown)."""
        share = self.effective_share()
        headroom = host.available_memory() if share is not None else None
        if share is None or headroom is None:
            return None
        grant = max(MIN_ROOM, int(share * headroom.bytes))
        return Room(grant, f"{self._describe_share(share)} of the {format_value('memory', headroom.bytes)} available")

    def _describe_share(self, share: float) -> str:
        workers = _xdist_workers()
        return f"{share:.0%}" if workers == 1 else f"{share:.0%} ({self.share:.0%} / {workers} xdist workers)"


@dataclass(frozen=True)
class Room:
    """Bytes the process may grow by under the guard's address-space cap, and the share they come from."""

    bytes: int
    share: str  # "80% of the 21.9 GiB available"

    def describe(self) -> str:
        return f"the RAM guard capped the process's growth at {format_value('memory', self.bytes)}, {self.share}"


def _xdist_workers() -> int:
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1

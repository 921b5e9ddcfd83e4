"""Where a sweep is: one event per N measured or stopped, and around the timing rounds. No torch, no pytest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``stage`` is ``measured`` (N built, run once, counted), ``stopped`` (out of memory, error, over a budget),
    ``timing`` (the rounds start; ``n`` is the largest N) or ``done``."""

    label: str
    stage: str
    n: int
    index: int  # 1-based position of N among the sizes
    total: int
    detail: str = ""

    def describe(self) -> str:
        where = f"N={self.n} ({self.index}/{self.total})" if self.stage in ("measured", "stopped") else ""
        return " ".join(part for part in (self.label, self.stage, where, self.detail) if part)


ProgressCallback = Callable[[Progress], None]

"""Where a sweep is: one event per N measured or stopped, and around the timing rounds. No torch, no pytest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core.textenum import TextEnum


class Stage(TextEnum):
    MEASURED = "measured"  # N built, run once, counted
    STOPPED = "stopped"  # out of memory, an error, over a budget
    TIMING = "timing"  # the rounds start; ``n`` is the largest N
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    """Where a sweep is: the stage, at which N."""

    label: str
    stage: Stage
    n: int
    index: int  # 1-based position of N among the sizes
    total: int
    detail: str = ""

    def describe(self) -> str:
        where = f"N={self.n} ({self.index}/{self.total})" if self.stage in (Stage.MEASURED, Stage.STOPPED) else ""
        return " ".join(part for part in (self.label, self.stage, where, self.detail) if part)


ProgressCallback = Callable[[Progress], None]

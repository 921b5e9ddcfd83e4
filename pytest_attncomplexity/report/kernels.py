"""The line that names the SDPA kernel a result ran at each N, shared by the terminal report, the HTML page and
failure messages (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..results import ScalingResult


@dataclass(frozen=True)
class KernelLine:
    text: str
    changes: bool  # a different kernel (or none) ran at some sizes: the sizes do not measure one implementation


def kernel_line(result: ScalingResult) -> KernelLine | None:
    """``SDPA kernel: flash (CPU) at every N``, or each kernel with its sizes when it changes between them; None
    when the call ran no SDPA at any N (naive or linear attention) or nothing was observed."""
    observed = sorted(result.kernels.items())
    if not any(kernels for _, kernels in observed):
        return None
    runs: list[tuple[tuple[str, ...], list[int]]] = []  # consecutive sizes that ran the same kernels
    for n, kernels in observed:
        if runs and runs[-1][0] == kernels:
            runs[-1][1].append(n)
        else:
            runs.append((kernels, [n]))
    pinned = f" (pinned: {result.environment.sdpa_backend})" if result.environment.sdpa_backend else ""
    if len(runs) == 1:
        return KernelLine(f"SDPA kernel: {_names(runs[0][0])} at every {result.symbol}{pinned}", False)
    parts = ", ".join(f"{_names(kernels)} at {_span(sizes, result.symbol)}" for kernels, sizes in runs)
    return KernelLine(f"SDPA kernel: {parts}: changes between sizes{pinned}", True)


def _names(kernels: Sequence[str]) -> str:
    return " + ".join(kernels) if kernels else "none"


def _span(sizes: Sequence[int], symbol: str) -> str:
    return f"{symbol}={sizes[0]}" if len(sizes) == 1 else f"{symbol}={sizes[0]}..{sizes[-1]}"

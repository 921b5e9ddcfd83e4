"""The callable behind the ``attn_scaling`` fixture: session defaults + call arguments -> one sweep.

Free of pytest so it can be used from scripts (benchmarks/) exactly as tests use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .config import PluginOptions, SweepConfig, parse_ram_guard
from .errors import SweepError
from .progress import ProgressCallback
from .results import ScalingResult
from .units import METRICS, parse_bytes


class ScalingRunner:
    """``runner(fn, sizes=..., metrics=..., ...)`` measures fn at each N and returns a ScalingResult."""

    def __init__(
        self,
        options: PluginOptions | None = None,
        *,
        nodeid: str = "",
        record: Callable[[ScalingResult], None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.options = options or PluginOptions()
        self.nodeid = nodeid
        self._record = record
        self._progress = progress

    def __call__(
        self,
        fn: Callable[..., object] | None = None,
        *,
        setup: Callable[[int], Callable[[], object]] | None = None,
        sizes: Any = None,
        metrics: Any = METRICS,
        device: str | None = None,
        mode: str = "forward",
        dtype: Any = None,
        batch: int = 1,
        heads: int = 8,
        head_dim: int = 64,
        inputs: Callable[[int], object] | None = None,
        threads: int | None = None,
        time_budget: float | None = None,
        seed: int = 0,
        label: str | None = None,
        max_time: float | None = None,
        max_memory: int | str | None = None,
        ram_guard: float | str | bool | None = None,
    ) -> ScalingResult:
        __tracebackhide__ = True  # a failing sweep points at the test's line and the user's exception
        from .sweep import run_sweep  # torch is imported when a sweep runs, not when pytest starts

        config = SweepConfig(
            sizes=self.options.sizes if sizes is None else sizes,
            metrics=metrics,
            device=self.options.device if device is None else device,
            mode=mode,
            dtype=dtype,
            batch=batch,
            heads=heads,
            head_dim=head_dim,
            threads=self.options.threads if threads is None else threads,
            time_budget=self.options.time_budget if time_budget is None else time_budget,
            seed=seed,
            max_time=self.options.max_time if max_time is None else max_time,
            max_memory=self.options.max_memory if max_memory is None else parse_bytes(max_memory),
            ram_guard=self.options.ram_guard if ram_guard is None else parse_ram_guard(ram_guard),
        )
        try:
            result = run_sweep(config, fn, setup=setup, inputs=inputs, label=label, progress=self._progress)
        except SweepError as error:
            if error.result is not None:  # what was measured before the failing N still reaches the report
                self._keep(error.result)
            raise

        def remeasure(metric: str) -> bool:
            """Time the measured sizes again with twice the budget and add the samples (for a noisy verdict)."""
            sizes = result.sizes(metric)
            if metric != "time" or len(sizes) < 3:
                return False
            again = replace(
                config,
                sizes=sizes,
                metrics=("time",),
                time_budget=2 * config.time_budget,
                max_rounds=2 * config.max_rounds,
                seed=config.seed + 1 + result.remeasured,
            )
            try:
                extra = run_sweep(again, fn, setup=setup, inputs=inputs, label=label)
            except SweepError:
                return False
            result.extend_samples("time", {p.n: p.samples for p in extra.points["time"] if p.measured})
            return True

        result.remeasure = remeasure
        self._keep(result)
        return result

    def _keep(self, result: ScalingResult) -> None:
        result.nodeid = self.nodeid
        if self._record is not None:
            self._record(result)

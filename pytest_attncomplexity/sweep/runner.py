"""The callable behind the ``attn_scaling`` fixture: session defaults + call arguments -> one sweep.

Free of pytest so it can be used from scripts (benchmarks/) exactly as tests use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.axes import DEFAULT_AXIS
from ..core.claims import Claims, check_exponents, describe_expect, parse_expect
from ..core.config import (
    DEFAULT_MODE,
    DEFAULT_SEED,
    SweepConfig,
    parse_ram_guard,
    validate_metrics,
    validate_sdpa_backend,
)
from ..core.options import PluginOptions
from ..core.result import ScalingResult
from ..core.sizes import validate_sizes
from ..core.units import METRICS, parse_bytes
from ..errors import BackendUnavailable, SweepError
from .progress import ProgressCallback

if TYPE_CHECKING:
    import torch


class ScalingRunner:
    """``runner(fn, sizes=..., metrics=..., ...)`` measures fn at each N and returns a ScalingResult."""

    def __init__(
        self,
        options: PluginOptions | None = None,
        *,
        nodeid: str = "",
        record: Callable[[ScalingResult], None] | None = None,
        progress: ProgressCallback | None = None,
        declared: Callable[[], Claims | None] | None = None,
    ) -> None:
        self.options = options or PluginOptions()
        self.nodeid = nodeid
        self._record = record
        self._progress = progress
        # The claims the test declared before its body (the marker): its time claim also ends the timing early.
        self._declared = declared

    def __call__(
        self,
        fn: Callable[..., object] | None = None,
        *,
        setup: Callable[[int], Callable[[], object]] | None = None,
        sizes: Iterable[int] | None = None,
        metrics: str | Sequence[str] = METRICS,
        device: str | None = None,
        mode: str = DEFAULT_MODE,
        dtype: torch.dtype | None = None,
        batch: int | None = None,
        heads: int | None = None,
        head_dim: int | None = None,
        inputs: Callable[[int], object] | None = None,
        axis: str = DEFAULT_AXIS,
        seq_len: int | None = None,
        kv_len: int | None = None,
        kv_heads: int | None = None,
        mask: str | None = None,
        threads: int | None = None,
        time_budget: float | None = None,
        seed: int = DEFAULT_SEED,
        label: str | None = None,
        max_time: float | None = None,
        max_memory: int | str | None = None,
        ram_guard: float | str | bool | None = None,
        sdpa_backend: str | None = None,
        expect: Mapping[str, float | tuple[float, float]] | None = None,
    ) -> ScalingResult:
        """Measure ``fn`` at each N of ``sizes`` and return a ScalingResult to fit and assert on.

        Args:
            fn: called as ``fn(q, k, v)`` with the built-in inputs (plus ``is_causal=True``, ``attn_mask=`` or
                ``enable_gqa=True`` when mask= or kv_heads= ask for them), or ``fn(*inputs(n))``. Give fn or setup.
            setup: ``setup(n)`` returns a zero-argument callable to measure, for modules built per N.
            sizes: the values of ``axis`` (the sequence lengths by default), at least 3, strictly increasing
                integers (a list, a range, a numpy array); default --attn-sizes (256, 512, 1024, 2048).
            metrics: any of "time", "memory", "flops" (one name or a list); default all three.
            device: "auto" (CUDA when there is a GPU, else the CPU), "cpu", "cuda", "cuda:INDEX"; default
                --attn-device. A CUDA device where there is none skips the test.
            mode: "forward" (under torch.no_grad) or "train" (forward and backward of the sum of the outputs).
            dtype: of the built-in q, k, v (and a float mask); default torch.float32. One the device has no kernel
                for skips the test with PyTorch's words.
            batch, heads, head_dim: the shape of the built-in q, k, v: (batch, heads, N, head_dim); default 1, 8, 64.
            inputs: ``inputs(n)`` returns fn's arguments: a tuple, a dict of keywords, or one object.
            axis: what ``sizes`` are the values of: "seq_len" (default: N, the length of q, k and v), "kv_len",
                "batch", "heads" or "head_dim"; the reports name it. The other dimensions stay fixed at their
                keywords, and a swept axis's own keyword must be left out.
            seq_len: the fixed length of q (and k, v) when another axis is swept; needed then.
            kv_len: the length of k and v, fixed (cross-attention: q of one length, k and v of another); default
                the same as q's. With axis="kv_len" the sizes are its values.
            kv_heads: heads of k and v, fewer than ``heads`` and dividing it (grouped-query or multi-query
                attention); fn then gets ``enable_gqa=True``.
            mask: None, "causal" (fn gets ``is_causal=True``), "bool" or "float" (fn gets ``attn_mask=``, a
                (seq_len, kv_len) causal mask made before measuring: True where a query attends, or 0 and -inf).
            threads: CPU intra-op threads while timing; default --attn-threads (1).
            time_budget: seconds of timed calls per sweep; default --attn-time-budget (3).
            seed: of the built-in inputs' generator (the global RNG is left alone).
            label: the result's name in the reports; default the function's name.
            max_time: stop growing N once one call takes longer (seconds); default --attn-max-time.
            max_memory: skip an N whose predicted peak exceeds this ("8GiB" or bytes); default --attn-max-memory.
            ram_guard: share of the host's available memory the sweep may take, or False for off; default
                --attn-ram-guard (0.8).
            sdpa_backend: pin scaled_dot_product_attention to one backend for every call of the sweep (through
                torch.nn.attention.sdpa_kernel): "math", "flash", "efficient" (memory-efficient) or "cudnn";
                default None, PyTorch chooses. A backend that cannot run the case skips the test with PyTorch's
                reason. Whichever ran, the report names the SDPA kernel seen at each N.
            expect: exponents the call asserts before it returns, ``{"time": (2, 0.5), "memory": 1}``: an exponent,
                or (exponent, tol); tol defaults to 0.2. A miss raises AssertionError, a verdict too noisy to decide
                InconclusiveExponent, as ``assert_exponent`` does. A time claim known before timing (this one, or
                the marker's time=) ends the timing as soon as the samples decide it, instead of spending the whole
                time budget (not when --attn-full-timing is given, a baseline is saved or time values are compared
                with one).

        Out of memory at some N ends the sweep there as data (``result.halt``); an exception or NaN/Inf output
        raises SweepError, whose ``result`` keeps the points measured before it; a pinned backend that cannot run
        the first N raises BackendUnavailable (a skip under pytest).
        """
        __tracebackhide__ = True  # a failing sweep points at the test's line and the user's exception
        from .run import run_sweep  # torch is imported when a sweep runs, not when pytest starts

        chosen_metrics = validate_metrics(metrics)
        bands = parse_expect(expect, chosen_metrics) if expect is not None else {}
        config = SweepConfig(
            sizes=self.options.sizes if sizes is None else validate_sizes(sizes),
            metrics=chosen_metrics,
            device=self.options.device if device is None else device,
            mode=mode,
            dtype=dtype,
            batch=batch,
            heads=heads,
            head_dim=head_dim,
            axis=axis,
            seq_len=seq_len,
            kv_len=kv_len,
            kv_heads=kv_heads,
            mask=mask,
            threads=self.options.threads if threads is None else threads,
            time_budget=self.options.time_budget if time_budget is None else time_budget,
            seed=seed,
            max_time=self.options.max_time if max_time is None else max_time,
            max_memory=self.options.max_memory if max_memory is None else parse_bytes(max_memory),
            ram_guard=self.options.ram_guard if ram_guard is None else parse_ram_guard(ram_guard),
            timing_lock=self.options.timing_lock,
            sdpa_backend=validate_sdpa_backend(sdpa_backend),
            breakdown=self.options.breakdown,
            time_claims=self._time_claims(bands, chosen_metrics),
        )
        try:
            result = run_sweep(config, fn, setup=setup, inputs=inputs, label=label, progress=self._progress)
        except SweepError as error:
            if error.result is not None:  # what was measured before the failing N still reaches the report
                self._keep(error.result)
            raise

        result.retimer = TimingRerun(config, fn, setup, inputs, label)
        self._keep(result)
        if bands:
            check_exponents([result], bands, describe_expect(bands))
        return result

    def _time_claims(
        self, bands: Mapping[str, tuple[float, float]], metrics: Sequence[str]
    ) -> tuple[tuple[float, float], ...]:
        """The claims on the time exponent known before timing: expect='s and the marker's (a pytest-benchmark
        group's claim, param=, is checked on pytest-benchmark's timings instead); none where the session times every
        sweep to its budget."""
        if "time" not in metrics or self.options.timed_to_the_budget is not None:
            return ()
        claims = [bands["time"]] if "time" in bands else []
        declared = self._declared() if self._declared is not None else None
        if declared is not None and declared.param is None and "time" in declared.expected:
            claims.append(declared.bands()["time"])
        return tuple(dict.fromkeys(claims))

    def _keep(self, result: ScalingResult) -> None:
        result.nodeid = self.nodeid
        if self._record is not None:
            self._record(result)


@dataclass(frozen=True)
class TimingRerun:
    """Times a result's measured sizes again, with twice the budget and a fresh shuffle, for a time verdict that
    stayed inconclusive: the ``retimer`` the runner gives each result (ScalingResult.check calls it)."""

    config: SweepConfig
    fn: Callable[..., object] | None
    setup: Callable[[int], Callable[[], object]] | None
    inputs: Callable[[int], object] | None
    label: str | None

    def __call__(self, result: ScalingResult, metric: str) -> dict[int, tuple[float, ...]] | None:
        from .run import run_sweep

        sizes = result.sizes(metric)
        if metric != "time" or len(sizes) < 3:
            return None
        again = replace(
            self.config,
            sizes=sizes,
            metrics=("time",),
            time_budget=2 * self.config.time_budget,
            max_rounds=2 * self.config.max_rounds,
            seed=self.config.seed + 1 + result.remeasured,
            time_claims=(),  # every sample of the larger budget: the verdict was undecided
        )
        try:
            extra = run_sweep(again, self.fn, setup=self.setup, inputs=self.inputs, label=self.label)
        except (SweepError, BackendUnavailable):
            return None
        return {p.n: p.samples for p in extra.points["time"] if p.measured}

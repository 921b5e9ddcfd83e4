"""One size of a sweep: build its call, run it once (warm-up, output check, the duration the time budget reads),
count its FLOPs and peak memory, note what it took on the host and which SDPA kernels it ran; and the RAM guard's
estimate of a size before any is measured."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from ..core.breakdown import OperatorPart
from ..core.budget import predict_peak
from ..core.config import SweepConfig
from ..errors import DtypeUnavailable
from ..measure import host
from ..measure.attribution import cuda_memory_parts, flop_parts, memory_parts, self_time_parts
from ..measure.device import cpu_threads, synchronize
from ..measure.estimate import estimate_host_peak, is_stateless, worst_case_bytes
from ..measure.flops import count_flops_by_operator
from ..measure.guard import RamGuard
from ..measure.kernels import (
    Observation,
    backend_unavailable,
    observing_kernels,
    operator_names,
    pinned,
    refused_by_backend,
    sdpa_kernels,
)
from ..measure.memory import peak_memory_and_operators
from .calls import Call, Subject, build_call, check_output
from .checks import refuses_dtype
from .stops import first_line

# A benchmarking knob (benchmarks/breakdown_cost.py): "off" measures without the breakdown by operator.
BREAKDOWN_SWITCH = "ATTNCOMPLEXITY_BREAKDOWN"


@dataclass
class Measured:
    """What the sizes measured so far left: their calls (kept for the timing rounds), the counted values per metric,
    and the host bytes each N took, its resident peak over building and measuring it (the RAM guard's data)."""

    calls: dict[int, Call]
    values: dict[str, dict[int, float]]
    needs: dict[int, float] = field(default_factory=dict)
    kernels: dict[int, tuple[str, ...]] = field(default_factory=dict)  # the SDPA kernels each N ran
    first_calls: dict[int, float] = field(default_factory=dict)  # seconds of each N's first call (plans the timing)
    # Each metric's parts per operator and line at each N (measure/attribution.py), where the profile had them.
    operators: dict[str, dict[int, tuple[OperatorPart, ...]]] = field(default_factory=dict)


def measure_size(
    config: SweepConfig,
    device: torch.device,
    dtype: torch.dtype,
    n: int,
    subject: Subject,
    measured: Measured,
    first_call: list[float],
) -> None:
    """Build the call for N, run it once (warm-up, output check, its duration for the time budget), then count
    its FLOPs and peak memory, and note what all this took on the host and which SDPA kernels the call ran.

    The kernels are read on a call that is not timed: the CPU memory profile names the operators anyway; else the
    FLOP count is profiled too (0.3 to 1.4 ms more); else the first call is (measure/kernels.py): its duration only
    plans the timing and feeds the time budget, and a call more per N only to name the kernel cost a time-only sweep
    of SDPA at N=256..4096 0.57 s of its 5.8 (benchmarks/sweep_cost.py)."""
    values = measured.values
    in_memory_profile = "memory" in values and device.type == "cpu"
    attribute = breakdown_on()
    observation = Observation()
    observe_first = not in_memory_profile and "flops" not in values
    with host.peak_growth() as growth, pinned(config.sdpa_backend):
        call = build_call(config, device, dtype, n, subject)
        measured.calls[n] = call
        with cpu_threads(config.threads):
            try:
                # The profiler starts and stops outside the clock: its 1 to 2 ms would plan the first round wrong.
                with observing_kernels() if observe_first else contextlib.nullcontext(observation) as observation:
                    start = time.perf_counter()
                    output = call()
                    synchronize(device)
                    seconds = time.perf_counter() - start
            except Exception as error:
                if config.sdpa_backend is not None and refused_by_backend(error):
                    raise backend_unavailable(config.sdpa_backend, subject.name, device, call, error) from error
                # Only a dtype the user chose: an operator the user's code calls that has no float32 kernel is
                # their bug, not a dtype this device cannot run.
                if subject.builtin_inputs and dtype != torch.float32 and refuses_dtype(error, dtype):
                    raise DtypeUnavailable(
                        f"dtype={dtype} cannot run {subject.name} on {device}: {first_line(error)}"
                    ) from error
                raise
            first_call.append(seconds)
            measured.first_calls[n] = seconds
            check_output(output)
            del output
            if "flops" in values:
                with contextlib.nullcontext(observation) if in_memory_profile else observing_kernels() as observation:
                    flops, by_operator = count_flops_by_operator(call)
                    values["flops"][n] = float(flops)
                    if attribute:
                        _keep_parts(measured, "flops", n, lambda: flop_parts(by_operator))
        if "memory" in values:
            # One intra-op thread: the CPU profiler sees allocations of the calling thread only.
            with cpu_threads(1):
                peak, events = peak_memory_and_operators(call, device, attribute=attribute)
            values["memory"][n] = float(peak)
            if events is not None:
                observation.kernels = sdpa_kernels(operator_names(events))
                # The same profiled call says which operator and line hold the peak, and where the time goes.
                if attribute:
                    _keep_parts(measured, "memory", n, lambda: memory_parts(events))
                if attribute and "time" in config.metrics:
                    _keep_parts(measured, "time", n, lambda: self_time_parts(events))
            elif attribute and config.breakdown and device.type == "cuda":
                _keep_parts(measured, "memory", n, lambda: cuda_memory_parts(call, device))
    if observation.kernels is not None:
        measured.kernels[n] = observation.kernels
    counted = values.get("memory", {}).get(n, 0.0) if device.type == "cpu" else 0.0
    if growth.bytes is not None or counted:
        measured.needs[n] = max(float(growth.bytes or 0), counted)


def breakdown_on(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether sweeps break their metrics down by operator: on unless BREAKDOWN_SWITCH says off (a benchmarking knob:
    benchmarks/breakdown_cost.py measures a sweep's cost with and without)."""
    return environ.get(BREAKDOWN_SWITCH, "").strip().lower() not in ("off", "0", "no", "false")


def _keep_parts(measured: Measured, metric: str, n: int, parts: Callable[[], tuple[OperatorPart, ...]]) -> None:
    """Keep a metric's parts per operator at N. A breakdown is never worth a failed sweep: a profile that cannot be
    read here (another torch release, say) leaves that N without one."""
    try:
        measured.operators.setdefault(metric, {})[n] = parts()
    except Exception:
        return


def guard_estimate(
    config: SweepConfig,
    device: torch.device,
    dtype: torch.dtype,
    n: int,
    subject: Subject,
    guard: RamGuard,
    measured: Measured,
) -> float | None:
    """What stands in for the RAM guard's extrapolation while fewer than two sizes are measured."""
    if not measured.needs:
        return _first_size_estimate(config, device, dtype, n, subject, guard)
    counted = measured.values.get("memory", {})
    if len(measured.needs) == 1 and device.type == "cpu" and counted:
        return predict_peak(counted, n)  # the first call's own peak, without what the process took only once
    return None


def _first_size_estimate(
    config: SweepConfig, device: torch.device, dtype: torch.dtype, n: int, subject: Subject, guard: RamGuard
) -> float | None:
    """Host bytes of the first N, worked out on fake tensors where that is safe and worth it; None otherwise, and
    that N is then measured under the RAM guard's address-space cap (see measure/estimate.py)."""
    if device.type != "cpu" or subject.setup is not None or subject.inputs is not None or not is_stateless(subject.fn):
        return None
    itemsize = torch.empty((), dtype=dtype).element_size()
    shape = config.shape_at(n)
    length = max(shape.seq_len, shape.kv_len)  # a bound: cross-attention's scores are seq_len × kv_len
    bound = worst_case_bytes(shape.batch, shape.heads, length, shape.head_dim, itemsize, config.mode == "train")
    bound += shape.seq_len * shape.kv_len * max(itemsize, 4) if config.mask in ("bool", "float") else 0
    if guard.fits(bound):
        return None  # fits even in the worst case: not worth the first fake tensor's 0.7 s
    estimate = estimate_host_peak(lambda: build_call(config, device, dtype, n, subject))
    return None if estimate is None else float(estimate)

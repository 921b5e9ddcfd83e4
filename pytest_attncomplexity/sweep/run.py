"""One sweep: build a call per N, then measure FLOPs, peak memory and time at each N (``run_sweep``).

Inputs (built-in q, k, v, the user's ``inputs(n)`` or ``setup(n)``) are made before any measurement, so what they
allocate is never counted as the call's memory, and they are kept alive through the sweep so the timing rounds
can visit the sizes in shuffled order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch

from ..core.axes import axis_symbol
from ..core.budget import Budget
from ..core.config import SweepConfig
from ..core.records import FAILED, NOT_RUN, OUT_OF_MEMORY, SKIPPED, Environment, Halt, Point, TimingRecord
from ..core.result import ScalingResult
from ..core.sequential import Look, TimeClaim, look, looks_at
from ..core.units import format_value
from ..errors import BackendUnavailable, DtypeUnavailable, SweepError
from ..measure.device import cpu_threads, device_name, memory_capacity, resolve_device
from ..measure.guard import RamGuard
from ..measure.kernels import pinned
from ..measure.peak import device_peak
from ..measure.timing import Timed, time_calls
from ..measure.timing_lock import lock_file, taking_turns
from .calls import Call, Subject
from .checks import check_builtin_settings, check_callables, default_label
from .progress import Progress, ProgressCallback, Stage
from .size import Measured, guard_estimate, measure_size
from .stops import HostCap, Stop, attempt, release_memory


def run_sweep(
    config: SweepConfig,
    fn: Callable[..., object] | None = None,
    *,
    setup: Callable[[int], Call] | None = None,
    inputs: Callable[[int], object] | None = None,
    label: str | None = None,
    progress: ProgressCallback | None = None,
) -> ScalingResult:
    """Measure ``fn(*inputs(n))`` (or ``setup(n)()``) at every N of ``config.sizes``, smallest first.

    Running out of memory at some N ends the sweep there and is recorded as data (``result.halt``); the fit uses
    the points below it. The RAM guard skips an N predicted not to fit in the host's available memory, and caps a
    CPU sweep's growth so that what it did not predict fails as out of memory, not as a kill. Any other failure at
    some N (an exception, NaN or Inf in the output) raises SweepError, whose ``result`` keeps the points measured
    before that N.

    ``config.sdpa_backend`` pins SDPA's backend around every call; when it cannot run the first N, BackendUnavailable
    is raised with PyTorch's reason, and from a larger N on, the sweep ends there as skipped points. Which SDPA
    kernels ran at each N is kept in ``result.kernels``.
    """
    __tracebackhide__ = True  # the SweepError names N and chains the user's own exception with its traceback
    check_callables(fn, setup, inputs)
    check_builtin_settings(config, fn, setup, inputs)
    report = progress or _no_progress
    device = resolve_device(config.device)
    dtype = config.dtype if config.dtype is not None else torch.float32
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a torch.dtype of floating point such as torch.float16, got {dtype!r}")
    symbol = axis_symbol(config.axis)
    name = label or default_label(fn, setup)
    subject = Subject(fn, setup, inputs, name)

    counted = [m for m in config.metrics if m != "time"]
    if config.max_memory is not None and "memory" not in counted:
        counted.append("memory")  # the memory budget predicts the next peak from the peaks so far
    measured = Measured({}, {m: {} for m in counted})
    calls, values = measured.calls, measured.values
    budget = Budget(config.max_time, config.max_memory)
    guard = RamGuard(config.ram_guard)
    # A CUDA context maps far more address space than it uses, and device memory fails cleanly by itself.
    cap = HostCap(guard, config.threads) if device.type == "cpu" and guard.active else None
    stop: Stop | None = None
    samples: dict[int, list[float]] = {}
    timing: TimingRecord | None = None
    try:
        for index, n in enumerate(config.sizes):
            over = budget.before(n, values.get("memory", {}))
            if over is None and guard.active:
                over = guard.before(
                    n, measured.needs, guard_estimate(config, device, dtype, n, subject, guard, measured)
                )
            if over is not None:
                stop = Stop(Halt(n, SKIPPED, over))
                report(Progress(name, Stage.STOPPED, n, index + 1, len(config.sizes), stop.halt.describe(symbol)))
                break
            first_call: list[float] = []
            measure = functools.partial(measure_size, config, device, dtype, n, subject, measured, first_call)
            stop = attempt(n, measure, cap)
            if stop is not None:
                calls.pop(n, None)
                report(Progress(name, Stage.STOPPED, n, index + 1, len(config.sizes), stop.halt.describe(symbol)))
                break
            report(
                Progress(name, Stage.MEASURED, n, index + 1, len(config.sizes), _describe_size(n, first_call, values))
            )
            over = budget.after(n, first_call[0])
            if over is not None and index + 1 < len(config.sizes):
                stop = Stop(Halt(config.sizes[index + 1], SKIPPED, over))
                report(
                    Progress(name, Stage.STOPPED, stop.halt.n, index + 2, len(config.sizes), stop.halt.describe(symbol))
                )
                break

        if "time" in config.metrics and calls:
            total = len(config.sizes)
            report(
                Progress(
                    name, Stage.TIMING, max(calls), total, total, f"{len(calls)} sizes, budget {config.time_budget:g} s"
                )
            )
            samples, timing, time_stop = _time_sizes(config, device, measured, cap)
            stop = stop or time_stop
    finally:  # also when the call raised past the sweep (a skip, Ctrl-C): the status line must not linger
        report(Progress(name, Stage.DONE, max(config.sizes), len(config.sizes), len(config.sizes)))
    if stop is not None and isinstance(stop.error, BackendUnavailable | DtypeUnavailable) and not calls:
        raise stop.error  # the pinned backend or the dtype cannot run the case at all: nothing to measure (a skip)
    calls.clear()
    halt = stop.halt if stop is not None else None
    if halt is not None and halt.status == OUT_OF_MEMORY:
        release_memory(device)

    points = {metric: _points_of(metric, config.sizes, values, samples, halt, symbol) for metric in config.metrics}
    builtin_inputs = setup is None and inputs is None
    environment = Environment(
        device=str(device),
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=config.threads if device.type == "cpu" else 0,
        dtype=str(dtype).removeprefix("torch.") if builtin_inputs else "user inputs",
        mode=config.mode,
        shape=config.fixed_shape() if builtin_inputs else {},
        memory_capacity=memory_capacity(device),
        sdpa_backend=config.sdpa_backend,
        axis=config.axis,
        mask=config.mask,
        # On CUDA the FLOP/s is shown as a share of the device's peak for the dtype (only known for built-in inputs).
        peak=device_peak(device, dtype, device_name(device))
        if builtin_inputs and {"time", "flops"} <= set(config.metrics)
        else None,
    )
    kernels = {n: seen for n, seen in measured.kernels.items() if halt is None or n < halt.n}
    operators = {
        metric: {n: parts for n, parts in by_n.items() if halt is None or n < halt.n}
        for metric, by_n in measured.operators.items()
        if metric in config.metrics
    }
    result = ScalingResult(
        label=name,
        environment=environment,
        points=points,
        halt=halt,
        kernels=kernels,
        operators=operators,
        timing=timing,
    )
    if stop is not None and stop.halt.status == FAILED:
        raise SweepError(f"{name} {stop.halt.describe(symbol)}", result) from stop.error
    return result


def _no_progress(_: Progress) -> None:
    return None


def _describe_size(n: int, first_call: Sequence[float], values: Mapping[str, Mapping[int, float]]) -> str:
    parts = [f"first call {format_value('time', first_call[0])}"] if first_call else []
    parts += [f"{metric} {format_value(metric, by_n[n])}" for metric, by_n in values.items() if n in by_n]
    return ", ".join(parts)


def _time_sizes(
    config: SweepConfig, device: torch.device, measured: Measured, cap: HostCap | None
) -> tuple[dict[int, list[float]], TimingRecord | None, Stop | None]:
    """Time every size measured; with claims on the time exponent, stop once the samples decide them all."""
    calls = measured.calls
    timed: list[Timed] = []
    claims = tuple(TimeClaim(expected, tol) for expected, tol in config.time_claims)
    looks: list[Look] = []

    def decided(samples: Mapping[int, Sequence[float]], rounds: int, planned: int) -> bool:
        if not looks_at(rounds, planned):
            return False
        try:
            seen = look(samples, claims, rounds, planned)
        except Exception:  # a look is never worth a failed sweep: the timing goes on to its budget
            return False
        if seen is not None:
            looks.append(seen)
        return seen is not None and seen.decided

    def measure() -> None:
        with cpu_threads(config.threads), pinned(config.sdpa_backend):
            timed.append(
                time_calls(
                    calls,
                    device,
                    first_calls={n: measured.first_calls[n] for n in calls},
                    budget=config.time_budget,
                    min_rounds=config.min_rounds,
                    max_rounds=config.max_rounds,
                    seed=config.seed,
                    stop=decided if claims else None,
                )
            )

    if claims:  # the looks fit between rounds, under the RAM guard's cap: what the fit imports is loaded first
        import scipy.optimize
        import scipy.stats  # noqa: F401

    # The calls already ran once at every N, so a failure here is rare; it is charged to the largest N. Only the
    # timing takes turns with other processes (pytest-xdist workers): memory and FLOPs are counts.
    with taking_turns(lock_file(config.timing_lock, device)):
        stop = attempt(max(calls), measure, cap)
    if stop is not None or not timed:
        return {}, None, stop
    done = timed[0]
    last = looks[-1] if done.stopped and looks else None
    record = TimingRecord(
        rounds=done.rounds,
        planned=done.planned,
        seconds=done.seconds,
        claims=config.time_claims,
        decided=tuple(str(outcome) for outcome in last.outcomes) if last is not None else (),
        interval=last.interval if last is not None else None,
    )
    return done.samples, record, None


def _points_of(
    metric: str,
    sizes: Sequence[int],
    values: Mapping[str, Mapping[int, float]],
    samples: Mapping[int, list[float]],
    halt: Halt | None,
    symbol: str = "N",
) -> tuple[Point, ...]:
    points: list[Point] = []
    for n in sizes:
        if halt is not None and (n == halt.n or (n > halt.n and halt.status == SKIPPED)):
            points.append(Point(n, (), halt.status, halt.reason))
        elif halt is not None and n > halt.n:
            points.append(Point(n, (), NOT_RUN, f"the sweep ended at {symbol}={halt.n}"))
        elif metric == "time":
            points.append(Point(n, tuple(samples[n])) if n in samples else Point(n, (), NOT_RUN, "not timed"))
        else:
            points.append(Point(n, (values[metric][n],)))
    return tuple(points)

"""One sweep: build a call per N, then measure FLOPs, peak memory and time at each N.

Inputs (built-in q, k, v, the user's ``inputs(n)`` or ``setup(n)``) are made before any measurement, so what they
allocate is never counted as the call's memory, and they are kept alive through the sweep so the timing rounds
can visit the sizes in shuffled order.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import inspect
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .attention import make_mask, make_qkv
from .axes import axis_symbol
from .budget import Budget, predict_peak
from .config import BUILTIN_INPUT_FIELDS, SweepConfig
from .errors import BackendUnavailable, DtypeUnavailable, SweepError
from .guard import RamGuard, Room
from .measure import host
from .measure.device import (
    cpu_threads,
    device_name,
    memory_capacity,
    resolve_device,
    start_thread_pool,
    synchronize,
)
from .measure.estimate import estimate_host_peak, is_stateless, worst_case_bytes
from .measure.flops import count_flops
from .measure.kernels import (
    Observation,
    backend_unavailable,
    observe_kernels,
    observing_kernels,
    operator_names,
    pinned,
    refused_by_backend,
    sdpa_kernels,
)
from .measure.memory import peak_memory_and_operators
from .measure.peak import device_peak
from .measure.timing import time_calls
from .measure.timing_lock import lock_file, taking_turns
from .progress import Progress, ProgressCallback, Stage
from .results import FAILED, NOT_RUN, OUT_OF_MEMORY, SKIPPED, Environment, Halt, Point, ScalingResult
from .units import format_value

Call = Callable[[], object]


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
    _check_callables(fn, setup, inputs)
    _check_builtin_settings(config, fn, setup, inputs)
    report = progress or _no_progress
    device = resolve_device(config.device)
    dtype = config.dtype if config.dtype is not None else torch.float32
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a torch.dtype of floating point such as torch.float16, got {dtype!r}")
    symbol = axis_symbol(config.axis)
    name = label or _default_label(fn, setup)
    subject = _Subject(fn, setup, inputs, name)

    counted = [m for m in config.metrics if m != "time"]
    if config.max_memory is not None and "memory" not in counted:
        counted.append("memory")  # the memory budget predicts the next peak from the peaks so far
    measured = _Measured({}, {m: {} for m in counted})
    calls, values = measured.calls, measured.values
    budget = Budget(config.max_time, config.max_memory)
    guard = RamGuard(config.ram_guard)
    # A CUDA context maps far more address space than it uses, and device memory fails cleanly by itself.
    cap = _HostCap(guard, config.threads) if device.type == "cpu" and guard.active else None
    stop: _Stop | None = None
    samples: dict[int, list[float]] = {}
    try:
        for index, n in enumerate(config.sizes):
            over = budget.before(n, values.get("memory", {}))
            if over is None and guard.active:
                over = guard.before(
                    n, measured.needs, _guard_estimate(config, device, dtype, n, subject, guard, measured)
                )
            if over is not None:
                stop = _Stop(Halt(n, SKIPPED, over))
                report(Progress(name, Stage.STOPPED, n, index + 1, len(config.sizes), stop.halt.describe(symbol)))
                break
            first_call: list[float] = []
            measure = functools.partial(_measure_size, config, device, dtype, n, subject, measured, first_call)
            stop = _attempt(n, measure, cap)
            if stop is not None:
                calls.pop(n, None)
                report(Progress(name, Stage.STOPPED, n, index + 1, len(config.sizes), stop.halt.describe(symbol)))
                break
            report(
                Progress(name, Stage.MEASURED, n, index + 1, len(config.sizes), _describe_size(n, first_call, values))
            )
            over = budget.after(n, first_call[0])
            if over is not None and index + 1 < len(config.sizes):
                stop = _Stop(Halt(config.sizes[index + 1], SKIPPED, over))
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
            samples, time_stop = _time_sizes(config, device, calls, cap)
            stop = stop or time_stop
    finally:  # also when the call raised past the sweep (a skip, Ctrl-C): the status line must not linger
        report(Progress(name, Stage.DONE, max(config.sizes), len(config.sizes), len(config.sizes)))
    if stop is not None and isinstance(stop.error, BackendUnavailable | DtypeUnavailable) and not calls:
        raise stop.error  # the pinned backend or the dtype cannot run the case at all: nothing to measure (a skip)
    calls.clear()
    halt = stop.halt if stop is not None else None
    if halt is not None and halt.status == OUT_OF_MEMORY:
        _release_memory(device)

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
    result = ScalingResult(label=name, environment=environment, points=points, halt=halt, kernels=kernels)
    if stop is not None and stop.halt.status == FAILED:
        raise SweepError(f"{name} {stop.halt.describe(symbol)}", result) from stop.error
    return result


def _no_progress(_: Progress) -> None:
    return None


def _describe_size(n: int, first_call: Sequence[float], values: Mapping[str, Mapping[int, float]]) -> str:
    parts = [f"first call {format_value('time', first_call[0])}"] if first_call else []
    parts += [f"{metric} {format_value(metric, by_n[n])}" for metric, by_n in values.items() if n in by_n]
    return ", ".join(parts)


@dataclass
class _Measured:
    """What the sizes measured so far left: their calls (kept for the timing rounds), the counted values per metric,
    and the host bytes each N took, its resident peak over building and measuring it (the RAM guard's data)."""

    calls: dict[int, Call]
    values: dict[str, dict[int, float]]
    needs: dict[int, float] = field(default_factory=dict)
    kernels: dict[int, tuple[str, ...]] = field(default_factory=dict)  # the SDPA kernels each N ran


@dataclass(frozen=True)
class _Subject:
    """What is measured: ``fn(*inputs(n))`` or ``setup(n)()``, and its name in messages."""

    fn: Callable[..., object] | None
    setup: Callable[[int], Call] | None
    inputs: Callable[[int], object] | None
    name: str

    @property
    def builtin_inputs(self) -> bool:
        return self.fn is not None and self.setup is None and self.inputs is None


def _measure_size(
    config: SweepConfig,
    device: torch.device,
    dtype: torch.dtype,
    n: int,
    subject: _Subject,
    measured: _Measured,
    first_call: list[float],
) -> None:
    """Build the call for N, run it once (warm-up, output check, its duration for the time budget), then count
    its FLOPs and peak memory, and note what all this took on the host and which SDPA kernels the call ran.

    The kernels are read on a call that is not timed: the CPU memory profile names the operators anyway; else the
    FLOP count is profiled too (0.3 to 1.4 ms more); else one call more is profiled (measure/kernels.py)."""
    values = measured.values
    in_memory_profile = "memory" in values and device.type == "cpu"
    observation = Observation()
    with host.peak_growth() as growth, pinned(config.sdpa_backend):
        call = _build_call(config, device, dtype, n, subject)
        measured.calls[n] = call
        with cpu_threads(config.threads):
            start = time.perf_counter()
            try:
                output = call()
            except Exception as error:
                if config.sdpa_backend is not None and refused_by_backend(error):
                    raise backend_unavailable(config.sdpa_backend, subject.name, device, call, error) from error
                # Only a dtype the user chose: an operator the user's code calls that has no float32 kernel is
                # their bug, not a dtype this device cannot run.
                if subject.builtin_inputs and dtype != torch.float32 and _refuses_dtype(error, dtype):
                    raise DtypeUnavailable(
                        f"dtype={dtype} cannot run {subject.name} on {device}: {_first_line(error)}"
                    ) from error
                raise
            synchronize(device)
            first_call.append(time.perf_counter() - start)
            _check_output(output)
            del output
            if "flops" in values:
                with contextlib.nullcontext(observation) if in_memory_profile else observing_kernels() as observation:
                    values["flops"][n] = float(count_flops(call))
            elif not in_memory_profile:
                observation.kernels = observe_kernels(call)
        if "memory" in values:
            # One intra-op thread: the CPU profiler sees allocations of the calling thread only.
            with cpu_threads(1):
                peak, events = peak_memory_and_operators(call, device)
            values["memory"][n] = float(peak)
            if events is not None:
                observation.kernels = sdpa_kernels(operator_names(events))
    if observation.kernels is not None:
        measured.kernels[n] = observation.kernels
    counted = values.get("memory", {}).get(n, 0.0) if device.type == "cpu" else 0.0
    if growth.bytes is not None or counted:
        measured.needs[n] = max(float(growth.bytes or 0), counted)


def _guard_estimate(
    config: SweepConfig,
    device: torch.device,
    dtype: torch.dtype,
    n: int,
    subject: _Subject,
    guard: RamGuard,
    measured: _Measured,
) -> float | None:
    """What stands in for the RAM guard's extrapolation while fewer than two sizes are measured."""
    if not measured.needs:
        return _first_size_estimate(config, device, dtype, n, subject, guard)
    counted = measured.values.get("memory", {})
    if len(measured.needs) == 1 and device.type == "cpu" and counted:
        return predict_peak(counted, n)  # the first call's own peak, without what the process took only once
    return None


def _first_size_estimate(
    config: SweepConfig, device: torch.device, dtype: torch.dtype, n: int, subject: _Subject, guard: RamGuard
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
    estimate = estimate_host_peak(lambda: _build_call(config, device, dtype, n, subject))
    return None if estimate is None else float(estimate)


def _time_sizes(
    config: SweepConfig, device: torch.device, calls: dict[int, Call], cap: _HostCap | None
) -> tuple[dict[int, list[float]], _Stop | None]:
    measured: dict[int, list[float]] = {}

    def measure() -> None:
        with cpu_threads(config.threads), pinned(config.sdpa_backend):
            measured.update(
                time_calls(
                    calls,
                    device,
                    budget=config.time_budget,
                    min_rounds=config.min_rounds,
                    max_rounds=config.max_rounds,
                    seed=config.seed,
                )
            )

    # The calls already ran once at every N, so a failure here is rare; it is charged to the largest N. Only the
    # timing takes turns with other processes (pytest-xdist workers): memory and FLOPs are counts.
    with taking_turns(lock_file(config.timing_lock, device)):
        stop = _attempt(max(calls), measure, cap)
    return ({} if stop else measured), stop


@dataclass
class _Stop:
    """A Halt and, for a failure, the exception behind it (chained to the SweepError raised at the end)."""

    halt: Halt
    error: BaseException | None = None


@dataclass(frozen=True)
class _HostCap:
    """The RAM guard's cap on a CPU sweep's address space, for the blocks that run the user's calls."""

    guard: RamGuard
    threads: int

    @contextlib.contextmanager
    def applied(self) -> Iterator[Room | None]:
        """Yields the room granted, or None where no cap could be set (see host.address_space_cap)."""
        room = self.guard.room()
        if room is None:
            yield None
            return
        # A thread started under the cap must reserve its stack within it, and libgomp ends the whole process when
        # it cannot start one: the intra-op threads the calls will use are started first.
        start_thread_pool(self.threads)
        with host.address_space_cap(room.bytes) as capped:
            yield room if capped is not None else None


def _attempt(n: int, work: Callable[[], None], cap: _HostCap | None = None) -> _Stop | None:
    """Run ``work`` (under the RAM guard's cap when one is given); turn an out-of-memory error or any other
    exception at N into a _Stop.

    Only the text of an out-of-memory error is kept: its traceback holds the frames, and the frames hold the
    tensors that filled the memory.
    """
    room: Room | None = None
    try:
        with cap.applied() if cap is not None else contextlib.nullcontext() as room:
            work()
    except Exception as error:
        if isinstance(error, BackendUnavailable | DtypeUnavailable):  # beyond what runs here: skipped, with why
            return _Stop(Halt(n, SKIPPED, str(error)), error)
        if is_out_of_memory(error):
            reason = _first_line(error) + (f" ({room.describe()})" if room is not None else "")
            return _Stop(Halt(n, OUT_OF_MEMORY, reason))
        # Under the cap a thread or a memory-mapped file may fail where it would not otherwise: say so.
        hint = f" ({room.describe()}; --attn-ram-guard=off lifts it)" if room and _may_come_from_a_cap(error) else ""
        return _Stop(Halt(n, FAILED, f"{type(error).__name__}: {error}{hint}"), error)
    return None


_CAP_SYMPTOMS = ("can't start new thread", "resource temporarily unavailable", "cannot allocate memory", "mmap")


def _may_come_from_a_cap(error: BaseException) -> bool:
    """A failure an address-space cap can cause: a thread that cannot start, a file that cannot be mapped."""
    return isinstance(error, OSError) or any(symptom in str(error).lower() for symptom in _CAP_SYMPTOMS)


def device_out_of_memory_type(torch_module: Any = torch) -> type[BaseException]:
    """torch.OutOfMemoryError is new (2.5); torch.cuda.OutOfMemoryError, which it names, is there on every torch
    this plugin supports. Looked up once, here: on an older torch a lookup inside the except would itself raise."""
    found = getattr(torch_module, "OutOfMemoryError", None)
    return found if isinstance(found, type) else torch_module.cuda.OutOfMemoryError


_DEVICE_OUT_OF_MEMORY = device_out_of_memory_type()


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator raises a RuntimeError that says it could not."""
    if isinstance(error, MemoryError | _DEVICE_OUT_OF_MEMORY):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:  # mmap of a tensor file, a buffer of a library
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in message or "out of memory" in message.lower()
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


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


def _check_output(output: object) -> None:
    """NaN or Inf in the output means the kernel is wrong at this N: its cost would be meaningless."""
    for tensor in _tensors_in(output):
        if tensor.is_floating_point() or tensor.is_complex():
            finite = torch.isfinite(tensor.detach())
            if not bool(finite.all()):
                bad = int(finite.numel() - finite.sum().item())
                raise NonFiniteOutput(f"the output has {bad} NaN or Inf value(s) out of {tensor.numel()}")


class NonFiniteOutput(ValueError):
    """The function under test returned NaN or Inf."""


def _check_callables(
    fn: Callable[..., object] | None,
    setup: Callable[[int], Call] | None,
    inputs: Callable[[int], object] | None,
) -> None:
    if (fn is None) == (setup is None):
        raise ValueError("give exactly one of fn (called as fn(*inputs(n))) or setup= (setup(n) returns a thunk)")
    if fn is not None and not callable(fn):
        raise ValueError(f"fn must be callable, got {fn!r}")
    if setup is not None and not callable(setup):
        raise ValueError(f"setup must be callable, got {setup!r}")
    if inputs is not None and not callable(inputs):
        raise ValueError(f"inputs must be callable as inputs(n), got {inputs!r}")
    if setup is not None and inputs is not None:
        raise ValueError("inputs= goes with fn; with setup=, build the inputs inside setup(n)")


def _default_label(fn: Callable[..., object] | None, setup: Callable[[int], Call] | None) -> str:
    target = fn if fn is not None else setup
    return str(getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target))


def _build_call(config: SweepConfig, device: torch.device, dtype: torch.dtype, n: int, subject: _Subject) -> Call:
    train = config.mode == "train"
    fn, setup, inputs, name = subject.fn, subject.setup, subject.inputs, subject.name
    if setup is not None:
        thunk = setup(n)
        if not callable(thunk):
            raise ValueError(f"setup({n}) must return a zero-argument callable, got {thunk!r}")
        run: Call = thunk
    else:
        assert fn is not None
        if inputs is None:
            args, kwargs = _builtin_inputs(config, device, dtype, n)
        else:
            args, kwargs = _as_arguments(inputs(n))
        run = _bind(fn, args, kwargs)
    return _train_step(run, name) if train else _forward(run)


def _builtin_inputs(
    config: SweepConfig, device: torch.device, dtype: torch.dtype, size: int
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """q, k, v at one size (requiring grad in train mode, so the backward computes their gradients), and the
    keywords the settings ask for: ``is_causal=True`` (mask="causal"), ``attn_mask=`` (mask="bool" or "float"),
    ``enable_gqa=True`` (kv_heads= given). Everything is made here, before any measurement."""
    shape = config.shape_at(size)
    q, k, v = make_qkv(
        shape.seq_len,
        batch=shape.batch,
        heads=shape.heads,
        head_dim=shape.head_dim,
        dtype=dtype,
        device=device,
        requires_grad=config.mode == "train",
        seed=config.seed,
        kv_len=shape.kv_len,
        kv_heads=shape.kv_heads,
    )
    kwargs: dict[str, Any] = {}
    if config.mask == "causal":
        kwargs["is_causal"] = True
    elif config.mask is not None:
        kwargs["attn_mask"] = make_mask(config.mask, shape.seq_len, shape.kv_len, dtype=dtype, device=device)
    if config.kv_heads is not None:
        kwargs["enable_gqa"] = True
    return (q, k, v), kwargs


def _builtin_keywords(config: SweepConfig) -> list[tuple[str, str]]:
    """The keywords the built-in inputs pass to fn, each with the setting that asks for it."""
    keywords = []
    if config.mask == "causal":
        keywords.append(("is_causal", "mask='causal'"))
    elif config.mask is not None:
        keywords.append(("attn_mask", f"mask={config.mask!r}"))
    if config.kv_heads is not None:
        keywords.append(("enable_gqa", f"kv_heads={config.kv_heads}"))
    return keywords


def _check_builtin_settings(
    config: SweepConfig,
    fn: Callable[..., object] | None,
    setup: Callable[[int], Call] | None,
    inputs: Callable[[int], object] | None,
) -> None:
    """Settings of the built-in inputs are refused with inputs= or setup=, which would ignore them; a keyword the
    built-in inputs would pass to a fn that cannot take it is refused before anything is measured."""
    if setup is not None or inputs is not None:
        given = [name for name in BUILTIN_INPUT_FIELDS if getattr(config, name) is not None]
        if given:
            which = "inputs=" if inputs is not None else "setup="
            value = getattr(config, given[0])
            raise ValueError(
                f"{given[0]}={value!r} shapes the built-in q, k, v, which {which} replaces; build inputs of that "
                f"shape in {which.rstrip('=')}(n) instead, and leave {given[0]}= out"
            )
        return
    assert fn is not None
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to read (some builtins): the first call will say
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for keyword, setting in _builtin_keywords(config):
        if keyword not in parameters:
            name = getattr(fn, "__qualname__", None) or repr(fn)
            raise ValueError(
                f"{setting} passes {keyword}= to fn, and {name} takes no {keyword} parameter; accept it (as "
                "scaled_dot_product_attention does) or build the inputs with inputs="
            )


def _refuses_dtype(error: BaseException, dtype: torch.dtype) -> bool:
    """PyTorch's own words for an operator that has no kernel for this dtype on this device."""
    scalar_type = torch.empty(0, dtype=dtype).type().rsplit(".", 1)[-1].removesuffix("Tensor")  # 'Half', 'BFloat16'
    return f"not implemented for '{scalar_type}'" in str(error)


def _as_arguments(made: object) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``inputs(n)`` may return a tuple or list (positional), a dict (keywords) or one object."""
    if isinstance(made, tuple | list):
        return tuple(made), {}
    if isinstance(made, dict):
        return (), dict(made)
    return (made,), {}


def _bind(fn: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    def run() -> object:
        return fn(*args, **kwargs)

    return run


def _forward(run: Call) -> Call:
    def call() -> object:
        with torch.no_grad():
            return run()

    return call


def _train_step(run: Call, name: str) -> Call:
    """Forward, then backward of the sum of the outputs.

    Every call is the first step of a training run: the gradients of every leaf the backward pass reaches (the
    inputs, a module's parameters) are dropped at the end of the call, so each call allocates them afresh (and
    memory counts them) and none accumulate from one call to the next, with ``fn=`` and ``setup=`` alike.
    """
    leaves: list[torch.Tensor] | None = None  # the same tensors at every call: found once

    def call() -> object:
        nonlocal leaves
        with torch.enable_grad():
            output = run()
            loss = _sum_of_outputs(output, name)
            if leaves is None:
                leaves = _leaves_of(loss)
            loss.backward()  # type: ignore[no-untyped-call]
        for leaf in leaves:
            leaf.grad = None
        return output

    return call


def _leaves_of(loss: torch.Tensor) -> list[torch.Tensor]:
    """The tensors whose gradients a backward of ``loss`` accumulates (AccumulateGrad nodes of its graph)."""
    leaves: list[torch.Tensor] = []
    seen: set[object] = set()
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


def _sum_of_outputs(output: object, name: str) -> torch.Tensor:
    tensors = [t for t in _tensors_in(output) if t.requires_grad]
    if not tensors:
        raise ValueError(
            f"mode='train' needs an output of {name} that requires grad; got {type(output).__name__}. "
            "Make the inputs require grad (inputs(n) returning tensors with requires_grad=True) or use parameters."
        )
    total = tensors[0].sum()
    for t in tensors[1:]:
        total = total + t.sum()
    return total


def _tensors_in(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors_in(item)]
    return []

"""One sweep: build a call per N, then measure FLOPs, peak memory and time at each N.

Inputs (built-in q, k, v, the user's ``inputs(n)`` or ``setup(n)``) are made before any measurement, so what they
allocate is never counted as the call's memory, and they are kept alive through the sweep so the timing rounds
can visit the sizes in shuffled order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .attention import make_qkv
from .config import SweepConfig
from .errors import SweepError
from .measure.device import cpu_threads, device_name, resolve_device, synchronize
from .measure.flops import count_flops
from .measure.memory import peak_memory
from .measure.timing import time_calls
from .results import Environment, Point, ScalingResult

Call = Callable[[], object]


def run_sweep(
    config: SweepConfig,
    fn: Callable[..., object] | None = None,
    *,
    setup: Callable[[int], Call] | None = None,
    inputs: Callable[[int], object] | None = None,
    label: str | None = None,
) -> ScalingResult:
    """Measure ``fn(*inputs(n))`` (or ``setup(n)()``) at every N of ``config.sizes``."""
    _check_callables(fn, setup, inputs)
    device = resolve_device(config.device)
    dtype = config.dtype if config.dtype is not None else torch.float32
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype such as torch.float16, got {dtype!r}")
    name = label or _default_label(fn, setup)

    calls = {n: _build_call(config, device, dtype, n, fn, setup, inputs, name) for n in config.sizes}
    points: dict[str, tuple[Point, ...]] = {}
    for metric in config.metrics:
        if metric == "flops":
            flops = _each(calls, name, "flops", count_flops)
            points["flops"] = tuple(Point(n, (float(v),)) for n, v in flops.items())
        elif metric == "memory":
            # One intra-op thread: the CPU profiler sees allocations of the calling thread only.
            with cpu_threads(1):
                memory = _each(calls, name, "memory", lambda call: _warm_then(call, device, peak_memory))
            points["memory"] = tuple(Point(n, (float(v),)) for n, v in memory.items())
        elif metric == "time":
            with cpu_threads(config.threads):
                _each(calls, name, "time (warm-up)", lambda call: _warm(call, device))
                try:
                    seconds = time_calls(
                        calls,
                        device,
                        budget=config.time_budget,
                        min_rounds=config.min_rounds,
                        max_rounds=config.max_rounds,
                        seed=config.seed,
                    )
                except Exception as error:
                    raise SweepError(f"{name} raised while timing: {type(error).__name__}: {error}") from error
            points["time"] = tuple(Point(n, tuple(seconds[n])) for n in config.sizes)

    builtin_inputs = setup is None and inputs is None
    environment = Environment(
        device=str(device),
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=config.threads if device.type == "cpu" else 0,
        dtype=str(dtype).removeprefix("torch.") if builtin_inputs else "user inputs",
        mode=config.mode,
        shape={"batch": config.batch, "heads": config.heads, "head_dim": config.head_dim} if builtin_inputs else {},
    )
    return ScalingResult(label=name, environment=environment, points=points)


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


def _each(calls: Mapping[int, Call], name: str, what: str, measure: Callable[[Call], Any]) -> dict[int, Any]:
    results: dict[int, Any] = {}
    for n, call in calls.items():
        try:
            results[n] = measure(call)
        except Exception as error:
            raise SweepError(
                f"{name} raised at N={n} while measuring {what}: {type(error).__name__}: {error}"
            ) from error
    return results


def _warm(call: Call, device: torch.device) -> None:
    """One unmeasured call: lazy initialisation (cuBLAS workspace, caches) is not the call's cost."""
    call()
    synchronize(device)


def _warm_then(call: Call, device: torch.device, measure: Callable[[Call, torch.device], Any]) -> Any:
    _warm(call, device)
    return measure(call, device)


def _build_call(
    config: SweepConfig,
    device: torch.device,
    dtype: torch.dtype,
    n: int,
    fn: Callable[..., object] | None,
    setup: Callable[[int], Call] | None,
    inputs: Callable[[int], object] | None,
    name: str,
) -> Call:
    train = config.mode == "train"
    try:
        if setup is not None:
            thunk = setup(n)
            if not callable(thunk):
                raise ValueError(f"setup({n}) must return a zero-argument callable, got {thunk!r}")
            run: Call = thunk
            leaves: list[torch.Tensor] = []
        else:
            assert fn is not None
            if inputs is None:
                made: object = make_qkv(
                    n,
                    batch=config.batch,
                    heads=config.heads,
                    head_dim=config.head_dim,
                    dtype=dtype,
                    device=device,
                    requires_grad=train,
                    seed=config.seed,
                )
            else:
                made = inputs(n)
            args, kwargs = _as_arguments(made)
            leaves = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor) and t.requires_grad]
            run = _bind(fn, args, kwargs)
    except Exception as error:
        raise SweepError(f"{name}: building the inputs for N={n} failed: {type(error).__name__}: {error}") from error
    return _train_step(run, leaves, name) if train else _forward(run)


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


def _train_step(run: Call, leaves: list[torch.Tensor], name: str) -> Call:
    """Forward, then backward of the sum of the outputs; input gradients are dropped at the end of the call."""

    def call() -> object:
        with torch.enable_grad():
            output = run()
            loss = _sum_of_outputs(output, name)
            loss.backward()  # type: ignore[no-untyped-call]
        for leaf in leaves:
            leaf.grad = None
        return output

    return call


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

"""The call measured at one size: ``fn(*inputs(n))`` with the built-in q, k, v or the user's inputs, or ``setup(n)()``;
run under ``torch.no_grad`` (forward) or as a training step (forward and backward of the sum of the outputs); and
the check of its output.

Inputs are made when the call is built, before any measurement, so what they allocate is never counted as the call's
memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..attention import make_mask, make_qkv
from ..core.config import SweepConfig

Call = Callable[[], object]


@dataclass(frozen=True)
class Subject:
    """What is measured: ``fn(*inputs(n))`` or ``setup(n)()``, and its name in messages."""

    fn: Callable[..., object] | None
    setup: Callable[[int], Call] | None
    inputs: Callable[[int], object] | None
    name: str

    @property
    def builtin_inputs(self) -> bool:
        return self.fn is not None and self.setup is None and self.inputs is None


def build_call(config: SweepConfig, device: torch.device, dtype: torch.dtype, n: int, subject: Subject) -> Call:
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


def check_output(output: object) -> None:
    """NaN or Inf in the output means the kernel is wrong at this N: its cost would be meaningless."""
    for tensor in _tensors_in(output):
        if tensor.is_floating_point() or tensor.is_complex():
            finite = torch.isfinite(tensor.detach())
            if not bool(finite.all()):
                bad = int(finite.numel() - finite.sum().item())
                raise NonFiniteOutput(f"the output has {bad} NaN or Inf value(s) out of {tensor.numel()}")


class NonFiniteOutput(ValueError):
    """The function under test returned NaN or Inf."""

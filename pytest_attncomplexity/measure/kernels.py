"""Which SDPA kernel a call ran, read from the operators it dispatched, and pinning a backend.

``scaled_dot_product_attention`` is a composite operator: it picks a backend and calls that backend's operator
(``aten::_scaled_dot_product_flash_attention_for_cpu``, ``aten::_scaled_dot_product_attention_math``, ...). The
profiler records every operator the dispatcher calls, composite ones included, on the CPU and for CUDA calls
alike (operators are dispatched on the host), so one profiled call names the backend. A dispatch mode would not
do: it sits below the composite operators and never sees the math path, only the operators it decomposes into.

The CPU memory measurement profiles its call anyway, and its event tree names the operators (reading them: 0.02
ms). Elsewhere the autograd profiler without Kineto records them: 0.3 to 1.4 ms more per profiled call (SDPA and
naive attention, N=256..2048, on this project's CPU machine) and under 1 ms at its first use in a process, where
Kineto's profiler (the memory measurement's) takes 1 to 1.6 s at its first use in a process, which a time-only
sweep would otherwise pay.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from ..errors import BackendUnavailable
from .memory import EventTree

# The backend operators of scaled_dot_product_attention (forward and backward), by their short readable name. The
# order is the report's when one call runs several.
_KERNELS: dict[str, tuple[str, ...]] = {
    "flash (CPU)": (
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
    ),
    "flash": ("aten::_scaled_dot_product_flash_attention", "aten::_scaled_dot_product_flash_attention_backward"),
    "memory-efficient": (
        "aten::_scaled_dot_product_efficient_attention",
        "aten::_scaled_dot_product_efficient_attention_backward",
    ),
    "cuDNN": ("aten::_scaled_dot_product_cudnn_attention", "aten::_scaled_dot_product_cudnn_attention_backward"),
    "fused (device-specific)": (
        "aten::_scaled_dot_product_fused_attention_overrideable",
        "aten::_scaled_dot_product_fused_attention_overrideable_backward",
    ),
    "math": ("aten::_scaled_dot_product_attention_math",),
    "math (MPS)": ("aten::_scaled_dot_product_attention_math_for_mps",),
}
SDPA_KERNELS: dict[str, str] = {operator: name for name, operators in _KERNELS.items() for operator in operators}

# sdpa_backend= values (config.SDPA_BACKENDS) -> torch.nn.attention.SDPBackend members.
_BACKENDS = {"math": "MATH", "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION"}
_NO_CPU_KERNEL = {"efficient": "memory-efficient", "cudnn": "cuDNN"}


def sdpa_kernels(operators: Iterable[str]) -> tuple[str, ...]:
    """The readable names of the SDPA kernels among these operator names (empty: the call ran no SDPA)."""
    seen = {SDPA_KERNELS[name] for name in operators if name in SDPA_KERNELS}
    return tuple(name for name in _KERNELS if name in seen)


def operator_names(nodes: EventTree) -> set[str]:
    """Every operator name in a profiler event tree."""
    names: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        names.add(str(node.name))
        stack.extend(node.children)
    return names


@dataclass
class Observation:
    """The SDPA kernels a block ran; None until it ends, or when they could not be read (a profiler was on)."""

    kernels: tuple[str, ...] | None = None


@contextlib.contextmanager
def observing_kernels() -> Iterator[Observation]:
    """Record the operators the block dispatches (on the host, without Kineto: see above) and name the SDPA
    kernels among them. Profilers do not nest: under one the user started, nothing is read."""
    observation = Observation()
    if torch._C._autograd._profiler_enabled():
        yield observation
        return
    from torch.autograd.profiler_legacy import profile

    with profile() as recorded:  # type: ignore[no-untyped-call]
        yield observation
    events = recorded.function_events or ()
    observation.kernels = sdpa_kernels(event.name for event in events)


def pinned(backend: str | None) -> contextlib.AbstractContextManager[None]:
    """``torch.nn.attention.sdpa_kernel`` for an ``sdpa_backend=`` value; nothing for None (PyTorch chooses)."""
    if backend is None:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([getattr(SDPBackend, _BACKENDS[backend])])


# What scaled_dot_product_attention raises when no allowed backend can run the call: "No available kernel.
# Aborting execution." (a fused backend pinned) or "No viable backend for scaled_dot_product_attention was found"
# (torch 2.13). The reasons come as warnings just before.
_REFUSALS = ("no available kernel", "no viable backend for scaled_dot_product_attention")


def refused_by_backend(error: BaseException) -> bool:
    return isinstance(error, RuntimeError) and any(text in str(error).lower() for text in _REFUSALS)


def backend_unavailable(
    backend: str, name: str, device: torch.device, call: Callable[[], object], error: BaseException
) -> BackendUnavailable:
    """The skip for a pinned backend that refused the call, with PyTorch's reasons.

    PyTorch gives them as warnings, which the user's filters may have hidden or turned into errors: the call is run
    once more (it fails again at the choice of a kernel, before computing anything) with every warning recorded.
    """
    reasons: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            output = call()
            del output
        except Exception:  # the same refusal; only its warnings are wanted
            pass
    for warning in caught:
        text = _TRIGGERED.sub("", str(warning.message)).strip()
        if text and text not in reasons:
            reasons.append(text)
    said = " ".join(str(error).split())
    why = " ".join(reasons) or said
    if device.type == "cpu" and backend in _NO_CPU_KERNEL:
        why = f"PyTorch has no {_NO_CPU_KERNEL[backend]} attention kernel for the CPU"
    suffix = f" (PyTorch: {said})" if why != said else ""
    return BackendUnavailable(f"sdpa_backend={backend!r} cannot run {name} on {device}: {why}{suffix}")


_TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\s*")

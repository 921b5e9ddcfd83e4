"""FLOPs of one call, counted by ``torch.utils.flop_counter.FlopCounterMode``.

PyTorch has no FLOP formula for the CPU flash-attention kernel (``scaled_dot_product_attention`` on the CPU) or
its backward, so they count 0; the formulas of the CUDA kernels are registered for them here. Like PyTorch's
own, they count the full N×N product even for causal attention.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils import flop_counter

_registered = False


def _cpu_flash_forward(
    query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    return int(flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape))  # type: ignore[no-untyped-call]


def _cpu_flash_backward(
    grad_out_shape: Any,
    query_shape: Any,
    key_shape: Any,
    value_shape: Any,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    return int(
        flop_counter.sdpa_backward_flop_count(  # type: ignore[no-untyped-call]
            grad_out_shape, query_shape, key_shape, value_shape
        )
    )


def register_cpu_sdpa_formulas() -> None:
    """Register the CPU SDPA formulas once, leaving alone any that PyTorch (or someone else) already has."""
    global _registered
    if _registered:
        return
    formulas = {
        "_scaled_dot_product_flash_attention_for_cpu": _cpu_flash_forward,
        "_scaled_dot_product_flash_attention_for_cpu_backward": _cpu_flash_backward,
    }
    for op_name, formula in formulas.items():
        op = getattr(torch.ops.aten, op_name, None)
        if op is not None and op not in flop_counter.flop_registry:
            register: Any = flop_counter.register_flop_formula(op)
            register(formula)
    _registered = True


def count_flops(call: Callable[[], object]) -> int:
    """Total FLOPs of the operators ``call`` runs that have a formula (matmuls, convolutions, attention)."""
    return count_flops_by_operator(call)[0]


def count_flops_by_operator(call: Callable[[], object]) -> tuple[int, dict[Any, int]]:
    """The total, and the FLOPs of each operator that has a formula (keyed by torch's op packet, ``aten.bmm``)."""
    register_cpu_sdpa_formulas()
    with flop_counter.FlopCounterMode(display=False) as counter:
        call()
    return int(counter.get_total_flops()), dict(counter.get_flop_counts().get("Global", {}))

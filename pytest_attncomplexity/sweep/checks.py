"""What is refused before a sweep measures anything: fn, setup= and inputs= given in a way that cannot work, settings
of the built-in inputs that inputs= or setup= would ignore, and keywords a fn cannot take; and the label a result
gets by default."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from ..core.config import BUILTIN_INPUT_FIELDS, SweepConfig
from .calls import Call


def check_callables(
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


def default_label(fn: Callable[..., object] | None, setup: Callable[[int], Call] | None) -> str:
    target = fn if fn is not None else setup
    return str(getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target))


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


def check_builtin_settings(
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


def refuses_dtype(error: BaseException, dtype: torch.dtype) -> bool:
    """PyTorch's own words for an operator that has no kernel for this dtype on this device."""
    scalar_type = torch.empty(0, dtype=dtype).type().rsplit(".", 1)[-1].removesuffix("Tensor")  # 'Half', 'BFloat16'
    return f"not implemented for '{scalar_type}'" in str(error)

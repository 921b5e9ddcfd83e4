"""Which operator, on which line, made a metric: the parts of one call's memory peak and self time, read from the
profiler's event tree that the CPU memory measurement records anyway, and the FLOPs per operator from the counter.

In the event tree an allocation is a child of the operator that made it, and the operator sits below the Python
frames that called it (``with_stack=True``). Replaying the allocations and frees in time order gives the blocks live
at the peak; each is charged to its operator and to the line of the code under test that called it: the caller's
line of the nearest built-in call (``scores.softmax()``), or for an operator reached through a Python operator
(``q @ k``, ``scores * scale``) the last line the frame was seen at before it. Frames of torch, of this plugin's
measuring code, of pytest and of the standard library are passed over, so the line is the user's (a model's own
file, such as transformers' modeling_bert.py, counts as the code under test).
"""

from __future__ import annotations

import functools
import math
import os
import sysconfig
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from ..core.breakdown import OTHER, OperatorPart
from .memory import quiet_stderr

KEPT_PARTS = 12  # per N and metric: the largest, then the rest summed as OTHER

_EVENTS = torch._C._profiler._EventType
_STDLIB = sysconfig.get_paths()["stdlib"]
_PLUGIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# This plugin's files that run the user's call (its reference attentions are code under test, and are kept).
_PLUGIN_MACHINERY = ("sweep/", "measure/", "core/", "plugin/", "report/", "gate/")
_NOT_USER = ("torch/", "_pytest/", "pluggy/", "pytest_benchmark/", "xdist/", "<frozen", "<string>")


def memory_parts(tree: Iterable[Any], device_type: str = "cpu") -> tuple[OperatorPart, ...]:
    """The blocks of ``device_type`` live at the peak of the profiled call, summed per operator and line."""
    allocations = sorted(_allocations(tree, device_type), key=lambda a: a[0])
    running = peak = 0
    peak_index = -1  # the event after which the running sum is highest
    for index, (_, size, _, _) in enumerate(allocations):
        running += size
        if running > peak:
            peak, peak_index = running, index
    live: dict[int, tuple[int, Any]] = {}  # ptr -> (bytes, the allocation's node), replayed up to the peak
    for _, size, ptr, node in allocations[: peak_index + 1]:
        if size > 0:
            live[ptr] = (size, node)
        else:
            live.pop(ptr, None)
    totals: dict[tuple[str, str | None], list[Any]] = {}
    for size, node in live.values():
        operator = _owner(node)
        key = (operator.name if operator is not None else "(outside any operator)", where(node))
        entry = totals.setdefault(key, [0, None])
        entry[0] += size
        if operator is not None and entry[1] is None:
            entry[1] = _shape_of(operator, size)
    return _kept({key: (float(size), shape) for key, (size, shape) in totals.items()})


def self_time_parts(tree: Iterable[Any]) -> tuple[OperatorPart, ...]:
    """Self time of each operator of the profiled call (its time less its child operators'), per operator and line:
    inflated by the profiler's own cost, alike at every N, so shares and exponents hold."""
    totals: dict[tuple[str, str | None], tuple[float, str | None]] = {}
    for node in _walk(tree):
        if node.tag != _EVENTS.TorchOp:
            continue
        children = sum(c.duration_time_ns for c in _child_operators(node))
        own = max(0, node.duration_time_ns - children) * 1e-9
        key = (node.name, where(node))
        before, shape = totals.get(key, (0.0, None))
        totals[key] = (before + own, shape or _input_shape(node))
    return _kept(totals)


def flop_parts(counts: Mapping[Any, int]) -> tuple[OperatorPart, ...]:
    """FlopCounterMode's counts per operator (``get_flop_counts()["Global"]``), named as the profiler names them."""
    totals: dict[tuple[str, str | None], tuple[float, str | None]] = {
        (_aten_name(op), None): (float(count), None) for op, count in counts.items() if count
    }
    return _kept(totals)


def _kept(totals: Mapping[tuple[str, str | None], tuple[float, str | None]]) -> tuple[OperatorPart, ...]:
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    parts = [OperatorPart(name, at, shape, value) for (name, at), (value, shape) in ranked[:KEPT_PARTS]]
    rest = sum(value for _, (value, _) in ranked[KEPT_PARTS:])
    if rest > 0:
        parts.append(OperatorPart(OTHER, None, None, rest))
    return tuple(parts)


def _aten_name(op: Any) -> str:
    """``aten.bmm`` (an OpOverloadPacket) as ``aten::bmm``."""
    text = str(op)
    namespace, _, name = text.partition(".")
    return f"{namespace}::{name.split('.')[0]}" if name else text


def _walk(nodes: Iterable[Any]) -> Iterator[Any]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _allocations(tree: Iterable[Any], device_type: str) -> Iterator[tuple[int, int, int, Any]]:
    for node in _walk(tree):
        if node.tag == _EVENTS.Allocation:
            fields = node.extra_fields
            if getattr(getattr(fields, "device", None), "type", "cpu") == device_type:
                yield node.start_time_ns, int(fields.alloc_size), int(fields.ptr), node


def cuda_memory_parts(call: Callable[[], object], device: torch.device) -> tuple[OperatorPart, ...]:
    """The CUDA blocks live at the peak of one more call, profiled with the CUDA allocator's events (the CUDA memory
    measurement itself reads the allocator's peak, without a profiler)."""
    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Profiler clears events", category=UserWarning)
        prof = profile(activities=activities, profile_memory=True, record_shapes=True, with_stack=True)
        with quiet_stderr():
            prof.start()
        try:
            output = call()
            torch.cuda.synchronize(device)
            del output
        finally:
            with quiet_stderr():
                prof.stop()
    assert prof.profiler is not None and prof.profiler.kineto_results is not None
    return memory_parts(list(prof.profiler.kineto_results.experimental_event_tree()), "cuda")


def _child_operators(node: Any) -> Iterator[Any]:
    """The operators directly below ``node`` (through Python frames, which an operator may call)."""
    for child in node.children:
        if child.tag == _EVENTS.TorchOp:
            yield child
        elif child.tag in (_EVENTS.PyCall, _EVENTS.PyCCall):
            yield from _child_operators(child)


def _owner(node: Any) -> Any | None:
    """The operator that made an allocation: its nearest operator ancestor, and of nested ones (aten::softmax ->
    aten::_softmax) the innermost, which is the one that allocated."""
    parent = node.parent
    while parent is not None and parent.tag != _EVENTS.TorchOp:
        parent = parent.parent
    return parent


def where(node: Any) -> str | None:
    """``file.py:LINE`` of the code under test that led to ``node``, or None when no such frame was recorded."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.tag == _EVENTS.PyCCall:
            frame = parent.extra_fields.caller
            if _is_user_file(frame.file_name):
                return f"{_shown(frame.file_name)}:{frame.line_number}"
        elif parent.tag == _EVENTS.PyCall:
            callsite = parent.extra_fields.callsite
            if _is_user_file(callsite.file_name):
                return f"{_shown(callsite.file_name)}:{_line_before(parent, child, callsite.line_number)}"
            frame = parent.extra_fields.caller  # the frame that called this one, at the calling line
            if _is_user_file(frame.file_name):
                return f"{_shown(frame.file_name)}:{frame.line_number}"
        child, parent = parent, parent.parent
    return None


def _line_before(frame: Any, child: Any, first_line: int) -> int:
    """The line ``frame`` was last seen at before ``child`` started: the caller line of the last Python call it made
    (an operator reached through ``@`` or ``*`` records none of its own); its first line if it made none."""
    line = first_line
    for sibling in frame.children:
        if sibling is child or sibling.start_time_ns > child.start_time_ns:
            break
        if sibling.tag in (_EVENTS.PyCall, _EVENTS.PyCCall):
            line = sibling.extra_fields.caller.line_number
    return int(line)


@functools.lru_cache(maxsize=4096)
def _is_user_file(name: str) -> bool:
    """Whether a frame's file (as the profiler names it: relative to its entry of sys.path, or absolute) is code under
    test, not torch, pytest, the standard library or this plugin's measuring code."""
    if not name or name.startswith(_NOT_USER) or any(f"/{part}" in name for part in _NOT_USER if part.endswith("/")):
        return False
    installed = "site-packages" in name or "dist-packages" in name
    in_stdlib = name.startswith(_STDLIB) if os.path.isabs(name) else os.path.exists(os.path.join(_STDLIB, name))
    if in_stdlib and not installed:
        return False
    inside = _plugin_relative(name)
    return inside is None or not inside.startswith(_PLUGIN_MACHINERY)


def _shown(name: str) -> str:
    """A file as a message names it: an installed package's from the package on (``transformers/models/...``), a
    file below the working directory relative to it, anything else as the profiler gave it."""
    for marker in ("site-packages/", "dist-packages/"):
        if marker in name:
            return name.split(marker, 1)[1]
    if os.path.isabs(name):
        here = os.getcwd() + os.sep
        return name[len(here) :] if name.startswith(here) else name
    return name


def _plugin_relative(name: str) -> str | None:
    """The path inside this package (``sweep/size.py``) of a file of it, else None (names may be relative)."""
    marker = "pytest_attncomplexity/"
    if name.startswith(_PLUGIN + os.sep):
        return name[len(_PLUGIN) + 1 :]
    index = name.find(marker)
    return name[index + len(marker) :] if index >= 0 else None


def _tensor_inputs(operator: Any) -> list[Any]:
    """The inputs of an operator that the profiler recorded shapes of (tensors)."""
    return [i for i in getattr(operator.extra_fields, "inputs", ()) if getattr(i, "sizes", None) is not None]


def _input_shape(operator: Any) -> str | None:
    tensors = _tensor_inputs(operator)
    if not tensors:
        return None
    largest = max(tensors, key=lambda t: _numel(t.sizes))
    return _shape_text(largest.sizes, largest.dtype)


def _shape_of(operator: Any, size: int) -> str | None:
    """The shape of the block an operator allocated: the input of the same number of elements (an elementwise op,
    a softmax), else the product of a matmul's two inputs, else the largest input."""
    tensors = _tensor_inputs(operator)
    if not tensors:
        return None
    dtype = tensors[0].dtype
    itemsize = dtype.itemsize if dtype is not None else 4
    elements = size // max(itemsize, 1)
    candidates = [list(t.sizes) for t in tensors]
    if len(candidates) >= 2 and len(candidates[0]) >= 2 and len(candidates[1]) >= 2:
        a, b = candidates[0], candidates[1]
        candidates.append([*a[:-1], b[-1]])  # (..., n, k) @ (..., k, m) -> (..., n, m)
    for shape in candidates:
        if _numel(shape) == elements:
            return _shape_text(shape, dtype)
    return _input_shape(operator)


def _numel(sizes: Iterable[int]) -> int:
    return math.prod(int(size) for size in sizes)


def _shape_text(sizes: Iterable[int], dtype: Any) -> str:
    dims = [str(int(s)) for s in sizes]
    shown = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    return f"{shown} {str(dtype).removeprefix('torch.')}" if dtype is not None else shown

"""The axis a sweep's sizes run along, and how reports name it (no torch, no pytest).

The sequence length is the default axis and keeps its usual letter, N; any other axis is named by its keyword
(``head_dim=64``), so a report says what was swept in the words the test used.
"""

from __future__ import annotations

SEQ_LEN = "seq_len"
DEFAULT_AXIS = SEQ_LEN
# Every axis the built-in inputs can sweep; the others stay fixed at their keyword's value.
AXES: tuple[str, ...] = (SEQ_LEN, "kv_len", "batch", "heads", "head_dim")
# How a figure's x-axis is labelled, per axis.
_AXIS_LABELS = {
    SEQ_LEN: "sequence length N",
    "kv_len": "key/value length kv_len",
    "batch": "batch size batch",
    "heads": "number of heads heads",
    "head_dim": "head dimension head_dim",
}


def validate_axis(axis: object) -> str:
    if isinstance(axis, str) and axis in AXES:
        return axis
    raise ValueError(f"axis must be one of {', '.join(repr(a) for a in AXES)}; got {axis!r}")


def axis_symbol(axis: str) -> str:
    """What stands before ``=`` beside a size in the reports: ``N`` for the sequence length, else the axis's name."""
    return "N" if axis == SEQ_LEN else axis


def axis_label(axis: str) -> str:
    """The x-axis label of a figure."""
    return _AXIS_LABELS.get(axis, axis)

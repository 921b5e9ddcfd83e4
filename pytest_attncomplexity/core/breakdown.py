"""Where a metric comes from: its value at each N split by the operator (and the line of code) that made it, fitted
group by group across N. No torch, no pytest: the parts are measured in measure/attribution.py, and fitted and
ranked here, on synthetic parts in the tests.

A complexity regression is almost always one operator on one line (a materialized mask, a softmax over the N×N
scores, an SDPA call that fell back to the math path): the group whose exponent is past the claim, with its share of
the total at the largest N, points at it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .fit import FitError, fit_power_law

OTHER = "(other operators)"  # the parts past the largest few at one N, summed (keeps the JSON small)
# A group is named in a failure when it holds at least this share of the total at the largest N.
POINTING_SHARE = 0.05


@dataclass(frozen=True)
class OperatorPart:
    """One operator's part of a metric at one N: bytes live at the peak (memory), self time (time) or FLOPs."""

    name: str  # the operator, e.g. "aten::_softmax"
    where: str | None  # "file.py:LINE" in the code under test, or None where no Python frame was seen
    shape: str | None  # the tensor it made or read, e.g. "(1, 8, 2048, 2048) float32"
    value: float

    def to_json(self) -> list[object]:
        return [self.name, self.where, self.shape, self.value]

    @classmethod
    def from_json(cls, data: Sequence[object]) -> OperatorPart:
        name, where, shape, value = data
        return cls(str(name), _text_or_none(where), _text_or_none(shape), float(value))  # type: ignore[arg-type]


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class BreakdownGroup:
    """An operator at one line, across N: its values, exponent and share of the total at the largest N."""

    name: str
    where: str | None
    shape: str | None  # at the largest N it appears at
    exponent: float | None  # None where it was seen at fewer than two sizes
    share: float  # of the total at the largest N (0..1)
    values: Mapping[int, float]

    @property
    def largest_n(self) -> int:
        return max(self.values)

    def shape_with(self, n: int, symbol: str = "N") -> str | None:
        """The shape with each dimension equal to ``n`` written as the axis (``(1, 8, N, N) float32``)."""
        if self.shape is None:
            return None
        return _with_symbol(self.shape, n, symbol)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "where": self.where,
            "shape": self.shape,
            "exponent": self.exponent,
            "share": self.share,
            "values": {str(n): value for n, value in sorted(self.values.items())},
        }


Operators = Mapping[str, Mapping[int, Sequence[OperatorPart]]]  # metric -> N -> parts


def operators_to_json(operators: Operators) -> dict[str, dict[str, list[list[object]]]]:
    return {
        metric: {str(n): [part.to_json() for part in parts] for n, parts in sorted(by_n.items())}
        for metric, by_n in operators.items()
    }


def operators_from_json(
    data: Mapping[str, Mapping[str, Sequence[Sequence[object]]]],
) -> dict[str, dict[int, tuple[OperatorPart, ...]]]:
    return {
        str(metric): {int(n): tuple(OperatorPart.from_json(part) for part in parts) for n, parts in by_n.items()}
        for metric, by_n in data.items()
    }


@functools.lru_cache(maxsize=256)
def _fit_cached(parts: tuple[tuple[int, tuple[OperatorPart, ...]], ...], metric: str) -> tuple[BreakdownGroup, ...]:
    return _fit_breakdown(dict(parts), metric)


def fit_breakdown(parts: Mapping[int, Sequence[OperatorPart]], metric: str = "value") -> tuple[BreakdownGroup, ...]:
    """The groups of ``parts`` (per N), one per (operator, line), largest share at the largest N first (fitted once
    for the same parts)."""
    return _fit_cached(tuple(sorted((n, tuple(p)) for n, p in parts.items())), metric)


def _fit_breakdown(parts: Mapping[int, Sequence[OperatorPart]], metric: str) -> tuple[BreakdownGroup, ...]:
    if not parts:
        return ()
    values: dict[tuple[str, str | None], dict[int, float]] = {}
    shapes: dict[tuple[str, str | None], tuple[int, str | None]] = {}
    for n, at_n in sorted(parts.items()):
        for part in at_n:
            key = (part.name, part.where)
            values.setdefault(key, {})
            values[key][n] = values[key].get(n, 0.0) + part.value
            if part.shape is not None and (key not in shapes or shapes[key][0] <= n):
                shapes[key] = (n, part.shape)
    largest = max(parts)
    total = sum(part.value for part in parts[largest])
    groups = [
        BreakdownGroup(
            name=name,
            where=where,
            shape=shapes.get((name, where), (0, None))[1],
            exponent=_exponent(by_n, metric),
            share=(by_n.get(largest, 0.0) / total) if total > 0 else 0.0,
            values=by_n,
        )
        for (name, where), by_n in values.items()
    ]
    return tuple(sorted(groups, key=lambda g: (-g.share, g.name, g.where or "")))


def _exponent(by_n: Mapping[int, float], metric: str) -> float | None:
    measured = sorted((n, v) for n, v in by_n.items() if v > 0)
    if len(measured) < 2:
        return None
    try:
        return fit_power_law([n for n, _ in measured], [v for _, v in measured], metric).exponent
    except FitError:
        return None


def growing_past(groups: Sequence[BreakdownGroup], bound: float, share: float = POINTING_SHARE) -> list[BreakdownGroup]:
    """The groups whose exponent is past ``bound`` and that hold at least ``share`` of the total at the largest N:
    where a claimed exponent was exceeded."""
    return [
        g
        for g in groups
        if g.exponent is not None and g.exponent > bound and g.share >= share and g.name != OTHER
    ]


def term_name(exponent: float, symbol: str = "N") -> str:
    """``N²`` for an exponent near 2, ``N^1.6`` elsewhere: how a failure names the term a group carries."""
    nearest = round(exponent)
    if abs(exponent - nearest) <= 0.15 and nearest in _POWERS:
        return f"{symbol}{_POWERS[nearest]}"
    return f"{symbol}^{exponent:.2g}"


_POWERS = {0: "⁰", 1: "", 2: "²", 3: "³", 4: "⁴"}


def _with_symbol(shape: str, n: int, symbol: str) -> str:
    inside, _, rest = shape.partition(")")
    dims = [d.strip() for d in inside.lstrip("(").split(",") if d.strip()]
    shown = ", ".join(symbol if d == str(n) else d for d in dims)
    return f"({shown}{',' if len(dims) == 1 else ''}){rest}"


def describe_group(group: BreakdownGroup, metric: str, symbol: str = "N") -> str:
    """``the N² term: aten::_softmax at model.py:42, (1, 8, N, N) float32, 48% of the peak at N=2048, exponent
    2.00``: a group a failure points at."""
    of = {"memory": "of the peak", "time": "of the profiled self time", "flops": "of the FLOPs"}.get(metric, "")
    parts = [f"{group.name}" + (f" at {group.where}" if group.where else "")]
    shape = group.shape_with(group.largest_n, symbol)
    if shape:
        parts.append(shape)
    parts.append(f"{group.share:.0%} {of} at {symbol}={group.largest_n}".replace("  ", " "))
    exponent = group.exponent
    head = f"the {term_name(exponent, symbol)} term: " if exponent is not None else ""
    tail = f", exponent {exponent:.2f}" if exponent is not None else ""
    return head + ", ".join(parts) + tail


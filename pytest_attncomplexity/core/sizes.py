"""Sequence lengths to sweep: the geometric series helper and the parser of ``--attn-sizes``."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Mapping


def geometric(start: int, stop: int, factor: float = 2) -> list[int]:
    """Sizes ``start, start·factor, start·factor², …`` up to and including ``stop`` (rounded to integers).

    >>> geometric(256, 2048)
    [256, 512, 1024, 2048]
    """
    if isinstance(start, bool) or not isinstance(start, int) or start < 1:
        raise ValueError(f"geometric(): start must be a positive integer, got {start!r}")
    if isinstance(stop, bool) or not isinstance(stop, int) or stop < start:
        raise ValueError(f"geometric(): stop must be an integer >= start ({start}), got {stop!r}")
    if not factor > 1:
        raise ValueError(f"geometric(): factor must be > 1, got {factor!r}")
    sizes: list[int] = []
    value = float(start)
    while round(value) <= stop:
        n = round(value)
        if not sizes or n > sizes[-1]:
            sizes.append(n)
        value *= factor
    return sizes


def parse_sizes(text: str) -> list[int]:
    """Parse ``"256,512,1024"`` (a list) or ``"256:4096"`` / ``"256:4096:4"`` (start:stop[:factor])."""
    spec = text.strip()
    if not spec:
        raise ValueError("sizes: empty; give e.g. '256,512,1024,2048' or '256:2048'")
    try:
        if ":" in spec:
            parts = [p.strip() for p in spec.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            factor = float(parts[2]) if len(parts) == 3 else 2.0
            return geometric(int(parts[0]), int(parts[1]), factor)
        return [int(p) for p in spec.split(",") if p.strip()]
    except ValueError as error:
        detail = f" ({error})" if str(error) else ""
        raise ValueError(
            f"sizes: cannot parse {text!r}{detail}; give integers like '256,512,1024,2048' "
            "or a geometric range 'start:stop[:factor]' like '256:2048'"
        ) from None


def validate_sizes(sizes: object) -> tuple[int, ...]:
    """Sizes as a tuple of at least 3 strictly increasing positive integers, or a ValueError naming the fault.

    Any iterable of integers will do: a list, a range, a numpy array. Round a geometric numpy series before
    ``astype(int)``: ``np.geomspace(256, 4096, 5)`` holds 1023.99... and 2047.99..., which ``astype`` truncates.
    """
    if isinstance(sizes, str | bytes | Mapping) or not isinstance(sizes, Iterable):
        raise ValueError(f"sizes must be a list of integers, got {sizes!r}")
    items = [_plain(n) for n in sizes]
    checked: list[int] = []
    for n in items:
        try:
            value = operator.index(n)  # type: ignore[arg-type]
        except TypeError:
            value = None
        if isinstance(n, bool) or value is None:
            raise ValueError(f"sizes must be integers, got {n!r} in {items}")
        if value < 1:
            raise ValueError(f"sizes must be positive, got {value} in {items}")
        checked.append(value)
    if len(checked) < 3:
        raise ValueError(f"sizes needs at least 3 values to fit an exponent, got {checked}")
    for before, after in itertools.pairwise(checked):
        if after <= before:
            raise ValueError(f"sizes must be strictly increasing, got {after} after {before} in {checked}")
    return tuple(checked)


def _plain(n: object) -> object:
    """A numpy scalar as the Python number it holds (so messages show 128, not np.int64(128))."""
    item = getattr(n, "item", None)
    return item() if callable(item) and getattr(n, "ndim", None) == 0 else n

"""Which items form a pytest-benchmark group: the items of one marked test that differ only in the size parameter,
and the node id the group is shown under."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from ...core.claims import MARKER, Claims, parse_claims
from ...core.records import Point


@dataclass(frozen=True)
class Member:
    nodeid: str
    group: str
    n: int


@dataclass
class Group:
    """The members of one pytest-benchmark test that differ only in the size parameter, and what each measured."""

    id: str
    label: str
    claims: Claims
    members: list[Member] = field(default_factory=list)
    deselected: list[int] = field(default_factory=list)  # sizes collected but deselected (-k, -m, --deselect)
    points: dict[str, Point] = field(default_factory=dict)  # member node id -> its times, or why there are none
    untimed: bool = False  # a member ran with pytest-benchmark disabled
    judged: bool = False

    @property
    def param(self) -> str:
        assert self.claims.param is not None
        return self.claims.param

    @property
    def last(self) -> str:
        return self.members[-1].nodeid


@dataclass(frozen=True)
class _Candidate:
    """A marked item that belongs to a group: what groups it and the size it contributes."""

    item: pytest.Item
    key: tuple[Any, ...]
    base: str
    n: int
    claims: Claims


def find_groups(
    items: Sequence[pytest.Item], deselected: Sequence[pytest.Item] = ()
) -> tuple[dict[str, Group], dict[str, str]]:
    """The groups among ``items`` (in their order), and a problem per marked item that cannot join one."""
    problems: dict[str, str] = {}
    by_key: dict[tuple[Any, ...], list[_Candidate]] = {}
    for item in items:
        candidate = _candidate(item, problems)
        if candidate is not None:
            by_key.setdefault(candidate.key, []).append(candidate)
    ids = _display_ids(by_key)
    groups: dict[str, Group] = {}
    for key, candidates in by_key.items():
        first = candidates[0]
        label = str(getattr(first.item, "originalname", "") or first.item.name.split("[")[0])
        group = Group(ids[key], label, first.claims)
        group.members = [Member(c.item.nodeid, group.id, c.n) for c in candidates]
        groups[group.id] = group
    ignored: dict[str, str] = {}
    for item in deselected:
        candidate = _candidate(item, ignored)
        if candidate is not None and candidate.key in ids:
            groups[ids[candidate.key]].deselected.append(candidate.n)
    return groups, problems


def _candidate(item: pytest.Item, problems: dict[str, str]) -> _Candidate | None:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    try:
        claims = parse_claims(marker.args, marker.kwargs)
    except ValueError:
        return None  # the plugin's own setup reports a malformed marker on its test
    param = claims.param
    if param is None:
        return None
    prefix = f"{item.nodeid}: @pytest.mark.{MARKER}(param={param!r})"
    if "benchmark" not in getattr(item, "fixturenames", ()):
        problems[item.nodeid] = (
            f"{prefix} fits the times pytest-benchmark measures, but this test does not use the benchmark fixture"
        )
        return None
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = dict(getattr(callspec, "params", {}))
    if param not in params:
        known = ", ".join(params) if params else "none: it is not parametrized"
        problems[item.nodeid] = (
            f"{prefix}: {param!r} is not one of this test's parameters ({known}); "
            "name the parameter that holds the size"
        )
        return None
    n = params[param]
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        problems[item.nodeid] = f"{prefix}: the size {param} must be a positive int, got {n!r}"
        return None
    others = tuple(sorted((name, _value_key(value)) for name, value in params.items() if name != param))
    base = _base_id(item)
    return _Candidate(item, (base, claims.describe(), others), base, n, claims)


def _value_key(value: object) -> tuple[str, object]:
    """What tells two values of a parameter apart: a plain value by its repr, anything else by identity (the same
    object from one parametrize list in every item it makes)."""
    if value is None or isinstance(value, str | bytes | int | float | complex | enum.Enum):
        return (type(value).__qualname__, repr(value))
    return ("object", id(value))


def _base_id(item: pytest.Item) -> str:
    """The item's node id without its parameter ids."""
    spec_id = str(getattr(getattr(item, "callspec", None), "id", ""))
    suffix = f"[{spec_id}]" if spec_id else ""
    return item.nodeid[: -len(suffix)] if suffix and item.nodeid.endswith(suffix) else item.nodeid


def _display_ids(by_key: dict[tuple[Any, ...], list[_Candidate]]) -> dict[tuple[Any, ...], str]:
    """Each group's node id: its members' id without the size's part (``test_x.py::test_sdpa[causal]`` for
    ``test_x.py::test_sdpa[causal-1024]``); ``name=value`` of the other parameters where that part cannot be told
    apart; unique in any case."""
    ids = {key: _id_without_size(candidates) for key, candidates in by_key.items()}
    taken: dict[str, int] = {}
    for shown in ids.values():
        taken[shown] = taken.get(shown, 0) + 1
    for key, candidates in by_key.items():
        if taken[ids[key]] > 1:
            ids[key] = _id_by_values(candidates[0])
    seen: set[str] = set()
    for key in ids:
        shown, number = ids[key], 1
        while shown in seen:
            number += 1
            shown = f"{ids[key]}#{number}"
        ids[key] = shown
        seen.add(shown)
    return ids


def _id_without_size(candidates: Sequence[_Candidate]) -> str:
    """pytest keeps one id per parametrization (``callspec._idlist``, joined by "-"): the size's is the one that
    differs between members, or, for a group of one, the one that reads as the size."""
    first = candidates[0]
    idlists = [list(getattr(getattr(c.item, "callspec", None), "_idlist", None) or ()) for c in candidates]
    spec_ids = [str(getattr(getattr(c.item, "callspec", None), "id", "")) for c in candidates]
    if any("-".join(ids) != spec_id for ids, spec_id in zip(idlists, spec_ids, strict=True)):
        return _id_by_values(first)
    length = len(idlists[0])
    if length == 0 or any(len(ids) != length for ids in idlists):
        return _id_by_values(first)
    varying = [i for i in range(length) if len({ids[i] for ids in idlists}) > 1]
    reads_as_size = [i for i in range(length) if idlists[0][i] == str(first.n)]
    if len(varying) == 1:
        position = varying[0]
    elif length == 1:
        position = 0
    elif len(reads_as_size) == 1:
        position = reads_as_size[0]
    else:
        return _id_by_values(first)
    rest = [part for i, part in enumerate(idlists[0]) if i != position]
    return f"{first.base}[{'-'.join(rest)}]" if rest else first.base


def _id_by_values(candidate: _Candidate) -> str:
    params: dict[str, object] = dict(getattr(getattr(candidate.item, "callspec", None), "params", {}))
    others = [f"{name}={value!r}" for name, value in params.items() if name != candidate.claims.param]
    return f"{candidate.base}[{', '.join(others)}]" if others else candidate.base

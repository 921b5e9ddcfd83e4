"""The verdict on a pytest-benchmark group: its points per size, fitted, and the claims checked on the fit; what that
does to the member that completed the group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from ...core.claims import check_claims
from ...core.explain import points_table
from ...core.records import NOT_RUN, SKIPPED, Environment, Point
from ...core.result import MIN_FIT_POINTS, ScalingResult
from ...core.verdict import InconclusiveExponent
from ..compat import skip_at_test_line
from .groups import Group

METRIC = "time"  # all pytest-benchmark measures
MODE = "pytest-benchmark"  # how the report describes the result's measurement
INPUTS = "user inputs"  # what the test builds: no dtype of the plugin's own


@dataclass(frozen=True)
class Decision:
    """What the group's verdict does to the member that completed it."""

    outcome: str  # for the report: passed, failed, skipped, xfailed
    message: str = ""
    action: str = ""  # "fail", "skip", "xfail", or "" (nothing)

    def apply(self) -> None:
        if self.action == "fail":
            pytest.fail(self.message, pytrace=False)
        if self.action == "skip":
            raise skip_at_test_line(self.message)
        if self.action == "xfail":
            pytest.xfail(self.message)


def group_points(group: Group) -> tuple[Point, ...]:
    """One point per size: the samples of every member of that size, or why there are none."""
    by_n: dict[int, list[Point]] = {}
    for member in group.members:
        point = group.points.get(member.nodeid) or Point(member.n, (), NOT_RUN, "did not run in this session")
        by_n.setdefault(member.n, []).append(point)
    for n in group.deselected:
        by_n.setdefault(n, []).append(Point(n, (), NOT_RUN, "deselected (-k, -m or --deselect)"))
    points = []
    for n, found in sorted(by_n.items()):
        samples = tuple(sample for point in found if point.measured for sample in point.samples)
        points.append(Point(n, samples) if samples else found[0])
    return tuple(points)


def environment() -> Environment:
    """Where the group ran: the current CUDA device if CUDA was used in this process, else the CPU."""
    import torch

    from ...measure.device import device_name

    cuda = torch.cuda.is_available() and bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    return Environment(
        device=str(device),
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=0 if cuda else torch.get_num_threads(),
        dtype=INPUTS,
        mode=MODE,
    )


def nothing_ran(group: Group, points: Sequence[Point]) -> bool:
    """Every member was skipped (--benchmark-skip, a skip mark) or not run: no verdict, and nothing fails."""
    return not group.untimed and all(p.status in (SKIPPED, NOT_RUN) for p in points)


def judge(group: Group, result: ScalingResult, policy: str, untimed: str) -> Decision:
    """The verdict on a group whose points are in ``result`` (something ran: see nothing_ran). ``untimed``: why
    members ran untimed, if they did; ``policy``: --attn-inconclusive."""
    measured = [p for p in result.points_of(METRIC) if p.measured]
    title = f"pytest-benchmark group {group.id}"
    if not measured and group.untimed:  # not a failure: the user chose to run benchmarks untimed
        message = f"{title}: not fitted, {group.claims.describe()} not checked: {untimed}"
        return Decision("skipped", f"{message}: each member ran its function once, untimed")
    if len(measured) < MIN_FIT_POINTS:
        got = ", ".join(str(p.n) for p in measured) or "none"
        message = (
            f"{title}: {group.claims.describe()} cannot be checked: time was measured at {len(measured)} size(s) of "
            f"{group.param} ({got}); a fit needs {MIN_FIT_POINTS}\n{points_table(result, METRIC)}"
        )
        return Decision("failed", message, "fail")
    sizes = ", ".join(str(p.n) for p in measured)
    header = f"{title}, fitted across {group.param} = {sizes} from pytest-benchmark's timings:"
    try:
        check_claims([result], group.claims)
    except InconclusiveExponent as error:
        message = f"{header}\n{error}"
        if policy == "skip":
            return Decision("skipped", message, "skip")
        if policy == "xfail":
            return Decision("xfailed", message, "xfail")
        return Decision("failed", message, "fail")
    except AssertionError as error:
        return Decision("failed", f"{header}\n{error}", "fail")
    return Decision("passed")

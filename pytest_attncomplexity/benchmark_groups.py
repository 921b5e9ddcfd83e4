"""pytest-benchmark tests fitted as a group across a size parameter, and pytest-benchmark's hooks.

``@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)`` on a pytest-benchmark test parametrized over ``n`` makes
its items, one per size, a group. pytest-benchmark times each member as usual; after the group's last member that
runs in this session, the raw per-call times of every member (``benchmark.stats.stats.data``) are fitted against n
and recorded as one result under the group's node id (the members' id without the size), and the marker's claims
are checked on that fit: a miss fails the member that completed the group. Membership comes from the final list of
items, so deselected sizes do not count. Where CUDA is in use, pytest-benchmark's timer is made to synchronize.

Through pytest-benchmark's own hooks, its machine info gets torch's version and the GPU, and its JSON files
(``--benchmark-json``, ``--benchmark-save``) get the groups' fits.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .claims import MARKER, Claims, check_claims, parse_claims
from .machine import torch_machine_info
from .pytest_compat import short_reason, skip_at_test_line
from .report.tables import points_table
from .results import FAILED, MIN_FIT_POINTS, NOT_RUN, SKIPPED, Environment, Point, ScalingResult
from .verdict import InconclusiveExponent

if TYPE_CHECKING:
    from .plugin import AttnScalingSession

METRIC = "time"  # all pytest-benchmark measures
MODE = "pytest-benchmark"  # how the report describes the result's measurement
INPUTS = "user inputs"  # what the test builds: no dtype of the plugin's own
XDIST_PROPERTY = "attn_scaling.benchmark_group"  # a worker's note to the controller: this group was not timed
TIMER_ATTRIBUTE = "_timer"  # BenchmarkFixture's timer: private, read when benchmark(...) runs (tests check it is there)
JSON_KEY = "attn_scaling"  # what pytest-benchmark's JSON files get


# --- which items form a group --------------------------------------------------------------------------------------


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


# --- pytest-benchmark's fixture: its samples and its timer ---------------------------------------------------------


def samples_of(fixture: Any) -> tuple[float, ...] | None:
    """The raw per-call times of a BenchmarkFixture (each round's time divided by its iterations), or None when it
    timed nothing (disabled, or benchmark(...) was never called)."""
    data = getattr(getattr(getattr(fixture, "stats", None), "stats", None), "data", None)
    if not data:
        return None
    return tuple(float(sample) for sample in data)


def replace_timer(fixture: Any, wrap: Callable[[Callable[[], float]], Callable[[], float]]) -> bool:
    """Have the fixture time with ``wrap(its timer)``; False when pytest-benchmark no longer keeps the timer where
    this plugin knows to find it. It must happen before the body calls benchmark(...), which reads it."""
    timer = getattr(fixture, TIMER_ATTRIBUTE, None)
    if not callable(timer):
        return False
    setattr(fixture, TIMER_ATTRIBUTE, wrap(timer))
    return True


_SYNCHRONIZED: dict[Callable[[], float], Callable[[], float]] = {}


def cuda_synchronized(timer: Callable[[], float]) -> Callable[[], float]:
    """``timer`` read after torch.cuda.synchronize(): a CUDA call returns once its kernels are queued, so an
    unsynchronized clock measures the launch, not the work. One wrapper per timer: pytest-benchmark caches a
    timer's precision by the function."""
    if timer not in _SYNCHRONIZED:
        import torch

        def synchronized() -> float:
            torch.cuda.synchronize()
            return timer()

        name = f"cuda_synchronized_{getattr(timer, '__name__', 'timer')}"
        synchronized.__name__ = synchronized.__qualname__ = name  # pytest-benchmark's JSON names the timer
        _SYNCHRONIZED[timer] = synchronized
    return _SYNCHRONIZED[timer]


def _cuda_available() -> bool:
    torch = sys.modules.get("torch")  # not imported by the tests: they run nothing on CUDA through torch
    return torch is not None and bool(torch.cuda.is_available())


# --- the verdict on a group ----------------------------------------------------------------------------------------


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


def _environment() -> Environment:
    """Where the group ran: the current CUDA device if CUDA was used in this process, else the CPU."""
    import torch

    from .measure.device import device_name

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


# --- the plugin ----------------------------------------------------------------------------------------------------


class BenchmarkGroups:
    """Registered when pytest-benchmark is there: groups its marked tests, checks their fits, and implements its
    hooks."""

    def __init__(self, session: AttnScalingSession, config: Any) -> None:
        self.session = session
        self.config = config
        self.worker = hasattr(config, "workerinput")  # pytest-benchmark is disabled in a pytest-xdist worker
        self.controller = not self.worker and getattr(config.option, "dist", "no") != "no"
        self.groups: dict[str, Group] = {}
        self.members: dict[str, Member] = {}
        self.problems: dict[str, str] = {}
        self.deselected: list[pytest.Item] = []
        self.recorded: list[tuple[Group, ScalingResult]] = []
        self.notes: list[str] = []
        self.untimed_under_xdist: list[str] = []  # the controller's: groups its workers could not time
        self.timer_problem = False

    # Membership ------------------------------------------------------------------------------------------------

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.deselected.extend(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.groups, self.problems = find_groups(session.items, self.deselected)
        self.members = {m.nodeid: m for group in self.groups.values() for m in group.members}

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        problem = self.problems.get(item.nodeid)
        if problem is not None:  # before the benchmark fixture is set up: nothing is timed
            pytest.fail(problem, pytrace=False)

    # Measuring -------------------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        member = self.members.get(item.nodeid)
        if member is None:
            return (yield)
        group = self.groups[member.group]
        fixture = getattr(item, "funcargs", {}).get("benchmark")
        if self.worker:  # each worker runs some members, untimed: the controller says so once
            item.user_properties.append((XDIST_PROPERTY, group.id))
            return (yield)
        self._synchronize_cuda(item, fixture)
        try:
            outcome = yield
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as error:
            group.points[item.nodeid] = _point_of_failure(member.n, error)
            # A skipped or xfailed test shows no report sections: the verdict waits for the teardown instead.
            if item.nodeid == group.last and not isinstance(error, pytest.skip.Exception | pytest.xfail.Exception):
                decision = self._judge(group)
                if decision is not None and decision.action:  # the body failed already: the verdict goes beside it
                    item.add_report_section("call", f"attn_scaling {group.id}", decision.message)
            raise
        group.points[item.nodeid] = self._point_of(member.n, fixture)
        group.untimed = group.untimed or bool(getattr(fixture, "disabled", False))
        if item.nodeid == group.last:
            decision = self._judge(group)
            if decision is not None:
                decision.apply()
        return outcome

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.controller:
            for name, value in report.user_properties:
                if name == XDIST_PROPERTY and value not in self.untimed_under_xdist:
                    self.untimed_under_xdist.append(str(value))
            return
        member = self.members.get(report.nodeid)
        if member is None or report.when != "setup" or report.passed:
            return
        group = self.groups[member.group]
        if report.skipped:
            group.points[report.nodeid] = Point(member.n, (), SKIPPED, _reason(report))
        else:
            group.points[report.nodeid] = Point(member.n, (), FAILED, f"setup failed: {_reason(report)}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        """The last member did not reach its body (skipped, or its setup failed): the group is judged here, after
        its fixtures are torn down; a miss is then an error on that test."""
        outcome = yield
        member = self.members.get(item.nodeid)
        if member is not None and not self.worker:
            group = self.groups[member.group]
            if item.nodeid == group.last and not group.judged:
                decision = self._judge(group)
                if decision is not None:
                    decision.apply()
        return outcome

    def _synchronize_cuda(self, item: pytest.Item, fixture: Any) -> None:
        if fixture is None or getattr(fixture, "disabled", False) or not _cuda_available():
            return
        if not replace_timer(fixture, cuda_synchronized) and not self.timer_problem:
            self.timer_problem = True
            problem = (
                f"pytest-attncomplexity cannot make pytest-benchmark's timer synchronize CUDA: BenchmarkFixture has "
                f"no {TIMER_ATTRIBUTE} attribute in this pytest-benchmark release; times of CUDA calls may be those "
                "of the kernel launches only (call torch.cuda.synchronize() at the end of the benchmarked function)"
            )
            self.notes.append(problem)
            item.warn(pytest.PytestWarning(problem))

    def _point_of(self, n: int, fixture: Any) -> Point:
        if fixture is not None and getattr(fixture, "disabled", False):
            return Point(n, (), SKIPPED, f"{self._untimed_reason()}: the function ran once, untimed")
        samples = samples_of(fixture)
        if samples is None:
            return Point(n, (), FAILED, "the test did not call benchmark(...)")
        return Point(n, samples)

    def _note(self, note: str) -> None:
        """Shown at the end with the scaling report (--attn-scaling) or -v: the user chose not to time, or to skip."""
        if self.session.options.report or self.session.verbosity > 0:
            self.notes.append(note)

    def _untimed_reason(self) -> str:
        if self.worker or self.controller:
            return "pytest-benchmark disables itself under pytest-xdist (-n)"
        if self.config.getoption("benchmark_disable", False):
            return "pytest-benchmark is disabled (--benchmark-disable)"
        return "pytest-benchmark is disabled"

    def _judge(self, group: Group) -> Decision | None:
        group.judged = True
        points = group_points(group)
        if nothing_ran(group, points):
            self._note(f"pytest-benchmark group {group.id}: not fitted: every member was skipped")
            return None
        result = ScalingResult(group.label, _environment(), {METRIC: points}, nodeid=group.id)
        decision = judge(group, result, self.session.options.inconclusive, self._untimed_reason())
        if self.session.gate is not None and result.sizes(METRIC):
            decision = self._compared(result, decision)
        if decision.outcome == "skipped" and not decision.action:
            self._note(decision.message)
        self.recorded.append((group, result))
        self.session.record(result)
        self.session.outcomes[group.id] = decision.outcome
        if decision.message:
            self.session.messages[group.id] = decision.message
        self.session.files.test_finished(self.session.state, group.id)  # its figures and HTML section
        return decision

    def _compared(self, result: ScalingResult, decision: Decision) -> Decision:
        """The group against its baseline entry, as any result is: a regression fails the member that completed the
        group, an inconclusive change follows --attn-inconclusive (a group's timings cannot be taken again)."""
        gate = self.session.gate
        assert gate is not None
        regressions, inconclusive = gate.compare_test([result])
        if regressions:
            message = "\n\n".join(m for m in (decision.message, gate.message(regressions, inconclusive)) if m)
            return Decision("failed", message, "fail")
        if inconclusive and not decision.action:
            policy = self.session.options.inconclusive
            outcome = {"skip": "skipped", "xfail": "xfailed"}.get(policy, "failed")
            return Decision(outcome, gate.message([], inconclusive), policy)
        return decision

    # pytest-benchmark's hooks ----------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_machine_info(self, config: pytest.Config, machine_info: dict[str, Any]) -> None:
        """torch's version and the GPU, so that pytest-benchmark's compare warns when they change."""
        machine_info.update(torch_machine_info())

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(
        self, config: pytest.Config, benchmarks: Sequence[Any], output_json: dict[str, Any]
    ) -> None:
        """The groups' fits and verdicts beside pytest-benchmark's own numbers (--benchmark-json, --benchmark-save)."""
        groups = []
        for group, result in self.recorded:
            entry = result.to_json()
            entry.update(
                outcome=self.session.outcomes.get(group.id),
                param=group.param,
                members=[member.nodeid for member in group.members],
            )
            groups.append(entry)
        output_json[JSON_KEY] = {"groups": groups}

    # The report ------------------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.untimed_under_xdist:
            self.notes.append(
                "pytest-benchmark groups not fitted, their claims not checked: pytest-benchmark disables itself under "
                f"pytest-xdist (-n), so nothing was timed: {', '.join(self.untimed_under_xdist)}; run them without -n"
            )
        for note in self.notes:
            terminalreporter.write_line(f"attention scaling: {note}", yellow=True)


def _point_of_failure(n: int, error: BaseException) -> Point:
    if isinstance(error, pytest.skip.Exception):
        return Point(n, (), SKIPPED, str(error.msg))
    if isinstance(error, pytest.xfail.Exception):
        return Point(n, (), SKIPPED, f"xfailed: {error.msg}")
    text = str(error.msg) if isinstance(error, pytest.fail.Exception) else f"{type(error).__name__}: {error}"
    first_line = (text.strip().splitlines() or [type(error).__name__])[0]
    return Point(n, (), FAILED, f"the test failed: {first_line}"[:300])


def _reason(report: pytest.TestReport) -> str:
    """The first line of why a member did not run, for its point."""
    return (short_reason(report).removeprefix("Skipped: ").splitlines() or [""])[0][:300]

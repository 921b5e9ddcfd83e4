"""The hooks that tie pytest-benchmark groups to a session: membership after collection, each member's samples, the
verdict after the group's last member, pytest-benchmark's own hooks (machine info, its JSON), and the notes shown at
the end. Registered by the plugin's pytest_configure when pytest-benchmark is there."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ...core.records import FAILED, SKIPPED, Point
from ...core.result import ScalingResult
from ..compat import short_reason
from ..machine import torch_machine_info
from ..session import AttnScalingSession
from .groups import Group, Member, find_groups
from .timer import TIMER_ATTRIBUTE, cuda_available, cuda_synchronized, replace_timer, samples_of
from .verdict import METRIC, Decision, environment, group_points, judge, nothing_ran

XDIST_PROPERTY = "attn_scaling.benchmark_group"  # a worker's note to the controller: this group was not timed
JSON_KEY = "attn_scaling"  # what pytest-benchmark's JSON files get


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
        if fixture is None or getattr(fixture, "disabled", False) or not cuda_available():
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
        result = ScalingResult(group.label, environment(), {METRIC: points}, nodeid=group.id)
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

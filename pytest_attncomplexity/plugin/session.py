"""The plugin's state in a session: every result the fixture produced and each test's outcome, the baseline it is
compared with and saved as, the report files that follow along, and the terminal's summary at the end."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..core.options import PluginOptions
from ..core.result import ScalingResult
from ..errors import DeviceUnavailable
from ..gate.gate import BaselineGate
from ..report.changes import format_comparison
from ..report.files import ReportFiles, SessionState
from ..report.text import format_report
from .baselines import BASELINE_PATH_KEY, BaselineStore
from .compat import short_reason

STATE_KEY = pytest.StashKey["AttnScalingSession"]()
NO_REPORT_FILES = PluginOptions()  # a worker's: no report asked for


@dataclass(eq=False)  # hashed by identity: pytest keeps its plugins in sets (pytest 8.0 fails on an unhashable one)
class AttnScalingSession:
    """Collects every result the fixture produces and the outcome of each test; the report files follow along."""

    options: PluginOptions
    verbosity: int = 0
    worker: bool = False  # a pytest-xdist worker: its results go to the controller, which writes every report
    results: list[ScalingResult] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # why a test failed, errored or was skipped
    files: ReportFiles = field(init=False)

    machine_info: Callable[[], dict[str, Any]] | None = None  # the machine, as pytest-benchmark describes it
    run_environment: Callable[[], dict[str, Any]] | None = None  # where it measures, with its storage key
    commit: Callable[[], dict[str, Any]] | None = None
    gate: BaselineGate | None = None  # the baseline of --attn-scaling-compare, and how results are judged on it
    baselines: BaselineStore | None = None  # where this run's results are saved, if asked

    def __post_init__(self) -> None:
        if self.worker:  # the controller writes every report file, from the results the workers send it
            self.files = ReportFiles(NO_REPORT_FILES, step_summary=False)
        else:
            self.files = ReportFiles(
                self.options,
                machine_info=self.machine_info,
                gate=self.gate,
                run_environment=self.run_environment,
                commit=self.commit,
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist's controller: every worker compares with the very baseline the controller chose."""
        if self.gate is not None:
            node.workerinput[BASELINE_PATH_KEY] = str(self.gate.baseline.path.absolute())

    @property
    def state(self) -> SessionState:
        return SessionState(self.results, self.outcomes, self.messages)

    def results_of(self, nodeid: str) -> list[ScalingResult]:
        return [r for r in self.results if r.nodeid == nodeid]

    def record(self, result: ScalingResult) -> None:
        """A sweep finished (also one that failed part-way): keep it, and write it out at once."""
        self.results.append(result)
        self.files.result_recorded(self.state)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = _outcome_of(report)
        if outcome is not None and (report.when == "call" or outcome != "passed"):
            self.outcomes[report.nodeid] = outcome
            if outcome != "passed":
                self.messages[report.nodeid] = short_reason(report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.files.test_finished(self.state, nodeid)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.baselines is not None:
            self.baselines.save(self.state, int(session.exitstatus), self.files)
        self.files.session_finished(self.state, int(session.exitstatus))
        # A CI job must not pass while its report is missing.
        if self.files.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @functools.cached_property
    def setup_line(self) -> str:
        """The header line, shown at the start and atop the report: worked out once (it imports torch)."""
        try:
            return describe_setup(self.options)
        except Exception as error:  # a header is never worth a crashed session
            return f"attncomplexity: device {self.options.device} ({type(error).__name__}: {error})"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.options.report:
            terminalreporter.write_sep("=", "attention scaling")
            terminalreporter.write_line(self.setup_line)
            options = self.options
            lines = format_report(self.results, options.max_memory, options.predict_n, breakdown=options.breakdown)
            for line in lines:
                terminalreporter.write_line(line)
        comparison = self.files.comparison(self.state)  # None on a worker: its ReportFiles has no gate
        if comparison is not None:
            terminalreporter.write_sep("=", "attention scaling: baseline comparison")
            for change, line in format_comparison(self.results, comparison):
                terminalreporter.write_line(line, red=change == "regressed")
        for line in self.files.written:
            terminalreporter.write_line(f"attention scaling {line}")
        for notice in self.files.notices:
            terminalreporter.write_line(f"attention scaling: {notice}", yellow=True)
        for problem in self.files.problems:
            terminalreporter.write_line(f"attention scaling: {problem}", red=True)


def _outcome_of(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return "passed" if report.when == "call" else None


def describe_setup(options: PluginOptions) -> str:
    """The report header: where sweeps run and how (torch is imported here, only when a report is asked for)."""
    import torch

    from ..measure.device import resolve_device

    try:
        device = str(resolve_device(options.device))
    except DeviceUnavailable as error:
        return f"attncomplexity: torch {torch.__version__}, device {options.device}: {error}; sweeps on it skip"
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        threads = ""
    else:
        from ..measure.device import device_name

        name = device_name(torch.device("cpu"))
        threads = f", {options.threads} timing thread{'s' if options.threads != 1 else ''}"
    sizes = ",".join(str(n) for n in options.sizes)
    from ..measure.host import available_memory

    if options.ram_guard is None:
        guard = "off"
    elif available_memory() is None:
        guard = "inactive here (it reads Linux's /proc/meminfo)"
    else:
        guard = f"{options.ram_guard:.0%} of available memory"
    return (
        f"attncomplexity: torch {torch.__version__}, device {device} ({name}){threads}, default sizes {sizes}, "
        f"time budget {options.time_budget:g} s per sweep, RAM guard {guard}"
    )

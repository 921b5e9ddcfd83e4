"""pytest hooks: options and ini keys, the marker, the ``attn_scaling`` fixture, progress, and the reports
(terminal, JSON, plots, HTML, GitHub step summary, junit properties)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .baseline_session import BASELINE_PATH_KEY, BaselineStore, open_baseline
from .baselines import numbered
from .claims import MARKER, MARKER_HELP, Claims, check_claims, parse_claims
from .config import OPTIONS, PluginOptions
from .errors import AttnScalingWarning, BackendUnavailable, DeviceUnavailable, DtypeUnavailable
from .fit import FitError
from .gating import BaselineGate
from .machine import machine_info
from .paths import blocking_file
from .progress_printer import ProgressPrinter
from .pytest_compat import short_reason, skip_at_test_line
from .report.changes import format_comparison
from .report.files import ReportFiles, SessionState
from .report.plot import PlotUnavailable, require_matplotlib
from .report.text import format_report
from .results import ScalingResult
from .runner import ScalingRunner
from .verdict import InconclusiveExponent

STATE_KEY = pytest.StashKey["AttnScalingSession"]()
NO_REPORT_FILES = PluginOptions()  # a worker's: no report asked for


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("attncomplexity", "attention scaling (pytest-attncomplexity)")
    for option in OPTIONS:
        # argparse formats help with %: "time-value:10%" must reach it as "10%%".
        kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": option.help.replace("%", "%%")}
        if option.read is None:
            kwargs["action"] = "store_true"
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.const is not None:
            kwargs.update(nargs="?", const=option.const)
        group.addoption(option.flag, **kwargs)
        ini_help = f"{option.help} [same as {option.flag}]"
        if option.read is None:
            parser.addini(option.dest, ini_help, type="bool")
        else:
            parser.addini(option.dest, ini_help, type="string")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    try:
        options = PluginOptions.from_pytest_config(config)
        if options.plot_dir:
            require_matplotlib("--attn-scaling-plot")
        _check_output_paths(options)
        gate = open_baseline(config, options)
    except (ValueError, OSError, PlotUnavailable) as error:  # OSError: a storage folder that cannot be read
        raise pytest.UsageError(f"pytest-attncomplexity: {error}") from None
    if gate is not None and gate.differences:
        shown = "; ".join(gate.differences)
        try:
            config.issue_config_time_warning(
                AttnScalingWarning(f"baseline {gate.baseline.name} was measured elsewhere: {shown}"), stacklevel=2
            )
        except Warning as error:  # -W error or filterwarnings = error: a usage error, not an INTERNALERROR
            raise pytest.UsageError(f"pytest-attncomplexity: {error} (a warning turned into an error)") from None
    worker = hasattr(config, "workerinput")  # a pytest-xdist worker
    session = AttnScalingSession(
        options,
        verbosity=int(config.getoption("verbose") or 0),
        worker=worker,
        machine_info=functools.partial(machine_info, config),
        gate=gate,
        baselines=BaselineStore(config, options) if (options.save or options.autosave) and not worker else None,
    )
    config.stash[STATE_KEY] = session
    config.pluginmanager.register(session, "attncomplexity-session")
    # Hooks for the plugins this one works with, registered only when they are there (as pytest-randomly does).
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist_support import XdistSupport

        config.pluginmanager.register(XdistSupport(session, config), "attncomplexity-xdist")
    if config.pluginmanager.hasplugin("benchmark"):
        from .benchmark_groups import BenchmarkGroups

        config.pluginmanager.register(BenchmarkGroups(session, config), "attncomplexity-benchmark")


def _check_output_paths(options: PluginOptions) -> None:
    """Catch at start-up what would make a report unwritable at the end, after the whole run."""
    for flag, path in (("--attn-scaling-json", options.json_path), ("--attn-scaling-html", options.html_path)):
        if path and Path(path).is_dir():
            raise ValueError(f"{flag} must name a file, but {path!r} is a directory")
    if options.plot_dir and Path(options.plot_dir).exists() and not Path(options.plot_dir).is_dir():
        raise ValueError(f"--attn-scaling-plot must name a directory, but {options.plot_dir!r} is a file")
    for flag, path in (
        ("--attn-scaling-json", options.json_path),
        ("--attn-scaling-html", options.html_path),
        ("--attn-scaling-plot", options.plot_dir),
    ):
        if path:
            blocking = blocking_file(Path(path).absolute().parent)
            if blocking is not None:
                raise ValueError(f"{flag}={path!r} cannot be written: {str(blocking)!r} is a file, not a directory")


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config.stash.get(STATE_KEY, None)
    if session is None or not (session.options.writes_output or session.verbosity > 0):
        return None
    return session.setup_line


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
    gate: BaselineGate | None = None  # the baseline of --attn-scaling-compare, and how results are judged on it
    baselines: BaselineStore | None = None  # where this run's results are saved, if asked

    def __post_init__(self) -> None:
        if self.worker:  # the controller writes every report file, from the results the workers send it
            self.files = ReportFiles(NO_REPORT_FILES, step_summary=False)
        else:
            self.files = ReportFiles(self.options, machine_info=self.machine_info, gate=self.gate)

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
            for line in format_report(self.results, self.options.max_memory, self.options.predict_n):
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

    from .errors import DeviceUnavailable
    from .measure.device import resolve_device

    try:
        device = str(resolve_device(options.device))
    except DeviceUnavailable as error:
        return f"attncomplexity: torch {torch.__version__}, device {options.device}: {error}; sweeps on it skip"
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        threads = ""
    else:
        from .measure.device import device_name

        name = device_name(torch.device("cpu"))
        threads = f", {options.threads} timing thread{'s' if options.threads != 1 else ''}"
    sizes = ",".join(str(n) for n in options.sizes)
    from .measure.host import available_memory

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


CLAIMS_KEY = pytest.StashKey[Claims]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A malformed marker is an error on its test, before any measuring (the session goes on)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return
    problem = None
    try:
        claims = item.stash[CLAIMS_KEY] = parse_claims(marker.args, marker.kwargs)
    except ValueError as error:
        problem = f"{item.nodeid}: {error}"
    else:
        if claims.param is not None and not item.config.pluginmanager.hasplugin("benchmark"):
            # The group's fit comes from pytest-benchmark: without it the claim would pass unchecked.
            problem = (
                f"{item.nodeid}: {claims.describe()} fits pytest-benchmark's timings, but pytest-benchmark is not "
                "active in this run (-p no:benchmark?)"
            )
    if problem is not None:  # outside the except block: no "during handling of the above exception" in the output
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After the body: the marker's claims are checked and the results compared with the baseline; the exponents
    become junit properties. A miss or a regression fails the test with its numbers (no traceback into the plugin);
    an inconclusive one fails it too (it is an AssertionError), or skips or xfails it as configured."""
    session = item.config.stash[STATE_KEY]
    undecided: InconclusiveExponent | None = None
    try:
        outcome = yield
    except InconclusiveExponent as error:  # assert_exponent in the body: checked with the rest below
        undecided = error
    except BaseException:
        results = session.results_of(item.nodeid)
        if session.gate is not None:  # a failed body's results are still compared, for the reports
            session.gate.compare_test(results, retime=False)
        _record_properties(item, results)
        raise
    results = session.results_of(item.nodeid)
    try:
        _check_after_body(item, session, results, undecided)
    finally:
        _record_properties(item, results)
    return outcome


def _check_after_body(
    item: pytest.Item,
    session: AttnScalingSession,
    results: list[ScalingResult],
    undecided: InconclusiveExponent | None,
) -> None:
    """The marker's claims and the baseline comparison. A regression is a failure whatever --attn-inconclusive does
    with an undecided claim, the body's own included."""
    failures: list[str] = []
    unsure = undecided
    claims = item.stash.get(CLAIMS_KEY, None)
    if claims is not None and claims.param is None:  # with param=, the group's fit is checked (benchmark_groups)
        try:
            check_claims(results, claims)
        except InconclusiveExponent as error:
            unsure = unsure or error
        except AssertionError as error:
            failures.append(str(error))
    if session.gate is not None:
        regressions, inconclusive = session.gate.compare_test(results)
        if regressions:
            failures.append(session.gate.message(regressions, inconclusive))
        elif inconclusive and unsure is None:
            unsure = InconclusiveExponent(session.gate.message([], inconclusive))
    if failures:
        if undecided is not None:
            failures.insert(0, str(undecided))
        pytest.fail("\n\n".join(failures), pytrace=False)
    if unsure is not None:
        # The body's own exception keeps its traceback, which points at the test's line.
        _inconclusive(session.options.inconclusive, unsure, traceback=unsure is undecided)
        raise unsure


def _inconclusive(policy: str, error: InconclusiveExponent, *, traceback: bool) -> None:
    """Skip or xfail the test as --attn-inconclusive says; or fail it (without a traceback into the plugin when the
    plugin's own check was inconclusive)."""
    if policy == "skip":
        raise skip_at_test_line(str(error)) from None
    if policy == "xfail":
        pytest.xfail(str(error))
    if not traceback:
        pytest.fail(str(error), pytrace=False)


def _record_properties(item: pytest.Item, results: list[ScalingResult]) -> None:
    """``attn_scaling.<label>.<metric>.exponent`` (and its CI and class) for --junitxml."""
    for occurrence, result in numbered(results):
        # The same function swept twice in one test: label, label#2, ...
        name = result.label if occurrence == 1 else f"{result.label}#{occurrence}"
        for metric in result.metrics:
            prefix = f"attn_scaling.{name}.{metric}"
            try:
                fit = result.fit(metric)
            except FitError as error:
                item.user_properties.append((f"{prefix}.error", str(error)))
                continue
            item.user_properties += [
                (f"{prefix}.exponent", f"{fit.exponent:.4f}"),
                (f"{prefix}.ci", f"{fit.ci[0]:.4f} .. {fit.ci[1]:.4f}"),
                (f"{prefix}.complexity", f"O({fit.complexity})"),
            ]
        for verdict in result.checks:
            item.user_properties.append(
                (
                    f"attn_scaling.{name}.{verdict.metric}.verdict",
                    f"{verdict.outcome} (expected {verdict.expected:g} ± {verdict.tol:g})",
                )
            )


class _PytestScalingRunner(ScalingRunner):
    """A missing device, a pinned SDPA backend that cannot run the case, or a dtype the device has no kernel for is a
    skip with the reason, not a failure."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScalingResult:
        __tracebackhide__ = True  # a failing sweep points at the test's line and the user's exception
        try:
            return super().__call__(*args, **kwargs)
        except (DeviceUnavailable, BackendUnavailable, DtypeUnavailable) as error:
            raise skip_at_test_line(str(error)) from None


def _attn_scaling(request: pytest.FixtureRequest) -> ScalingRunner:
    session = request.config.stash[STATE_KEY]
    plugins = request.config.pluginmanager
    terminal = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    progress = ProgressPrinter(terminal, capture, session.verbosity) if terminal is not None else None
    return _PytestScalingRunner(session.options, nodeid=request.node.nodeid, record=session.record, progress=progress)


# pytest --fixtures shows the fixture's docstring: the call it returns, with every argument (written once, there).
_attn_scaling.__doc__ = (
    "attn_scaling(fn, *, sizes, metrics, device, mode, dtype, ...) -> ScalingResult: measure fn at each N and fit "
    "log-log exponents of time, memory and FLOPs (every argument: pytest --fixtures -v).\n\n"
    + inspect.cleandoc(ScalingRunner.__call__.__doc__ or "")
)
attn_scaling = pytest.fixture(name="attn_scaling")(_attn_scaling)

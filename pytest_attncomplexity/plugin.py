"""pytest hooks: options and ini keys, the ``attn_scaling`` fixture, the terminal report and the JSON file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .config import PluginOptions
from .errors import DeviceUnavailable
from .report.json import results_document, write_json
from .report.text import format_report
from .results import ScalingResult
from .runner import ScalingRunner
from .verdict import InconclusiveExponent


@dataclass(frozen=True)
class _Option:
    flag: str
    help: str
    ini_type: Any = "string"
    action: str | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[_Option, ...] = (
    _Option(
        "--attn-scaling",
        "print the attention scaling report (exponents per test) at the end",
        "bool",
        action="store_true",
    ),
    _Option("--attn-scaling-json", "write every scaling result to this JSON file", metavar="PATH"),
    _Option(
        "--attn-sizes",
        "default sequence lengths: '256,512,1024,2048' or a geometric range "
        "'start:stop[:factor]' (default 256,512,1024,2048)",
        metavar="SIZES",
    ),
    _Option(
        "--attn-device",
        "default device: auto (CUDA when there is a GPU, else cpu), cpu, cuda or cuda:INDEX (default auto)",
        metavar="DEVICE",
    ),
    _Option(
        "--attn-threads",
        "torch intra-op threads while timing on the CPU (default 1: unbiased beside other load)",
        metavar="N",
    ),
    _Option(
        "--attn-inconclusive",
        "what a verdict that stays too noisy to decide (after measuring again) does to its test: fail, skip or "
        "xfail (default fail)",
        metavar="fail|skip|xfail",
    ),
    _Option(
        "--attn-max-time",
        "stop growing N once one call takes longer than this many seconds; larger N are reported as skipped",
        metavar="SECONDS",
    ),
    _Option(
        "--attn-max-memory",
        "skip an N whose peak memory, predicted from the sizes measured before it, exceeds this (e.g. 8GiB)",
        metavar="SIZE",
    ),
    _Option(
        "--attn-time-budget",
        "seconds of timed calls per sweep; more rounds, less spread (default 3)",
        metavar="SECONDS",
    ),
)

STATE_KEY = pytest.StashKey["AttnScalingSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("attncomplexity", "attention scaling (pytest-attncomplexity)")
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": option.help}
        if option.action:
            kwargs["action"] = option.action
        if option.metavar:
            kwargs["metavar"] = option.metavar
        group.addoption(option.flag, **kwargs)
        parser.addini(option.dest, f"{option.help} [same as {option.flag}]", type=option.ini_type)


def pytest_configure(config: pytest.Config) -> None:
    try:
        options = PluginOptions.from_pytest_config(config)
    except ValueError as error:
        raise pytest.UsageError(f"pytest-attncomplexity: {error}") from None
    session = AttnScalingSession(options)
    config.stash[STATE_KEY] = session
    config.pluginmanager.register(session, "attncomplexity-session")


@dataclass
class AttnScalingSession:
    """Collects every result the fixture produces and reports them at the end of the session."""

    options: PluginOptions
    results: list[ScalingResult] = field(default_factory=list)
    json_written: str | None = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.options.json_path:
            return
        from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info

        # The machine as pytest-benchmark describes it, so saved results compare with its own.
        machine_info = pytest_benchmark_generate_machine_info()  # type: ignore[no-untyped-call]
        document = results_document(self.results, machine_info)
        self.json_written = str(write_json(self.options.json_path, document))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.options.report:
            terminalreporter.write_sep("=", "attention scaling")
            for line in format_report(self.results):
                terminalreporter.write_line(line)
        if self.json_written:
            terminalreporter.write_line(f"attention scaling results written to {self.json_written}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """An inconclusive exponent fails the test (it is an AssertionError), or skips or xfails it as configured."""
    try:
        return (yield)
    except InconclusiveExponent as error:
        policy = item.config.stash[STATE_KEY].options.inconclusive
        if policy == "skip":
            pytest.skip(str(error))
        if policy == "xfail":
            pytest.xfail(str(error))
        raise


class _PytestScalingRunner(ScalingRunner):
    """A missing device is a skip with the reason, not a failure."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScalingResult:
        try:
            return super().__call__(*args, **kwargs)
        except DeviceUnavailable as error:
            pytest.skip(str(error))


@pytest.fixture
def attn_scaling(request: pytest.FixtureRequest) -> ScalingRunner:
    """Measure an attention callable at a geometric series of N and fit log-log exponents.

    ``attn_scaling(fn, sizes=[...], metrics=["time", "memory", "flops"], device="auto", mode="forward", ...)``
    calls ``fn(q, k, v)`` at each N and returns a ScalingResult: ``.fit(metric)``, ``.exponent(metric)``,
    ``.assert_exponent(metric, expected, tol=0.2)``.
    """
    session = request.config.stash[STATE_KEY]
    return _PytestScalingRunner(session.options, nodeid=request.node.nodeid, record=session.results.append)

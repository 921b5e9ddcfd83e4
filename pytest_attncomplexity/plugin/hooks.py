"""pytest's hooks: the options and ini keys, start-up (options read, report paths and the baseline checked, the
session state and the hooks for pytest-xdist and pytest-benchmark registered), the header, the marker checked before
a test and its verdicts after the body."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from ..core.claims import MARKER, MARKER_HELP, parse_claims
from ..core.options import OPTIONS, PluginOptions
from ..core.paths import blocking_file
from ..core.verdict import InconclusiveExponent
from ..errors import AttnScalingWarning
from ..report.plot import PlotUnavailable, require_matplotlib
from .baselines import BaselineStore, keyed_environment, open_baseline
from .machine import commit_info, machine_info
from .session import STATE_KEY, AttnScalingSession
from .verdicts import CLAIMS_KEY, check_after_body, record_properties


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
        run_environment=functools.partial(keyed_environment, options.device),
        commit=functools.partial(commit_info, config),
        gate=gate,
        baselines=BaselineStore(config, options) if (options.save or options.autosave) and not worker else None,
    )
    config.stash[STATE_KEY] = session
    config.pluginmanager.register(session, "attncomplexity-session")
    # Hooks for the plugins this one works with, registered only when they are there (as pytest-randomly does).
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist import XdistSupport

        config.pluginmanager.register(XdistSupport(session, config), "attncomplexity-xdist")
    if config.pluginmanager.hasplugin("benchmark"):
        from .benchmark.hooks import BenchmarkGroups

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
        record_properties(item, results)
        raise
    results = session.results_of(item.nodeid)
    try:
        check_after_body(item, session, results, undecided)
    finally:
        record_properties(item, results)
    return outcome

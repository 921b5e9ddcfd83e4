"""The plugin's session settings: one table of options (a flag, the ini key of the same name, how its text is read)
and the frozen ``PluginOptions`` they fill. No torch, no pytest: ``from_pytest_config`` reads any object with
pytest's ``getoption`` and ``getini``.

Every value a user types is read here, by its own reader, and refused with the flag or ini key that gave it; the
baseline names and the rules of ``--attn-scaling-compare-fail`` are read here too, at start-up, before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .config import (
    DEFAULT_DEVICE,
    DEFAULT_RAM_GUARD,
    DEFAULT_SIZES,
    DEFAULT_THREADS,
    DEFAULT_TIME_BUDGET,
    parse_ram_guard,
    positive_float,
    positive_int,
    validate_device,
)
from .rules import VALUE, Rule, parse_rules, rule_for
from .sizes import parse_sizes, validate_sizes
from .units import parse_bytes
from .verdict import DEFAULT_POLICY, validate_policy

DEFAULT_STORAGE = ".attn-scaling"  # where baselines are kept, relative to the rootdir
LATEST = "latest"  # what --attn-scaling-compare compares with when given no value
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def validate_name(name: str, source: str = "--attn-scaling-save") -> str:
    """A baseline name: letters, digits, dots, dashes and underscores (it becomes part of a file name)."""
    if not _NAME.match(name) or len(name) > 100:
        raise ValueError(
            f"{source}: a baseline name is up to 100 letters, digits, '.', '-' or '_' (not starting with one of the "
            f"last three), got {name!r}"
        )
    return name


class _PytestConfigLike(Protocol):
    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PluginOptions:
    """Session-wide settings from the command line, falling back to the ini file of the same name (see OPTIONS)."""

    report: bool = False
    json_path: str | None = None
    sizes: tuple[int, ...] = DEFAULT_SIZES
    device: str = DEFAULT_DEVICE
    threads: int = DEFAULT_THREADS
    time_budget: float = DEFAULT_TIME_BUDGET
    inconclusive: str = DEFAULT_POLICY
    max_time: float | None = None
    max_memory: int | None = None
    plot_dir: str | None = None
    html_path: str | None = None
    predict_n: int | None = None
    breakdown: bool = False  # every result's breakdown by operator in the reports, not only a missed metric's
    ram_guard: float | None = DEFAULT_RAM_GUARD
    timing_lock: str | None = None  # not an option: a pytest-xdist worker's, from the controller (plugin/xdist.py)
    save: str | None = None  # baseline name to save this run's results under
    autosave: bool = False  # save under a name made of the git commit and the time
    storage: str = DEFAULT_STORAGE
    compare: str | None = None  # "latest", a baseline name or a path; None: no comparison
    compare_fail: tuple[Rule, ...] = ()
    full_timing: bool = False  # time every sweep to its budget, even where its time claims are decided sooner

    @property
    def timed_to_the_budget(self) -> str | None:
        """Why every sweep is timed to its budget, even where the claims on its time exponent known before timing are
        decided sooner; None where sweeps stop once decided. A saved baseline keeps every sample for the runs
        compared with it later, and a time value is judged on the samples of both runs (a Mann-Whitney test that
        two or three samples cannot make significant)."""
        if self.full_timing:
            return "--attn-full-timing"
        if self.save or self.autosave:
            return "a baseline is saved"
        if self.compares and rule_for(self.compare_fail, VALUE, "time") is not None:
            return "time values are compared with a baseline"
        return None

    @property
    def compares(self) -> str | None:
        """What to compare with: a rule without --attn-scaling-compare compares with the latest baseline."""
        return self.compare or (LATEST if self.compare_fail else None)

    @property
    def writes_output(self) -> bool:
        """Whether any report was asked for (the header line and progress are shown only then or with -v)."""
        return bool(self.report or self.json_path or self.plot_dir or self.html_path)

    @classmethod
    def from_pytest_config(cls, config: _PytestConfigLike) -> PluginOptions:
        """Each option given on the command line or in the ini file, read by its own parser; the rest default."""
        given: dict[str, Any] = {}
        for option in OPTIONS:
            from_flag = config.getoption(option.dest)
            raw = from_flag if from_flag is not None else config.getini(option.dest)
            if option.read is None:  # an on/off flag
                given[option.field] = bool(raw)
            elif raw not in (None, ""):
                source = option.flag if from_flag is not None else f"ini key {option.dest}"
                given[option.field] = option.read(str(raw), source)
        return cls(**given)


Reader = Callable[[str, str], Any]  # (text, where it came from: the flag or the ini key) -> value, or ValueError


@dataclass(frozen=True)
class Option:
    """One session setting: a flag, the ini key of the same name, the PluginOptions field it sets (whose default is
    the option's), and how its text is read (None: an on/off flag)."""

    flag: str
    field: str
    help: str
    read: Reader | None
    metavar: str | None = None
    const: str | None = None  # the value of the flag given without one (``--attn-scaling-compare``)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def _text(text: str, source: str) -> str:
    return text


def _positive_int_text(text: str, source: str) -> int:
    return positive_int(source, _number_text(text, source, int, "an integer"))


def _positive_float_text(text: str, source: str) -> float:
    return positive_float(source, _number_text(text, source, float, "a number"))


def _number_text(text: str, source: str, convert: Callable[[str], Any], kind: str) -> Any:
    try:
        return convert(text.strip())
    except ValueError:
        raise ValueError(f"{source} must be {kind}, got {text!r}") from None


def _named(read: Callable[[str], Any]) -> Reader:
    """A reader whose errors say which flag or ini key the value came from."""

    def named(text: str, source: str) -> Any:
        try:
            return read(text)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    return named


OPTIONS: tuple[Option, ...] = (
    Option("--attn-scaling", "report", "print the attention scaling report (exponents per test) at the end", None),
    Option("--attn-scaling-json", "json_path", "write every scaling result to this JSON file", _text, "PATH"),
    Option(
        "--attn-scaling-plot",
        "plot_dir",
        "write a log-log figure per test (PNG and SVG) into this directory; needs matplotlib (the [plot] extra)",
        _text,
        "DIR",
    ),
    Option(
        "--attn-scaling-html",
        "html_path",
        "write one self-contained HTML report (verdicts, tables, plots) to this file",
        _text,
        "PATH",
    ),
    Option(
        "--attn-predict-n",
        "predict_n",
        "also report the time, memory and FLOPs each result's fit predicts at this N (terminal report and HTML)",
        _positive_int_text,
        "N",
    ),
    Option(
        "--attn-breakdown",
        "breakdown",
        "show every result's breakdown by operator (share at the largest N, exponent, line, shape) in the terminal "
        "report and the HTML page, not only for a missed claim or a regressed exponent",
        None,
    ),
    Option(
        "--attn-sizes",
        "sizes",
        "default sequence lengths: '256,512,1024,2048' or a geometric range 'start:stop[:factor]' "
        f"(default {','.join(map(str, DEFAULT_SIZES))})",
        _named(lambda text: validate_sizes(parse_sizes(text))),
        "SIZES",
    ),
    Option(
        "--attn-device",
        "device",
        "default device: auto (CUDA when there is a GPU, else cpu), cpu, cuda or cuda:INDEX "
        f"(default {DEFAULT_DEVICE})",
        _named(validate_device),
        "DEVICE",
    ),
    Option(
        "--attn-threads",
        "threads",
        f"torch intra-op threads while timing on the CPU (default {DEFAULT_THREADS}: unbiased beside other load)",
        _positive_int_text,
        "N",
    ),
    Option(
        "--attn-inconclusive",
        "inconclusive",
        "what a verdict that stays too noisy to decide (after measuring again) does to its test: fail, skip or "
        f"xfail (default {DEFAULT_POLICY})",
        lambda text, source: validate_policy(text, source),
        "fail|skip|xfail",
    ),
    Option(
        "--attn-max-time",
        "max_time",
        "stop growing N once one call takes longer than this many seconds; larger N are reported as skipped",
        _positive_float_text,
        "SECONDS",
    ),
    Option(
        "--attn-max-memory",
        "max_memory",
        "skip an N whose peak memory, predicted from the sizes measured before it, exceeds this (e.g. 8GiB)",
        _named(parse_bytes),
        "SIZE",
    ),
    Option(
        "--attn-ram-guard",
        "ram_guard",
        "skip an N whose predicted host memory exceeds this share of the memory available now (MemAvailable, or "
        "the cgroup's limit), and cap a CPU sweep's growth at it; a share such as 0.5, or off "
        f"(default {DEFAULT_RAM_GUARD:g})",
        lambda text, source: parse_ram_guard(text, source),
        "SHARE|off",
    ),
    Option(
        "--attn-scaling-save",
        "save",
        "save every result as a baseline named NAME under --attn-scaling-storage (NNNN_NAME.json)",
        lambda text, source: validate_name(text.strip(), source),
        "NAME",
    ),
    Option(
        "--attn-scaling-autosave",
        "autosave",
        "save every result as a baseline named after the git commit and the time",
        None,
    ),
    Option(
        "--attn-scaling-storage",
        "storage",
        "where baselines are kept, one folder per machine and device, relative to the rootdir "
        f"(default {DEFAULT_STORAGE})",
        _text,
        "DIR",
    ),
    Option(
        "--attn-scaling-compare",
        "compare",
        "compare every result with a saved baseline: this machine and device's latest (no value), a name, a number "
        "or a path",
        lambda text, source: text.strip(),
        "NAME|PATH",
        const=LATEST,
    ),
    Option(
        "--attn-scaling-compare-fail",
        "compare_fail",
        "fail a test whose result regressed against the baseline: exponent:0.3, memory:0.2, time-value:10%, ... "
        "(comma-separated; compares with the latest baseline unless --attn-scaling-compare names one)",
        lambda text, source: parse_rules(text, source),
        "EXPR[,EXPR...]",
    ),
    Option(
        "--attn-time-budget",
        "time_budget",
        f"seconds of timed calls per sweep; more rounds, less spread (default {DEFAULT_TIME_BUDGET:g}). A sweep whose "
        "time claims are known before timing (expect=, the marker's time=) stops as soon as they are decided",
        _positive_float_text,
        "SECONDS",
    ),
    Option(
        "--attn-full-timing",
        "full_timing",
        "time every sweep to its budget, even where the time claims known before timing are decided sooner (as "
        "when a baseline is saved, or time values are compared with one)",
        None,
    ),
)

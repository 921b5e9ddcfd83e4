"""The history of saved baselines: every run saved under a storage folder, per machine and device, and for each
result (test, label, occurrence) and metric the exponent, its 95% interval and the value at the largest N, run after
run, each run judged against the one before it by the rules of ``--attn-scaling-compare-fail``. No torch, no pytest.

A run is judged against the previous run that measured the same result, exactly as a pull request is gated against a
baseline (gate/compare.py): so the history names the run where an exponent rose, with the same confidence a gate
would have failed it with. A file that cannot be read as a baseline (truncated, foreign, another schema version) is
skipped and named, never the end of the history.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.comparison import Change, ExponentChange, StopChange, ValueChange
from ..core.fit import Fit, FitError
from ..core.result import ScalingResult
from ..core.rules import Rule, parse_rules
from .compare import compare_result
from .storage import Baseline, BaselineError, load_baseline, numbered, result_key, saved_baselines

# What the history judges with when no rules are given: an exponent rise past 0.3 that the intervals confirm, the
# gate's own example rule (docs/gating.md). Values drift with the machine; a value rule is the user's choice.
DEFAULT_RULES: tuple[Rule, ...] = parse_rules("exponent:0.3", "the history's default rules")

SeriesKey = tuple[str, str, int, str]  # (test, label, occurrence, metric)


@dataclass(frozen=True)
class SkippedFile:
    """A file in the storage that is not a readable baseline, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class HistoryEntry:
    """One saved run's numbers for one result and metric, and how they changed since the previous run that had it."""

    run: Baseline
    fit: Fit | None  # None: the run measured the metric, but too little to fit (``error`` says why)
    n: int | None  # the size ``value`` was measured at: the series' reference size, else this run's largest
    value: float | None
    changes: tuple[ExponentChange | ValueChange | StopChange, ...] = ()  # against the previous entry; () for the first
    error: str = ""

    def with_change(self, change: Change) -> tuple[ExponentChange | ValueChange | StopChange, ...]:
        return tuple(c for c in self.changes if c.change == change)


@dataclass(frozen=True)
class Series:
    """One result's metric over the saved runs of one machine and device, oldest first."""

    test: str
    label: str
    occurrence: int
    metric: str
    symbol: str  # how the sizes are named: N, or the axis swept
    reference_n: int | None  # the largest size every run of the series measured (None: they share none)
    entries: tuple[HistoryEntry, ...]

    @property
    def title(self) -> str:
        repeat = f" #{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.test} [{self.label}]{repeat} {self.metric}"


@dataclass(frozen=True)
class MachineHistory:
    """The saved runs of one storage key (machine and device), oldest first, and their series."""

    key: str
    runs: tuple[Baseline, ...]
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Flagged:
    """A change past a rule, in the run that made it: what the history's summary lists."""

    machine: str
    series: Series
    entry: HistoryEntry
    previous: Baseline
    change: ExponentChange | ValueChange | StopChange


@dataclass(frozen=True)
class History:
    storage: Path
    rules: tuple[Rule, ...]
    machines: tuple[MachineHistory, ...]
    skipped: tuple[SkippedFile, ...] = ()
    filtered: str = ""  # what the series were narrowed to ("" for every one), for the reports' header

    @property
    def runs(self) -> int:
        return sum(len(machine.runs) for machine in self.machines)

    def flagged(self, *changes: Change) -> list[Flagged]:
        """Each change past a rule (regressed, or the kinds given), in run order per machine."""
        wanted = changes or (Change.REGRESSED,)
        found = []
        for machine in self.machines:
            for series in machine.series:
                for previous, entry in zip(series.entries, series.entries[1:], strict=False):
                    found += [
                        Flagged(machine.key, series, entry, previous.run, c)
                        for c in entry.changes
                        if c.change in wanted
                    ]
        order = {run.path: index for machine in self.machines for index, run in enumerate(machine.runs)}
        return sorted(found, key=lambda f: (f.machine, order[f.entry.run.path]))


def read_history(
    storage: Path,
    rules: Sequence[Rule] = DEFAULT_RULES,
    *,
    machine: str = "",
    test: str = "",
    metric: str = "",
    last: int | None = None,
) -> History:
    """Every baseline under ``storage``, per key folder, as series. ``machine`` keeps the keys containing it, ``test``
    the results whose test or label contains it, ``metric`` one metric, ``last`` each machine's newest runs only.
    OSError only for a storage folder that cannot be listed; a file that cannot be read is skipped and named."""
    skipped: list[SkippedFile] = []
    machines = []
    for folder in sorted(p for p in storage.iterdir() if p.is_dir()) if storage.is_dir() else []:
        if machine and machine not in folder.name:
            continue
        runs = []
        try:
            paths = saved_baselines(folder)
        except OSError as error:  # one machine's folder that cannot be listed: the others still count
            skipped.append(SkippedFile(folder, f"cannot be read: {error.strerror or error}"))
            continue
        for path in paths if last is None else paths[-last:]:  # only the files shown are read
            try:
                runs.append(load_baseline(path))
            except BaselineError as error:
                skipped.append(SkippedFile(path, str(error)))
        if runs:
            machines.append(MachineHistory(folder.name, tuple(runs), _series(runs, tuple(rules), test, metric)))
    skipped += _misnamed(storage)
    described = (
        [f"{name} containing {value!r}" for name, value in (("machines", machine), ("tests", test)) if value]
        + ([f"the {metric} metric"] if metric else [])
        + ([f"the last {last} run(s) of each"] if last else [])
    )
    return History(storage, tuple(rules), tuple(machines), tuple(skipped), ", ".join(described))


def _misnamed(storage: Path) -> list[SkippedFile]:
    """JSON files in the storage that are not where or as a saved baseline is (``KEY/NNNN_NAME.json``): named, so
    that a file copied in by hand is not silently missing from the history."""
    found: list[SkippedFile] = []
    if not storage.is_dir():
        return found
    for root, _, files in os.walk(storage):
        folder = Path(root)
        saved = set(saved_baselines(folder)) if folder.parent == storage else set()
        for name in files:
            path = folder / name
            if name.endswith(".json") and path not in saved:
                found.append(SkippedFile(path, "not a saved baseline of this storage (those are KEY/NNNN_NAME.json)"))
    return sorted(found, key=lambda skipped: skipped.path)


def _series(
    runs: Sequence[Baseline], rules: tuple[Rule, ...], wanted_test: str, wanted_metric: str
) -> tuple[Series, ...]:
    """One series per (test, label, occurrence, metric) that any run measured, in the order they first appear."""
    found: dict[SeriesKey, list[tuple[Baseline, ScalingResult]]] = {}
    for run in runs:
        for occurrence, result in numbered(run.results):
            test, label, _ = result_key(result, occurrence)
            if wanted_test and wanted_test not in test and wanted_test not in label:
                continue
            for metric in result.metrics:
                if wanted_metric and metric != wanted_metric:
                    continue
                found.setdefault((test, label, occurrence, metric), []).append((run, result))
    return tuple(_one_series(key, measured, rules) for key, measured in found.items())


def _one_series(key: SeriesKey, measured: Sequence[tuple[Baseline, ScalingResult]], rules: tuple[Rule, ...]) -> Series:
    test, label, occurrence, metric = key
    sized = [set(result.sizes(metric)) for _, result in measured]
    shared = set.intersection(*sized) if sized else set()
    reference = max(shared) if shared else None
    entries = []
    previous: tuple[Baseline, ScalingResult] | None = None
    for run, result in measured:
        changes: tuple[ExponentChange | ValueChange | StopChange, ...] = ()
        if previous is not None:
            comparison = compare_result(result, previous[1], rules, previous[0].name)
            changes = tuple(c for c in comparison.changes if _series_metric(c, result) == metric)
        entries.append(_entry(run, result, metric, reference, changes))
        previous = (run, result)
    return Series(test, label, occurrence, metric, measured[0][1].symbol, reference, tuple(entries))


def _series_metric(change: ExponentChange | ValueChange | StopChange, result: ScalingResult) -> str:
    """The series a change is shown in: its metric's; a sweep that stopped short, in the memory series when it ran
    out of memory and the result measured memory, else in the result's first metric's."""
    if isinstance(change, StopChange) and change.metric not in result.metrics:
        return result.metrics[0]
    return change.metric


def _entry(
    run: Baseline,
    result: ScalingResult,
    metric: str,
    reference: int | None,
    changes: tuple[ExponentChange | ValueChange | StopChange, ...],
) -> HistoryEntry:
    sizes = result.sizes(metric)
    n = reference if reference is not None else (sizes[-1] if sizes else None)
    point = result.point_at(metric, n) if n is not None else None
    try:
        fit: Fit | None = result.fit(metric)
        error = ""
    except FitError as problem:
        fit, error = None, str(problem)
    return HistoryEntry(run, fit, n, None if point is None else point.value, changes, error)

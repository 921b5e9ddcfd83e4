"""The JSON of one run read back, and the runs of a suite split across CI jobs or machines (shards) merged into one.
No torch, no pytest.

A run's JSON is an ``--attn-scaling-json`` report or a saved baseline: both hold every result with its outcome, where
it was measured (the storage key among it) and the commit. Shards merge only when they are one run cut in parts: the
same schema, the same machine and device (storage key), the same commit, and no test measured in two of them (pytest
runs a test wholly in one shard, so a test found twice means two runs, or one file given twice). Anything else is a
ShardError naming the files, never a report that mixes two runs.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.document import FORMAT_VERSION, REPORT_SCHEMA
from ..core.nodeids import plain_nodeid
from ..core.result import ScalingResult
from .storage import SCHEMA, SCHEMA_VERSION, commit_phrase, read_json

# pytest's exit statuses of a session that did not run its tests through: interrupted, internal error, usage error.
UNFINISHED_STATUSES = (2, 3, 4)
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # what storage_key makes: a folder name, nothing above it


class ShardError(ValueError):
    """A file that is not the JSON of a run, or shards that are not parts of one run; the message names the files."""


@dataclass(frozen=True)
class SavedRun:
    """The JSON of one run: its results and their tests' outcomes, and where and at which commit it measured."""

    path: Path
    kind: str  # "report" (--attn-scaling-json) or "baseline"
    results: tuple[ScalingResult, ...]
    outcomes: Mapping[str, str]
    environment: Mapping[str, Any]
    commit: Mapping[str, Any]
    machine_info: Mapping[str, Any] | None = None
    run: Mapping[str, Any] = field(default_factory=dict)  # a report's "run": complete, exitstatus, started, ...
    comparison: Mapping[str, Any] | None = None  # the baseline a report's run was compared with

    @property
    def ended(self) -> bool:
        """Written when its session ended (a report left by a killed run says it was not); a baseline always was."""
        return self.kind == "baseline" or bool(self.run.get("complete"))

    @property
    def complete(self) -> bool:
        """Ended, and not interrupted (Ctrl-C, a CI timeout's SIGINT: exit status 2, written at the end all the
        same) nor ended by an internal or usage error."""
        return self.ended and self.run.get("exitstatus") not in UNFINISHED_STATUSES

    @property
    def tests(self) -> set[str]:
        return {plain_nodeid(result.nodeid) for result in self.results}


def load_run(path: Path) -> SavedRun:
    """Read an ``--attn-scaling-json`` report or a saved baseline; ShardError naming the file for anything else."""
    document = read_json(path, ShardError, repr(str(path)))
    schema = document.get("schema") if isinstance(document, dict) else None
    if schema not in (REPORT_SCHEMA, SCHEMA):
        hint = (
            ": it looks like an --attn-scaling-json report of an earlier version, which did not record where it "
            "was measured; run that shard again"
            if isinstance(document, dict) and "results" in document and "run" in document
            else ""
        )
        raise ShardError(
            f"{str(path)!r} is neither an --attn-scaling-json report nor a saved baseline of pytest-attncomplexity "
            f'(no "schema": "{REPORT_SCHEMA}" or "{SCHEMA}"){hint}'
        )
    expected = FORMAT_VERSION if schema == REPORT_SCHEMA else SCHEMA_VERSION
    if document.get("version") != expected:
        raise ShardError(
            f"{str(path)!r} has {schema} version {document.get('version')!r}; this version of pytest-attncomplexity "
            f"reads version {expected}"
        )
    environment = document.get("environment")
    if not isinstance(environment, dict) or "key" not in environment:
        raise ShardError(f"{str(path)!r} does not say where it was measured (no environment with a storage key)")
    if not isinstance(environment["key"], str) or not _KEY.match(environment["key"]):
        raise ShardError(f"{str(path)!r} has a storage key that is not a folder name: {environment['key']!r}")
    try:
        entries = list(document["results"])
        results = tuple(ScalingResult.from_json(entry) for entry in entries)
        outcomes = {str(e["nodeid"]): str(e["outcome"]) for e in entries if e.get("outcome") is not None}
        run = SavedRun(
            path=path,
            kind="report" if schema == REPORT_SCHEMA else "baseline",
            results=results,
            outcomes=outcomes,
            environment=dict(environment),
            commit=_mapping(document.get("commit"), "commit"),
            machine_info=_mapping(document.get("machine_info") or environment.get("machine"), "machine_info") or None,
            run=_mapping(document.get("run"), "run"),
            comparison=_mapping(document.get("comparison"), "comparison") or None,
        )
        _check_numbers(run)
        return run
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ShardError(f"{str(path)!r} is damaged: {type(error).__name__}: {error}") from None


def _mapping(value: Any, name: str) -> dict[str, Any]:
    """An object of the document (null: empty); TypeError for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} is {type(value).__name__}, not an object")
    return dict(value)


def _check_numbers(run: SavedRun) -> None:
    """The numbers a merge adds up or compares are numbers (a hand-edited file is refused here, not half-merged)."""
    for name in ("exitstatus", "tests_finished"):
        value = run.run.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"run.{name} is {value!r}, not a whole number")
    if run.comparison is not None:
        counts = _mapping(run.comparison.get("counts"), "comparison.counts")
        if not all(isinstance(count, int) and not isinstance(count, bool) for count in counts.values()):
            raise TypeError(f"comparison.counts holds something other than whole numbers: {counts!r}")
        missing = run.comparison.get("missing") or []
        if not isinstance(missing, list) or not all(isinstance(entry, str) for entry in missing):
            raise TypeError(f"comparison.missing is not a list of names: {missing!r}")


@dataclass(frozen=True)
class MergedRun:
    """The shards as one run: every result in the shards' order, and what the shards agree on."""

    shards: tuple[SavedRun, ...]
    results: tuple[ScalingResult, ...]
    outcomes: Mapping[str, str]
    environment: Mapping[str, Any]
    commit: Mapping[str, Any]
    machine_info: Mapping[str, Any] | None
    comparison: Mapping[str, Any] | None  # the baseline the shards were compared with (the same one), or None
    notes: tuple[str, ...] = ()  # what differs between the shards beyond the storage key, what cannot be checked

    @property
    def complete(self) -> bool:
        return all(shard.complete for shard in self.shards)

    def run_document(self) -> dict[str, Any]:
        """The merged report's ``run``: complete when every shard's file was written at its session's end, the worst
        exit status, the sum of the tests finished, and the shards."""
        statuses = [int(s.run["exitstatus"]) for s in self.shards if s.run.get("exitstatus") is not None]
        started = sorted(str(s.run["started"]) for s in self.shards if s.run.get("started"))
        return {
            # As a session's file says it: written at the end (an interrupted one too, its exit status says so).
            "complete": all(shard.ended for shard in self.shards),
            "exitstatus": _merged_status(statuses),
            "started": started[0] if started else None,
            "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "tests_finished": sum(int(s.run.get("tests_finished") or 0) for s in self.shards),
            "merged_from": [str(s.path) for s in self.shards],
        }


def merge_runs(shards: Sequence[SavedRun]) -> MergedRun:
    """The shards as one run; ShardError when they are not parts of one (see the module's docstring)."""
    if not shards:
        raise ShardError("no shard to merge")
    first = shards[0]
    for shard in shards[1:]:
        if shard.kind != first.kind:
            raise ShardError(
                f"{str(first.path)!r} is a {first.kind} and {str(shard.path)!r} a {shard.kind}: merge shards of one "
                "kind (the --attn-scaling-json files of the shards, or their saved baselines)"
            )
        if shard.environment["key"] != first.environment["key"]:
            raise ShardError(
                f"the shards were measured on different machines or devices: {first.environment['key']} in "
                f"{str(first.path)!r}, {shard.environment['key']} in {str(shard.path)!r}; merge the shards of each "
                "one apart"
            )
        if _commit_id(shard.commit) != _commit_id(first.commit):
            raise ShardError(
                f"the shards measured different commits: {_commit_id(first.commit) or 'none'} in "
                f"{str(first.path)!r}, {_commit_id(shard.commit) or 'none'} in {str(shard.path)!r}"
            )
    _refuse_repeats(shards)
    outcomes: dict[str, str] = {}
    for shard in shards:
        outcomes.update(shard.outcomes)
    return MergedRun(
        shards=tuple(shards),
        results=tuple(result for shard in shards for result in shard.results),
        outcomes=outcomes,
        environment=dict(first.environment),
        commit=_merged_commit(shards),
        machine_info=first.machine_info,
        comparison=_merged_comparison(shards),
        notes=tuple(_notes(shards)),
    )


def _merged_status(statuses: Sequence[int]) -> int | None:
    """The run's exit status from its shards': one that did not finish wins, then a failure; "no tests collected"
    (5) only when no shard ran a test."""
    if not statuses:
        return None
    unfinished = [status for status in statuses if status in UNFINISHED_STATUSES]
    if unfinished:
        return max(unfinished)
    ran = [status for status in statuses if status != 5]
    return max(ran) if ran else 5


def _commit_id(commit: Mapping[str, Any]) -> str:
    return str(commit.get("id") or "")


def _merged_commit(shards: Sequence[SavedRun]) -> dict[str, Any]:
    commit = dict(shards[0].commit)
    if any(shard.commit.get("dirty") for shard in shards):
        commit["dirty"] = True  # one shard measured uncommitted changes: so did the run
    return commit


def _refuse_repeats(shards: Sequence[SavedRun]) -> None:
    seen: dict[str, Path] = {}
    for shard in shards:
        for test in sorted(shard.tests):
            if test in seen:
                where = (
                    f"{str(shard.path)!r} twice"
                    if seen[test] == shard.path
                    else f"{str(seen[test])!r} and {str(shard.path)!r}"
                )
                raise ShardError(
                    f"{test} was measured in {where}: shards of one run hold each test once (a file given twice, or "
                    "the shards of two runs?)"
                )
        for test in shard.tests:
            seen[test] = shard.path


def _merged_comparison(shards: Sequence[SavedRun]) -> dict[str, Any] | None:
    """The baseline the shards were compared with: the same one in every shard, or none in any. Its counts are the
    sum of the shards', and a baseline entry is "not run" only when no shard ran it."""
    compared = [shard for shard in shards if shard.comparison is not None]
    if not compared:
        return None
    names = {_baseline_identity(s.comparison or {}) for s in compared}
    if len(compared) != len(shards) or len(names) > 1:
        described = ", ".join(f"{(s.comparison or {}).get('baseline') or 'none'} in {s.path}" for s in shards)
        raise ShardError(f"the shards were compared with different baselines ({described}): they are not one run")
    header = dict(compared[0].comparison or {})
    counts: dict[str, int] = {}
    for shard in compared:
        for change, count in dict((shard.comparison or {}).get("counts") or {}).items():
            counts[change] = counts.get(change, 0) + int(count)
    missing = [set((s.comparison or {}).get("missing") or ()) for s in compared]
    header["counts"] = counts
    header["missing"] = sorted(set.intersection(*missing))
    return header


def _baseline_identity(header: Mapping[str, Any]) -> tuple[str, str, str]:
    """Which baseline, judged by which rules: two caches can each hold a different 0001_main."""
    return (str(header.get("baseline")), str(header.get("saved")), ",".join(map(str, header.get("rules") or ())))


def _notes(shards: Sequence[SavedRun]) -> list[str]:
    """What is told, not refused: a CPU model, torch or CUDA version that differs between shards beyond the storage
    key (hosted runners draw different CPUs; the key is what baselines are kept apart by), and a commit that is not
    known (outside a git checkout two runs cannot be told apart by it)."""
    found = []
    first = shards[0]
    if len(shards) > 1 and _commit_id(first.commit) in ("", "unversioned", "unknown"):
        found.append("the commit is not known (not a git checkout): the shards cannot be checked to be one run")
    for name in ("device_name", "cpu", "torch", "cuda"):
        for shard in shards[1:]:
            before, now = first.environment.get(name), shard.environment.get(name)
            if before != now:
                found.append(f"{name} differs: {before or 'none'} in {first.path}, {now or 'none'} in {shard.path}")
    return found


def describe_run(run: SavedRun) -> str:
    return f"{run.path} ({run.kind}, {len(run.results)} result(s){commit_phrase(run.commit)})"

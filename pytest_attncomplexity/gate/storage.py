"""Saved baselines: every result of a run, stored as JSON under ``<storage>/<key>/NNNN_<name>.json``, where the key
names the machine and the device (so a run compares with runs that measured on the same kind of thing). No torch,
no pytest.

A save never overwrites and is never seen half-written: the file is written and synced under a temporary name, its
number is claimed by creating a ``.NNNN.taken`` marker exclusively (so two runs saving at once, under any names,
get different numbers), and the file is renamed to ``NNNN_<name>.json``. A run killed while saving leaves at most a
hidden temporary file and an unused number, never a half-written baseline.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.document import results_document
from ..core.nodeids import plain_nodeid
from ..core.options import LATEST
from ..core.result import ScalingResult

SCHEMA = "pytest-attncomplexity-baseline"
SCHEMA_VERSION = 1
_FILE = re.compile(r"^(?P<number>\d{4,})_(?P<name>.+)\.json$")
_TAKEN = re.compile(r"^\.(?P<number>\d{4,})\.taken$")


class BaselineError(ValueError):
    """A baseline that cannot be found, read or used; the message names the file."""


def storage_key(device: str, device_name: str) -> str:
    """``Linux-CPython-3.12-64bit-cpu`` or ``Linux-CPython-3.12-64bit-cuda-NVIDIA_H200``: pytest-benchmark's
    machine id, the device type and, for a GPU, its name. A CPU's model is left out of the key: hosted CI runners
    draw different CPU models run to run, and memory and FLOP counts do not depend on it (a comparison warns when
    it differs)."""
    import platform

    python = ".".join(platform.python_version_tuple()[:2])
    machine_id = f"{platform.system()}-{platform.python_implementation()}-{python}-{platform.architecture()[0]}"
    kind = device.split(":")[0]
    parts = [machine_id, kind]
    if kind == "cuda":
        parts.append(re.sub(r"[^A-Za-z0-9.]+", "_", device_name).strip("_") or "gpu")
    return "-".join(parts)


def autosave_name(commit: Mapping[str, Any], when: datetime.datetime) -> str:
    """``<commit>_<date>_<time>``, with ``_dirty`` for uncommitted changes (pytest-benchmark's autosave, shorter)."""
    commit_id = re.sub(r"[^A-Za-z0-9]", "", str(commit.get("id") or ""))[:12] or "unversioned"
    dirty = "_dirty" if commit.get("dirty") else ""
    return f"{commit_id}_{when.strftime('%Y%m%d_%H%M%S')}{dirty}"


@dataclass(frozen=True)
class Baseline:
    """A saved run: its results and what they were measured on."""

    path: Path
    name: str  # the file's stem, NNNN_<name>
    saved: str
    commit: Mapping[str, Any]
    environment: Mapping[str, Any]  # key, device, device_name, torch, cuda, machine (pytest-benchmark's)
    results: tuple[ScalingResult, ...] = field(repr=False)

    def describe(self) -> str:
        return f"{self.name} (saved {self.saved}{commit_phrase(self.commit)})"

    @functools.cached_property
    def entries(self) -> dict[tuple[str, str, int], ScalingResult]:
        """Each result under (test, label, occurrence): the key a result of this run is matched with."""
        return {result_key(result, index): result for index, result in numbered(self.results)}


def commit_phrase(commit: Mapping[str, Any]) -> str:
    """``, commit 1a2b3c4d5e`` (with uncommitted changes), or nothing outside a repository."""
    commit_id = str(commit.get("id") or "")
    if commit_id in ("", "unversioned", "unknown"):
        return ""
    dirty = " with uncommitted changes" if commit.get("dirty") else ""
    return f", commit {commit_id[:10]}{dirty}"


def result_key(result: ScalingResult, occurrence: int) -> tuple[str, str, int]:
    return (plain_nodeid(result.nodeid), result.label, occurrence)


def numbered(results: Sequence[ScalingResult]) -> list[tuple[int, ScalingResult]]:
    """(occurrence, result): the same function swept twice in one test is label, then label again (1, 2, ...)."""
    seen: dict[tuple[str, str], int] = {}
    numbered = []
    for result in results:
        key = (plain_nodeid(result.nodeid), result.label)
        seen[key] = seen.get(key, 0) + 1
        numbered.append((seen[key], result))
    return numbered


def baseline_document(
    results: Sequence[ScalingResult],
    outcomes: Mapping[str, str],
    environment: Mapping[str, Any],
    commit: Mapping[str, Any],
) -> dict[str, Any]:
    entries = results_document(results, outcomes=outcomes)["results"]
    for entry in entries:
        entry["comparison"] = None  # what this run was compared with is not part of what it measured
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "saved": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": dict(commit),
        "environment": dict(environment),
        "results": entries,
    }


def save_baseline(storage: Path, key: str, name: str, document: Mapping[str, Any]) -> Path:
    """Write ``document`` as the next ``NNNN_<name>.json`` in ``storage/key``, atomically, never overwriting."""
    folder = storage / key
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"  # this save's own
    try:
        with open(temporary, "x", encoding="utf-8") as out:
            json.dump(document, out, indent=1, default=str)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())  # on disk before it gets its name: a crash cannot leave an empty baseline
        target = folder / f"{_reserve_number(folder):04d}_{name}.json"
        os.replace(temporary, target)  # the number is this save's alone: nothing is replaced
        return target
    finally:
        temporary.unlink(missing_ok=True)


def _reserve_number(folder: Path) -> int:
    """The next free number, claimed by creating ``.NNNN.taken`` exclusively: two runs saving at once (under any
    names) never get the same one. The marker stays, so a number is never handed out twice."""
    number = _next_number(folder)
    while True:
        try:
            os.close(os.open(folder / f".{number:04d}.taken", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            number += 1
            continue
        return number


def _next_number(folder: Path) -> int:
    names = os.listdir(folder)
    numbers = [int(m["number"]) for m in map(_FILE.match, names) if m]
    numbers += [int(m["number"]) for m in map(_TAKEN.match, names) if m]
    return max(numbers, default=0) + 1


def saved_baselines(folder: Path) -> list[Path]:
    """The baselines in one key's folder, oldest first (by number)."""
    if not folder.is_dir():
        return []
    found = [(int(m["number"]), folder / m.string) for m in map(_FILE.match, os.listdir(folder)) if m]
    return [path for _, path in sorted(found)]


def find_baseline(storage: Path, key: str, wanted: str) -> Path:
    """The file ``wanted`` names: ``latest`` (this key's newest), a path to a file, ``NNNN``, ``NNNN_name`` or
    ``name`` (its newest save), looked up in this key's folder first, then in every other key's."""
    if wanted == LATEST:
        saved = saved_baselines(storage / key)
        if not saved:
            raise BaselineError(
                f"no baseline saved for this machine and device ({key}) in {str(storage)!r} to compare with; save "
                "one first with --attn-scaling-save=NAME or --attn-scaling-autosave, or name one"
            )
        return saved[-1]
    given = Path(wanted)
    if given.is_dir() or given.suffix == ".py" or "::" in wanted:
        raise BaselineError(
            f"--attn-scaling-compare took {wanted!r}, a test path, as the baseline to compare with: write "
            "--attn-scaling-compare=NAME, or give the flag after the test paths"
        )
    is_path = given.suffix == ".json" or os.sep in wanted or "/" in wanted
    if is_path and given.is_file():
        return given
    if os.sep in wanted or "/" in wanted:
        raise BaselineError(f"baseline file {wanted!r} does not exist")
    wanted = wanted.removesuffix(".json")  # 0003_main.json: a file name, looked up in the storage
    folders = [storage / key, *sorted(p for p in storage.glob("*") if p.is_dir() and p.name != key)]
    for folder in folders:
        matches = [path for path in saved_baselines(folder) if _names(path, wanted)]
        if matches:
            return matches[-1]
    known = sorted({path.stem for folder in folders for path in saved_baselines(folder)})
    shown = ", ".join(known[-8:]) or "none"
    raise BaselineError(f"no baseline named {wanted!r} in {str(storage)!r} (saved there: {shown})")


def _names(path: Path, wanted: str) -> bool:
    match = _FILE.match(path.name)
    assert match is not None
    if wanted.isdigit() and int(wanted) == int(match["number"]):
        return True
    return wanted in (path.stem, match["name"])


def read_json(path: Path, error_type: type[ValueError], described: str, advice: str = "") -> Any:
    """The JSON in ``path``; ``error_type`` naming it as ``described`` when it cannot be read or is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise error_type(f"cannot read {described}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise error_type(f"{described} is not valid JSON ({error}): a truncated or corrupt file{advice}") from None


def load_baseline(path: Path) -> Baseline:
    """Read and check one baseline; BaselineError naming the file for anything that is not one."""
    document = read_json(path, BaselineError, f"baseline {str(path)!r}", "; delete it or name another baseline")
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise BaselineError(f'{str(path)!r} is not a pytest-attncomplexity baseline (no "schema": "{SCHEMA}")')
    if document.get("version") != SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {str(path)!r} has schema version {document.get('version')!r}; this version of "
            f"pytest-attncomplexity reads version {SCHEMA_VERSION}: save a new baseline"
        )
    try:
        results = tuple(ScalingResult.from_json(entry) for entry in document["results"])
        return Baseline(
            path=path,
            name=path.stem,
            saved=str(document["saved"]),
            commit=dict(document.get("commit") or {}),
            environment=dict(document["environment"]),
            results=results,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BaselineError(f"baseline {str(path)!r} is damaged: {type(error).__name__}: {error}") from None


def differences(baseline: Baseline, environment: Mapping[str, Any]) -> list[str]:
    """What differs between where the baseline was measured and where this run measures: ``device name: A, now
    B``, one line each, for the things that change measurements."""
    fields = (
        ("key", "machine and device"),
        ("device_name", "device"),
        ("torch", "torch"),
        ("cuda", "CUDA"),
        ("cpu", "CPU"),
    )
    found = []
    for name, label in fields:
        before, now = baseline.environment.get(name), environment.get(name)
        if before != now:
            found.append(f"{label}: {before or 'none'} in the baseline, {now or 'none'} now")
    return found

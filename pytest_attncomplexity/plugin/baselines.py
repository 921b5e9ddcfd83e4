"""A session's baselines: the one it compares with, opened at start-up (a missing or damaged one is a usage error
before anything runs), and the one it saves at the end. torch is imported only when either is asked for."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

from ..core.comparison import Change
from ..core.options import PluginOptions
from ..core.paths import blocking_file
from ..gate.gate import BaselineGate, count_changes
from ..gate.storage import (
    autosave_name,
    baseline_document,
    differences,
    find_baseline,
    load_baseline,
    save_baseline,
    storage_key,
)
from ..report.files import ReportFiles, SessionState
from .machine import commit_info

# pytest-xdist hands workers the controller's choice under this key of ``workerinput``.
BASELINE_PATH_KEY = "attn_scaling_baseline"
_INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED


def storage_path(config: Any, options: PluginOptions) -> Path:
    """--attn-scaling-storage, relative to the rootdir (so a run started from a subfolder finds the same one)."""
    return Path(config.rootpath) / options.storage


@functools.lru_cache(maxsize=4)
def keyed_environment(device_option: str) -> dict[str, str]:
    """Where this run measures, with its storage key (imports torch)."""
    from ..measure.device import run_environment as describe

    environment = describe(device_option)
    environment["key"] = storage_key(environment["device"], environment["device_name"])
    return environment


def open_baseline(config: Any, options: PluginOptions) -> BaselineGate | None:
    """The baseline this run compares with, loaded and checked; None when no comparison is asked for.
    BaselineError (a ValueError) naming the file or the name when it cannot be used."""
    wanted = options.compares
    if options.save or options.autosave or wanted is not None:
        _check_storage(storage_path(config, options))
    if wanted is None:
        return None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and BASELINE_PATH_KEY in workerinput:
        # A pytest-xdist worker judges with the controller's choice, which has warned of differences already;
        # torch is not asked about the device here, as that would start CUDA before the worker picks its GPU.
        return BaselineGate(load_baseline(Path(workerinput[BASELINE_PATH_KEY])), options.compare_fail)
    environment = keyed_environment(options.device)
    baseline = load_baseline(find_baseline(storage_path(config, options), environment["key"], wanted))
    return BaselineGate(baseline, options.compare_fail, differences(baseline, environment))


def _check_storage(storage: Path) -> None:
    """A storage path that cannot hold folders is found at start-up, not when the run ends and saves."""
    blocking = blocking_file(storage)
    if blocking is not None:
        raise ValueError(f"--attn-scaling-storage={str(storage)!r} cannot be used: {str(blocking)!r} is a file")


class BaselineStore:
    """Saves every result of the run as a baseline when the session ends (--attn-scaling-save / -autosave)."""

    def __init__(self, config: Any, options: PluginOptions) -> None:
        self.config = config
        self.options = options

    def save(self, state: SessionState, exitstatus: int, files: ReportFiles) -> None:
        """Save, and say so in the terminal; a run that was interrupted or measured nothing is not saved (a
        half-run must not become the reference), and a save that fails fails the run."""
        if exitstatus == _INTERRUPTED:
            files.notices.append("no baseline saved: the run was interrupted")
            return
        if not state.results:
            files.notices.append("no baseline saved: no test used the attn_scaling fixture")
            return
        regressed = count_changes(state.results).get(Change.REGRESSED, 0)
        if regressed:  # a run that regressed must not become the reference the next run passes against
            files.notices.append(f"no baseline saved: {regressed} change(s) regressed against the baseline compared")
            return
        try:
            environment: dict[str, Any] = dict(keyed_environment(self.options.device))
            environment["machine"] = files.machine()
            commit = commit_info(self.config)
            name = self.options.save or autosave_name(commit, datetime.datetime.now())
            document = baseline_document(state.results, state.outcomes, environment, commit)
            path = save_baseline(storage_path(self.config, self.options), environment["key"], name, document)
        except Exception as error:  # reported, and the run fails: a gate must not lose its reference silently
            files.problems.append(f"could not save the baseline: {type(error).__name__}: {error}")
            return
        files.written.append(f"baseline saved to {path}")

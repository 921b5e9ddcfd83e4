"""pytest-xdist: every worker's results reach the controller, which writes every report; each worker measures on
its own GPU; CPU timing takes turns across the workers of a run.

- Results travel per test on its test report (an attribute pytest serializes and pytest-xdist rebuilds on the
  controller), so those of every finished test survive a worker that crashes later. A test's results go with its
  "call" report, once the marker's verdicts and everything else after the body are on them; results recorded in
  setup or teardown that no report carried yet go with the next one (the teardown's).
- The controller turns them back into results (``ScalingResult.from_json``) and records them before its own
  handling of that report: outcomes, figures and the HTML page then follow as in a run without workers.
- GPUs: xdist_gpu.py. Timing turns: measure/timing_lock.py, on a lock file in a directory the controller makes
  and hands to each worker (``node.workerinput``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pytest

from ..core.result import ScalingResult
from .session import AttnScalingSession
from .xdist_gpu import choose_gpu, cuda_driver_loaded, describe_plan, environment_visible, pin

__all__ = ["RESULTS_ATTRIBUTE", "TIMING_LOCK_SWITCH", "XdistSupport"]

RESULTS_ATTRIBUTE = "attn_scaling_results"  # on a worker's TestReport: [ScalingResult.to_json(), ...]
TIMING_LOCK_INPUT = "attncomplexity_timing_lock"  # in node.workerinput: the lock file's path
# A benchmarking knob (benchmarks/xdist_spread.py): "off" lets the workers time at the same time.
TIMING_LOCK_SWITCH = "ATTNCOMPLEXITY_TIMING_LOCK"


class XdistSupport:
    """Registered by hooks.py's pytest_configure where pytest-xdist is installed, in the controller and in each
    worker (and in a run without workers, where it does nothing)."""

    def __init__(self, session: AttnScalingSession, config: Any) -> None:
        self.session = session
        self.config = config
        self.worker = hasattr(config, "workerinput")
        self._sent = 0  # the worker's results before this index went out on a report
        self._lock_dir: str | None = None  # the controller's, made when the first worker is configured
        self._workers = 0
        if self.worker:
            self._configure_worker(config.workerinput)

    # -- worker ---------------------------------------------------------------------------------------------------

    def _configure_worker(self, workerinput: dict[str, Any]) -> None:
        """Before any test runs (pytest_configure): the worker's GPU, and the timing lock, on the session's options
        (which the fixture reads at each call)."""
        options = self.session.options
        changes: dict[str, Any] = {}
        lock = workerinput.get(TIMING_LOCK_INPUT)
        if isinstance(lock, str):
            changes["timing_lock"] = lock
        worker_id = os.environ.get("PYTEST_XDIST_WORKER") or str(workerinput.get("workerid", ""))
        choice = choose_gpu(worker_id, options.device, environment_visible(os.environ))
        pinning = pin(choice, cuda_initialized=cuda_driver_loaded())
        if pinning is not None and pinning.environment is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = pinning.environment
        if pinning is not None and pinning.device is not None:
            changes["device"] = pinning.device
        if changes:
            self.session.options = replace(options, **changes)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if self.worker and call.when != "setup":  # what setup recorded may still get verdicts in the call
            self._attach(report)
        return report

    def _attach(self, report: pytest.TestReport) -> None:
        unsent = self.session.results[self._sent :]
        self._sent = len(self.session.results)
        if unsent:
            setattr(report, RESULTS_ATTRIBUTE, [_transportable(result) for result in unsent])

    # -- controller -----------------------------------------------------------------------------------------------

    def pytest_configure_node(self, node: Any) -> None:
        self._workers = max(self._workers, int(node.workerinput.get("workercount", 0)))
        lock = self._timing_lock()
        if lock is not None:
            node.workerinput[TIMING_LOCK_INPUT] = lock

    def _timing_lock(self) -> str | None:
        if not _timing_lock_on():
            return None
        if self._lock_dir is None:
            self._lock_dir = tempfile.mkdtemp(prefix="attncomplexity-")
        # Workers on another host (--tx ssh=...) make the same path there: they take turns with their neighbours.
        return os.path.join(self._lock_dir, "timing.lock")

    @pytest.hookimpl(tryfirst=True)  # before the session's own handling of the report, which needs the results
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.worker:
            return
        for data in getattr(report, RESULTS_ATTRIBUTE, None) or ():
            try:
                result = ScalingResult.from_json(data)
            except (KeyError, ValueError, TypeError) as error:  # a worker of another version of the plugin, say
                self.session.files.notices.append(
                    f"a result of {report.nodeid} sent by a pytest-xdist worker could not be read "
                    f"({type(error).__name__}: {error}); it is not in the reports"
                )
                continue
            self.session.record(result)

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        options = self.session.options
        distributed = getattr(config.option, "dist", "no") != "no"
        if self.worker or not distributed or not (options.writes_output or self.session.verbosity > 0):
            return None
        workers = self._workers or _workers_asked(config)
        lock = (
            "CPU timing takes turns across the workers (a lock held while a sweep times)"
            if _timing_lock_on()
            else f"CPU timing does not take turns across the workers ({TIMING_LOCK_SWITCH}=off)"
        )
        lines = [f"attncomplexity: pytest-xdist, {workers} workers: this process gathers their results; {lock}"]
        gpus = describe_plan(workers, options.device, environment_visible(os.environ))
        if gpus is not None:
            lines.append(f"attncomplexity: {gpus}")
        return lines

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._lock_dir is not None:
            shutil.rmtree(self._lock_dir, ignore_errors=True)


def _timing_lock_on() -> bool:
    return os.environ.get(TIMING_LOCK_SWITCH, "").strip().lower() not in ("off", "0", "no", "false")


def _transportable(result: ScalingResult) -> dict[str, Any]:
    """The result's JSON form, as plain dicts, lists, strings and numbers: what execnet carries (it refuses a str
    subclass such as a point's status) and what the JSON file holds."""
    return dict(json.loads(json.dumps(result.to_json(), default=str)))


def _workers_asked(config: pytest.Config) -> int:
    """Workers from ``--tx`` (``-n 4`` is ``--tx 4*popen``), before any is started."""
    count = 0
    for spec in getattr(config.option, "tx", None) or ():
        times, star, _ = str(spec).partition("*")
        count += int(times) if star and times.isdigit() else 1
    return count

"""The report files (JSON, figures, HTML), kept up to date while the session runs. No torch, no pytest.

Each is rewritten atomically when something worth keeping happens: the JSON when a sweep is recorded and when a
test finishes, a test's figures and the HTML page when that test finishes. A run that is killed half-way (the
kernel's OOM killer, a CI timeout's SIGKILL) leaves valid files holding every finished result, marked as
incomplete; the end of the session writes them once more, marked complete. The GitHub step summary is appended
once, at the end: it is a file the job's other steps write to as well.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.document import results_document
from ..core.options import PluginOptions
from ..core.result import ScalingResult
from ..gate.gate import BaselineGate, count_changes
from .atomic import write_text_atomically
from .json import write_json
from .markdown import render_markdown
from .plot import PlotUnavailable, require_matplotlib
from .rows import results_by_test


@dataclass(frozen=True)
class SessionState:
    """What the session knows when a file is written: every result so far, each finished test's outcome, and why
    a test failed, errored or was skipped."""

    results: Sequence[ScalingResult]
    outcomes: Mapping[str, str]
    messages: Mapping[str, str]


@dataclass
class ReportFiles:
    options: PluginOptions
    machine_info: Callable[[], dict[str, Any]] | None = None  # the machine as pytest-benchmark describes it
    # Where the run measures (with its storage key) and its commit, as a saved baseline records them: in the JSON,
    # so that `attn-scaling merge` can save the JSON of shards as one baseline.
    run_environment: Callable[[], dict[str, Any]] | None = None
    commit: Callable[[], dict[str, Any]] | None = None
    step_summary: bool = True  # append to $GITHUB_STEP_SUMMARY at the end (a pytest-xdist worker does not)
    gate: BaselineGate | None = None  # the baseline comparison, shown in every report
    started: str = field(default_factory=lambda: _now())
    written: list[str] = field(default_factory=list)  # "results written to ...", for the terminal
    problems: list[str] = field(default_factory=list)  # reports that could not be written in the end: the run fails
    notices: list[str] = field(default_factory=list)  # written, but without something (figures without matplotlib)
    finished_tests: int = 0
    _machine: dict[str, Any] | None = None
    _identity: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None
    _stems: dict[str, str] = field(default_factory=dict)  # figure file name of each test
    _drawn: set[str] = field(default_factory=set)  # tests whose figures are written
    _svgs: dict[str, str] = field(default_factory=dict)  # inline figure of each test, drawn when it finished
    _plot_note: str | None = None  # why the HTML has no figures ("" once matplotlib was found)

    def result_recorded(self, state: SessionState) -> None:
        """A sweep finished: the JSON gets its result (with a null outcome until its test finishes)."""
        self._json_so_far(state)

    def test_finished(self, state: SessionState, nodeid: str) -> None:
        """A test finished (after teardown): its outcome, figures and section join the files."""
        self.finished_tests += 1
        if not any(result.nodeid == nodeid for result in state.results):
            return  # nothing of this test in any report: nothing to rewrite
        self._json_so_far(state)
        if self.options.plot_dir:
            plot_dir = self.options.plot_dir
            self._attempt(lambda: self._draw_test(state, nodeid, Path(plot_dir)))
        if self.options.html_path:
            html_path = self.options.html_path
            self._svgs.pop(nodeid, None)  # drawn anew: a rerun of the test (pytest-rerunfailures) adds results
            self._attempt(lambda: self._write_html(state, html_path, complete=False))

    def session_finished(self, state: SessionState, exitstatus: int) -> None:
        """The last write of each file, marked complete; a file that cannot be written now is a problem."""
        writers: tuple[tuple[str | None, Callable[[str], str]], ...] = (
            (self.options.json_path, lambda path: self._final_json(state, path, exitstatus)),
            (self.options.plot_dir, lambda directory: self._draw_missing(state, directory)),
            (self.options.html_path, lambda path: self._final_html(state, path)),
            (
                os.environ.get("GITHUB_STEP_SUMMARY") if self.step_summary else None,
                lambda path: self._append_step_summary(state, path),
            ),
        )
        for target, write in writers:
            if not target:
                continue
            try:
                message = write(target)
            except Exception as error:  # a report that cannot be written is reported, not an INTERNALERROR
                self.problems.append(f"could not write {target}: {type(error).__name__}: {error}")
                continue
            if message:
                self.written.append(message)

    def _json_so_far(self, state: SessionState) -> None:
        json_path = self.options.json_path
        if json_path:
            self._attempt(lambda: self._write_json(state, json_path, None))

    def _attempt(self, write: Callable[[], None]) -> None:
        """A write while the run goes on: a failure is not raised; the end of the session writes the file again
        and reports it if it still fails."""
        with contextlib.suppress(Exception):
            write()

    def _final_json(self, state: SessionState, path: str, exitstatus: int) -> str:
        self._write_json(state, path, exitstatus)
        return f"results written to {path}"

    def _final_html(self, state: SessionState, path: str) -> str:
        self._write_html(state, path, complete=True)
        if self._plot_note:
            self.notices.append(f"the HTML report has no figures: {self._plot_note}")
        return f"HTML report written to {path}"

    def machine(self) -> dict[str, Any] | None:
        """The machine info, asked for once (pytest-benchmark's takes a while: it reads the CPU's details)."""
        if self._machine is None and self.machine_info is not None:
            self._machine = self.machine_info()
        return self._machine

    def identity(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Where the run measures and its commit, asked for once (the commit runs git)."""
        if self._identity is None:
            environment = None if self.run_environment is None else dict(self.run_environment())
            self._identity = (environment, None if self.commit is None else dict(self.commit()))
        return self._identity

    def comparison(self, state: SessionState) -> dict[str, Any] | None:
        """The baseline compared with, the changes counted, and the baseline's tests that did not run now."""
        if self.gate is None:
            return None
        return {
            **self.gate.summary(),
            "counts": dict(count_changes(state.results)),
            "missing": self.gate.missing(state.results),
        }

    def _write_json(self, state: SessionState, path: str, exitstatus: int | None) -> None:
        run = {
            "complete": exitstatus is not None,
            "exitstatus": exitstatus,
            "started": self.started,
            "written": _now(),
            "tests_finished": self.finished_tests,
        }
        environment, commit = self.identity()
        document = results_document(
            state.results,
            self.machine(),
            outcomes=state.outcomes,
            run=run,
            comparison=self.comparison(state),
            environment=environment,
            commit=commit,
        )
        write_json(path, document)

    def _draw_test(self, state: SessionState, nodeid: str, directory: Path) -> None:
        from .plot import file_stem, save_plots

        group = [result for result in state.results if result.nodeid == nodeid]
        if nodeid not in self._stems:
            stem = base = file_stem(nodeid)
            suffix = 2
            while stem in self._stems.values():  # node ids that differ only in characters a file name cannot hold
                stem, suffix = f"{base}_{suffix}", suffix + 1
            self._stems[nodeid] = stem
        save_plots(group, directory, nodeid, self._stems[nodeid], outcome=state.outcomes.get(nodeid, ""))
        self._drawn.add(nodeid)

    def _draw_missing(self, state: SessionState, directory: str) -> str:
        """Figures of tests whose end the session did not see (their results still count)."""
        for nodeid in results_by_test(state.results):
            if nodeid not in self._drawn:
                self._draw_test(state, nodeid, Path(directory))
        return f"plots written to {directory} ({len(self._drawn)} test(s), PNG and SVG)"

    def _write_html(self, state: SessionState, path: str, *, complete: bool) -> None:
        from .html import render_html

        if self._plot_note is None:
            self._plot_note = figures_missing("drawing the figures of --attn-scaling-html")
        if not self._plot_note:
            draw_figures(state.results, state.outcomes, self._svgs)
        run_note = (
            ""
            if complete
            else f"This run had not finished when this page was written ({self.finished_tests} test(s) finished): "
            "it is still running, or it was interrupted."
        )
        page = render_html(
            state.results,
            state.outcomes,
            self._svgs,
            messages=state.messages,
            plot_note=self._plot_note,
            max_memory=self.options.max_memory,
            predict_n=self.options.predict_n,
            breakdown=self.options.breakdown,
            run_note=run_note,
            comparison=self.comparison(state),
        )
        write_text_atomically(path, page)

    def _append_step_summary(self, state: SessionState, path: str) -> str:
        if state.results:
            with open(path, "a", encoding="utf-8") as summary:
                summary.write(render_markdown(state.results, state.outcomes, self.comparison(state)))
        return ""


def figures_missing(purpose: str) -> str:
    """Why an HTML page has no figures (matplotlib is not installed), or "" when it can have them."""
    try:
        require_matplotlib(purpose)
    except PlotUnavailable as error:
        return str(error)
    return ""


def draw_figures(results: Sequence[ScalingResult], outcomes: Mapping[str, str], drawn: dict[str, str]) -> None:
    """The inline figure of each test not in ``drawn`` yet, added to it: a test's figure is drawn once, when it
    finished, not at every write of the page."""
    from .plot import svg_text

    for index, (nodeid, group) in enumerate(results_by_test(results).items()):
        if nodeid not in drawn:
            # Ids prefixed by the test's place in the page, so that no two figures share one.
            drawn[nodeid] = svg_text(group, nodeid, id_prefix=f"t{index}-", outcome=outcomes.get(nodeid, ""))


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")

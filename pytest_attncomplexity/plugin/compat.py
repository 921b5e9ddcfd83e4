"""The only places the plugin reaches into pytest's private API, or into what differs between the pytest releases it
supports (8.0 on), each behind one function.

pytest has no public way to keep the file name and dots of the current line while a status is shown after them,
nor to report a skip raised by a plugin at the test's own line. ``tests/test_pytest_compat.py`` fails when a pytest
release changes either, so that a break shows in this project's CI rather than as a wrong line in a user's run.
"""

from __future__ import annotations

from typing import Any

import pytest


def is_a_terminal(terminal: Any) -> bool:
    """Whether pytest writes to a terminal: ``TerminalReporter.isatty`` is a bool in pytest 8.0, a method later."""
    isatty = terminal.isatty
    return bool(isatty() if callable(isatty) else isatty)


def current_line(terminal: Any) -> str | None:
    """What pytest has written on the terminal's current line (file name and dots), or None if it cannot be read."""
    line = getattr(getattr(terminal, "_tw", None), "_current_line", None)
    return line if isinstance(line, str) else None


def write_after_current_line(terminal: Any, kept: str, text: str) -> None:
    """Write ``text`` over the current line after ``kept`` and leave the cursor after ``kept``, as if ``text`` had
    never been written (pytest goes on writing dots there)."""
    writer = terminal._tw
    writer.write("\r" + kept + text + "\r" + kept)
    writer.flush()
    writer._current_line = kept


def terminal_width(terminal: Any) -> int:
    return int(terminal._tw.fullwidth)


def skip_at_test_line(reason: str) -> BaseException:
    """A skip to raise from the plugin that pytest reports at the test's line, not at the line that raised it."""
    return pytest.skip.Exception(reason, _use_item_location=True)


def short_reason(report: pytest.TestReport) -> str:
    """Why a test failed, errored or was skipped, in a line or a few: the crash's message, or a skip's reason."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        return str(report.longrepr[2])
    return report.longreprtext.strip()[-2000:]

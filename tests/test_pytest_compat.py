"""Tripwires for the private pytest API the plugin uses (pytest_attncomplexity/plugin/compat.py): each fails when a
pytest release changes what the plugin relies on."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from _pytest._io import TerminalWriter

from pytest_attncomplexity.plugin.compat import (
    current_line,
    is_a_terminal,
    skip_at_test_line,
    terminal_width,
    write_after_current_line,
)


def test_the_terminal_reporter_writes_through_a_terminal_writer(pytestconfig):
    assert isinstance(pytestconfig.pluginmanager.get_plugin("terminalreporter")._tw, TerminalWriter)


def test_a_status_after_the_dots_leaves_the_dots_as_the_current_line():
    out = io.StringIO()
    terminal = SimpleNamespace(_tw=TerminalWriter(out))
    terminal._tw.write("tests/test_x.py ..")
    assert current_line(terminal) == "tests/test_x.py .."
    assert terminal_width(terminal) > 0
    write_after_current_line(terminal, "tests/test_x.py ..", " [naive N=512 measured]")
    assert current_line(terminal) == "tests/test_x.py .."
    terminal._tw.write(".")
    assert current_line(terminal) == "tests/test_x.py ..."
    assert out.getvalue() == ("tests/test_x.py ..\rtests/test_x.py .. [naive N=512 measured]\rtests/test_x.py ...")


def test_whether_pytest_writes_to_a_terminal_reads_on_every_supported_pytest(pytestconfig):
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    assert is_a_terminal(reporter) in (True, False)
    assert is_a_terminal(SimpleNamespace(isatty=True)) and not is_a_terminal(SimpleNamespace(isatty=lambda: False))


def test_a_skip_can_be_reported_at_the_test_line():
    skip = skip_at_test_line("no GPU")
    assert isinstance(skip, pytest.skip.Exception) and skip.msg == "no GPU"
    assert skip._use_item_location is True  # what TestReport.from_item_and_call reads

"""The fixture's progress on the terminal: with -v a line per N, otherwise one status line after the test's dots."""

from __future__ import annotations

import contextlib
from typing import Any

from ..sweep.progress import Progress, Stage
from .compat import current_line, is_a_terminal, terminal_width, write_after_current_line


class ProgressPrinter:
    """-v: a line per N. Otherwise, on a terminal, one status line after the test's dots, erased when done.

    Output capture is suspended around each write, as pytest does for its own live output.
    """

    def __init__(self, terminal: Any, capture: Any, verbosity: int) -> None:
        self.terminal = terminal
        self.capture = capture
        self.verbosity = verbosity
        self.inline = verbosity <= 0 and is_a_terminal(terminal) and current_line(terminal) is not None
        self.shown = 0

    def __call__(self, event: Progress) -> None:
        if self.verbosity <= 0 and not self.inline:
            return
        suspended = self.capture.global_and_fixture_disabled() if self.capture else contextlib.nullcontext()
        with suspended:
            if self.verbosity > 0:
                if event.stage != Stage.DONE:
                    self.terminal.write_line(f"    attn_scaling {event.describe()}")
            else:
                self._rewrite(event)

    def _rewrite(self, event: Progress) -> None:
        kept = current_line(self.terminal) or ""  # the file name and dots pytest has written on this line
        room = max(0, terminal_width(self.terminal) - len(kept) - 2)
        status = "" if event.stage == Stage.DONE else f" [{event.describe()}]"[:room]
        write_after_current_line(self.terminal, kept, status + " " * max(0, self.shown - len(status)))
        self.shown = len(status)

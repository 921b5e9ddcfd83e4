"""The two ways a command ends early: bad input (exit status 2) and an output it could not write or refused to
(exit status 1)."""

from __future__ import annotations


class CommandError(ValueError):
    """Bad input: an option, or a file that is not what it must be; the message names the value or the file."""


class CommandFailed(RuntimeError):
    """An output that could not be written, or was refused (a baseline of a run that regressed)."""

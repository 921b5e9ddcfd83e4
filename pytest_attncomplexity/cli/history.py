"""``attn-scaling history``: the saved baselines in the terminal, and as an HTML page with ``--html``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..gate.history import DEFAULT_RULES, read_history
from ..report.atomic import write_text_atomically
from ..report.history_html import render_history_html
from ..report.history_text import format_history
from .errors import CommandError, CommandFailed
from .storage import find_storage


def run_history(args: argparse.Namespace) -> int:
    storage: Path = args.storage if args.storage is not None else find_storage(Path.cwd())
    if storage.exists() and not storage.is_dir():
        raise CommandError(f"{str(storage)!r} is a file, not a storage folder of saved baselines")
    if args.html is not None and args.html.is_dir():
        raise CommandError(f"--html must name a file, but {str(args.html)!r} is a directory")
    try:
        history = read_history(
            storage,
            args.rules or DEFAULT_RULES,
            machine=args.machine,
            test=args.test,
            metric=args.metric,
            last=args.last,
        )
    except OSError as error:
        raise CommandError(f"cannot read the storage folder {str(storage)!r}: {error.strerror or error}") from None
    for line in format_history(history, changed_only=args.changed):
        print(line)
    if args.html is not None:
        try:
            write_text_atomically(args.html, render_history_html(history))
        except OSError as error:
            raise CommandFailed(f"could not write {args.html}: {error.strerror or error}") from None
        print(f"history page written to {args.html}")
    return 0

"""Replace a report file in one step: a reader, or a run killed half-way through a write, sees the old file or the
new one, never part of one. No torch, no pytest."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

_serial = itertools.count()


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(temporary)`` fills a file beside ``path``, which is then renamed over ``path``.

    The temporary file is created by ``write`` itself (so the user's umask applies, as to any report) under a name
    of this process's own, so two runs writing the same report never write into each other's file. A link is
    followed (the file it names is replaced, the link stays), an existing file keeps its permissions, and what is not
    a regular file (``/dev/stdout``, a pipe) is written as it is. There is no fsync: a killed process loses nothing
    that the kernel has, and the rename is what makes the write atomic.
    """
    given = Path(path)
    if given.exists() and not given.is_file():
        write(given)
        return given
    target = given.resolve() if given.is_symlink() else given
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{next(_serial)}.tmp")
    try:
        write(temporary)
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return given


def write_text_atomically(path: str | Path, text: str) -> Path:
    return replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))

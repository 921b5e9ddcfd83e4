"""Where the command finds the storage of saved baselines when it is not given one."""

from __future__ import annotations

from pathlib import Path

from ..core.options import DEFAULT_STORAGE


def find_storage(start: Path) -> Path:
    """The nearest ``.attn-scaling`` folder in ``start`` or a folder above it (the plugin keeps it in the rootdir,
    which a command run from a subfolder would not find otherwise); ``start/.attn-scaling`` when there is none."""
    for folder in (start, *start.parents):
        if (folder / DEFAULT_STORAGE).is_dir():
            return folder / DEFAULT_STORAGE
    return start / DEFAULT_STORAGE

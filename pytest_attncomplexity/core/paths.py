"""Paths the plugin will write to, checked at start-up. No torch, no pytest."""

from __future__ import annotations

from pathlib import Path


def blocking_file(folder: Path) -> Path | None:
    """``folder`` or the first of its parents that exists but is not a directory: what would stop the plugin from
    creating ``folder`` (and writing in it) when the run ends; None when nothing does."""
    return next((p for p in (folder, *folder.absolute().parents) if p.exists() and not p.is_dir()), None)

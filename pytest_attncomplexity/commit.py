"""The git commit a run measured, for the baselines it saves: asked through pytest-benchmark's hook when it is
there (a project's own override counts), else read from git."""

from __future__ import annotations

import subprocess
from typing import Any


def commit_info(config: Any) -> dict[str, Any]:
    """``id``, ``dirty`` and ``branch`` at least (``id`` is "unversioned" outside a repository)."""
    hook = getattr(config.hook, "pytest_benchmark_generate_commit_info", None)
    if hook is not None:
        info = hook(config=config)
        if info:
            return dict(info)
    return _from_git(str(config.rootpath))


def _from_git(where: str) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=True)
        return done.stdout.strip()

    try:
        return {
            "id": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        }
    except (OSError, subprocess.SubprocessError):
        return {"id": "unversioned", "dirty": False, "branch": None}

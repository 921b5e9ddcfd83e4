"""The machine and the commit a run measured, as pytest-benchmark describes them, plus torch's version and the GPU.

With pytest-benchmark active, the description is asked through its hooks, as pytest-benchmark itself asks for it
before it saves or compares: ``pytest_benchmark_generate_machine_info`` (a user's override wins), then
``pytest_benchmark_update_machine_info``, where this plugin adds the torch and GPU keys (benchmark/hooks.py). So
the JSON report, saved baselines and pytest-benchmark's own files describe one machine the same way, and
pytest-benchmark's compare warns when the GPU changes. Without pytest-benchmark (``-p no:benchmark``), the same
keys are filled from the platform module where it has them. The commit, for the baselines a run saves, is asked
the same way (``pytest_benchmark_generate_commit_info``, a project's own override counts), else read from git.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any


def machine_info(config: Any) -> dict[str, Any]:
    """The machine as this session's hooks describe it (``config``: the pytest config)."""
    hook = config.hook
    if hasattr(hook, "pytest_benchmark_generate_machine_info"):
        info = hook.pytest_benchmark_generate_machine_info(config=config)
        if not isinstance(info, dict):  # the update hooks add keys to it in place
            raise TypeError(f"pytest_benchmark_generate_machine_info returned {info!r}, not a dict")
        hook.pytest_benchmark_update_machine_info(config=config, machine_info=info)
        return info
    info = platform_machine_info()
    info.update(torch_machine_info())
    return info


def platform_machine_info() -> dict[str, Any]:
    """pytest-benchmark's keys, from the platform module (its ``cpu`` entry comes from py-cpuinfo; here only the
    processor's name, count and architecture)."""
    import torch

    from ..measure.device import device_name

    return {
        "node": platform.node(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(),
        "python_build": list(platform.python_build()),
        "release": platform.release(),
        "system": platform.system(),
        "cpu": {
            "brand_raw": device_name(torch.device("cpu")),
            "count": os.cpu_count(),
            "arch_string_raw": platform.machine(),
        },
    }


def torch_machine_info() -> dict[str, Any]:
    """``torch_version``; ``cuda_version``, the CUDA release torch was built with (None for a CPU build); ``gpu``,
    the name of the current CUDA device (None where CUDA is not available).

    Reading the GPU's name initializes CUDA in this process when nothing has yet: the keys must not depend on
    whether a test happened to use the GPU before they were asked for (pytest-benchmark asks at start-up to compare,
    at the end to save), or every comparison would warn about a change that is not one.
    """
    import torch

    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.cuda.current_device())
    return {"torch_version": torch.__version__, "cuda_version": torch.version.cuda, "gpu": gpu}


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

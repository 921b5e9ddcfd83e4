"""The room a process has under the memory limits of its cgroup and the cgroups above it (v1 and v2), read from
``/proc/self/cgroup``, ``/proc/self/mountinfo`` and the cgroup file system. No torch, no pytest."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..core.units import format_value

# A cgroup "limit" at or above this is the kernel's way of saying "no limit" (v1 writes 2^63 rounded to pages).
_NO_LIMIT = 2**60


def cgroup_room(proc_self: Path = Path("/proc/self")) -> tuple[int, str] | None:
    """Room under the tightest memory limit among the process's cgroup and its ancestors (v1 and v2), found
    through ``proc_self``'s ``cgroup`` and ``mountinfo`` files: (bytes, which limit); None where no limit is set.

    Usage counts the page cache, which the kernel reclaims before it kills: inactive file pages are left out, as
    container runtimes do for a cgroup's working set.
    """
    tightest: tuple[int, str] | None = None
    for directory, version in memory_cgroups(proc_self):
        names = ("memory.max", "memory.current") if version == 2 else ("memory.limit_in_bytes", "memory.usage_in_bytes")
        limit, usage = (_read_int(directory / name) for name in names)
        if limit is None or usage is None or limit >= _NO_LIMIT:
            continue
        stat = _read_stat(directory / "memory.stat")
        inactive = stat.get("total_inactive_file" if version == 1 else "inactive_file", stat.get("inactive_file", 0))
        room = max(0, limit - max(0, usage - inactive))
        if tightest is None or room < tightest[0]:
            tightest = (room, f"cgroup limit {format_value('memory', limit)} of {directory}")
    return tightest


def memory_cgroups(proc_self: Path = Path("/proc/self")) -> Iterator[tuple[Path, int]]:
    """The directory of the process's memory cgroup and of each ancestor up to the mount point, with the version."""
    try:
        # Mount points are bytes to the kernel: a name that is not UTF-8 must not stop the reading.
        cgroup_lines = (proc_self / "cgroup").read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        mount_lines = (proc_self / "mountinfo").read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return
    mounts: dict[int, tuple[str, str]] = {}  # version -> (root inside the hierarchy, mount point)
    for line in mount_lines:
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not separator or len(fields) < 5 or not tail:
            continue
        fstype, superopts = tail[0], tail[2] if len(tail) > 2 else ""
        if fstype == "cgroup2":
            mounts.setdefault(2, (fields[3], fields[4]))
        elif fstype == "cgroup" and "memory" in superopts.split(","):
            mounts.setdefault(1, (fields[3], fields[4]))
    for line in cgroup_lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        version = 2 if hierarchy == "0" and controllers == "" else 1 if "memory" in controllers.split(",") else 0
        if version not in mounts:
            continue
        root, mount_point = mounts[version]
        relative = path[len(root) :] if root != "/" and path.startswith(root) else path
        base = Path(mount_point)
        directory = base / relative.lstrip("/")
        if not directory.is_dir():  # a cgroup namespace: the mount shows the process's own cgroup as its root
            directory = base
        while True:
            yield directory, version
            if directory == base or base not in directory.parents:
                break
            directory = directory.parent


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    if text == "max":
        return _NO_LIMIT
    try:
        return int(text)
    except ValueError:
        return None


def _read_stat(path: Path) -> dict[str, int]:
    stat: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                stat[key] = int(value)
    return stat

"""This machine's memory as the kernel sees it: what is available now, what the process holds and peaked at, and a
temporary cap on the process's address space. No torch, no pytest.

Linux only (``/proc`` and cgroups); elsewhere every reading is None and the RAM guard stands aside. Tests replace
``available_memory`` to play a smaller machine: it is the one function the guard reads availability through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..units import format_value

# A cgroup "limit" at or above this is the kernel's way of saying "no limit" (v1 writes 2^63 rounded to pages).
_NO_LIMIT = 2**60


@dataclass(frozen=True)
class Headroom:
    """Bytes this process can still take before the kernel's OOM killer steps in, and where the figure comes from."""

    bytes: int
    source: str  # "MemAvailable", or the cgroup whose limit is the tighter one


def available_memory() -> Headroom | None:
    """The tighter of the machine's MemAvailable and the room left under the process's cgroup memory limits."""
    candidates = [h for h in (_meminfo_available(), cgroup_headroom()) if h is not None]
    return min(candidates, key=lambda h: h.bytes) if candidates else None


@dataclass(frozen=True)
class ProcessMemory:
    rss: int  # resident now (VmRSS)
    peak_rss: int  # resident peak since start or since the last reset (VmHWM)
    address_space: int  # mapped now (VmSize), what RLIMIT_AS counts


def process_memory() -> ProcessMemory | None:
    fields: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize"):
                    fields[key] = int(value.split()[0]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    if len(fields) != 3:
        return None
    return ProcessMemory(fields["VmRSS"], fields["VmHWM"], fields["VmSize"])


def reset_peak_rss() -> bool:
    """Set VmHWM back to VmRSS (Linux 4.0+: ``echo 5 > /proc/self/clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass
class Growth:
    """Resident memory a block took above what the process held before it: set when the block ends."""

    bytes: int | None = None


@contextlib.contextmanager
def peak_growth() -> Iterator[Growth]:
    """Measure the resident peak of a block above the resident size before it (VmHWM after a reset, less VmRSS).

    It sees every allocation of the process (other threads, allocator slack, pinned host buffers), which is what the
    kernel's OOM killer counts. Where the peak cannot be reset, the growth of VmRSS over the block stands in for it.
    """
    growth = Growth()
    before = process_memory()
    resettable = before is not None and reset_peak_rss()
    try:
        yield growth
    finally:
        after = process_memory()
        if before is not None and after is not None:
            growth.bytes = max(0, (after.peak_rss if resettable else after.rss) - before.rss)


@contextlib.contextmanager
def address_space_cap(room: int | None) -> Iterator[int | None]:
    """Let the process's address space grow by at most ``room`` bytes inside the block (RLIMIT_AS), then restore it.

    Past the cap an allocation fails at once (torch raises "can't allocate memory", which a sweep records as out of
    memory) instead of succeeding and filling RAM until the OOM killer ends the process. Yields the cap in bytes, or
    None where none was set (``room`` None, no /proc, or a tighter limit is already in place).
    """
    memory = process_memory() if room is not None else None
    try:
        import resource
    except ImportError:  # not a Unix
        memory = None
    if room is None or memory is None:
        yield None
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory.address_space + room
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield None  # someone (ulimit -v, a test) already set a tighter cap: it fails cleanly on its own
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield cap
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _meminfo_available() -> Headroom | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return Headroom(int(line.split()[1]) * 1024, "MemAvailable")
    except (OSError, ValueError, IndexError):
        return None
    return None


def cgroup_headroom(proc_self: Path = Path("/proc/self")) -> Headroom | None:
    """Room under the tightest memory limit among the process's cgroup and its ancestors (v1 and v2), found
    through ``proc_self``'s ``cgroup`` and ``mountinfo`` files; None where no memory limit is set.

    Usage counts the page cache, which the kernel reclaims before it kills: inactive file pages are left out, as
    container runtimes do for a cgroup's working set.
    """
    tightest: Headroom | None = None
    for directory, version in _memory_cgroups(proc_self):
        names = ("memory.max", "memory.current") if version == 2 else ("memory.limit_in_bytes", "memory.usage_in_bytes")
        limit, usage = (_read_int(directory / name) for name in names)
        if limit is None or usage is None or limit >= _NO_LIMIT:
            continue
        stat = _read_stat(directory / "memory.stat")
        inactive = stat.get("total_inactive_file" if version == 1 else "inactive_file", stat.get("inactive_file", 0))
        room = max(0, limit - max(0, usage - inactive))
        if tightest is None or room < tightest.bytes:
            tightest = Headroom(room, f"cgroup limit {format_value('memory', limit)} of {directory}")
    return tightest


def _memory_cgroups(proc_self: Path) -> Iterator[tuple[Path, int]]:
    """The directory of the process's memory cgroup and of each ancestor up to the mount point, with the version."""
    try:
        cgroup_lines = (proc_self / "cgroup").read_text(encoding="ascii").splitlines()
        mount_lines = (proc_self / "mountinfo").read_text(encoding="utf-8").splitlines()
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
    except OSError:
        return None
    if text == "max":
        return _NO_LIMIT
    try:
        return int(text)
    except ValueError:
        return None


def _read_stat(path: Path) -> dict[str, int]:
    stat: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                stat[key] = int(value)
    return stat

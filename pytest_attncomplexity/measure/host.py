"""This machine's memory as the kernel sees it: what is available now, what the process holds and peaked at, and a
temporary cap on the process's address space. No torch, no pytest.

Linux only (``/proc`` and cgroups); elsewhere every reading is None and the RAM guard stands aside. Tests replace
``available_memory`` to play a smaller machine: it is the one function the guard reads availability through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .cgroup import cgroup_room


@dataclass(frozen=True)
class Headroom:
    """Bytes this process can still take before the kernel's OOM killer steps in, and where the figure comes from."""

    bytes: int
    source: str  # "MemAvailable", or the cgroup whose limit is the tighter one


def available_memory() -> Headroom | None:
    """The tighter of the machine's MemAvailable and the room left under the process's cgroup memory limits."""
    candidates = [_meminfo_available()]
    room = cgroup_room()
    if room is not None:
        candidates.append(Headroom(*room))
    present = [h for h in candidates if h is not None]
    return min(present, key=lambda h: h.bytes) if present else None


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
    kernel's OOM killer counts. Where the peak cannot be reset, the growth of VmRSS over the block stands in: it
    misses a transient peak, so predictions from it are weaker.
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

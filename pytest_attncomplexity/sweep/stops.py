"""How a size stops a sweep: out of memory (data), a failure (an error with its exception), a backend or dtype that
cannot run (skipped); and the RAM guard's cap on a CPU sweep's address space around the blocks that run the user's
calls."""

from __future__ import annotations

import contextlib
import errno
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..core.records import FAILED, OUT_OF_MEMORY, SKIPPED, Halt
from ..errors import BackendUnavailable, DtypeUnavailable
from ..measure import host
from ..measure.device import start_thread_pool
from ..measure.guard import RamGuard, Room


@dataclass
class Stop:
    """A Halt and, for a failure, the exception behind it (chained to the SweepError raised at the end)."""

    halt: Halt
    error: BaseException | None = None


@dataclass(frozen=True)
class HostCap:
    """The RAM guard's cap on a CPU sweep's address space, for the blocks that run the user's calls."""

    guard: RamGuard
    threads: int

    @contextlib.contextmanager
    def applied(self) -> Iterator[Room | None]:
        """Yields the room granted, or None where no cap could be set (see host.address_space_cap)."""
        room = self.guard.room()
        if room is None:
            yield None
            return
        # A thread started under the cap must reserve its stack within it, and libgomp ends the whole process when
        # it cannot start one: the intra-op threads the calls will use are started first.
        start_thread_pool(self.threads)
        with host.address_space_cap(room.bytes) as capped:
            yield room if capped is not None else None


def attempt(n: int, work: Callable[[], None], cap: HostCap | None = None) -> Stop | None:
    """Run ``work`` (under the RAM guard's cap when one is given); turn an out-of-memory error or any other
    exception at N into a Stop.

    Only the text of an out-of-memory error is kept: its traceback holds the frames, and the frames hold the
    tensors that filled the memory.
    """
    room: Room | None = None
    try:
        with cap.applied() if cap is not None else contextlib.nullcontext() as room:
            work()
    except Exception as error:
        if isinstance(error, BackendUnavailable | DtypeUnavailable):  # beyond what runs here: skipped, with why
            return Stop(Halt(n, SKIPPED, str(error)), error)
        if is_out_of_memory(error):
            reason = first_line(error) + (f" ({room.describe()})" if room is not None else "")
            return Stop(Halt(n, OUT_OF_MEMORY, reason))
        # Under the cap a thread or a memory-mapped file may fail where it would not otherwise: say so.
        hint = f" ({room.describe()}; --attn-ram-guard=off lifts it)" if room and _may_come_from_a_cap(error) else ""
        return Stop(Halt(n, FAILED, f"{type(error).__name__}: {error}{hint}"), error)
    return None


_CAP_SYMPTOMS = ("can't start new thread", "resource temporarily unavailable", "cannot allocate memory", "mmap")


def _may_come_from_a_cap(error: BaseException) -> bool:
    """A failure an address-space cap can cause: a thread that cannot start, a file that cannot be mapped."""
    return isinstance(error, OSError) or any(symptom in str(error).lower() for symptom in _CAP_SYMPTOMS)


def device_out_of_memory_type(torch_module: Any = torch) -> type[BaseException]:
    """torch.OutOfMemoryError is new (2.5); torch.cuda.OutOfMemoryError, which it names, is there on every torch
    this plugin supports. Looked up once, here: on an older torch a lookup inside the except would itself raise."""
    found = getattr(torch_module, "OutOfMemoryError", None)
    return found if isinstance(found, type) else torch_module.cuda.OutOfMemoryError


_DEVICE_OUT_OF_MEMORY = device_out_of_memory_type()


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator raises a RuntimeError that says it could not."""
    if isinstance(error, MemoryError | _DEVICE_OUT_OF_MEMORY):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:  # mmap of a tensor file, a buffer of a library
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in message or "out of memory" in message.lower()
    )


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()

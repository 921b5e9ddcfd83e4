"""Duration of one call at each N: raw samples, visited in shuffled rounds.

Each round visits every N, in a fresh random order, so a slow drift of the machine (another process, clock
changes) spreads over all sizes instead of bending the curve; cheap sizes get a larger share of each round.
CPU: ``time.perf_counter`` around a loop of calls long enough that the clock's resolution and the jitter of the
small sizes do not matter, minus the cost of the loop itself, with the garbage collector paused.
CUDA: events around each call, after a warm-up, with the L2 cache flushed before each call.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch

from .device import synchronize

# A CPU sample loops the call only when it is shorter than this: longer calls are timed one by one, each after a
# call of another size, so that no size is measured with caches its own previous call left warm.
MIN_CPU_SAMPLE_S = 1e-3
DEFAULT_L2_FLUSH_BYTES = 256 * 2**20  # when the device does not report its L2 size
MAX_SAMPLES_PER_ROUND = 8


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _noop() -> None:
    return None


def _loop_seconds(call: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return time.perf_counter() - start


def samples_per_round(sample_seconds: Mapping[int, float]) -> dict[int, int]:
    """How much of a round each N gets, in samples: more where a sample is cheap, sqrt(longest / own) of them.

    The largest N dominates what a round costs, while the small N are the noisy ones (short calls, caches);
    spending the round's time more evenly buys their precision at little cost (figures in docs/precision.md).
    """
    longest = max(sample_seconds.values())
    counts = {
        n: max(1, min(MAX_SAMPLES_PER_ROUND, round(math.sqrt(longest / max(seconds, 1e-12)))))
        for n, seconds in sample_seconds.items()
    }
    # No N may follow itself, also across rounds: that needs every count to be at most the others' sum.
    while len(counts) > 1:
        n = max(counts, key=lambda size: counts[size])
        if counts[n] <= sum(counts.values()) - counts[n]:
            break
        counts[n] -= 1
    return counts


def round_order(per_round: Mapping[int, int], order: random.Random, after: int | None = None) -> list[int]:
    """One round: every N as many times as it samples, in a random order where no N follows itself, the first
    included (``after`` is the N the previous round ended with).

    A call right after another of the same N finds its data warm in the caches, one after a different N does not;
    keeping every sample "after a different N" puts all sizes in the same state, so the cache does not bend the
    curve (warm loops made naive attention at N=256..2048 read 2.45 instead of 2.2 on the CPU). Taking the N with
    the most samples left first never leaves only the previous N to take, as long as no N has more samples than the
    others together (samples_per_round sees to that).
    """
    left = dict(per_round)
    visits: list[int] = []
    previous = after
    while any(left.values()):
        candidates = [n for n, count in left.items() if count and n != previous]
        if not candidates:  # only the previous N has samples left (a plan samples_per_round did not make)
            candidates = [n for n, count in left.items() if count]
        most = max(left[n] for n in candidates)
        previous = order.choice([c for c in candidates if left[c] == most])
        visits.append(previous)
        left[previous] -= 1
    return visits


def rounds_for_budget(round_seconds: float, budget: float, min_rounds: int, max_rounds: int) -> int:
    """How many rounds fit the time budget, kept within [min_rounds, max_rounds]."""
    if round_seconds <= 0:
        return max_rounds
    return max(min_rounds, min(max_rounds, int(budget / round_seconds)))


def time_calls(
    calls: Mapping[int, Callable[[], object]],
    device: torch.device,
    *,
    budget: float,
    min_rounds: int,
    max_rounds: int,
    seed: int,
) -> dict[int, list[float]]:
    """Seconds per call, several samples per N. ``calls`` must already have run once (warm-up)."""
    order = random.Random(seed)
    if device.type == "cuda":
        return _time_cuda(calls, device, budget, min_rounds, max_rounds, order)
    return _time_cpu(calls, budget, min_rounds, max_rounds, order)


def _time_cpu(
    calls: Mapping[int, Callable[[], object]],
    budget: float,
    min_rounds: int,
    max_rounds: int,
    order: random.Random,
) -> dict[int, list[float]]:
    with _gc_paused():
        estimate = {n: _loop_seconds(call, 1) for n, call in calls.items()}
        repeats = {n: max(1, math.ceil(MIN_CPU_SAMPLE_S / max(t, 1e-9))) for n, t in estimate.items()}
        per_round = samples_per_round({n: repeats[n] * estimate[n] for n in calls})
        # What the loop costs without the work, per call, so that it is not counted as the call's time.
        loop_cost = {n: statistics.median(_loop_seconds(_noop, k) for _ in range(5)) / k for n, k in repeats.items()}
        round_seconds = sum(per_round[n] * repeats[n] * estimate[n] for n in calls)
        rounds = rounds_for_budget(round_seconds, budget, min_rounds, max_rounds)
        samples: dict[int, list[float]] = {n: [] for n in calls}
        # The estimate above ran the sizes in order: the first sample must not follow the last of them.
        last: int | None = list(calls)[-1]
        for _ in range(rounds):
            visits = round_order(per_round, order, after=last)
            last = visits[-1]
            for n in visits:
                k = repeats[n]
                seconds = _loop_seconds(calls[n], k) / k - loop_cost[n]
                samples[n].append(max(seconds, 1e-12))
    return samples


def _event() -> torch.cuda.Event:
    return torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]


def _l2_flush_buffer(device: torch.device) -> torch.Tensor:
    l2_bytes = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)
    size = max(2 * l2_bytes, DEFAULT_L2_FLUSH_BYTES) if l2_bytes else DEFAULT_L2_FLUSH_BYTES
    return torch.empty(size, dtype=torch.int8, device=device)


def _time_cuda(
    calls: Mapping[int, Callable[[], object]],
    device: torch.device,
    budget: float,
    min_rounds: int,
    max_rounds: int,
    order: random.Random,
) -> dict[int, list[float]]:
    flush = _l2_flush_buffer(device)
    with torch.cuda.device(device), _gc_paused():
        estimate: dict[int, float] = {}
        for n, call in calls.items():
            start, end = _event(), _event()
            flush.zero_()
            start.record()
            call()
            end.record()
            synchronize(device)
            estimate[n] = start.elapsed_time(end) / 1e3
        per_round = samples_per_round(estimate)
        rounds = rounds_for_budget(sum(per_round[n] * estimate[n] for n in calls), budget, min_rounds, max_rounds)
        samples: dict[int, list[float]] = {n: [] for n in calls}
        # The estimate above ran the sizes in order: the first sample must not follow the last of them.
        last: int | None = list(calls)[-1]
        for _ in range(rounds):
            events = []
            visits = round_order(per_round, order, after=last)
            last = visits[-1]
            for n in visits:
                start, end = _event(), _event()
                flush.zero_()
                start.record()
                calls[n]()
                end.record()
                events.append((n, start, end))
            synchronize(device)
            for n, start, end in events:
                samples[n].append(start.elapsed_time(end) / 1e3)
    del flush
    return samples

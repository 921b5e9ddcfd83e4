"""Duration of one call at each N: raw samples, visited in shuffled rounds.

Each round visits every N, in a fresh random order, so a slow drift of the machine (another process, clock
changes) spreads over all sizes instead of bending the curve; cheap sizes get a larger share of each round.
CPU: ``time.perf_counter`` around a loop of calls long enough that the clock's resolution and the jitter of the
small sizes do not matter, minus the cost of the loop itself, with the garbage collector paused.
CUDA: events around each call, after a warm-up, with the L2 cache flushed before each call.

The first round is planned from the sweep's first call at each N (no call is made only to plan), the rest from
the first round's own samples. After every round a ``stop`` callback may end the timing: a claim on the exponent
that the samples so far decide (core/sequential.py).
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

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


# After each round: the samples so far, the rounds run and the rounds the budget bought; True ends the timing.
StopCallback = Callable[[Mapping[int, Sequence[float]], int, int], bool]


@dataclass(frozen=True)
class Timed:
    """The samples of a timing, in seconds per call, and how it went: rounds run of those the budget bought, the
    wall seconds it took, and whether ``stop`` ended it before the budget did."""

    samples: dict[int, list[float]]
    rounds: int
    planned: int
    seconds: float
    stopped: bool


def time_calls(
    calls: Mapping[int, Callable[[], object]],
    device: torch.device,
    *,
    first_calls: Mapping[int, float],
    budget: float,
    min_rounds: int,
    max_rounds: int,
    seed: int,
    stop: StopCallback | None = None,
) -> Timed:
    """Seconds per call, several samples per N, in at most the rounds the budget buys (at least ``min_rounds``
    unless ``stop`` ends it sooner). ``calls`` must already have run once (warm-up); ``first_calls`` holds the
    seconds that first call took at each N, which plans the first round."""
    missing = [n for n in calls if not first_calls.get(n, 0.0) > 0]
    if missing:
        raise ValueError(f"the first call's seconds at N={missing[0]} are needed to plan the timing")
    order = random.Random(seed)
    start = time.perf_counter()
    cuda = device.type == "cuda"
    with torch.cuda.device(device) if cuda else contextlib.nullcontext(), _gc_paused():
        sampler: _Sampler = _CudaSampler(calls, device) if cuda else _CpuSampler(calls)
        per_round, _ = sampler.plan({n: first_calls[n] for n in calls})
        samples: dict[int, list[float]] = {n: [] for n in calls}
        # The sweep measured the sizes in order: the first sample must not follow the last of them.
        last = list(calls)[-1]
        rounds, planned = 0, max_rounds
        while rounds < planned:
            visits = round_order(per_round, order, after=last)
            last = visits[-1]
            for n, seconds in sampler.take(visits):
                samples[n].append(seconds)
            rounds += 1
            if rounds == 1:  # a first call is cold (lazy initialization, compilation): plan again from round 1
                per_round, misplanned = sampler.plan({n: statistics.median(samples[n]) for n in calls})
                planned = rounds_for_budget(sampler.round_seconds(per_round), budget, min_rounds, max_rounds)
                # Samples taken unlike the rest are dropped: round 1 was their plan only, and the sizes it dropped get
                # a round more (a sweep's first look waits for them).
                for n in misplanned:
                    samples[n].clear()
                planned += 1 if misplanned else 0
            if stop is not None and rounds < planned and stop(samples, rounds, planned):
                return Timed(samples, rounds, planned, time.perf_counter() - start, stopped=True)
    return Timed(samples, rounds, planned, time.perf_counter() - start, stopped=False)


class _Sampler(Protocol):
    """Takes one round's samples on a device, and plans how many samples each N gets per round."""

    def plan(self, seconds: Mapping[int, float]) -> tuple[dict[int, int], set[int]]:
        """Samples per round of each N, from the seconds one call takes; and the sizes whose samples so far were
        taken unlike the next ones (a loop count the new plan changed)."""

    def round_seconds(self, per_round: Mapping[int, int]) -> float:
        """What a round of this plan costs."""

    def take(self, visits: Sequence[int]) -> list[tuple[int, float]]:
        """One sample per visit, in the order visited: (N, seconds per call)."""


class _CpuSampler:
    def __init__(self, calls: Mapping[int, Callable[[], object]]) -> None:
        self.calls = calls
        self.repeats: dict[int, int] = {}
        self.loop_cost: dict[int, float] = {}
        self.seconds: dict[int, float] = {}

    def plan(self, seconds: Mapping[int, float]) -> tuple[dict[int, int], set[int]]:
        changed = set()
        for n, t in seconds.items():
            repeats = max(1, math.ceil(MIN_CPU_SAMPLE_S / max(t, 1e-9)))
            # A loop count within 2x of the first round's keeps that round's samples alike to the rest.
            if n not in self.repeats or not 0.5 <= repeats / self.repeats[n] <= 2:
                if n in self.repeats:
                    changed.add(n)
                self.repeats[n] = repeats
                # What the loop costs without the work, per call, so that it is not counted as the call's time.
                self.loop_cost[n] = statistics.median(_loop_seconds(_noop, repeats) for _ in range(5)) / repeats
        self.seconds = dict(seconds)
        return samples_per_round({n: self.repeats[n] * t for n, t in seconds.items()}), changed

    def round_seconds(self, per_round: Mapping[int, int]) -> float:
        return sum(count * self.repeats[n] * self.seconds[n] for n, count in per_round.items())

    def take(self, visits: Sequence[int]) -> list[tuple[int, float]]:
        taken = []
        for n in visits:
            k = self.repeats[n]
            seconds = _loop_seconds(self.calls[n], k) / k - self.loop_cost[n]
            taken.append((n, max(seconds, 1e-12)))
        return taken


def _event() -> torch.cuda.Event:
    return torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]


def _l2_flush_buffer(device: torch.device) -> torch.Tensor:
    l2_bytes = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)
    size = max(2 * l2_bytes, DEFAULT_L2_FLUSH_BYTES) if l2_bytes else DEFAULT_L2_FLUSH_BYTES
    return torch.empty(size, dtype=torch.int8, device=device)


class _CudaSampler:
    def __init__(self, calls: Mapping[int, Callable[[], object]], device: torch.device) -> None:
        self.calls = calls
        self.device = device
        self.seconds: dict[int, float] = {}
        self.flush = _l2_flush_buffer(device)  # freed with the sampler, when the timing ends

    def plan(self, seconds: Mapping[int, float]) -> tuple[dict[int, int], set[int]]:
        self.seconds = dict(seconds)
        return samples_per_round(seconds), set()  # one call per sample: nothing is looped

    def round_seconds(self, per_round: Mapping[int, int]) -> float:
        return sum(count * self.seconds[n] for n, count in per_round.items())

    def take(self, visits: Sequence[int]) -> list[tuple[int, float]]:
        events = []
        for n in visits:
            start, end = _event(), _event()
            self.flush.zero_()
            start.record()
            self.calls[n]()
            end.record()
            events.append((n, start, end))
        synchronize(self.device)
        return [(n, start.elapsed_time(end) / 1e3) for n, start, end in events]

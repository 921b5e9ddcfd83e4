"""The timing plan: how many samples each N gets per round, the order they are taken in, how many rounds a budget
buys. Pure logic, checked over many random plans; and the plan of a real timing, made from the first calls and
then from the first round."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from pytest_attncomplexity.measure.timing import (
    MAX_SAMPLES_PER_ROUND,
    round_order,
    rounds_for_budget,
    samples_per_round,
    time_calls,
)


def _random_costs(rng: random.Random) -> dict[int, float]:
    """Seconds per sample of 3 to 6 sizes, from a microsecond to a second, growing with N."""
    costs = sorted(10 ** rng.uniform(-6, 0) for _ in range(rng.randint(3, 6)))
    return {256 * 2**i: cost for i, cost in enumerate(costs)}


def test_cheap_sizes_get_more_samples_within_the_bounds():
    costs = {256: 1e-4, 512: 4e-4, 1024: 1.6e-3, 2048: 6.4e-3, 4096: 2.56e-2}
    # sqrt(longest / own), at most MAX_SAMPLES_PER_ROUND
    assert samples_per_round(costs) == {256: 8, 512: 8, 1024: 4, 2048: 2, 4096: 1}
    # 8, 4, 1 would leave N=256 with more samples than the others together: it would have to follow itself.
    assert samples_per_round({256: 1e-4, 512: 4e-4, 1024: 6.4e-3}) == {256: 5, 512: 4, 1024: 1}
    for seed in range(500):
        plan = samples_per_round(_random_costs(random.Random(seed)))
        assert all(1 <= count <= MAX_SAMPLES_PER_ROUND for count in plan.values())
        assert max(plan.values()) <= sum(plan.values()) - max(plan.values())  # a plan without repeats exists


def test_no_n_ever_follows_itself_within_or_across_rounds():
    for seed in range(500):
        rng = random.Random(seed)
        plan = samples_per_round(_random_costs(rng))
        visits: list[int] = [max(plan)]  # the estimate before the rounds ends with the largest N
        for _ in range(6):
            one_round = round_order(plan, rng, after=visits[-1])
            assert sorted(one_round) == sorted(itertools.chain.from_iterable([n] * c for n, c in plan.items()))
            visits += one_round
        repeats = [(i, a) for i, (a, b) in enumerate(itertools.pairwise(visits)) if a == b]
        assert repeats == [], (plan, repeats)


@pytest.mark.parametrize(
    ("round_seconds", "budget", "expected"),
    [(0.1, 3.0, 25), (0.2, 3.0, 15), (1.0, 3.0, 5), (0.0, 3.0, 25), (10.0, 0.5, 5)],
)
def test_the_budget_buys_rounds_between_the_bounds(round_seconds, budget, expected):
    assert rounds_for_budget(round_seconds, budget, min_rounds=5, max_rounds=25) == expected


def test_the_rounds_are_planned_again_from_the_first_round(matmul_calls):
    calls = matmul_calls
    # First calls as slow as a compilation (a second each): planned from them, a round would cost 3 s and the budget
    # of 0.2 s would buy the fewest rounds, 1. Planned again from round 1's samples (microseconds), it buys more; the
    # samples of round 1, one call each where the new plan loops a hundred, are dropped, and a round is added.
    timed = time_calls(
        calls, torch.device("cpu"), first_calls=dict.fromkeys(calls, 1.0), budget=0.2, min_rounds=1, max_rounds=25,
        seed=0,
    )  # fmt: skip
    assert not timed.stopped
    assert timed.rounds == timed.planned > 2
    assert all(len(samples) >= timed.rounds - 1 for samples in timed.samples.values())


def test_the_timing_needs_every_first_call(matmul_calls):
    calls = matmul_calls
    with pytest.raises(ValueError, match="the first call's seconds at N=64 are needed"):
        time_calls(calls, torch.device("cpu"), first_calls={16: 1e-4, 32: 1e-4}, budget=0.1, min_rounds=1,
                   max_rounds=2, seed=0)  # fmt: skip

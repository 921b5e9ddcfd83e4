"""Timing that stops once its claims are decided: the rounds (measure/timing.py), ``expect=`` and the marker's time
claim through the runner, and when a session times every sweep to its budget. Real sweeps at small N on the CPU;
the stopping rule itself is tested on synthetic samples in test_sequential.py."""

from __future__ import annotations

import re
import time

import pytest
import torch

from pytest_attncomplexity import ScalingRunner, naive_attention, sdpa_attention
from pytest_attncomplexity.core.claims import Claims, parse_expect
from pytest_attncomplexity.core.options import PluginOptions
from pytest_attncomplexity.core.rules import parse_rules
from pytest_attncomplexity.core.verdict import InconclusiveExponent
from pytest_attncomplexity.measure.timing import time_calls

SIZES = [128, 256, 512]  # naive attention: about 2.2 on the CPU, past the per-call cost of the smallest sizes


def _first_calls(calls: dict) -> dict[int, float]:
    seconds = {}
    for n, call in calls.items():
        start = time.perf_counter()
        call()
        seconds[n] = time.perf_counter() - start
    return seconds


def test_a_stop_after_a_round_ends_the_timing_there(matmul_calls):
    calls = matmul_calls
    looks: list[tuple[int, int, dict[int, int]]] = []

    def stop(samples, rounds, planned):
        looks.append((rounds, planned, {n: len(s) for n, s in samples.items()}))
        return rounds == 2

    timed = time_calls(
        calls, torch.device("cpu"), first_calls=_first_calls(calls), budget=0.2, min_rounds=5, max_rounds=25, seed=0,
        stop=stop,
    )  # fmt: skip
    assert timed.stopped and timed.rounds == 2 and timed.planned >= 5
    assert [rounds for rounds, _, _ in looks] == [1, 2]
    # Round 1 may drop a size's samples (a loop count the plan changed): by round 2 every size has some.
    assert all(count >= 1 for count in looks[-1][2].values())
    assert {n: len(s) for n, s in timed.samples.items()} == looks[-1][2]


def test_expect_stops_the_timing_once_the_claim_is_decided():
    # A wide band: at these small N the local slopes of naive attention range from 1.8 to 3.2 (caches), and a curve
    # whose slopes leave the band is timed to the budget (test_sequential.py).
    r = ScalingRunner()(naive_attention, sizes=SIZES, metrics=["time"], device="cpu", expect={"time": (2, 1.5)})
    timing = r.timing
    assert timing is not None and timing.claims == ((2.0, 1.5),)
    assert timing.stopped_early and timing.decided == ("pass",) and timing.rounds < timing.planned
    assert timing.interval is not None and 0.5 <= timing.interval[0] <= r.exponent("time") <= timing.interval[1] <= 3.5
    assert [(v.metric, v.outcome) for v in r.checks] == [("time", "pass")]
    assert timing.describe().startswith(f"time: decided after {timing.rounds} of {timing.planned} round")


def test_a_wrong_expectation_fails_early_with_the_numbers():
    kept = []
    with pytest.raises(AssertionError, match=r"expect=\{'time': \(0, 0.5\)\}\) failed:") as failure:
        ScalingRunner(record=kept.append)(
            naive_attention, sizes=SIZES, metrics=["time"], device="cpu", expect={"time": (0, 0.5)}
        )
    assert not isinstance(failure.value, InconclusiveExponent)
    assert "is outside the expected 0 ± 0.5" in str(failure.value)
    (result,) = kept  # recorded for the reports before the assertion
    assert result.timing is not None and result.timing.decided == ("fail",)
    assert result.timing.rounds < result.timing.planned
    assert f"time: decided after {result.timing.rounds} of " in str(failure.value)  # why the table has few samples


def test_the_declared_time_claim_stops_the_timing_and_param_claims_do_not():
    declared = Claims({"time": 2.0}, tol=1.5)
    r = ScalingRunner(declared=lambda: declared)(naive_attention, sizes=SIZES, metrics=["time"], device="cpu")
    assert r.timing is not None and r.timing.claims == ((2.0, 1.5),) and r.timing.stopped_early
    assert r.checks == []  # the marker's claims are checked after the body (plugin/verdicts.py), not here
    grouped = Claims({"time": 2.0}, tol=1.5, param="n")  # a pytest-benchmark group's: checked on its timings
    r = ScalingRunner(declared=lambda: grouped)(sdpa_attention, sizes=SIZES, metrics=["time"], device="cpu")
    assert r.timing is not None and r.timing.claims == () and r.timing.rounds == r.timing.planned


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (PluginOptions(full_timing=True), "--attn-full-timing"),
        (PluginOptions(save="main"), "a baseline is saved"),
        (PluginOptions(autosave=True), "a baseline is saved"),
        (PluginOptions(compare_fail=parse_rules("time-value:20%")), "time values are compared with a baseline"),
        (PluginOptions(compare_fail=parse_rules("exponent:0.3")), None),
        (PluginOptions(compare="main"), None),
        (PluginOptions(), None),
    ],
)
def test_when_a_session_times_every_sweep_to_its_budget(options, reason):
    assert options.timed_to_the_budget == reason


def test_with_full_timing_the_claim_is_still_asserted_after_the_whole_budget():
    runner = ScalingRunner(PluginOptions(full_timing=True, time_budget=0.2))
    r = runner(naive_attention, sizes=SIZES, metrics=["time"], device="cpu", expect={"time": (2, 1.5)})
    assert r.timing is not None and r.timing.claims == () and r.timing.rounds == r.timing.planned >= 5
    assert [(v.metric, v.outcome) for v in r.checks] == [("time", "pass")]


@pytest.mark.parametrize(
    ("expect", "metrics", "message"),
    [
        ({"speed": 2}, ["time"], "expect: unknown metric 'speed'; choose from time, memory, flops"),
        ({"memory": 1}, ["time"], "expect names 'memory', but metrics=['time'] does not measure it"),
        ({"time": "2"}, ["time"], "expect['time'] must be a finite number, got '2'"),
        ({"time": (2, -0.1)}, ["time"], "expect['time']: tol must be >= 0, got -0.1"),
        ({"time": (2, 0.5, 1)}, ["time"], "expect['time'] must be an exponent or (exponent, tol)"),
        ([("time", 2)], ["time"], "expect must be a dict"),
    ],
)
def test_a_bad_expectation_is_an_error_before_anything_is_measured(expect, metrics, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_expect(expect, metrics)
    ran = []

    def attention(q, k, v):
        ran.append(q.shape[-2])
        return sdpa_attention(q, k, v)

    with pytest.raises(ValueError, match=re.escape(message)):
        ScalingRunner()(attention, sizes=SIZES, metrics=metrics, device="cpu", expect=expect)
    assert ran == []


def test_an_expectation_takes_numpy_numbers_and_none_as_not_given():
    import numpy as np

    bands = parse_expect({"time": (np.float32(2), None), "memory": np.int64(1), "flops": None}, ["time", "memory"])
    assert bands == {"time": (2.0, 0.2), "memory": (1.0, 0.2)}

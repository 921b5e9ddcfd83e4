"""ScalingResult: fits, assertions and their messages, JSON form (synthetic points)."""

from __future__ import annotations

import json

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.records import Halt, PointStatus

SIZES = [256, 512, 1024, 2048]


def _result(**series: list[float]) -> ScalingResult:
    points = {
        metric: tuple(
            Point(n, (v * 0.98, v, v * 1.03)) if metric == "time" else Point(n, (v,))
            for n, v in zip(SIZES, values, strict=True)
        )
        for metric, values in series.items()
    }
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward", {"batch": 1})
    return ScalingResult(label="naive", environment=env, points=points, nodeid="t.py::test")


def test_fit_and_exponent():
    result = _result(memory=[n**2 * 4.0 for n in SIZES], time=[n * 1e-6 for n in SIZES])
    assert result.exponent("memory") == pytest.approx(2.0)
    assert result.fit("time").complexity == "N"
    assert result.fit("memory").sizes == tuple(SIZES)
    assert result.values("memory") == tuple(n**2 * 4.0 for n in SIZES)
    assert result.assert_exponent("memory", 2).exponent == pytest.approx(2.0)


def test_wrong_claim_fails_with_exponent_ci_band_and_table():
    result = _result(memory=[n**2 * 4.0 for n in SIZES])
    with pytest.raises(AssertionError) as failure:
        result.assert_exponent("memory", 1, tol=0.2)
    message = str(failure.value)
    assert "memory exponent 2.000" in message
    assert "95% CI 2.000 to 2.000" in message
    assert "expected 1 ± 0.2 [0.8, 1.2]" in message
    assert "O(N^2)" in message
    assert "local slope" in message
    assert "    2048" in message and "16 MiB" in message


def test_negative_tolerance_is_an_error():
    with pytest.raises(ValueError, match=r"tol must be >= 0, got -0\.1"):
        _result(memory=[1.0, 2.0, 3.0, 4.0]).assert_exponent("memory", 1, tol=-0.1)


def test_metric_not_measured_is_named():
    with pytest.raises(ValueError, match="metric 'time' was not measured in naive; measured: memory"):
        _result(memory=[1.0, 2.0, 3.0, 4.0]).fit("time")


def test_time_points_value_is_the_faster_half_and_spread_is_iqr_of_all():
    point = Point(256, (4.0, 100.0, 1.0, 3.0, 2.0))
    assert point.value == pytest.approx(1.5)  # mean of 1 and 2: the slow outlier does not count
    assert point.median == 3.0
    assert point.iqr == pytest.approx(2.0)
    assert point.relative_iqr == pytest.approx(2.0 / 3.0)
    assert Point(256, (5.0,)).iqr == 0.0 and Point(256, (5.0,)).value == 5.0


def test_json_form_holds_every_metric():
    result = _result(memory=[n * 8.0 for n in SIZES], flops=[0.0, 1.0, 2.0, 3.0])
    document = json.loads(json.dumps(result.to_json()))
    assert document["nodeid"] == "t.py::test"
    assert document["device"] == "cpu" and document["torch"] == "2.13.0"
    memory = document["metrics"]["memory"]
    assert memory["sizes"] == SIZES
    assert memory["exponent"] == pytest.approx(1.0)
    assert memory["unit"] == "B" and memory["complexity"] == "N"
    assert len(memory["ci"]) == 2 and memory["r2"] == pytest.approx(1.0)
    flops = document["metrics"]["flops"]
    assert flops["exponent"] is None
    assert "not positive (N=256: 0.0)" in flops["error"]


def test_the_time_fit_of_a_result_trims_a_launch_sized_overhead_only():
    sizes = [1024, 2048, 4096, 8192, 16384]
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")

    def timed(fixed_cost: float, per_n2: float) -> ScalingResult:
        points = tuple(Point(n, (fixed_cost + per_n2 * n**2,) * 3) for n in sizes)
        return ScalingResult(label="t", environment=env, points={"time": points})

    launch = timed(12e-6, 4e-12)  # 12 µs per call: a kernel launch, left out where it dominates
    assert launch.fit("time").overhead_sizes == (1024, 2048)
    assert launch.exponent("time") == pytest.approx(2.0, abs=0.15)
    cache_level = timed(1e-3, 1e-9)  # 1 ms "overhead": a cache level the curve crosses, over the 100 µs cap
    assert cache_level.fit("time").overhead_sizes == ()


def test_points_built_by_hand_are_the_same_records_as_a_sweep_makes():
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")
    points = (
        Point(256, [1.0]),  # a list of samples
        Point(512, (4.0,)),
        Point(1024, (16.0,)),
        Point(2048, (), "oom", "CUDA out of memory"),  # a plain string status
    )
    result = ScalingResult(label="by hand", environment=env, points={"memory": points})
    assert points[0].samples == (1.0,) and points[3].status is PointStatus.OUT_OF_MEMORY
    assert result.exponent("memory") == pytest.approx(2.0)
    with pytest.raises(AssertionError, match=r"(?s)is outside the expected 1 ± 0.2.*    2048           oom"):
        result.assert_exponent("memory", 1, tol=0.2)
    with pytest.raises(ValueError, match="'oops' is not a valid PointStatus"):
        Point(64, (), "oops")


def test_a_result_read_back_from_its_json_is_the_same_record():
    """The form baselines are stored in and xdist workers send: points, raw samples, halt and verdicts survive."""
    result = _result(memory=[n**2 * 4.0 for n in SIZES], time=[n * 1e-6 for n in SIZES])
    result.points["memory"] = (*result.points["memory"], Point(4096, (), "oom", "out of memory"))
    result.halt = Halt(4096, "oom", "out of memory")
    result.check("memory", 2, 0.1)
    result.check("time", 2, 0.1)  # a failed verdict is kept as well
    again = ScalingResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.to_json() == result.to_json()
    assert again.points["time"][0].samples == result.points["time"][0].samples
    assert again.points["memory"][-1].status is PointStatus.OUT_OF_MEMORY
    assert [v.outcome for v in again.checks] == ["pass", "fail"]
    assert again.fit("time").exponent == result.fit("time").exponent


def test_a_record_with_a_size_measured_twice_is_refused():
    """A sweep measures each size once; a record edited by hand to repeat one would divide by zero in the fit."""
    document = _result(memory=[n**2 * 4.0 for n in SIZES]).to_json()
    document["metrics"]["memory"]["sizes"][1] = document["metrics"]["memory"]["sizes"][0]
    with pytest.raises(ValueError, match=r"memory: a size appears twice in \[256, 256, "):
        ScalingResult.from_json(document)


def test_the_axis_and_the_mask_round_trip_and_an_older_record_swept_n():
    env = Environment(
        "cpu", "test cpu", "2.13.0", 1, "bfloat16", "train", {"batch": 1, "heads": 8, "seq_len": 512, "kv_heads": 2},
        axis="head_dim", mask="float",
    )  # fmt: skip
    points = {"flops": tuple(Point(d, (1e6 * d,)) for d in (32, 64, 128))}
    result = ScalingResult(label="gqa", environment=env, points=points, halt=Halt(256, "oom", "out of memory"))
    document = json.loads(json.dumps(result.to_json()))
    assert (document["axis"], document["mask"], document["shape"]["seq_len"]) == ("head_dim", "float", 512)
    again = ScalingResult.from_json(document)
    assert again.environment == env and again.to_json() == document
    assert again.symbol == "head_dim" and again.halt is not None
    assert again.halt.describe(again.symbol) == "out of memory at head_dim=256: out of memory"
    del document["axis"], document["mask"]  # written before sweeps had an axis
    older = ScalingResult.from_json(document)
    assert (older.environment.axis, older.environment.mask, older.symbol) == ("seq_len", None, "N")


def test_a_record_that_is_not_a_result_is_refused():
    document = _result(memory=[1.0, 2.0, 4.0, 8.0]).to_json()
    del document["metrics"]
    with pytest.raises(KeyError, match="metrics"):
        ScalingResult.from_json(document)


# A 1-layer BERT's training step (hidden size 128) as measured at N=256..4096: its parameters' gradients are a fixed
# 15 MiB that flattens the head of the curve.
BERT_SIZES = [256, 512, 1024, 2048, 4096]
BERT_MIB = [15.2, 15.4, 37.0, 138.0, 532.0]


def _measured(metric: str, sizes: list[int], values: list[float]) -> ScalingResult:
    points = tuple(Point(n, (v,)) for n, v in zip(sizes, values, strict=True))
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "train")
    return ScalingResult(label="bert", environment=env, points={metric: points}, nodeid="t.py::test")


def test_the_memory_fit_of_a_result_leaves_out_a_fixed_part_and_reports_it():
    from pytest_attncomplexity.report.html import render_html
    from pytest_attncomplexity.report.text import format_result

    result = _measured("memory", BERT_SIZES, [v * 2**20 for v in BERT_MIB])
    fit = result.fit("memory")
    assert fit.overhead_sizes == (256, 512)
    assert fit.exponent == pytest.approx(2.0, abs=0.2)  # 1.43 over every size
    assert result.fit_on("memory", BERT_SIZES, trim=False).exponent < 1.6
    assert 10 * 2**20 < fit.fixed_part < 15.2 * 2**20
    note = "memory: N=256, N=512 left out of the exponent: a fixed part of ≈"
    assert any(line.strip().startswith(note) and line.endswith("MiB dominates there") for line in format_result(result))
    page = render_html([result], {"t.py::test": "passed"}, {})
    assert note in page and "a fixed part dominates: left out of the exponent" in page
    memory = json.loads(json.dumps(result.to_json()))["metrics"]["memory"]
    assert memory["overhead_sizes"] == [256, 512] and memory["fixed_part"] == pytest.approx(fit.fixed_part)


def test_memory_without_a_fixed_part_and_flops_keep_every_size():
    naive = _measured("memory", SIZES, [4.5 * 2**20, 17 * 2**20, 66 * 2**20, 260 * 2**20])  # naive attention
    assert naive.fit("memory").overhead_sizes == ()
    assert naive.to_json()["metrics"]["memory"]["fixed_part"] is None
    flops = _measured("flops", BERT_SIZES, [v * 1e9 for v in BERT_MIB])  # FLOPs have no fixed part to leave out
    assert flops.fit("flops").overhead_sizes == ()

"""The marker's claims and the extrapolations (memory wall, predictions) on synthetic results, without pytest."""

from __future__ import annotations

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.claims import Claims, check_claims, parse_claims
from pytest_attncomplexity.core.extrapolate import describe_prediction, memory_wall, predict_at
from pytest_attncomplexity.core.records import OUT_OF_MEMORY, Halt
from pytest_attncomplexity.core.verdict import InconclusiveExponent

SIZES = (256, 512, 1024, 2048)
GIB = 2**30


def _result(capacity: int = 16 * GIB, **series: list[float]) -> ScalingResult:
    points = {
        metric: tuple(Point(n, (v,)) for n, v in zip(SIZES, values, strict=True)) for metric, values in series.items()
    }
    env = Environment("cuda:0", "test gpu", "2.13.0", 0, "float16", "forward", memory_capacity=capacity)
    return ScalingResult(label="naive", environment=env, points=points, nodeid="t.py::test")


def test_claims_parse_and_reject_what_they_do_not_know():
    assert parse_claims((), {"time": 2, "memory": 1.0, "tol": 0.3}) == Claims({"time": 2.0, "memory": 1.0}, 0.3)
    assert parse_claims((), {"flops": 2}).tol == 0.2
    with pytest.raises(ValueError, match="unknown keyword argument 'memmory'; known: time, memory, flops, tol"):
        parse_claims((), {"memmory": 1})
    with pytest.raises(ValueError, match=r"keyword arguments only .* got positional \[2\]"):
        parse_claims((2,), {})
    with pytest.raises(ValueError, match="declares no exponent"):
        parse_claims((), {"tol": 0.1})
    with pytest.raises(ValueError, match="time must be a finite number, got 'two'"):
        parse_claims((), {"time": "two"})
    with pytest.raises(ValueError, match="tol must be >= 0, got -1"):
        parse_claims((), {"time": 2, "tol": -1})


def test_check_claims_lists_every_miss_and_separates_noise():
    quadratic = _result(memory=[n**2 * 4.0 for n in SIZES], flops=[n**2 * 10.0 for n in SIZES])
    check_claims([quadratic], Claims({"memory": 2, "flops": 2}))
    with pytest.raises(AssertionError) as failed:
        check_claims([quadratic], Claims({"memory": 1, "time": 2}))
    message = str(failed.value)
    assert "memory exponent 2.000" in message and "is outside the expected 1 ± 0.2" in message
    assert "declares time, but time was not measured (metrics measured: memory, flops)" in message
    assert not isinstance(failed.value, InconclusiveExponent)
    # A wobbly curve whose interval reaches into the band: inconclusive, not a failure.
    wobbly = _result(memory=[1.0, 3.0, 5.0, 20.0])
    with pytest.raises(InconclusiveExponent):
        check_claims([wobbly], Claims({"memory": 1.0}, tol=0.1))


def test_a_claim_checked_in_the_body_is_not_checked_again():
    result = _result(memory=[n**2 * 4.0 for n in SIZES])
    result.assert_exponent("memory", 2, tol=0.2)
    check_claims([result], Claims({"memory": 2}, tol=0.2))
    assert len(result.checks) == 1
    check_claims([result], Claims({"memory": 2}, tol=0.3))  # another claim: a verdict of its own
    assert [v.tol for v in result.checks] == [0.2, 0.3]


def test_memory_wall_from_the_fit_and_the_budget():
    # 4 bytes × N²: 16 GiB is reached at N = 65536.
    result = _result(memory=[4.0 * n**2 for n in SIZES])
    wall = memory_wall(result)
    assert wall is not None and wall.n == pytest.approx(65536, rel=1e-6)
    assert (
        wall.describe() == "memory wall: N ≈ 65,536 fills 16 GiB (GPU memory) with the call's peak (inputs not counted)"
    )
    budget = memory_wall(result, max_memory=4 * GIB)
    assert budget is not None and budget.n == pytest.approx(32768, rel=1e-6)
    assert budget.limit_name == "--attn-max-memory"
    result.halt = Halt(8192, OUT_OF_MEMORY, "CUDA out of memory")
    oom_wall = memory_wall(result)
    assert oom_wall is not None and oom_wall.describe().endswith("the sweep ran out of memory at N=8,192")
    assert memory_wall(_result(capacity=0, memory=[4.0 * n**2 for n in SIZES])) is None
    assert memory_wall(_result(time=[1.0, 2.0, 4.0, 8.0])) is None
    flat = memory_wall(_result(memory=[1e6, 1e6, 1e6, 1e6]))
    assert flat is not None and flat.n is None and "does not grow" in flat.describe()
    # A fixed workspace with a trace of growth: the wall is astronomically far, not an OverflowError.
    creeping = memory_wall(_result(memory=[1e6 * n**0.01 for n in SIZES]))
    assert creeping is not None and creeping.n is None and creeping.beyond
    assert creeping.describe().startswith("memory wall: beyond N = 1e+15, the peak grows too slowly to fill 16 GiB")


def test_predictions_follow_each_power_law():
    result = _result(memory=[4.0 * n**2 for n in SIZES], time=[1e-6 * n for n in SIZES])
    predicted = predict_at(result, 65536)
    assert predicted["memory"] == pytest.approx(4.0 * 65536**2)
    assert predicted["time"] == pytest.approx(65536e-6)
    assert describe_prediction(result, 65536) == (
        "predicted at N=65,536: memory ≈ 16 GiB, time ≈ 65.5 ms (extrapolated from N ≤ 2,048)"
    )


def test_markdown_cells_keep_html_and_pipes_out():
    from pytest_attncomplexity.report.markdown import render_markdown

    result = _result(memory=[4.0 * n**2 for n in SIZES])
    result.label = "test_x.<locals>.attn|v2"
    table = render_markdown([result], {"t.py::test": "passed"})
    assert table.startswith("\n### Attention scaling")
    assert "| test_x.&lt;locals&gt;.attn\\|v2 | memory | 2.000 |" in table

"""Three verdicts (pass, fail, inconclusive) and the re-measure before an inconclusive one; synthetic points."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.verdict import FAIL, INCONCLUSIVE, PASS, InconclusiveExponent, judge

SIZES = [256, 512, 1024, 2048, 4096]
ENV = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")


def _result(values: list[float], spread: float = 0.0) -> ScalingResult:
    """Time points with samples spread by ±``spread`` around each value."""
    points = tuple(
        Point(n, (v * (1 - spread), v * (1 - spread / 2), v, v * (1 + spread / 2), v * (1 + spread)))
        for n, v in zip(SIZES, values, strict=True)
    )
    return ScalingResult(label="attn", environment=ENV, points={"time": points})


QUADRATIC = [1e-9 * n**2 for n in SIZES]
# A quadratic with two points knocked off the line: the exponent reads about 1.6, with a wide interval.
SCATTERED = [v * f for v, f in zip(QUADRATIC, [3.0, 0.5, 2.0, 1.0, 1.0], strict=True)]


def test_exponent_in_the_band_passes():
    assert _result(QUADRATIC).check("time", 2, 0.1).outcome == PASS


def test_confident_miss_fails_with_the_band_and_the_table():
    result = _result(QUADRATIC)
    assert result.check("time", 1, 0.2).outcome == FAIL
    with pytest.raises(AssertionError) as failure:
        result.assert_exponent("time", 1, 0.2)
    assert not isinstance(failure.value, InconclusiveExponent)
    assert "time exponent 2.000 (95% CI 2.000 to 2.000, class O(N^2)) is outside the expected 1 ± 0.2" in str(
        failure.value
    )


def test_miss_inside_the_interval_is_inconclusive_and_says_it_was_noise():
    result = _result(SCATTERED, spread=0.4)
    fit = result.fit("time")
    assert not 1.8 <= fit.exponent <= 2.2 and fit.ci[0] < 2.2  # outside the band, interval reaches in
    assert result.check("time", 2, 0.2).outcome == INCONCLUSIVE
    with pytest.raises(InconclusiveExponent) as failure:
        result.assert_exponent("time", 2, 0.2)
    message = str(failure.value)
    assert message.startswith("attn: inconclusive: time exponent")
    assert "too noisy to decide" in message and "--attn-time-budget" in message
    assert "noisy (IQR" in message  # the noisy points are flagged in the table


def test_inconclusive_is_measured_again_before_it_is_given():
    result = _result(SCATTERED, spread=0.4)
    calls = []

    def retimer(measured: ScalingResult, metric: str) -> dict[int, tuple[float, ...]]:
        calls.append(metric)
        # Many clean samples on the quadratic: the medians move onto the line.
        return {n: (v,) * 50 for n, v in zip(SIZES, QUADRATIC, strict=True)}

    result.retimer = retimer
    verdict = result.check("time", 2, 0.2)
    assert calls == ["time"]
    assert verdict.outcome == PASS
    assert result.remeasured == 1
    assert len(result.points["time"][0].samples) == 55


def test_counts_are_not_measured_again():
    points = tuple(Point(n, (v,)) for n, v in zip(SIZES, SCATTERED, strict=True))
    result = ScalingResult(label="attn", environment=ENV, points={"memory": points})
    result.retimer = lambda measured, metric: pytest.fail("memory is a count: measuring again cannot change it")
    assert result.check("memory", 2, 0.2).outcome == INCONCLUSIVE


def test_negative_tol_is_an_error():
    with pytest.raises(ValueError, match="tol must be >= 0, got -1"):
        _result(QUADRATIC).check("time", 2, -1)


def test_an_exponent_on_the_edge_of_the_band_passes():
    # The fit's own exponent is 2 up to rounding; the edge is tested on an exact 2, in a band exact in binary.
    fit = dataclasses.replace(_result(QUADRATIC).fit("time"), exponent=2.0)
    assert judge(fit, 1.75, 0.25).outcome == PASS
    assert judge(fit, 2.25, 0.25).outcome == PASS
    assert judge(fit, 2.5, 0.25).outcome != PASS


def test_the_device_out_of_memory_error_of_an_older_torch_is_found():
    from types import SimpleNamespace

    from pytest_attncomplexity.sweep.stops import device_out_of_memory_type, is_out_of_memory

    class CudaOutOfMemory(RuntimeError):
        pass

    older_torch = SimpleNamespace(cuda=SimpleNamespace(OutOfMemoryError=CudaOutOfMemory))  # no torch.OutOfMemoryError
    assert device_out_of_memory_type(older_torch) is CudaOutOfMemory
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))

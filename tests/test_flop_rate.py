"""FLOP/s at each N and its share of the device's peak: synthetic points for the figures and the report lines, the
vendor table by device name, and the matmul measurement (small, on the CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from pytest_attncomplexity import Environment, PeakRate, Point, ScalingResult
from pytest_attncomplexity.measure.peak import device_peak, measured_peak, peak_kind, vendor_peak
from pytest_attncomplexity.report.efficiency import flop_rate_lines
from pytest_attncomplexity.report.html import render_html
from pytest_attncomplexity.report.text import format_result

SIZES = [256, 512, 1024, 2048]
H100_BF16 = PeakRate(989.4e12, "vendor figure: H100 SXM, bfloat16, dense")


def _result(metrics=("time", "flops"), peak: PeakRate | None = None, device: str = "cpu") -> ScalingResult:
    """Naive attention's FLOPs (4·8·N²·64) in N²·1e-9 s per call: 2.048 GFLOP/s... at every N, with the time
    samples spread so that the faster half (not the median) decides."""
    points: dict[str, tuple[Point, ...]] = {}
    if "time" in metrics:
        points["time"] = tuple(Point(n, (n**2 * 1e-9, n**2 * 1e-9, n**2 * 3e-9, n**2 * 5e-9)) for n in SIZES)
    if "flops" in metrics:
        points["flops"] = tuple(Point(n, (4.0 * 8 * n**2 * 64,)) for n in SIZES)
    env = Environment(device, "test device", "2.13.0", 1, "bfloat16", "forward", peak=peak)
    return ScalingResult("naive", env, points, nodeid="t.py::test")


def test_flop_rate_is_flops_over_the_faster_half_mean_of_time_at_each_n():
    result = _result()
    assert result.flop_rates() == {n: pytest.approx(2048e9) for n in SIZES}
    assert _result(metrics=("flops",)).flop_rates() == {}
    assert _result(metrics=("time",)).flop_rates() == {}


def test_sizes_measured_for_one_metric_only_get_no_flop_rate():
    result = _result()
    result.points["time"] = (*result.points["time"][:3], Point(2048, (), "oom", "out of memory"))
    assert sorted(result.flop_rates()) == [256, 512, 1024]


def test_the_report_line_gives_each_n_in_one_unit():
    result = _result()
    result.points["time"] = tuple(Point(p.n, (p.value * 1000 / p.n,)) for p in result.points["time"])
    assert flop_rate_lines(result) == ["FLOP/s (TFLOP/s): 0.524 at N=256, 1.05 at 512, 2.1 at 1024, 4.19 at 2048"]
    result.points["time"] = tuple(Point(p.n, (p.value * 100,)) for p in result.points["time"])
    assert flop_rate_lines(result) == ["FLOP/s (GFLOP/s): 5.24 at N=256, 10.5 at 512, 21 at 1024, 41.9 at 2048"]
    assert flop_rate_lines(_result()) == ["FLOP/s (TFLOP/s): 2.05 at N=256, 2.05 at 512, 2.05 at 1024, 2.05 at 2048"]
    assert flop_rate_lines(_result(metrics=("flops",))) == []
    lines = format_result(_result())
    assert "  FLOP/s (TFLOP/s): 2.05 at N=256, 2.05 at 512, 2.05 at 1024, 2.05 at 2048" in lines


def test_on_cuda_the_share_of_the_peak_and_where_the_peak_comes_from():
    result = _result(peak=H100_BF16, device="cuda:0")
    assert flop_rate_lines(result)[1] == (
        "share of peak: 0% at N=256, 0% at 512, 0% at 1024, 0% at 2048 of 989 TFLOP/s "
        "(vendor figure: H100 SXM, bfloat16, dense)"
    )
    fast = _result(peak=PeakRate(4096e9, "measured: 8192×8192 bfloat16 matmul, best of 5"), device="cuda:0")
    assert flop_rate_lines(fast)[1] == (
        "share of peak: 50% at N=256, 50% at 512, 50% at 1024, 50% at 2048 of 4.1 TFLOP/s "
        "(measured: 8192×8192 bfloat16 matmul, best of 5)"
    )
    page = render_html([fast], {"t.py::test": "passed"}, {})
    assert "FLOP/s (TFLOP/s): 2.05 at N=256" in page and "share of peak: 50% at N=256" in page


def test_the_json_holds_the_flop_rate_and_the_peak_and_reads_back_the_same():
    result = _result(peak=H100_BF16, device="cuda:0")
    document = json.loads(json.dumps(result.to_json()))
    assert document["flop_rate"] == {str(n): pytest.approx(2048e9) for n in SIZES}
    assert document["peak_flop_rate"] == {"flop_rate": 989.4e12, "source": "vendor figure: H100 SXM, bfloat16, dense"}
    again = ScalingResult.from_json(document)
    assert again.environment.peak == H100_BF16
    assert again.to_json() == result.to_json()
    cpu = _result(metrics=("flops",)).to_json()
    assert cpu["flop_rate"] == {} and cpu["peak_flop_rate"] is None
    assert ScalingResult.from_json(cpu).to_json() == cpu


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA H200", "H200 SXM"),
        ("NVIDIA H200 NVL", "H200 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100 80GB PCIe", "A100"),
    ],
)
def test_the_vendor_table_knows_the_parts_by_their_cuda_names(name, part):
    peak = vendor_peak(name, "bfloat16")
    assert peak is not None and peak.source == f"vendor figure: {part}, bfloat16, dense"
    expected = {"H100 SXM": 989.4e12, "H200 SXM": 989.4e12, "H100 PCIe": 756.5e12, "A100": 312e12}.get(part, 835.5e12)
    assert peak.flop_rate == pytest.approx(expected)


def test_other_parts_and_dtypes_have_no_vendor_figure():
    assert vendor_peak("NVIDIA GH200 480GB", "bfloat16") is None  # not the H200 SXM: measured instead
    assert vendor_peak("NVIDIA L4", "float16") is None
    assert vendor_peak("NVIDIA H100 80GB HBM3", "float8_e4m3fn") is None


def test_float32_counts_as_tf32_only_when_matmuls_may_use_it():
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert peak_kind(torch.float32) == "float32"
        peak = vendor_peak("NVIDIA H100 80GB HBM3", peak_kind(torch.float32))
        assert peak is not None and peak.source == "vendor figure: H100 SXM, float32, dense"
        assert peak.flop_rate == pytest.approx(66.9e12)
        torch.set_float32_matmul_precision("high")  # allow_tf32
        assert peak_kind(torch.float32) == "tf32"
        assert peak_kind(torch.bfloat16) == "bfloat16"
    finally:
        torch.set_float32_matmul_precision(before)


def test_a_measured_matmul_gives_a_positive_rate_and_says_what_was_measured():
    peak = measured_peak(torch.device("cpu"), torch.float32, side=128)
    assert peak.flop_rate > 0
    assert peak.source == "measured: 128×128 float32 matmul, best of 5"


def test_the_cpu_gets_no_peak():
    assert device_peak(torch.device("cpu"), torch.float32, "AMD EPYC") is None


def test_a_mig_slice_gets_no_vendor_figure_of_the_whole_part():
    assert vendor_peak("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bfloat16") is None
    assert vendor_peak("NVIDIA H100 80GB HBM3", "bfloat16") is not None

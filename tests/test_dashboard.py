"""The formats CI dashboards read (report/dashboard.py, ``attn-scaling export``): github-action-benchmark's
customSmallerIsBetter, checked against the fields the action documents, and the Bencher Metric Format."""

from __future__ import annotations

import json
import math

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.cli.main import main
from pytest_attncomplexity.core.document import results_document
from pytest_attncomplexity.core.records import OUT_OF_MEMORY, Halt
from pytest_attncomplexity.report.dashboard import bencher_metric_format, custom_smaller_is_better

SIZES = (256, 512, 1024, 2048)
ENV = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")


def _results() -> list[ScalingResult]:
    time = tuple(Point(n, tuple(1e-9 * n**2 * (1 + 0.02 * i) for i in range(6))) for n in SIZES)
    memory = tuple(Point(n, (4096.0 * n,)) for n in SIZES)
    flops = tuple(Point(n, (4.0 * 64 * n**2,)) for n in SIZES)
    sdpa = ScalingResult("sdpa", ENV, {"time": time, "memory": memory, "flops": flops}, nodeid="t.py::test_sdpa")
    again = ScalingResult("sdpa", ENV, {"memory": memory}, nodeid="t.py::test_sdpa")  # the same label twice
    short = ScalingResult("short", ENV, {"memory": memory[:2]}, nodeid="t.py::test_short")
    short.halt = Halt(1024, OUT_OF_MEMORY, "out of memory")
    return [sdpa, again, short]


# github-action-benchmark's customSmallerIsBetter entries: name, unit and value required (value a number), range and
# extra optional strings: the action's BenchmarkResult (src/extract.ts), which its custom tools read as they are.
REQUIRED = {"name": str, "unit": str, "value": (int, float)}
OPTIONAL = {"range": str, "extra": str}


def test_custom_smaller_is_better_has_the_actions_fields_and_types():
    entries = custom_smaller_is_better(_results())
    assert isinstance(entries, list) and entries
    for entry in entries:
        assert set(entry) <= set(REQUIRED) | set(OPTIONAL), entry
        for key, kind in REQUIRED.items():
            assert isinstance(entry[key], kind), (key, entry)
        for key, kind in OPTIONAL.items():
            assert key not in entry or isinstance(entry[key], kind), (key, entry)
        assert not isinstance(entry["value"], bool) and math.isfinite(entry["value"])
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names))  # one chart per name: none may be shared
    json.loads(json.dumps(entries, allow_nan=False))  # plain JSON, no NaN


def test_each_metric_gives_its_exponent_and_its_value_at_the_largest_n():
    entries = {entry["name"]: entry for entry in custom_smaller_is_better(_results())}
    exponent = entries["t.py::test_sdpa [sdpa] time exponent"]
    assert exponent["unit"] == "exponent" and exponent["value"] == pytest.approx(2.0, abs=0.01)
    assert exponent["range"].startswith("± ") and "95% CI" in exponent["extra"]
    assert "N=256..2048 (4 sizes), O(N^2)" in exponent["extra"]
    time = entries["t.py::test_sdpa [sdpa] time at N=2048"]
    assert time["unit"] == "s" and time["value"] == pytest.approx(1e-9 * 2048**2 * 1.02, rel=0.05)
    assert time["range"].startswith("± ")  # half the interquartile range of its samples
    memory = entries["t.py::test_sdpa [sdpa] memory at N=2048"]
    assert memory == {
        "name": "t.py::test_sdpa [sdpa] memory at N=2048",
        "unit": "bytes",
        "value": 4096.0 * 2048,
        "extra": "8 MiB at N=2048, 1 sample(s)\ncpu (test cpu), torch 2.13.0",
    }
    assert entries["t.py::test_sdpa [sdpa] flops exponent"]["value"] == 2.0
    assert "t.py::test_sdpa [sdpa] #2 memory exponent" in entries  # the second sweep of the label
    # Too few sizes for a fit: no exponent, the value still goes out.
    assert "t.py::test_short [short] memory exponent" not in entries
    assert entries["t.py::test_short [short] memory at N=512"]["value"] == 4096.0 * 512


def test_bencher_metric_format_gives_exponents_with_their_interval():
    benchmarks = bencher_metric_format(_results())
    sdpa = benchmarks["t.py::test_sdpa [sdpa]"]
    assert set(sdpa) == {
        "time exponent",
        "time at N=2048 (s)",
        "memory exponent",
        "memory at N=2048 (bytes)",
        "flops exponent",
        "flops at N=2048 (FLOP)",
    }
    exponent = sdpa["memory exponent"]
    assert set(exponent) == {"value", "lower_value", "upper_value"}
    assert exponent["lower_value"] <= exponent["value"] <= exponent["upper_value"]
    assert set(benchmarks) == {"t.py::test_sdpa [sdpa]", "t.py::test_sdpa [sdpa] #2", "t.py::test_short [short]"}


@pytest.mark.parametrize("format_", ["customSmallerIsBetter", "bencher"])
def test_export_writes_a_runs_json_in_the_format(tmp_path, capsys, format_):
    source = tmp_path / "run.json"
    environment = {"key": "k", "device": "cpu"}
    source.write_text(json.dumps(results_document(_results(), environment=environment, commit={"id": "abc"})))
    output = tmp_path / "bench.json"
    assert main(["export", str(source), "--format", format_, "-o", str(output)]) == 0
    expected = custom_smaller_is_better if format_ == "customSmallerIsBetter" else bencher_metric_format
    assert json.loads(output.read_text()) == json.loads(json.dumps(expected(_results())))
    assert f"3 result(s) of {source} written to {output} ({format_})" in capsys.readouterr().err
    assert main(["export", str(source), "--format", format_]) == 0  # to standard output
    assert json.loads(capsys.readouterr().out) == json.loads(output.read_text())


def test_export_refuses_a_file_that_is_not_a_run(tmp_path, capsys):
    source = tmp_path / "benchmark.json"
    source.write_text(json.dumps({"benchmarks": []}))
    assert main(["export", str(source)]) == 2
    assert f"attn-scaling export: error: '{source}' is neither an --attn-scaling-json report" in capsys.readouterr().err


def test_names_leave_out_the_xdist_group_and_non_finite_values_are_left_out():
    time = (*(Point(n, (1e-9 * n**2,)) for n in SIZES[:-1]), Point(SIZES[-1], (float("nan"),)))
    memory = tuple(Point(n, (4096.0 * n,)) for n in SIZES)
    grouped = ScalingResult("sdpa", ENV, {"time": time, "memory": memory}, nodeid="t.py::test_sdpa@gpu")  # loadgroup
    entries = custom_smaller_is_better([grouped])
    names = [entry["name"] for entry in entries]
    # Time: no value at N=2048 (NaN is not JSON) and no fit through it; memory as ever.
    assert names == ["t.py::test_sdpa [sdpa] memory exponent", "t.py::test_sdpa [sdpa] memory at N=2048"]
    json.dumps(entries, allow_nan=False)
    assert list(bencher_metric_format([grouped])) == ["t.py::test_sdpa [sdpa]"]

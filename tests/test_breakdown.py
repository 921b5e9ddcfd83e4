"""Where the N² comes from: the breakdown of a metric by operator and line (core/breakdown.py on synthetic parts,
measure/attribution.py on real CPU sweeps), the failure text that points at it, and the reports that show it."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest
import torch

from pytest_attncomplexity import Environment, Point, ScalingResult, ScalingRunner, sdpa_attention
from pytest_attncomplexity.core.breakdown import (
    OTHER,
    OperatorPart,
    describe_group,
    fit_breakdown,
    growing_past,
    operators_from_json,
    operators_to_json,
    term_name,
)
from pytest_attncomplexity.core.comparison import Change
from pytest_attncomplexity.core.rules import parse_rules
from pytest_attncomplexity.gate.gate import BaselineGate
from pytest_attncomplexity.gate.storage import Baseline
from pytest_attncomplexity.report.html import render_html
from pytest_attncomplexity.report.text import format_result

from .inner import InnerSession, run_inner_session

SIZES = [128, 256, 512, 1024]
ENV = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")


def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    probs = scores.softmax(dim=-1)
    return probs @ v


def _line_of(fn: object, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    return first + next(i for i, line in enumerate(lines) if text in line)


SCORES_LINE, SOFTMAX_LINE = _line_of(naive, "scores ="), _line_of(naive, "softmax")


def _parts(n: int) -> list[OperatorPart]:
    """Synthetic parts: a quadratic score matrix, a linear output, and a constant workspace."""
    return [
        OperatorPart("aten::_softmax", "model.py:42", f"(1, 8, {n}, {n}) float32", 32.0 * n * n),
        OperatorPart("aten::bmm", "model.py:43", f"(8, {n}, 64) float32", 2048.0 * n),
        OperatorPart("aten::empty", None, None, 4096.0),
    ]


def test_groups_are_fitted_across_n_and_ranked_by_share_at_the_largest_n():
    groups = fit_breakdown({n: _parts(n) for n in (256, 512, 1024, 2048)}, "memory")
    assert [g.name for g in groups] == ["aten::_softmax", "aten::bmm", "aten::empty"]
    quadratic, linear, constant = groups
    assert quadratic.exponent == pytest.approx(2.0) and linear.exponent == pytest.approx(1.0)
    assert constant.exponent == pytest.approx(0.0, abs=1e-9)
    total = 32.0 * 2048**2 + 2048.0 * 2048 + 4096.0
    assert quadratic.share == pytest.approx(32.0 * 2048**2 / total)
    assert sum(g.share for g in groups) == pytest.approx(1.0)
    assert quadratic.values[512] == 32.0 * 512 * 512 and quadratic.where == "model.py:42"
    assert quadratic.shape_with(2048) == "(1, 8, N, N) float32"
    assert quadratic.shape_with(2048, "kv_len") == "(1, 8, kv_len, kv_len) float32"


def test_a_group_seen_at_one_size_has_no_exponent_and_parts_of_one_line_add_up():
    parts = {
        256: [OperatorPart("aten::mul", "a.py:1", None, 10.0), OperatorPart("aten::mul", "a.py:1", None, 5.0)],
        512: [OperatorPart("aten::mul", "a.py:1", None, 60.0), OperatorPart("aten::cat", "a.py:2", None, 40.0)],
    }
    mul, cat = fit_breakdown(parts)
    assert mul.values == {256: 15.0, 512: 60.0} and mul.exponent == pytest.approx(2.0)
    assert cat.exponent is None and cat.share == pytest.approx(0.4)
    assert fit_breakdown({}) == ()


def test_the_groups_past_a_claimed_exponent_are_those_a_failure_names():
    parts = {n: [*_parts(n), OperatorPart(OTHER, None, None, 1e-3 * n**3)] for n in (256, 512, 1024)}
    groups = fit_breakdown(parts, "memory")
    assert [g.name for g in growing_past(groups, 1.2)] == ["aten::_softmax"]  # OTHER is never named
    assert growing_past(groups, 2.5) == []
    quadratic = groups[0]
    assert describe_group(quadratic, "memory") == (
        f"the N² term: aten::_softmax at model.py:42, (1, 8, N, N) float32, {quadratic.share:.0%} of the peak at "
        "N=1024, exponent 2.00"
    )
    assert term_name(1.0) == "N" and term_name(2.08) == "N²" and term_name(1.6) == "N^1.6"


def test_parts_and_results_keep_their_breakdown_through_json():
    operators = {"memory": {n: tuple(_parts(n)) for n in (256, 512, 1024)}}
    assert operators_from_json(operators_to_json(operators)) == operators
    points = {"memory": tuple(Point(n, (sum(p.value for p in _parts(n)),)) for n in (256, 512, 1024))}
    result = ScalingResult("attn", ENV, points, operators=operators)
    data = result.to_json()
    assert data["breakdown"]["memory"][0]["name"] == "aten::_softmax"
    assert ScalingResult.from_json(data).breakdown("memory") == result.breakdown("memory")
    with pytest.raises(ValueError, match="metric 'time' was not measured"):
        result.breakdown("time")


@pytest.fixture(scope="module")
def naive_result() -> ScalingResult:
    return ScalingRunner()(naive, sizes=SIZES, metrics=["memory", "flops"], device="cpu")


def test_naive_attention_s_memory_comes_from_the_n_by_n_operators_at_their_lines(naive_result: ScalingResult):
    groups = naive_result.breakdown("memory")
    largest = groups[0]
    assert largest.exponent == pytest.approx(2.0, abs=0.1)
    assert largest.name in ("aten::mul", "aten::_softmax", "aten::div", "aten::bmm", "aten::matmul")
    assert largest.shape_with(largest.largest_n) == "(1, 8, N, N) float32"
    here = Path(__file__).name
    named = {g.name: g.where for g in groups if g.exponent is not None and g.exponent > 1.9}
    assert named["aten::_softmax"].endswith(f"{here}:{SOFTMAX_LINE}")
    assert named["aten::mul"].endswith(f"{here}:{SCORES_LINE}")
    assert sum(g.share for g in groups if g.exponent and g.exponent > 1.9) > 0.9
    flops = naive_result.breakdown("flops")
    assert [g.name for g in flops] == ["aten::bmm"] and flops[0].exponent == pytest.approx(2.0)


def test_sdpa_with_is_causal_has_no_memory_group_growing_faster_than_n():
    def causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return sdpa_attention(q, k, v, is_causal=True)

    # From N=256 on: below it the CPU flash kernel's scratch (aten::empty) changes block size between sizes and
    # reads as N^1.4 over N=128..1024 (docs/breakdown.md).
    result = ScalingRunner()(causal, sizes=[256, 512, 1024, 2048], metrics=["memory"], device="cpu")
    groups = result.breakdown("memory")
    assert groups, "the CPU memory profile names the operators"
    assert [g for g in groups if g.exponent is not None and g.exponent > 1.2 and g.share > 0.10] == []


def test_a_failing_claim_names_the_n_squared_operator_and_its_line():
    result = ScalingRunner()(naive, sizes=SIZES, metrics=["memory"], device="cpu")
    with pytest.raises(AssertionError) as failure:
        result.assert_exponent("memory", 1, tol=0.2)
    message = str(failure.value)
    here = Path(__file__).name
    assert "the N² term: aten::_softmax at " in message and f"{here}:{SOFTMAX_LINE}, (1, 8, N, N) float32" in message
    assert "the N² term: aten::mul at " in message and f"{here}:{SCORES_LINE}" in message
    assert "of the peak at N=1024, exponent 2.00" in message


def test_the_terminal_and_html_reports_show_the_breakdown_of_a_missed_metric_or_all(naive_result: ScalingResult):
    plain = "\n".join(format_result(naive_result))
    assert "by operator" not in plain  # nothing missed, and no --attn-breakdown
    everything = "\n".join(format_result(naive_result, breakdown=True))
    assert "memory by operator, share of the peak at N=1024:" in everything
    assert "flops by operator, share of the FLOPs at N=1024:" in everything
    assert "aten::_softmax" in everything and "(1, 8, N, N) float32" in everything
    missed = ScalingResult.from_json(naive_result.to_json())
    missed.check("memory", 1, tol=0.2)
    text = "\n".join(format_result(missed))
    assert "memory by operator" in text and "flops by operator" not in text
    page = render_html([missed], {}, {})
    assert '<table class="breakdown">' in page and "aten::_softmax" in page


def test_a_regressed_exponent_names_the_operator_that_grew():
    def result(quadratic: bool) -> ScalingResult:
        sizes = (256, 512, 1024, 2048)
        scores = 64.0 if quadratic else 0.0  # bytes per element of the N×N scores: none in the baseline
        parts = {
            n: (
                OperatorPart("aten::mul", "model.py:7", f"(8, {n}, {n}) float32", scores * n * n),
                OperatorPart("aten::bmm", "model.py:8", None, 4096.0 * n),
            )
            for n in sizes
        }
        points = {"memory": tuple(Point(n, (sum(p.value for p in parts[n]),)) for n in sizes)}
        return ScalingResult("attn", ENV, points, nodeid="t.py::test", operators={"memory": parts})

    baseline = Baseline(Path("0001_main.json"), "0001_main", "2026-12-04", {}, {}, (result(False),))
    gate = BaselineGate(baseline, parse_rules("memory:0.3"))
    current = result(True)
    regressions, _ = gate.compare_test([current])
    assert current.comparison is not None and current.comparison.exponents[0].change == Change.REGRESSED
    assert len(regressions) == 1
    assert "the N² term: aten::mul at model.py:7, (8, N, N) float32" in regressions[0]
    assert "aten::bmm" not in regressions[0]  # linear, as in the baseline


@pytest.fixture(scope="module")
def breakdown_session(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    path = tmp_path_factory.mktemp("breakdown")
    test = """
        import math
        import pytest
        from pytest_attncomplexity import sdpa_attention

        SIZES = [64, 128, 256]

        def naive(q, k, v):
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
            return scores.softmax(dim=-1) @ v

        def test_fused(attn_scaling):
            attn_scaling(sdpa_attention, sizes=SIZES, metrics=["memory"]).assert_exponent("memory", 1, tol=0.2)

        @pytest.mark.attn_scaling(memory=1, tol=0.2)
        def test_naive_claimed_linear(attn_scaling):
            attn_scaling(naive, sizes=SIZES, metrics=["memory"])
    """
    return run_inner_session(
        path, {"test_b.py": test}, "--attn-scaling", "--attn-breakdown", "--attn-scaling-json=out.json"
    )


def test_a_session_points_at_the_line_and_shows_every_breakdown_with_the_flag(breakdown_session: InnerSession):
    assert breakdown_session.ret == 1, breakdown_session.stdout + breakdown_session.stderr
    breakdown_session.out.fnmatch_lines(
        [
            "*the N² term: aten::_softmax at *test_b.py:10, (1, 8, N, N) float32, * of the peak at N=256, exponent 2*",
            "*test_b.py::test_fused [[]sdpa_attention[]]",
            "*memory by operator, share of the peak at N=256:",
        ]
    )
    assert "Traceback" not in breakdown_session.stdout
    document = (breakdown_session.path / "out.json").read_text()
    assert '"breakdown"' in document and "aten::_softmax" in document


def test_the_plugin_s_reference_attentions_count_as_code_under_test():
    from pytest_attncomplexity import naive_attention

    result = ScalingRunner()(naive_attention, sizes=SIZES, metrics=["memory"], device="cpu")
    where = {g.name: g.where for g in result.breakdown("memory")}
    softmax, scores = _line_of(naive_attention, "softmax(dim=-1)"), _line_of(naive_attention, "scores = (q @ k")
    assert where["aten::_softmax"].endswith(f"pytest_attncomplexity/attention.py:{softmax}")
    assert where["aten::mul"].endswith(f"pytest_attncomplexity/attention.py:{scores}")

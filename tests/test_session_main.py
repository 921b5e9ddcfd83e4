"""One inner session with every report asked for, and the tests of the plugin that read it: the terminal report,
JSON, figures, HTML, junit properties, the step summary, the marker, bad input, skips, the RAM guard.

The session runs once (module scope): the files below hold tests that pass, fail, error and skip on purpose, each
for one behaviour, and each test here checks one behaviour in what the session printed or wrote.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from .inner import FAST_SOURCE, INCONCLUSIVE_TEST, InnerSession, run_inner_session

CONFTEST = """
from pytest_attncomplexity.measure import host

# A machine with 2 GiB free, for the RAM guard's test (test_guard.py); the other sweeps take far less.
host.available_memory = lambda: host.Headroom(2 * 2**30, "a 2 GiB test machine")
"""

MARKED = """
import pytest
from pytest_attncomplexity import naive_attention, sdpa_attention

# Larger than the shared FAST settings: the time claim below needs sizes past SDPA's fixed per-call cost.
FAST = dict(sizes=[128, 256, 512], time_budget=0.2)

# SDPA's memory at these small N is torch's CPU flash kernel's own buffers (output, logsumexp, per-block scratch),
# all linear in N (torch 2.13: local slopes 0.98 to 1.17 at 256..2048); a kernel that changes that shows here.
@pytest.mark.attn_scaling(memory=1, flops=2)
def test_sdpa_declared_right(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["memory", "flops"], **FAST)

@pytest.mark.attn_scaling(memory=1, tol=0.2)
def test_naive_declared_linear(attn_scaling):
    attn_scaling(naive_attention, metrics=["memory"], **FAST)

@pytest.mark.attn_scaling(time=2, tol=1.0)
def test_two_results_in_one_test(attn_scaling):
    attn_scaling(naive_attention, metrics=["time", "memory"], label="naive", **FAST)
    attn_scaling(sdpa_attention, metrics=["time", "memory"], label="sdpa", **FAST)

@pytest.mark.attn_scaling(time=2)
def test_declares_a_metric_it_does_not_measure(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["memory"], **FAST)

@pytest.mark.attn_scaling(memory=1)
def test_declares_but_measures_nothing(attn_scaling):
    pass

def test_expect_holds(attn_scaling):
    r = attn_scaling(naive_attention, metrics=["memory", "flops"], expect={"memory": (2, 0.3), "flops": 2}, **FAST)
    assert [v.outcome for v in r.checks] == ["pass", "pass"]

def test_expect_misses(attn_scaling):
    attn_scaling(naive_attention, metrics=["memory"], expect={"memory": (1, 0.2)}, label="expected", **FAST)
    raise RuntimeError("not reached: the call above asserts")
"""

PLAIN = f"""
import torch
from pytest_attncomplexity import naive_attention, sdpa_attention

{FAST_SOURCE}

def test_naive_memory(attn_scaling):
    # From N=64 on, the N×N scores and their scaled copy are most of the peak, whatever the CPU kernels: about 1.9.
    r = attn_scaling(naive_attention, metrics=["memory", "flops"], **FAST)
    r.assert_exponent("memory", 2, tol=0.3)

def test_sdpa_time(attn_scaling):
    r = attn_scaling(sdpa_attention, metrics=["time", "flops"], label="fused", **FAST)
    assert r.fit("time").sizes == (64, 128, 256)

def test_claims_linear_memory(attn_scaling):
    r = attn_scaling(naive_attention, metrics=["memory"], **FAST)
    r.assert_exponent("memory", 1, tol=0.2)

def test_on_a_missing_gpu(attn_scaling):
    # One index past the GPUs this machine has: on a GPU machine too, this device does not exist.
    attn_scaling(sdpa_attention, device=f"cuda:{{torch.cuda.device_count()}}", **FAST)
"""

BAD_INPUTS = """
import math
import pytest
from pytest_attncomplexity import sdpa_attention

@pytest.mark.parametrize("sizes", [[256, 128, 512], [64, 128], [64, 128.5, 256]])
def test_bad_sizes(attn_scaling, sizes):
    attn_scaling(sdpa_attention, sizes=sizes, metrics=["flops"])

def test_fn_not_callable(attn_scaling):
    attn_scaling("sdpa", sizes=[64, 128, 256], metrics=["flops"])

def test_fn_raises(attn_scaling):
    def broken(q, k, v):
        if q.shape[-2] == 128:
            raise KeyError("no kernel for 128")
        return sdpa_attention(q, k, v)
    attn_scaling(broken, sizes=[64, 128, 256], metrics=["flops"])

def test_nan_output(attn_scaling):
    attn_scaling(lambda q, k, v: q * math.nan, sizes=[64, 128, 256], metrics=["flops"], label="nan")

@pytest.mark.parametrize("kwargs", [dict(metrics=["speed"]), dict(mode="eval"), dict(device="npu")])
def test_unknown_settings(attn_scaling, kwargs):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], **kwargs)

def test_negative_tol(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"]).assert_exponent("flops", 2, -0.1)

@pytest.mark.attn_scaling(tme=2)
def test_unknown_marker_keyword(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"])

@pytest.mark.attn_scaling(flops=2, tol=-0.5)
def test_negative_marker_tol(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"])

def test_still_fine(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"]).assert_exponent("flops", 2)
"""

NAMES = """
import pytest
from pytest_attncomplexity import sdpa_attention

@pytest.mark.parametrize("variant", [1, 2, 3], ids=["a/b", "a b", "a_b"])
def test_sweep(attn_scaling, variant):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"], label=f"v{variant}")
"""

# A sweep that would outgrow the machine (2 GiB here): N=2048 takes about 600 MiB with 16 heads, N=4096 four times
# that, over 80% of 2 GiB. The session must end normally with both tests reported.
GUARD = """
from pytest_attncomplexity import naive_attention, sdpa_attention

def test_first(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"])

def test_big(attn_scaling):
    attn_scaling(naive_attention, sizes=[512, 1024, 2048, 4096], heads=16, metrics=["memory"])
"""

# Which SDPA kernel ran: named at every N, pinned, changing between sizes, and a pinned backend the CPU lacks.
KERNELS = f"""
from pytest_attncomplexity import sdpa_attention

{FAST_SOURCE}

def causal(q, k, v):
    return sdpa_attention(q, k, v, causal=True)

def test_causal_sdpa(attn_scaling):
    attn_scaling(causal, metrics=["flops"], **FAST)

def test_math_path_claimed_linear(attn_scaling):
    # The math path materializes the N×N scores (memory exponent about 1.8 here): the failure names the kernel.
    attn_scaling(causal, metrics=["memory"], sdpa_backend="math", **FAST).assert_exponent("memory", 1, tol=0.2)

def test_kernel_changes(attn_scaling):
    def narrows_from_128(q, k, v):  # a head_dim of v the CPU flash kernel does not take: PyTorch falls back to math
        return sdpa_attention(q, k, v[..., :32].contiguous() if q.shape[-2] >= 128 else v)
    attn_scaling(narrows_from_128, metrics=["flops"], label="narrows", **FAST)

def test_efficient_pinned_on_the_cpu(attn_scaling):
    attn_scaling(causal, metrics=["flops"], sdpa_backend="efficient", **FAST)
"""

# A sweep along another axis than N, with grouped-query heads and a causal mask: the reports name the axis.
AXES = """
from pytest_attncomplexity import sdpa_attention

def test_head_dim(attn_scaling):
    r = attn_scaling(sdpa_attention, axis="head_dim", seq_len=64, sizes=[16, 32, 64], kv_heads=2, mask="causal",
                     metrics=["flops"])
    r.assert_exponent("flops", 1, tol=0.02)
"""

FILES = {
    "conftest.py": CONFTEST,
    "test_marked.py": MARKED,
    "test_plain.py": PLAIN,
    "test_inputs.py": BAD_INPUTS,
    "test_names.py": NAMES,
    "test_inconclusive.py": INCONCLUSIVE_TEST,
    "test_guard.py": GUARD,
    "test_sdpa_kernels.py": KERNELS,
    "test_axes.py": AXES,
}

EXPECTED = {
    "test_marked.py::test_sdpa_declared_right": "passed",
    "test_marked.py::test_naive_declared_linear": "failed",
    "test_marked.py::test_two_results_in_one_test": "passed",
    "test_marked.py::test_declares_a_metric_it_does_not_measure": "failed",
    "test_marked.py::test_declares_but_measures_nothing": "failed",
    "test_marked.py::test_expect_holds": "passed",
    "test_marked.py::test_expect_misses": "failed",
    "test_plain.py::test_naive_memory": "passed",
    "test_plain.py::test_sdpa_time": "passed",
    "test_plain.py::test_claims_linear_memory": "failed",
    "test_plain.py::test_on_a_missing_gpu": "skipped",
    "test_inputs.py::test_bad_sizes[sizes0]": "failed",
    "test_inputs.py::test_bad_sizes[sizes1]": "failed",
    "test_inputs.py::test_bad_sizes[sizes2]": "failed",
    "test_inputs.py::test_fn_not_callable": "failed",
    "test_inputs.py::test_fn_raises": "failed",
    "test_inputs.py::test_nan_output": "failed",
    "test_inputs.py::test_unknown_settings[kwargs0]": "failed",
    "test_inputs.py::test_unknown_settings[kwargs1]": "failed",
    "test_inputs.py::test_unknown_settings[kwargs2]": "failed",
    "test_inputs.py::test_negative_tol": "failed",
    "test_inputs.py::test_unknown_marker_keyword": "error",
    "test_inputs.py::test_negative_marker_tol": "error",
    "test_inputs.py::test_still_fine": "passed",
    "test_names.py::test_sweep[a/b]": "passed",
    "test_names.py::test_sweep[a b]": "passed",
    "test_names.py::test_sweep[a_b]": "passed",
    "test_inconclusive.py::test_noisy_claim": "failed",
    "test_guard.py::test_first": "passed",
    "test_guard.py::test_big": "passed",
    "test_sdpa_kernels.py::test_causal_sdpa": "passed",
    "test_sdpa_kernels.py::test_math_path_claimed_linear": "failed",
    "test_sdpa_kernels.py::test_kernel_changes": "passed",
    "test_sdpa_kernels.py::test_efficient_pinned_on_the_cpu": "skipped",
    "test_axes.py::test_head_dim": "passed",
}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    path = tmp_path_factory.mktemp("main_session")
    out = path / "out"
    out.mkdir()
    return run_inner_session(
        path,
        FILES,
        "-s",  # nothing captured: what the profiler writes to the terminal would show
        "-rs",
        "--attn-scaling",
        "--attn-scaling-json=out/results.json",
        "--attn-scaling-plot=out/plots",
        "--attn-scaling-html=out/report.html",
        "--junitxml=junit.xml",
        "--attn-predict-n=65536",
        "--attn-inconclusive=fail",  # the default, said explicitly
        env={"GITHUB_STEP_SUMMARY": str(out / "summary.md")},
    )


@pytest.fixture(scope="module")
def document(session: InnerSession) -> dict:
    return json.loads((session.path / "out" / "results.json").read_text())


def _results_of(document: dict, test: str) -> list[dict]:
    return [r for r in document["results"] if r["nodeid"].endswith(f"::{test}")]


def test_every_test_has_its_own_outcome_and_nothing_is_internal(session):
    assert session.outcomes() == EXPECTED
    assert session.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in session.stdout + session.stderr


def test_the_report_lists_every_result_with_its_exponents(session):
    session.out.fnmatch_lines(
        [
            "*= attention scaling =*",
            "attncomplexity: torch *, device cpu (*), 1 timing thread*",
            "test_plain.py::test_naive_memory [[]naive_attention[]]",
            "  cpu (*), torch *, 1 thread, float32, forward",
            "  metric*exponent*95% CI*class*N range*",
            "  memory *O(N^2)*64..256 (3)*",
            "  flops        2.000  2.000 .. 2.000*O(N^2)*",
            "test_plain.py::test_sdpa_time [[]fused[]]",
            "  time *64..256 (3)*",
        ]
    )
    session.out.fnmatch_lines_random(
        [
            "  memory wall: N ≈ * fills * (the machine's RAM) with the call's peak*",
            "  predicted at N=65,536: memory ≈ *",
        ]
    )
    for name in ("test_sdpa_declared_right", "test_naive_declared_linear", "test_two_results_in_one_test"):
        session.out.fnmatch_lines([f"test_marked.py::{name} *"])


def test_expect_asserts_at_the_call_with_the_numbers(session, document):
    session.out.fnmatch_lines(
        [
            '*attn_scaling(naive_attention, metrics=[[]"memory"[]], expect={"memory": (1, 0.2)}, *',
            "E*AssertionError: attn_scaling(..., expect={'memory': (1, 0.2)}) failed:",
            "E*expected: memory exponent 1.* (95% CI * to *, class O(N^2)) is outside the expected 1 ± 0.2 *",
        ]
    )
    assert "not reached" not in session.stdout
    # Its result still reaches the reports, with the verdict.
    (missed,) = _results_of(document, "test_expect_misses")
    assert [(c["metric"], c["outcome"]) for c in missed["checks"]] == [("memory", "fail")]


def test_the_markers_time_claim_ends_the_timing_once_decided(session, document):
    for result in _results_of(document, "test_two_results_in_one_test"):
        timing = result["timing"]
        assert timing["claims"] == [[2.0, 1.0]], result["label"]
        # Decided (pass: the claim holds) before the budget ran out, or timed to the budget as without a claim.
        if timing["decided"]:
            assert timing["decided"] == ["pass"] and timing["rounds"] < timing["planned"]
            low, high = timing["interval"]
            assert 1.0 <= low <= result["metrics"]["time"]["exponent"] <= high <= 3.0
        else:
            assert timing["rounds"] == timing["planned"] >= 5 and timing["interval"] is None
    session.out.fnmatch_lines(
        ["test_marked.py::test_two_results_in_one_test [[]naive[]]", "  time *", "    time: * round* (*s)*"]
    )
    # Without a claim known up front, the budget is spent as before.
    (plain,) = _results_of(document, "test_sdpa_time")
    assert plain["timing"]["claims"] == [] and plain["timing"]["rounds"] == plain["timing"]["planned"] >= 5


def test_a_wrong_claim_fails_with_the_measured_exponent_and_the_table(session):
    session.out.fnmatch_lines(
        [
            "*AssertionError: naive_attention: memory exponent 1.* (95% CI * to *, class O(N^2)) is outside the "
            "expected 1 ± 0.2 [[]0.8, 1.2[]] on cpu",
            "*N*memory*IQR*local slope",
            "*     256 *",
        ]
    )


def test_the_marker_checks_every_result_after_the_body(session, document):
    session.out.fnmatch_lines_random(
        [
            "*@pytest.mark.attn_scaling(memory=1, tol=0.2) failed:*",
            "naive_attention: memory exponent 1.* is outside the expected 1 ± 0.2 [[]0.8, 1.2[]] on cpu",
            "*N        memory         IQR  local slope*",
            "*declares time, but time was not measured (metrics measured: memory)*",
            "*declares exponents, but the test measured nothing through the attn_scaling fixture*",
        ]
    )
    marked = [r for r in document["results"] if r["nodeid"].startswith("test_marked.py::")]
    assert len(marked) == 7  # the test with two sweeps gives two results; the two expect= tests one each
    right = _results_of(document, "test_sdpa_declared_right")[0]
    assert [c["outcome"] for c in right["checks"]] == ["pass", "pass"]


def test_each_bad_input_fails_its_own_test_with_a_message_that_names_it(session):
    session.out.fnmatch_lines_random(
        [
            "*ValueError: sizes must be strictly increasing, got 128 after 256 in [[]256, 128, 512[]]",
            "*ValueError: sizes needs at least 3 values to fit an exponent, got [[]64, 128[]]",
            "*ValueError: sizes must be integers, got 128.5 in [[]64, 128.5, 256[]]",
            "*ValueError: fn must be callable, got 'sdpa'",
            "*SweepError: *broken failed at N=128: KeyError: 'no kernel for 128'",
            "*SweepError: nan failed at N=64: NonFiniteOutput: the output has * NaN or Inf value(s)*",
            "*ValueError: unknown metric 'speed'; choose from [[]'time', 'memory', 'flops'[]]",
            "*ValueError: mode must be one of [[]'forward', 'train'[]], got 'eval'",
            "*ValueError: device must be 'auto', 'cpu', 'cuda' or 'cuda:INDEX', got 'npu'",
            "*ValueError: tol must be >= 0, got -0.1",
            "*@pytest.mark.attn_scaling: unknown keyword argument 'tme'; known: time, memory, flops, tol, param",
            "*@pytest.mark.attn_scaling: tol must be >= 0, got -0.5",
        ]
    )


def test_a_failed_sweep_keeps_its_points_in_the_report_and_the_json(session, document):
    broken = _results_of(document, "test_fn_raises")[0]
    assert broken["metrics"]["flops"]["sizes"] == [64]
    assert broken["halt"] == {"n": 128, "status": "error", "reason": "KeyError: 'no kernel for 128'"}
    assert broken["outcome"] == "failed"
    session.out.fnmatch_lines(
        [
            "test_inputs.py::test_fn_raises [[]test_fn_raises.<locals>.broken[]]",
            "  flops *64..64 (1)*a fit needs 3",
            "  sweep ended: failed at N=128: KeyError: 'no kernel for 128'",
        ]
    )


# The JSON file as docs/reports.md documents it: a reader may rely on exactly these keys.
RESULT_KEYS = {
    "nodeid", "label", "outcome", "device", "device_name", "torch", "threads", "dtype", "mode", "shape", "metrics",
    "halt", "remeasured", "memory_capacity", "checks", "comparison", "sdpa_backend", "kernels", "flop_rate",
    "peak_flop_rate", "axis", "mask", "operators", "breakdown", "timing",
}  # fmt: skip
METRIC_KEYS = {
    "sizes", "values", "iqr", "samples", "exponent", "ci", "r2", "complexity", "local_slopes", "unit", "excluded",
    "noisy", "overhead_sizes", "fixed_part",
}  # fmt: skip


def test_the_json_holds_every_result_in_the_documented_schema(session, document):
    session.out.fnmatch_lines(["attention scaling results written to out/results.json"])
    assert set(document) == {
        "schema",
        "version",
        "run",
        "environment",
        "commit",
        "comparison",
        "results",
        "machine_info",
    }
    assert document["comparison"] is None and all(r["comparison"] is None for r in document["results"])
    assert document["schema"] == "pytest-attncomplexity-report" and document["version"] == 1
    assert document["machine_info"]["machine"]
    # Where and at which commit it measured, as a saved baseline records them (attn-scaling merge saves shards).
    assert document["environment"]["key"].endswith("-cpu") and document["environment"]["device"] == "cpu"
    assert document["commit"]["id"]
    assert set(document["run"]) == {"complete", "exitstatus", "started", "written", "tests_finished"}
    assert document["run"]["complete"] is True and document["run"]["exitstatus"] == 1
    for result in document["results"]:
        assert set(result) == RESULT_KEYS, result["nodeid"]
        for name, metric in result["metrics"].items():
            unfitted = (METRIC_KEYS - {"overhead_sizes", "fixed_part"}) | {"error"}
            fitted = METRIC_KEYS if metric["exponent"] is not None else unfitted
            assert set(metric) == fitted, (result["nodeid"], name)
    naive = _results_of(document, "test_naive_memory")[0]
    assert naive["device"] == "cpu" and naive["outcome"] == "passed"
    assert naive["torch"] == torch.__version__
    assert set(naive["metrics"]) == {"memory", "flops"}
    assert all(metric["sizes"] == [64, 128, 256] for metric in naive["metrics"].values())
    assert naive["metrics"]["flops"]["exponent"] == pytest.approx(2.0)
    assert naive["metrics"]["memory"]["unit"] == "B"


def test_flop_rate_at_each_n_in_the_report_the_json_and_the_html(session, document):
    session.out.fnmatch_lines(
        [
            "test_plain.py::test_sdpa_time [[]fused[]]",
            "  time *64..256 (3)*",
            "  flops *",
            "  FLOP/s (?FLOP/s): * at N=64, * at 128, * at 256",
        ]
    )
    fused = _results_of(document, "test_sdpa_time")[0]
    rates = fused["flop_rate"]
    assert list(rates) == ["64", "128", "256"]
    time, flops = fused["metrics"]["time"], fused["metrics"]["flops"]
    assert [rates[str(n)] for n in time["sizes"]] == pytest.approx(
        [f / t for f, t in zip(flops["values"], time["values"], strict=True)]
    )
    assert fused["peak_flop_rate"] is None  # on the CPU: FLOP/s without a share of a peak
    assert _results_of(document, "test_naive_memory")[0]["flop_rate"] == {}  # no time measured
    assert "share of peak" not in session.stdout
    page = (session.path / "out" / "report.html").read_text()
    assert re.search(r'<p class="note">FLOP/s \([GM]FLOP/s\): [^<]* at N=64, ', page)


def test_a_sweep_along_another_axis_is_named_in_the_report_the_json_and_the_html(session, document):
    session.out.fnmatch_lines(
        [
            "test_axes.py::test_head_dim [[]sdpa_attention[]]",
            "  cpu (*), torch *, float32, forward, head_dim swept at batch=1, heads=8, seq_len=64, kv_heads=2, "
            "is_causal=True",
            "  metric*class      head_dim range    local slopes",
            "  flops        1.000  1.000 .. 1.000 *16..64 (3)*",
            "  SDPA kernel: flash (CPU) at every head_dim",
        ]
    )
    result = _results_of(document, "test_head_dim")[0]
    assert (result["axis"], result["mask"]) == ("head_dim", "causal")
    assert result["shape"] == {"batch": 1, "heads": 8, "seq_len": 64, "kv_heads": 2}
    assert result["metrics"]["flops"]["sizes"] == [16, 32, 64]
    assert {r["axis"] for r in document["results"]} == {"seq_len", "head_dim"}
    page = (session.path / "out" / "report.html").read_text()
    assert "<th>head_dim range</th>" in page and "<th>head_dim</th><th>value</th>" in page


def test_a_sweep_that_would_outgrow_ram_is_skipped_and_the_session_goes_on(session, document):
    session.out.fnmatch_lines(
        [
            "test_guard.py::test_big [[]naive_attention[]]",
            "  memory *O(N^2)*512..2048 (3)*",
            "  sweep ended: skipped from N=4096: predicted host memory * at N=4096 (extrapolated from the sizes "
            "measured) does not fit the RAM guard: 80% of the 2 GiB available now (a 2 GiB test machine) is 1.6 GiB;*",
        ]
    )
    session.out.fnmatch_lines(["test_guard.py::test_first [[]sdpa_attention[]]"])
    big = _results_of(document, "test_big")[0]
    skipped = big["metrics"]["memory"]["excluded"]
    assert [(e["n"], e["status"]) for e in skipped] == [(4096, "skipped")]
    assert "does not fit the RAM guard" in skipped[0]["reason"]
    assert [r["outcome"] for r in [*_results_of(document, "test_first"), big]] == ["passed", "passed"]


def test_the_report_json_and_html_name_the_sdpa_kernel_that_ran_at_each_n(session, document):
    session.out.fnmatch_lines(
        [
            "test_sdpa_kernels.py::test_causal_sdpa [[]causal[]]",
            "  flops *",
            "  SDPA kernel: flash (CPU) at every N",
        ]
    )
    session.out.fnmatch_lines(
        [
            "test_sdpa_kernels.py::test_kernel_changes [[]narrows[]]",
            "  flops *",
            "  SDPA kernel: flash (CPU) at N=64, math at N=128..256: changes between sizes",
        ]
    )
    # A failed claim names the kernel: the math path is why this memory grows as N².
    session.out.fnmatch_lines(
        [
            "*AssertionError: causal: memory exponent 1.* is outside the expected 1 ± 0.2 [[]0.8, 1.2[]] on cpu",
            "*SDPA kernel: math at every N (pinned: math)",
        ]
    )
    causal = _results_of(document, "test_causal_sdpa")[0]
    assert causal["kernels"] == {"64": ["flash (CPU)"], "128": ["flash (CPU)"], "256": ["flash (CPU)"]}
    assert causal["sdpa_backend"] is None
    assert _results_of(document, "test_math_path_claimed_linear")[0]["sdpa_backend"] == "math"
    naive = _results_of(document, "test_naive_memory")[0]
    assert naive["kernels"] == {"64": [], "128": [], "256": []}  # observed: no SDPA, and no line in the report
    block = session.stdout.split("test_plain.py::test_naive_memory [naive_attention]")[1].split("\n\n")[0]
    assert "SDPA kernel" not in block
    page = (session.path / "out" / "report.html").read_text()
    assert "SDPA kernel: flash (CPU) at every N" in page
    assert page.count('<span class="badge inconclusive">kernel changes</span>') == 1


def test_a_pinned_backend_the_device_lacks_is_a_skip_with_the_reason(session):
    session.out.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_sdpa_kernels.py:*: sdpa_backend='efficient' cannot run causal on cpu: PyTorch has "
            "no memory-efficient attention kernel for the CPU (PyTorch: No viable backend for "
            "scaled_dot_product_attention was found.*"
        ]
    )


def test_a_skip_names_the_reason_at_the_test_line(session):
    count = torch.cuda.device_count()
    reason = f"there are only {count} CUDA device(s)" if torch.cuda.is_available() else "CUDA is not available here"
    session.out.fnmatch_lines([f"SKIPPED [[]1[]] test_plain.py:*: device='cuda:{count}' was asked for, but {reason}"])


def test_an_inconclusive_verdict_fails_by_default_saying_it_was_noise(session):
    session.out.fnmatch_lines(["*InconclusiveExponent: attn: inconclusive: time exponent*", "*too noisy to decide*"])


def test_the_profiler_writes_nothing_to_the_terminal(session):
    assert "USDT" not in session.stdout + session.stderr


def test_figures_for_every_measuring_test_with_unique_names(session, document):
    plots = session.path / "out" / "plots"
    for stem in ("sdpa_declared_right", "naive_declared_linear", "two_results_in_one_test"):
        for suffix in ("png", "svg"):
            path = plots / f"test_marked__test_{stem}.{suffix}"
            assert path.stat().st_size > 5000, path
    measuring = {r["nodeid"] for r in document["results"]}
    assert len(list(plots.glob("*.png"))) == len(measuring)
    names = sorted(path.stem for path in plots.glob("test_names__*.svg"))
    assert names == ["test_names__test_sweep_a_b", "test_names__test_sweep_a_b_2", "test_names__test_sweep_a_b_3"]


def test_the_html_page_is_self_contained_with_one_figure_per_test(session, document):
    page = (session.path / "out" / "report.html").read_text()
    measuring = len({r["nodeid"] for r in document["results"]})
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="test">') == measuring
    assert page.count('<div class="plot"><svg') == measuring
    # Nothing is fetched: no script, no stylesheet link, no external src or href (namespaces are not fetched).
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'class="badge failed"' in page and 'class="badge passed"' in page
    assert "torch " in page and "1 thread" in page and "float32" in page
    assert "memory wall: N ≈" in page
    assert "had not finished" not in page  # the session ended: the last write is the complete one
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "figures in one page must not share ids"


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.mark.skipif(_chromium() is None, reason="needs a chromium browser (Debian: apt-get install chromium)")
def test_the_html_page_renders_in_headless_chromium(session, document, tmp_path: Path):
    browser = _chromium()
    assert browser is not None
    url = (session.path / "out" / "report.html").as_uri()
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # a fetch would fail and be logged
    ]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    shot = subprocess.run(
        [*common, f"--screenshot={tmp_path / 'page.png'}", "--window-size=1400,2400", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in (dom.stderr + shot.stderr).splitlines() if "CONSOLE" in line or "report.html" in line]
    assert console == []
    # The rendered document holds one figure per test, each drawn (paths inside the svg).
    figures = re.findall(r'<div class="plot"><svg.*?</svg>', dom.stdout, flags=re.S)
    assert len(figures) == len({r["nodeid"] for r in document["results"]})
    assert all(figure.count("<path") > 20 for figure in figures)
    assert (tmp_path / "page.png").stat().st_size > 50_000


def test_the_step_summary_and_junit_carry_the_exponents_and_verdicts(session):
    summary = (session.path / "out" / "summary.md").read_text()
    assert "| test | outcome | result | metric | exponent |" in summary
    assert re.search(
        r"test_naive_declared_linear</code> \| ❌ failed \| naive_attention \| memory \| 1\.[89]\d\d", summary
    )
    assert "| 1 ± 0.2 | fail |" in summary
    cases = {case.get("name"): case for case in ET.parse(session.path / "junit.xml").iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_naive_declared_linear"].iter("property")}
    assert float(properties["attn_scaling.naive_attention.memory.exponent"]) == pytest.approx(1.95, abs=0.1)
    assert properties["attn_scaling.naive_attention.memory.verdict"] == "fail (expected 1 ± 0.2)"

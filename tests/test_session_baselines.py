"""Baselines through pytest: a run saves one, an unchanged run compares clean, and the change the gate exists for (an
explicit N×N mask instead of ``is_causal``) fails its test with a memory-exponent regression. Three sessions in one
folder, run in order; usage errors run in this process (they stop before any sweep)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_attncomplexity.gate.storage import saved_baselines

from .inner import CAUSAL_OR_MASK, InnerSession, run_inner_session

REMOVED_LATER = """
from pytest_attncomplexity import sdpa_attention


def test_removed_later(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"])
"""

ADDED_LATER = """
from pytest_attncomplexity import sdpa_attention


def test_added_later(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"])
"""

BENCHMARK_GROUP = """
import os

import pytest

REPEAT = 16 if os.environ.get("EXPLICIT_MASK") else 1  # 16x slower in the regressed run


def work(n):
    total = 0
    for _ in range(REPEAT):
        for i in range(n * 20):
            total += i
    return total


@pytest.mark.attn_scaling(param="n", time=1, tol=0.5)
@pytest.mark.parametrize("n", [256, 512, 1024, 2048])
def test_loop(benchmark, n):
    benchmark(work, n)
"""

UNDECIDED = """
import os

from pytest_attncomplexity.core.verdict import InconclusiveExponent
from test_causal import SIZES, causal


def test_undecided_body(attn_scaling):
    attn_scaling(causal, sizes=SIZES, metrics=["memory"])
    if os.environ.get("EXPLICIT_MASK"):
        raise InconclusiveExponent("the body's own claim stayed undecided")
"""

# Time is gated far above this shared machine's drift (one point of an unchanged run has read 1.75x slower):
# the sessions check the mechanics, benchmarks/compare_reliability.py measures how often the gate cries wolf.
GATE = "--attn-scaling-compare-fail=exponent:0.3,time:1,memory-value:50%,time-value:300%"
BENCHMARK_FAST = ("--benchmark-max-time=0.05", "--benchmark-min-rounds=7")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, InnerSession]:
    path = tmp_path_factory.mktemp("baselines")
    files = {
        "test_causal.py": CAUSAL_OR_MASK,
        "test_removed.py": REMOVED_LATER,
        "test_bench.py": BENCHMARK_GROUP,
        "test_undecided.py": UNDECIDED,
    }
    saved = run_inner_session(path, files, "--attn-scaling-save=main", *BENCHMARK_FAST)
    (path / "test_removed.py").unlink()
    summary = path / "summary.md"
    same = run_inner_session(
        path,
        {"test_added.py": ADDED_LATER},
        "--attn-scaling-compare",
        GATE,
        "--attn-scaling-json=same.json",
        "--attn-scaling-html=same.html",
        *BENCHMARK_FAST,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    masked = run_inner_session(
        path,
        {},
        GATE,
        "--attn-scaling-json=masked.json",
        "--junitxml=junit.xml",
        *BENCHMARK_FAST,
        env={"EXPLICIT_MASK": "1"},
    )
    # Under pytest-xdist: the workers compare with the baseline the controller chose; the controller saves one.
    parallel = run_inner_session(
        path,
        {},
        "-n",
        "2",
        GATE,
        "--attn-scaling-json=parallel.json",
        "--attn-scaling-save=parallel",
        *BENCHMARK_FAST,
        env={"EXPLICIT_MASK": "1"},
    )
    return {"saved": saved, "same": same, "masked": masked, "parallel": parallel}


def test_a_run_saves_every_result_under_the_machine_and_device(runs):
    saved = runs["saved"]
    assert saved.ret == 0, saved.stdout
    (folder,) = (saved.path / ".attn-scaling").iterdir()
    assert folder.name.endswith("-cpu")
    (baseline,) = saved_baselines(folder)
    assert baseline.name == "0001_main.json"
    saved.out.fnmatch_lines([f"attention scaling baseline saved to {baseline}"])
    document = json.loads(baseline.read_text())
    assert document["schema"] == "pytest-attncomplexity-baseline" and document["version"] == 1
    assert document["environment"]["device"] == "cpu" and document["environment"]["torch"]
    assert document["environment"]["machine"]["python_version"]
    assert {r["nodeid"] for r in document["results"]} == {
        "test_causal.py::test_causal",
        "test_removed.py::test_removed_later",
        "test_bench.py::test_loop",  # the pytest-benchmark group, under its id without the size
        "test_undecided.py::test_undecided_body",
    }
    assert all(r["outcome"] == "passed" for r in document["results"])
    assert all(samples for r in document["results"] for m in r["metrics"].values() for samples in m["samples"])


def test_unchanged_code_passes_the_comparison_and_every_report_shows_it(runs):
    same = runs["same"]
    assert same.ret == 0, same.stdout
    same.out.fnmatch_lines(
        [
            "*= attention scaling: baseline comparison =*",
            "compared with baseline 0001_main (saved *)",
            "rules: exponent:0.3, time:1, memory-value:50%, time-value:300%",
            "test_added.py::test_added_later [sdpa_attention]",
            "  not in baseline 0001_main: nothing to compare with",
            "test_bench.py::test_loop [test_loop]",
            "  time exponent * -> *: unchanged (time:1)",
            "  time at N=2048: * -> * (x*, p = *): unchanged (time-value:300%)",
            "test_causal.py::test_causal [causal]",
            "  memory exponent * -> *, +0.000 over N=256..2048: unchanged (exponent:0.3)",
            "  flops exponent 2.000 * -> 2.000 *: unchanged (exponent:0.3)",
            "  memory at N=2048: * -> * (x1.000): unchanged (memory-value:50%)",
            "in the baseline, not run now: test_removed.py::test_removed_later [sdpa_attention]",
            "changes: 7 unchanged, 1 not gated, 1 new",
        ]
    )
    document = json.loads((same.path / "same.json").read_text())
    assert document["comparison"]["baseline"] == "0001_main"
    assert document["comparison"]["missing"] == ["test_removed.py::test_removed_later [sdpa_attention]"]
    causal = next(r for r in document["results"] if r["nodeid"] == "test_causal.py::test_causal")
    assert {e["metric"]: e["change"] for e in causal["comparison"]["exponents"]} == {
        "memory": "unchanged",
        "flops": "unchanged",
    }
    assert "Compared with baseline 0001_main" in (same.path / "same.html").read_text()
    assert "| <code>test_causal.py::test_causal</code> | causal | unchanged |" in (same.path / "summary.md").read_text()


def test_an_explicit_mask_fails_the_test_with_a_memory_exponent_regression(runs):
    masked = runs["masked"]
    assert masked.ret == 1, masked.stdout
    outcomes = masked.outcomes()
    assert outcomes["test_added.py::test_added_later"] == "passed"
    assert outcomes["test_causal.py::test_causal"] == "failed"
    masked.out.fnmatch_lines(
        [
            "*_ test_causal _*",
            "regressed against baseline 0001_main (saved *):",
            "",
            "causal: memory exponent * -> 1.* (95% CI *), +0.* over N=256..2048: regressed (exponent:0.3)",
            "         N      baseline           now    ratio",
            "       256 *",
            "      2048 *",
            "",
            "causal: memory at N=2048: * -> 32 MiB (x*): regressed (memory-value:50%)",
        ]
    )
    assert "Traceback" not in masked.stdout and "pytest_attncomplexity/plugin/" not in masked.stdout
    document = json.loads((masked.path / "masked.json").read_text())
    causal = next(r for r in document["results"] if r["nodeid"] == "test_causal.py::test_causal")
    assert causal["outcome"] == "failed"
    assert causal["comparison"]["exponents"][0]["change"] == "regressed"
    assert document["comparison"]["counts"]["regressed"] == 5  # memory exponent and value twice; the group's time


def test_a_regression_fails_the_test_even_when_its_body_was_undecided(runs):
    masked = runs["masked"]
    assert masked.outcomes()["test_undecided.py::test_undecided_body"] == "failed"
    masked.out.fnmatch_lines(
        [
            "*_ test_undecided_body _*",
            "the body's own claim stayed undecided",
            "",
            "regressed against baseline 0001_main (saved *):",
            "",
            "causal: memory exponent * -> 1.*: regressed (exponent:0.3)",
        ]
    )


def test_a_benchmark_group_16x_slower_fails_its_last_member(runs):
    masked = runs["masked"]
    outcomes = masked.outcomes()
    assert [outcomes[f"test_bench.py::test_loop[{n}]"] for n in (256, 512, 1024, 2048)] == ["passed"] * 3 + ["failed"]
    masked.out.fnmatch_lines(
        [
            "*_ test_loop[[]2048[]] _*",
            "regressed against baseline 0001_main (saved *):",
            "",
            "test_loop: time at N=2048: * -> * (x*, p = *): regressed (time-value:300%)",
        ]
    )


def test_a_missing_baseline_stops_the_run_at_start_up(pytester: pytest.Pytester):
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest_inprocess("--attn-scaling-compare", "--attn-device=cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pytest-attncomplexity: no baseline saved for this machine and device (*-cpu) in '*.attn-scaling'*"]
    )


def test_a_truncated_baseline_is_a_usage_error_naming_it(pytester: pytest.Pytester, runs):
    folder = next((runs["saved"].path / ".attn-scaling").iterdir())
    good = (folder / "0001_main.json").read_bytes()
    cut = pytester.path / "0002_cut.json"
    cut.write_bytes(good[: len(good) // 2])
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest_inprocess(f"--attn-scaling-compare={cut}", "--attn-device=cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: pytest-attncomplexity: baseline '{cut}' is not valid JSON (*): a truncated or corrupt file*"]
    )
    assert "INTERNALERROR" not in result.stderr.str()


def test_a_bad_rule_is_a_usage_error(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--attn-scaling-compare-fail=memory:20%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pytest-attncomplexity: --attn-scaling-compare-fail: an exponent threshold is a difference *"]
    )


def test_a_baseline_from_elsewhere_warns_what_differs(pytester: pytest.Pytester, runs):
    folder = next((runs["saved"].path / ".attn-scaling").iterdir())
    document = json.loads((folder / "0001_main.json").read_text())
    document["environment"]["torch"] = "2.4.0"
    other = pytester.path / "0001_other.json"
    other.write_text(json.dumps(document))
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest_inprocess(f"--attn-scaling-compare={other}", "--attn-device=cpu")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*AttnScalingWarning: baseline 0001_other was measured elsewhere: torch: 2.4.0 in the baseline, * now*"]
    )


def test_the_save_name_is_checked_at_start_up(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--attn-scaling-save=../escape")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-attncomplexity: --attn-scaling-save: a baseline name is up to 100*"])
    assert not Path(pytester.path, "..", ".attn-scaling").exists()


def test_under_xdist_workers_compare_and_the_controller_reports_once(runs):
    parallel = runs["parallel"]
    assert parallel.ret == 1, parallel.stdout
    parallel.out.fnmatch_lines(
        [
            "causal: memory exponent * -> 1.*: regressed (exponent:0.3)",
            "*= attention scaling: baseline comparison =*",
            "compared with baseline 0001_main (saved *)",
        ]
    )
    document = json.loads((parallel.path / "parallel.json").read_text())
    causal = next(r for r in document["results"] if r["nodeid"] == "test_causal.py::test_causal")
    assert causal["outcome"] == "failed" and causal["comparison"]["exponents"][0]["change"] == "regressed"
    assert document["comparison"]["baseline"] == "0001_main" and document["comparison"]["counts"]["regressed"] >= 2
    # The controller decides about saving, once: a run that regressed does not become the next reference.
    folder = next((parallel.path / ".attn-scaling").iterdir())
    assert [p.name for p in saved_baselines(folder)] == ["0001_main.json"]
    parallel.out.fnmatch_lines(["attention scaling: no baseline saved: * change(s) regressed against the baseline*"])
    assert parallel.stdout.count("no baseline saved") == 1


def test_a_storage_path_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makefile(".txt", storage="not a folder")
    result = pytester.runpytest_inprocess("--attn-scaling-save=main", "--attn-scaling-storage=storage.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-attncomplexity: --attn-scaling-storage=* cannot be used: * is a file"])


def test_a_warning_turned_into_an_error_is_a_usage_error_not_an_internal_error(pytester: pytest.Pytester, runs):
    folder = next((runs["saved"].path / ".attn-scaling").iterdir())
    document = json.loads((folder / "0001_main.json").read_text())
    document["environment"]["device_name"] = "another CPU"
    other = pytester.path / "0001_other.json"
    other.write_text(json.dumps(document))
    pytester.makepyfile(test_a="def test_a(): pass")
    # Our warning only: a plain -W error in this process also trips over pytest's own warning that the plugin was
    # imported before the inner run could rewrite its asserts.
    as_error = "error::pytest_attncomplexity.errors.AttnScalingWarning"
    result = pytester.runpytest_inprocess("-W", as_error, f"--attn-scaling-compare={other}", "--attn-device=cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-attncomplexity: baseline 0001_other was measured elsewhere: device: *"])
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()

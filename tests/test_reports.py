"""The marker and the reports people read, through inner pytest sessions: plots, HTML, CI summaries, progress."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_sessions_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "--attn-device=cpu")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


MARKED = """
import pytest
from pytest_attncomplexity import naive_attention, sdpa_attention

FAST = dict(sizes=[128, 256, 512], time_budget=0.2)

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
"""
MEASURING_TESTS = 4  # the last test measures nothing: it has no plot and no result


def _run_everything(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[pytest.RunResult, Path]:
    pytester.makepyfile(test_marked=MARKED)
    out = pytester.path / "out"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(out / "summary.md"))
    out.mkdir()
    result = pytester.runpytest(
        "--attn-scaling",
        f"--attn-scaling-json={out / 'results.json'}",
        f"--attn-scaling-plot={out / 'plots'}",
        f"--attn-scaling-html={out / 'report.html'}",
        f"--junitxml={out / 'junit.xml'}",
        "--attn-predict-n=65536",
    )
    return result, out


def test_markers_checked_and_every_report_written(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, out = _run_everything(pytester, monkeypatch)
    result.assert_outcomes(passed=2, failed=3)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [
            # A wrong marker fails with the measured exponent and the table of assert_exponent.
            "*@pytest.mark.attn_scaling(memory=1, tol=0.2) failed:*",
            "naive_attention: memory exponent 1.* is outside the expected 1 ± 0.2 [[]0.8, 1.2[]] on cpu",
            "*N        memory         IQR  local slope*",
            "*declares time, but time was not measured (metrics measured: memory)*",
            "*declares exponents, but the test measured nothing through the attn_scaling fixture*",
        ]
    )
    # The terminal report: a header naming device, torch and threads; every result; wall and prediction.
    result.stdout.fnmatch_lines(
        ["*= attention scaling =*", "attncomplexity: torch *, device cpu (*), 1 timing thread*"]
    )
    for name in ("test_sdpa_declared_right", "test_naive_declared_linear", "test_two_results_in_one_test"):
        result.stdout.fnmatch_lines([f"test_marked.py::{name} *"])
    result.stdout.fnmatch_lines_random(
        [
            "  memory wall: N ≈ * fills * (the machine's RAM) with the call's peak*",
            "  predicted at N=65,536: memory ≈ *",
        ]
    )

    document = json.loads((out / "results.json").read_text())
    assert len(document["results"]) == 5  # the test with two sweeps gives two results
    right = next(r for r in document["results"] if r["nodeid"].endswith("test_sdpa_declared_right"))
    assert [c["outcome"] for c in right["checks"]] == ["pass", "pass"]

    for stem in ("sdpa_declared_right", "naive_declared_linear", "two_results_in_one_test"):
        for suffix in ("png", "svg"):
            path = out / "plots" / f"test_marked__test_{stem}.{suffix}"
            assert path.stat().st_size > 5000, path
    assert len(list((out / "plots").glob("*.png"))) == MEASURING_TESTS

    summary = (out / "summary.md").read_text()
    assert "| test | outcome | result | metric | exponent |" in summary
    assert re.search(
        r"test_naive_declared_linear</code> \| ❌ failed \| naive_attention \| memory \| 1\.[89]\d\d", summary
    )
    assert "| 1 ± 0.2 | fail |" in summary

    cases = {case.get("name"): case for case in ET.parse(out / "junit.xml").iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_naive_declared_linear"].iter("property")}
    assert float(properties["attn_scaling.naive_attention.memory.exponent"]) == pytest.approx(1.95, abs=0.1)
    assert properties["attn_scaling.naive_attention.memory.verdict"] == "fail (expected 1 ± 0.2)"


def test_html_is_self_contained_with_one_plot_per_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = _run_everything(pytester, monkeypatch)
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="test">') == MEASURING_TESTS
    assert page.count('<div class="plot"><svg') == MEASURING_TESTS
    # Nothing is fetched: no script, no stylesheet link, no external src or href (namespaces are not fetched).
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'class="badge failed"' in page and 'class="badge passed"' in page
    assert "torch " in page and "1 thread" in page and "float32" in page
    assert "memory wall: N ≈" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "figures in one page must not share ids"


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.mark.skipif(_chromium() is None, reason="needs a chromium browser (Debian: apt-get install chromium)")
def test_html_renders_in_headless_chromium(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out = _run_everything(pytester, monkeypatch)
    browser = _chromium()
    assert browser is not None
    url = (out / "report.html").as_uri()
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
        f"--user-data-dir={out / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # a fetch would fail and be logged
    ]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    shot = subprocess.run(
        [*common, f"--screenshot={out / 'page.png'}", "--window-size=1400,2400", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in (dom.stderr + shot.stderr).splitlines() if "CONSOLE" in line or "report.html" in line]
    assert console == []
    # The rendered document holds one figure per test, each drawn (paths inside the svg).
    figures = re.findall(r'<div class="plot"><svg.*?</svg>', dom.stdout, flags=re.S)
    assert len(figures) == MEASURING_TESTS
    assert all(figure.count("<path") > 20 for figure in figures)
    assert (out / "page.png").stat().st_size > 50_000


def test_without_matplotlib_plots_are_a_usage_error_and_html_has_no_figures(pytester: pytest.Pytester) -> None:
    # A conftest that hides matplotlib, as on a machine without the [plot] extra.
    pytester.makeconftest("import sys\nsys.modules['matplotlib'] = None\n")
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_sweep(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"])
        """
    )
    result = pytester.runpytest("--attn-scaling-plot=plots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--attn-scaling-plot needs matplotlib, which is not installed: "
            "pip install 'pytest-attncomplexity[[]plot[]]'*"
        ]
    )
    result = pytester.runpytest("--attn-scaling-html=report.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["attention scaling: the HTML report has no figures: drawing the figures of *"])
    page = (pytester.path / "report.html").read_text()
    assert "<svg" not in page and "needs matplotlib, which is not installed" in page
    assert '<section class="test">' in page


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.attn_scaling(time=None, memory=None, flops=None, tol=0.2): *"])


def test_verbose_shows_progress_per_n(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_sweep(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory", "time"], time_budget=0.1)
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "attncomplexity: torch *",
            "    attn_scaling sdpa_attention measured N=64 (1/3) first call *, memory *",
            "    attn_scaling sdpa_attention measured N=128 (2/3)*",
            "    attn_scaling sdpa_attention measured N=256 (3/3)*",
            "    attn_scaling sdpa_attention timing 3 sizes, budget 0.1 s",
        ]
    )


def test_new_options_have_ini_keys(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        attn_scaling_plot = ini_plots
        attn_scaling_html = ini_report.html
        attn_predict_n = 8192
        attn_scaling = true
        """
    )
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_sweep(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"])
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["  predicted at N=8,192: memory ≈ *"])
    assert (pytester.path / "ini_plots" / "test_new_options_have_ini_keys__test_sweep.svg").exists()
    assert (pytester.path / "ini_report.html").read_text().count('<div class="plot"><svg') == 1


def test_bad_predict_n_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--attn-predict-n=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--attn-predict-n must be an integer, got 'lots'*"])


def test_tests_whose_names_make_the_same_file_name_get_a_figure_each(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_attncomplexity import sdpa_attention

        @pytest.mark.parametrize("variant", [1, 2, 3], ids=["a/b", "a b", "a_b"])
        def test_sweep(attn_scaling, variant):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"], label=f"v{variant}")
        """
    )
    result = pytester.runpytest("--attn-scaling-plot=plots")
    result.assert_outcomes(passed=3)
    stems = sorted(path.stem for path in (pytester.path / "plots").glob("*.svg"))
    base = "test_tests_whose_names_make_the_same_file_name_get_a_figure_each__test_sweep_a_b"
    assert stems == [base, f"{base}_2", f"{base}_3"]


def test_unwritable_report_paths_stop_at_start_or_fail_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_sweep(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"])
        """
    )
    pytester.mkdir("a_directory")
    pytester.makefile(".txt", a_file="x")
    for option, message in (
        ("--attn-scaling-json=a_directory", "--attn-scaling-json must name a file, but 'a_directory' is a directory"),
        ("--attn-scaling-html=a_file.txt/r.html", "--attn-scaling-html='a_file.txt/r.html' cannot be written: *"),
        ("--attn-scaling-plot=a_file.txt", "--attn-scaling-plot must name a directory, but 'a_file.txt' is a file"),
    ):
        result = pytester.runpytest(option)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, option
        result.stderr.fnmatch_lines([f"*{message}*"])
    # Found only at the end (the summary file is a directory): the tests passed, but the run must not.
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "a_directory"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["attention scaling: could not write */a_directory: IsADirectoryError: *"])


def test_a_skip_points_at_the_test_not_at_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_on_a_gpu(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], device="cuda:7")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] test_a_skip_points_at_the_test_not_at_the_plugin.py:*: device='cuda:7'*"]
    )

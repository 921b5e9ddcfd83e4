"""Options and ini keys through pytest itself: a verbose session without reports, a session configured from an ini
file (and interrupted at its end), one without matplotlib, and the usage errors pytest stops on at start-up.

Usage errors, --help and the marker list need no sweep: they run in this process (pytester's in-process runs and
real pytest.Config objects), not in a fresh interpreter that imports torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytest_attncomplexity import plugin
from pytest_attncomplexity.core.options import OPTIONS

from .inner import INCONCLUSIVE_TEST, InnerSession, run_inner_session

PROGRESS = """
from pytest_attncomplexity import sdpa_attention

def test_sweep(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory", "time"], time_budget=0.1)
"""


@pytest.fixture(scope="module")
def verbose(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    """-v and no report asked for; inconclusive verdicts skip; the step summary cannot be written (a directory)."""
    path = tmp_path_factory.mktemp("verbose")
    (path / "a_directory").mkdir()
    files = {"test_progress.py": PROGRESS, "test_inconclusive.py": INCONCLUSIVE_TEST}
    return run_inner_session(
        path, files, "-v", "-rs", "--attn-inconclusive=skip", env={"GITHUB_STEP_SUMMARY": str(path / "a_directory")}
    )


def test_verbose_shows_progress_per_n(verbose):
    verbose.out.fnmatch_lines(
        [
            "attncomplexity: torch *",
            "    attn_scaling sdpa_attention measured N=64 (1/3) first call *, memory *",
            "    attn_scaling sdpa_attention measured N=128 (2/3)*",
            "    attn_scaling sdpa_attention measured N=256 (3/3)*",
            "    attn_scaling sdpa_attention timing 3 sizes, budget 0.1 s",
        ]
    )


def test_no_report_without_the_flag(verbose):
    # The one line about attention scaling is the step summary's problem (test below): no report, no file written.
    mentions = [line for line in verbose.stdout.splitlines() if "attention scaling" in line]
    assert len(mentions) == 1 and mentions[0].startswith("attention scaling: could not write ")


def test_inconclusive_can_skip_at_the_test_line(verbose):
    verbose.out.fnmatch_lines(["SKIPPED [[]1[]] test_inconclusive.py:*: attn: inconclusive: time exponent*"])


def test_a_report_that_cannot_be_written_at_the_end_fails_the_run(verbose):
    verbose.out.fnmatch_lines(["*1 passed, 1 skipped*"])
    assert verbose.ret == pytest.ExitCode.TESTS_FAILED
    verbose.out.fnmatch_lines(["attention scaling: could not write */a_directory: IsADirectoryError: *"])


INI = """
[pytest]
attn_sizes = 32,64,128,256
attn_scaling = true
attn_scaling_json = ini.json
attn_scaling_plot = ini_plots
attn_scaling_html = ini_report.html
attn_predict_n = 8192
attn_inconclusive = xfail
attn_max_memory = 1GiB
"""

DEFAULTS = """
from pytest_attncomplexity import sdpa_attention

def test_default_sizes(attn_scaling):
    r = attn_scaling(sdpa_attention, metrics=["memory", "flops"])
    print("SIZES", r.sizes("flops"))
"""

BUDGET = """
from pytest_attncomplexity import naive_attention

def test_grows_until_the_budget(attn_scaling):
    r = attn_scaling(naive_attention, sizes=[32, 64, 128, 256, 512], metrics=["flops"])
    r.assert_exponent("flops", 2, tol=0.01)
"""

INTERRUPTED = """
from pytest_attncomplexity import sdpa_attention

def test_interrupted_inside_a_sweep(attn_scaling):
    def interrupted_at_128(q, k, v):
        if q.shape[-2] == 128:
            raise KeyboardInterrupt  # Ctrl-C while the sweep runs
        return sdpa_attention(q, k, v)
    attn_scaling(interrupted_at_128, sizes=[64, 128, 256], metrics=["flops"])
"""


@pytest.fixture(scope="module")
def from_ini(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    """Every setting from an ini file, one overridden on the command line; Ctrl-C in the last test's sweep."""
    path = tmp_path_factory.mktemp("ini")
    files = {
        "pytest.ini": INI,
        "test_budget.py": BUDGET,
        "test_defaults.py": DEFAULTS,
        "test_inconclusive.py": INCONCLUSIVE_TEST,
        "test_zz_interrupted.py": INTERRUPTED,
    }
    return run_inner_session(path, files, "-s", "-rx", "--attn-max-memory=3MiB")


def test_sizes_and_reports_from_the_ini_file(from_ini):
    from_ini.out.fnmatch_lines(["*SIZES (32, 64, 128, 256)*", "*= attention scaling =*"])
    from_ini.out.fnmatch_lines(["  predicted at N=8,192: memory ≈ *"])
    assert (from_ini.path / "ini_plots" / "test_defaults__test_default_sizes.svg").exists()
    assert (from_ini.path / "ini_report.html").read_text().count('<div class="plot"><svg') == 2


def test_the_command_line_wins_and_the_budget_shows_as_skipped_points(from_ini):
    from_ini.out.fnmatch_lines(
        ["*flops*32..128 (3)*", "  sweep ended: skipped from N=256: predicted peak memory * at N=256 is over*"]
    )
    budget = next(r for r in _document(from_ini)["results"] if r["nodeid"].startswith("test_budget.py"))
    assert [(e["n"], e["status"]) for e in budget["metrics"]["flops"]["excluded"]] == [
        (256, "skipped"),
        (512, "skipped"),
    ]
    assert "over the memory budget of 3 MiB" in budget["halt"]["reason"]  # 3MiB from the flag, not 1GiB from the ini


def test_inconclusive_from_the_ini_file_xfails(from_ini):
    from_ini.out.fnmatch_lines(["XFAIL*attn: inconclusive: time exponent*"])


def test_ctrl_c_inside_a_sweep_still_writes_every_earlier_result(from_ini):
    assert from_ini.ret == pytest.ExitCode.INTERRUPTED
    from_ini.out.fnmatch_lines(["*KeyboardInterrupt*"])
    document = _document(from_ini)
    assert document["run"]["complete"] is True and document["run"]["exitstatus"] == pytest.ExitCode.INTERRUPTED
    outcomes = {r["nodeid"].split("::")[1]: r["outcome"] for r in document["results"]}
    assert outcomes == {"test_grows_until_the_budget": "passed", "test_default_sizes": "passed"}


def _document(session: InnerSession) -> dict:
    return json.loads((session.path / "ini.json").read_text())


def test_without_matplotlib_the_html_report_has_no_figures(tmp_path):
    files = {
        "conftest.py": "import sys\nsys.modules['matplotlib'] = None  # as on a machine without the [plot] extra\n",
        "test_sweep.py": """
            from pytest_attncomplexity import sdpa_attention

            def test_sweep(attn_scaling):
                attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"])
            """,
    }
    session = run_inner_session(tmp_path, files, "--attn-scaling-html=report.html")
    assert session.ret == pytest.ExitCode.OK
    session.out.fnmatch_lines(["attention scaling: the HTML report has no figures: drawing the figures of *"])
    page = (tmp_path / "report.html").read_text()
    assert "<svg" not in page and "needs matplotlib, which is not installed" in page
    assert '<section class="test">' in page


def _configure(pytester: pytest.Pytester, *args: str) -> None:
    """What pytest does at start-up with these arguments: parse them, then the plugin's pytest_configure."""
    plugin.pytest_configure(pytester.parseconfig(*args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attn-sizes=256,128,512"], "--attn-sizes: sizes must be strictly increasing, got 128 after 256"),
        (["--attn-inconclusive=ignore"], "--attn-inconclusive must be one of ['fail', 'skip', 'xfail'], got 'ignore'"),
        (["--attn-predict-n=lots"], "--attn-predict-n must be an integer, got 'lots'"),
        (["--attn-ram-guard=lots"], "--attn-ram-guard must be a share of the available memory in (0, 1]"),
        (["--attn-scaling-json=a_directory"], "--attn-scaling-json must name a file, but 'a_directory' is a directory"),
        (["--attn-scaling-html=a_file.txt/r.html"], "--attn-scaling-html='a_file.txt/r.html' cannot be written: "),
        (["--attn-scaling-plot=a_file.txt"], "--attn-scaling-plot must name a directory, but 'a_file.txt' is a file"),
    ],
)
def test_a_bad_option_stops_pytest_at_start_up_naming_it(pytester: pytest.Pytester, args, message):
    pytester.mkdir("a_directory")
    pytester.makefile(".txt", a_file="x")
    with pytest.raises(pytest.UsageError) as stopped:
        _configure(pytester, *args)
    assert str(stopped.value).startswith("pytest-attncomplexity: ")
    assert message in str(stopped.value)


def test_a_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nattn_inconclusive = ignore\n")
    with pytest.raises(pytest.UsageError, match=r"ini key attn_inconclusive must be one of"):
        _configure(pytester)


def test_plots_without_matplotlib_stop_pytest_with_the_install_command(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on a machine without the [plot] extra
    with pytest.raises(pytest.UsageError) as stopped:
        _configure(pytester, "--attn-scaling-plot=plots")
    assert (
        "--attn-scaling-plot needs matplotlib, which is not installed: pip install 'pytest-attncomplexity[plot]'"
        in (str(stopped.value))
    )


def test_a_usage_error_is_an_exit_code_not_an_internal_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--attn-sizes=256,128,512")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-attncomplexity: --attn-sizes: sizes must be strictly increasing, got 128 after 256*"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_every_option_and_ini_key_is_documented(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--help")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        result.stdout.fnmatch_lines([f"*{option.flag}*"])
        result.stdout.fnmatch_lines([f"*{option.dest} *"])
        assert f"| `{option.flag}" in readme and f"| `{option.dest}` |" in readme, option.flag  # the options table


def test_the_marker_is_registered(pytester: pytest.Pytester):
    config = pytester.parseconfigure()
    assert any(
        line.startswith("attn_scaling(time=None, memory=None, flops=None, tol=0.2): ")
        for line in config.getini("markers")
    )


def test_the_report_says_when_no_test_used_the_fixture(pytester: pytest.Pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--attn-scaling")
    result.stdout.fnmatch_lines(["*= attention scaling =*", "no test used the attn_scaling fixture"])


def test_pytest_fixtures_shows_every_argument_of_the_call(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--fixtures", "-v")
    result.stdout.fnmatch_lines(["attn_scaling -- *", "    attn_scaling(fn, *, sizes, metrics, * -> ScalingResult: *"])
    for argument in ("fn:", "setup:", "sizes:", "metrics:", "device:", "mode:", "dtype:", "ram_guard:"):
        result.stdout.fnmatch_lines([f"        {argument} *"])

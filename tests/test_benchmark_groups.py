"""pytest-benchmark tests fitted as a group: ``@pytest.mark.attn_scaling(param="n", time=2)`` on a benchmark test
parametrized over a size, its hooks (machine info, JSON), and --benchmark-disable, --benchmark-skip and -n.

One inner session with real pytest-benchmark timings (a pure-Python O(N²) function, small sizes, few rounds) holds
the groups that pass, miss, lose sizes and misuse the marker; three small sessions show the ways pytest-benchmark
does not time. The verdict logic and the private pieces of pytest-benchmark this relies on are tested here directly.
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.claims import Claims, parse_claims
from pytest_attncomplexity.core.records import FAILED, NOT_RUN, SKIPPED
from pytest_attncomplexity.plugin.benchmark.groups import Group, Member
from pytest_attncomplexity.plugin.benchmark.timer import cuda_synchronized, replace_timer, samples_of
from pytest_attncomplexity.plugin.benchmark.verdict import judge, nothing_ran
from pytest_attncomplexity.plugin.machine import machine_info

from .inner import InnerSession, run_inner_session

# Few rounds, a short budget, no warm-up: behaviour, not precision (N=512 takes about 6 ms a call).
FAST_BENCHMARK = ("--benchmark-min-rounds=3", "--benchmark-max-time=0.02", "--benchmark-warmup=off")

QUADRATIC = """
def quadratic(n):
    return sum(i * j for i in range(n) for j in range(n))

SIZES = [64, 128, 256, 512]
"""

# The check: an O(N²) function over an 8× range of n meets time=2 ± 0.5.
QUADRATIC_GROUP = """
import pytest
from quadratic import SIZES, quadratic

@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)
@pytest.mark.parametrize("n", SIZES)
def test_quadratic(benchmark, n):
    benchmark(quadratic, n)
"""

GROUPS = (
    QUADRATIC_GROUP
    + """
@pytest.mark.attn_scaling(param="n", time=0, tol=0.1)
@pytest.mark.parametrize("n", SIZES)
def test_claims_constant(benchmark, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("variant", ["a", "b"])
def test_two_params(benchmark, variant, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)
@pytest.mark.parametrize("n", SIZES)
def test_sizes_fail(benchmark, n):
    if n in (128, 256):
        raise RuntimeError(f"no kernel for {n}")
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)
@pytest.mark.parametrize("n", SIZES)
def test_partly_deselected(benchmark, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)
@pytest.mark.parametrize("n", [64, 128, 256, pytest.param(512, marks=pytest.mark.skip(reason="too big here"))])
def test_last_skipped(benchmark, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=0, tol=0.1)
@pytest.mark.parametrize("n", SIZES)
def test_last_fails_too(benchmark, n):
    benchmark(quadratic, n)
    assert n < 512, "too slow"

@pytest.mark.attn_scaling(param="n", time=0, tol=0.1)
@pytest.mark.parametrize("n", SIZES)
def test_last_skips_in_its_body(benchmark, n):
    benchmark(quadratic, n)
    if n == 512:
        pytest.skip("no room for 512")

@pytest.mark.parametrize("n", SIZES)
def test_unmarked(benchmark, n):
    benchmark(quadratic, n)
"""
)

MISUSED = """
import pytest
from quadratic import SIZES, quadratic

@pytest.mark.attn_scaling(param="n", time=2, memory=1)
@pytest.mark.parametrize("n", [64])
def test_memory_claim(benchmark, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="m", time=2)
@pytest.mark.parametrize("n", [64])
def test_unknown_param(benchmark, n):
    benchmark(quadratic, n)

@pytest.mark.attn_scaling(param="n", time=2)
@pytest.mark.parametrize("n", ["big"])
def test_size_not_int(benchmark, n):
    benchmark(quadratic, 64)

@pytest.mark.attn_scaling(param="n", time=2)
@pytest.mark.parametrize("n", [64])
def test_no_benchmark(n):
    pass

@pytest.mark.attn_scaling(param="", time=2)
@pytest.mark.parametrize("n", [64])
def test_empty_param(benchmark, n):
    benchmark(quadratic, n)
"""

# A user's own machine description wins over pytest-benchmark's; the plugin's keys are added to it.
CONFTEST = """
def pytest_benchmark_generate_machine_info(config):
    return {"machine": "described by conftest.py", "lab": "attn"}
"""

MAIN_FILES = {"quadratic.py": QUADRATIC, "conftest.py": CONFTEST, "test_groups.py": GROUPS, "test_misused.py": MISUSED}

EXPECTED = {
    **{f"test_groups.py::test_quadratic[{n}]": "passed" for n in (64, 128, 256, 512)},
    **{f"test_groups.py::test_claims_constant[{n}]": "passed" for n in (64, 128, 256)},
    "test_groups.py::test_claims_constant[512]": "failed",  # the member that completed the group
    **{f"test_groups.py::test_two_params[{v}-{n}]": "passed" for v in "ab" for n in (64, 128, 256, 512)},
    "test_groups.py::test_sizes_fail[64]": "passed",
    "test_groups.py::test_sizes_fail[128]": "failed",
    "test_groups.py::test_sizes_fail[256]": "failed",
    "test_groups.py::test_sizes_fail[512]": "failed",  # two sizes left: too few to fit
    "test_groups.py::test_partly_deselected[64]": "passed",
    "test_groups.py::test_partly_deselected[128]": "failed",  # 256 and 512 deselected
    **{f"test_groups.py::test_last_skipped[{n}]": "passed" for n in (64, 128, 256)},
    "test_groups.py::test_last_skipped[512]": "skipped",  # judged after its teardown: three sizes, a pass
    **{f"test_groups.py::test_last_fails_too[{n}]": "passed" for n in (64, 128, 256)},
    "test_groups.py::test_last_fails_too[512]": "failed",  # on its own: the group's verdict is added beside it
    **{f"test_groups.py::test_last_skips_in_its_body[{n}]": "passed" for n in (64, 128, 256)},
    "test_groups.py::test_last_skips_in_its_body[512]": "skipped",  # and an error at teardown: the group's miss
    **{f"test_groups.py::test_unmarked[{n}]": "passed" for n in (64, 128, 256, 512)},
    **{
        f"test_misused.py::{name}": "error"
        for name in (
            "test_memory_claim[64]",
            "test_unknown_param[64]",
            "test_size_not_int[big]",
            "test_no_benchmark[64]",
            "test_empty_param[64]",
        )
    },
}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    path = tmp_path_factory.mktemp("benchmark_groups")
    started = time.perf_counter()
    done = run_inner_session(
        path,
        MAIN_FILES,
        "-rs",
        *FAST_BENCHMARK,
        "--deselect=test_groups.py::test_partly_deselected[256]",
        "--deselect=test_groups.py::test_partly_deselected[512]",
        "--attn-scaling",
        "--attn-scaling-json=out/results.json",
        "--attn-scaling-html=out/report.html",
        "--attn-scaling-plot=out/plots",
        "--benchmark-json=out/benchmark.json",
        "--benchmark-save=groups",
        "--benchmark-storage=bench",
        "--junitxml=junit.xml",
    )
    print(f"inner session: {time.perf_counter() - started:.1f} s")
    return done


@pytest.fixture(scope="module")
def document(session: InnerSession) -> dict:
    return json.loads((session.path / "out" / "results.json").read_text())


def _group(document: dict, nodeid: str) -> dict:
    found = [r for r in document["results"] if r["nodeid"] == nodeid]
    assert len(found) == 1, [r["nodeid"] for r in document["results"]]
    return found[0]


def test_every_member_has_its_outcome_and_nothing_is_internal(session):
    assert session.outcomes() == EXPECTED
    assert session.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in session.stdout + session.stderr


def test_a_group_is_fitted_across_its_sizes_under_its_id_without_the_size(session, document):
    quadratic = _group(document, "test_groups.py::test_quadratic")
    time_fit = quadratic["metrics"]["time"]
    assert time_fit["sizes"] == [64, 128, 256, 512]
    assert all(len(samples) >= 3 for samples in time_fit["samples"])  # pytest-benchmark's rounds, raw
    assert 1.5 <= time_fit["exponent"] <= 2.5  # the claim's band: O(N²) Python loops
    assert quadratic["label"] == "test_quadratic" and quadratic["mode"] == "pytest-benchmark"
    assert quadratic["device"] == "cpu" and quadratic["torch"] == torch.__version__
    assert quadratic["outcome"] == "passed"
    assert [(c["metric"], c["expected"], c["tol"], c["outcome"]) for c in quadratic["checks"]] == [
        ("time", 2.0, 0.5, "pass")
    ]
    # The other parameter stays in the id: one group per variant.
    for variant in "ab":
        assert _group(document, f"test_groups.py::test_two_params[{variant}]")["outcome"] == "passed"
    assert not [r for r in document["results"] if "test_unmarked" in r["nodeid"]]
    session.out.fnmatch_lines(
        [
            "*= attention scaling =*",
            "test_groups.py::test_quadratic [[]test_quadratic[]]",
            "  cpu (*), torch *, user inputs, pytest-benchmark",
            "  time *O(N^2)*64..512 (4)*",
        ]
    )


def test_a_missed_claim_fails_the_member_that_completes_the_group_with_the_table(session, document):
    session.out.fnmatch_lines(
        [
            "*_ test_claims_constant[[]512[]] _*",
            "pytest-benchmark group test_groups.py::test_claims_constant, fitted across n = 64, 128, 256, 512 from "
            "pytest-benchmark's timings:",
            "@pytest.mark.attn_scaling(param='n', time=0, tol=0.1) failed:",
            "",
            "test_claims_constant: time exponent * is outside the expected 0 ± 0.1 [[]-0.1, 0.1[]] on cpu",
            "*N*time*IQR*local slope",
            "*      64 *",
        ]
    )
    failure = session.stdout.split("_ test_claims_constant[512] _")[1].split("\n_")[0]
    assert "Traceback" not in failure and "pytest_attncomplexity/plugin/" not in failure
    missed = _group(document, "test_groups.py::test_claims_constant")
    assert missed["outcome"] == "failed" and missed["checks"][0]["outcome"] == "fail"


def test_fewer_than_three_sizes_fail_naming_the_group_and_the_sizes(session, document):
    session.out.fnmatch_lines(
        [
            "pytest-benchmark group test_groups.py::test_sizes_fail: @pytest.mark.attn_scaling(param='n', time=2, "
            "tol=0.5) cannot be checked: time was measured at 2 size(s) of n (64, 512); a fit needs 3",
            "*N*time*",
            "*128 *error *the test failed: RuntimeError: no kernel for 128",
        ]
    )
    session.out.fnmatch_lines(
        [
            "pytest-benchmark group test_groups.py::test_partly_deselected: * time was measured at 2 size(s) of n "
            "(64, 128); a fit needs 3",
            "*N*time*",
            "*",
            "*",
            "*256 *not run *deselected (-k, -m or --deselect)",
        ]
    )
    failed = _group(document, "test_groups.py::test_sizes_fail")
    assert failed["outcome"] == "failed" and failed["metrics"]["time"]["sizes"] == [64, 512]
    assert {e["n"]: e["status"] for e in failed["metrics"]["time"]["excluded"]} == {128: "error", 256: "error"}


def test_a_member_that_fails_on_its_own_carries_the_verdict_of_the_group_it_completes(session, document):
    session.out.fnmatch_lines(
        [
            "*_ test_last_fails_too[[]512[]] _*",
            "*AssertionError: too slow*",
            "*- Captured attn_scaling test_groups.py::test_last_fails_too call -*",
            "pytest-benchmark group test_groups.py::test_last_fails_too, fitted across n = 64, 128, 256 from *",
        ]
    )
    assert _group(document, "test_groups.py::test_last_fails_too")["outcome"] == "failed"


def test_a_group_whose_last_member_is_skipped_is_judged_at_its_teardown(session, document):
    last_skipped = _group(document, "test_groups.py::test_last_skipped")
    assert last_skipped["outcome"] == "passed" and last_skipped["metrics"]["time"]["sizes"] == [64, 128, 256]
    assert last_skipped["metrics"]["time"]["excluded"] == [{"n": 512, "status": "skipped", "reason": "too big here"}]
    # A miss there is an error on that test: a skipped test shows no failure.
    session.out.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_last_skips_in_its_body[[]512[]] _*",
            "pytest-benchmark group test_groups.py::test_last_skips_in_its_body, fitted across n = 64, 128, 256 from *",
        ]
    )
    skipped_in_body = _group(document, "test_groups.py::test_last_skips_in_its_body")
    assert skipped_in_body["outcome"] == "failed"
    assert skipped_in_body["metrics"]["time"]["excluded"][0]["reason"] == "no room for 512"


def test_a_misused_marker_is_an_error_on_its_test_that_names_the_problem(session):
    session.out.fnmatch_lines_random(
        [
            "test_misused.py::test_memory_claim[[]64[]]: @pytest.mark.attn_scaling(param='n') fits pytest-benchmark's "
            "timings, which measure time only; memory= cannot be checked that way*",
            "test_misused.py::test_unknown_param[[]64[]]: @pytest.mark.attn_scaling(param='m'): 'm' is not one of this "
            "test's parameters (n); name the parameter that holds the size",
            "test_misused.py::test_size_not_int[[]big[]]: @pytest.mark.attn_scaling(param='n'): the size n must be a "
            "positive int, got 'big'",
            "test_misused.py::test_no_benchmark[[]64[]]: @pytest.mark.attn_scaling(param='n') fits the times "
            "pytest-benchmark measures, but this test does not use the benchmark fixture",
            "test_misused.py::test_empty_param[[]64[]]: @pytest.mark.attn_scaling: param must name the test's size "
            "parameter (a non-empty string), got ''",
        ]
    )


def test_report_files_show_each_group_like_any_result(session, document):
    page = (session.path / "out" / "report.html").read_text()
    assert "test_groups.py::test_claims_constant" in page and "pytest-benchmark group" in page
    plots = session.path / "out" / "plots"
    for stem in ("test_groups__test_quadratic", "test_groups__test_two_params_a", "test_groups__test_claims_constant"):
        assert (plots / f"{stem}.png").stat().st_size > 5000


def test_pytest_benchmark_json_carries_the_fits_and_the_machine(session, document):
    saved = list((session.path / "bench").glob("*/0001_groups.json"))
    assert len(saved) == 1
    for path in (session.path / "out" / "benchmark.json", saved[0]):
        output = json.loads(path.read_text())
        groups = {g["nodeid"]: g for g in output["attn_scaling"]["groups"]}
        assert groups["test_groups.py::test_quadratic"]["metrics"]["time"]["exponent"] == pytest.approx(
            _group(document, "test_groups.py::test_quadratic")["metrics"]["time"]["exponent"]
        )
        missed = groups["test_groups.py::test_claims_constant"]
        assert missed["outcome"] == "failed" and missed["checks"][0]["outcome"] == "fail" and missed["param"] == "n"
        assert missed["members"][-1] == "test_groups.py::test_claims_constant[512]"
        # Asked through pytest-benchmark's hooks: the user's description, then the plugin's keys.
        machine = output["machine_info"]
        assert machine["lab"] == "attn" and machine["machine"] == "described by conftest.py"
        assert machine["torch_version"] == torch.__version__ and machine["cuda_version"] == torch.version.cuda
        assert machine["gpu"] == (torch.cuda.get_device_name() if torch.cuda.is_available() else None)
        assert machine == document["machine_info"]  # the scaling JSON describes the machine the same way


# --- pytest-benchmark not timing: --benchmark-disable, --benchmark-skip, pytest-xdist ------------------------------

SMALL_GROUP = {"quadratic.py": QUADRATIC, "test_small.py": QUADRATIC_GROUP}


def test_benchmark_disable_runs_each_member_once_and_the_report_says_why(tmp_path: Path):
    done = run_inner_session(
        tmp_path, SMALL_GROUP, "--benchmark-disable", "--attn-scaling", "--attn-scaling-json=r.json"
    )
    assert done.ret == pytest.ExitCode.OK
    done.out.fnmatch_lines(["*4 passed*"])
    done.out.fnmatch_lines_random(
        [
            "attention scaling: pytest-benchmark group test_small.py::test_quadratic: not fitted, "
            "@pytest.mark.attn_scaling(param='n', time=2, tol=0.5) not checked: pytest-benchmark is disabled "
            "(--benchmark-disable): each member ran its function once, untimed",
        ]
    )
    (result,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["outcome"] == "skipped" and result["metrics"]["time"]["sizes"] == []
    assert {e["status"] for e in result["metrics"]["time"]["excluded"]} == {"skipped"}
    assert "--benchmark-disable" in result["metrics"]["time"]["excluded"][0]["reason"]


def test_benchmark_skip_skips_the_members_and_fails_nothing(tmp_path: Path):
    done = run_inner_session(tmp_path, SMALL_GROUP, "--benchmark-skip", "-v", "--attn-scaling-json=r.json")
    assert done.ret == pytest.ExitCode.OK
    done.out.fnmatch_lines(["*4 skipped*"])
    done.out.fnmatch_lines(
        [
            "attention scaling: pytest-benchmark group test_small.py::test_quadratic: not fitted: "
            "every member was skipped"
        ]
    )
    assert json.loads((tmp_path / "r.json").read_text())["results"] == []


def test_under_xdist_nothing_is_timed_and_the_report_says_so(tmp_path: Path):
    pytest.importorskip("xdist")
    done = run_inner_session(tmp_path, SMALL_GROUP, "-n", "2")
    assert done.ret == pytest.ExitCode.OK
    done.out.fnmatch_lines(
        [
            "attention scaling: pytest-benchmark groups not fitted, their claims not checked: pytest-benchmark "
            "disables itself under pytest-xdist (-n), so nothing was timed: test_small.py::test_quadratic; "
            "run them without -n",
        ]
    )


# --- the pieces, directly ------------------------------------------------------------------------------------------


def _benchmark_fixture() -> object:
    """A real BenchmarkFixture, made as pytest-benchmark's fixture makes it (without its session), with the
    arguments this release takes (4.0 takes fewer than 5.x)."""
    from pytest_benchmark.fixture import BenchmarkFixture
    from pytest_benchmark.logger import Logger
    from pytest_benchmark.utils import NameWrapper

    stats: list[object] = []
    arguments = {
        "node": SimpleNamespace(name="test_x[64]", nodeid="test_x.py::test_x[64]", _nodeid="test_x.py::test_x[64]"),
        "disable_gc": False,
        "timer": NameWrapper(time.perf_counter),
        "min_rounds": 3,
        "min_time": 0.000005,
        "max_time": 0.001,
        "precision": None,
        "confidence": None,
        "warmup": False,
        "warmup_iterations": 0,
        "calibration_precision": 10,
        "add_stats": stats.append,
        "logger": Logger(Logger.QUIET),
        "warner": lambda warning: None,
        "disabled": False,
        "cprofile": False,
        "cprofile_loops": None,
        "cprofile_dump": False,
    }
    accepted = inspect.signature(BenchmarkFixture).parameters
    return BenchmarkFixture(**{name: value for name, value in arguments.items() if name in accepted})


def test_pytest_benchmark_still_keeps_its_timer_and_raw_samples_where_the_plugin_reads_them():
    """Tripwire: the CUDA timer replaces BenchmarkFixture._timer, a private attribute, and the samples come from
    benchmark.stats.stats.data. A pytest-benchmark release that renames either fails here."""
    fixture = _benchmark_fixture()
    reads: list[float] = []

    def counting(timer):
        def counted() -> float:
            reads.append(timer())
            return reads[-1]

        return counted

    assert samples_of(fixture) is None  # nothing timed yet
    assert replace_timer(fixture, counting)
    fixture.pedantic(sum, args=(range(1000),), rounds=5)
    assert len(reads) == 10  # a start and an end per round, read through the replacement
    samples = samples_of(fixture)
    assert samples is not None and len(samples) == 5 and all(s > 0 for s in samples)
    assert not replace_timer(SimpleNamespace(), counting)  # where there is no such attribute: the fallback


def test_the_cuda_timer_is_one_per_timer_and_named_for_pytest_benchmark():
    synchronized = cuda_synchronized(time.perf_counter)
    assert cuda_synchronized(time.perf_counter) is synchronized  # pytest-benchmark caches precision per timer
    assert synchronized.__name__ == "cuda_synchronized_perf_counter"
    if torch.cuda.is_available():
        before = synchronized()
        torch.ones(1024, device="cuda").sum()
        assert synchronized() >= before


def test_the_marker_takes_a_param_only_with_a_time_claim():
    assert parse_claims((), {"param": "n", "time": 2, "tol": 0.5}) == Claims({"time": 2.0}, 0.5, "n")
    assert Claims({"time": 2.0}, 0.5, "n").describe() == "@pytest.mark.attn_scaling(param='n', time=2, tol=0.5)"
    with pytest.raises(ValueError, match=r"param must name the test's size parameter .*got 3"):
        parse_claims((), {"param": 3, "time": 2})
    with pytest.raises(ValueError, match="measure time only; flops= cannot be checked that way"):
        parse_claims((), {"param": "n", "time": 2, "flops": 2})


def _quadratic_times(factors: list[float], spread: float) -> tuple[Point, ...]:
    """Synthetic times n² · factor with three samples each (for the verdict's logic, not a measurement)."""
    sizes = (256, 512, 1024, 2048, 4096)
    return tuple(
        Point(n, tuple(1e-9 * n**2 * f * k for k in (1 - spread, 1, 1 + spread)))
        for n, f in zip(sizes, factors, strict=True)
    )


def _judged(points: tuple[Point, ...], expected: float, policy: str = "fail", *, untimed: bool = False):
    members = [Member(f"t.py::test_x[{p.n}]", "t.py::test_x", p.n) for p in points]
    group = Group("t.py::test_x", "test_x", Claims({"time": expected}, 0.2, "n"), members, untimed=untimed)
    env = Environment("cpu", "cpu", "2.13.0", 1, "user inputs", "pytest-benchmark")
    result = ScalingResult("test_x", env, {"time": points}, nodeid=group.id)
    return judge(group, result, policy, "pytest-benchmark is disabled (--benchmark-disable)")


def test_the_verdict_on_a_group():
    clean = _quadratic_times([1.0] * 5, 0.01)
    assert _judged(clean, 2).outcome == "passed"
    missed = _judged(clean, 1)
    assert (missed.outcome, missed.action) == ("failed", "fail")
    assert missed.message.startswith("pytest-benchmark group t.py::test_x, fitted across n = 256, 512, 1024, 2048")
    assert "time exponent 2.000" in missed.message and "is outside the expected 1 ± 0.2" in missed.message
    # Too noisy to decide: --attn-inconclusive decides, as for any claim.
    noisy = _quadratic_times([3.0, 0.5, 2.0, 1.0, 1.0], 0.4)
    assert [(d.outcome, d.action) for d in (_judged(noisy, 2, policy) for policy in ("fail", "skip", "xfail"))] == [
        ("failed", "fail"),
        ("skipped", "skip"),
        ("xfailed", "xfail"),
    ]
    assert "too noisy to decide" in _judged(noisy, 2).message


def test_a_group_without_enough_times_fails_unless_nothing_was_timed_on_purpose():
    two = (Point(64, (1e-4,)), Point(128, (4e-4,)), Point(256, (), FAILED, "the test failed: boom"))
    few = _judged(two, 2)
    assert few.action == "fail" and "time was measured at 2 size(s) of n (64, 128); a fit needs 3" in few.message
    assert "the test failed: boom" in few.message
    untimed = tuple(Point(n, (), SKIPPED, "pytest-benchmark is disabled") for n in (64, 128, 256))
    disabled = _judged(untimed, 2, untimed=True)
    assert (disabled.outcome, disabled.action) == ("skipped", "")
    assert "not checked: pytest-benchmark is disabled (--benchmark-disable)" in disabled.message
    skipped = Group("g", "g", Claims({"time": 2.0}, 0.2, "n"))
    assert nothing_ran(skipped, [Point(64, (), SKIPPED, "skip"), Point(128, (), NOT_RUN, "deselected")])
    assert not nothing_ran(skipped, [Point(64, (), FAILED, "boom")])


def test_machine_info_without_pytest_benchmark_has_the_same_keys_and_torch(pytestconfig: pytest.Config):
    fallback = machine_info(SimpleNamespace(hook=SimpleNamespace()))
    assert {"node", "machine", "python_version", "system", "cpu"} <= set(fallback)
    assert fallback["torch_version"] == torch.__version__ and "gpu" in fallback and "cuda_version" in fallback
    if not pytestconfig.pluginmanager.hasplugin("benchmark"):
        return
    described = machine_info(pytestconfig)  # through pytest-benchmark's hooks, with this plugin's keys
    assert set(fallback) <= set(described)
    assert described["torch_version"] == torch.__version__


def test_a_group_claim_without_pytest_benchmark_is_an_error_not_a_silent_pass(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_group="""
        import pytest

        @pytest.mark.attn_scaling(param="n", time=2)
        @pytest.mark.parametrize("n", [64, 128, 256])
        def test_sized(n):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:benchmark")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*test_sized*: @pytest.mark.attn_scaling(param='n', time=2, tol=0.2) fits pytest-benchmark's timings, but "
            "pytest-benchmark is not active in this run (-p no:benchmark?)"
        ]
    )

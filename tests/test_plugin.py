"""The plugin through inner pytest sessions: options, ini keys, the report, the JSON file, errors."""

from __future__ import annotations

import json
import sys

import pytest
import torch

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_sessions_on_the_cpu(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The expectations below are the CPU's; on a machine with a GPU, device="auto" would pick it.
    monkeypatch.setenv("PYTEST_ADDOPTS", "--attn-device=cpu")


FAST = "sizes=[64, 128, 256], time_budget=0.1"

TESTS = f"""
from pytest_attncomplexity import naive_attention, sdpa_attention

def test_naive_memory(attn_scaling):
    r = attn_scaling(naive_attention, {FAST}, metrics=["memory", "flops"])
    r.assert_exponent("memory", 2, tol=0.3)

def test_sdpa_time(attn_scaling):
    r = attn_scaling(sdpa_attention, {FAST}, metrics=["time"], label="fused")
    assert r.fit("time").sizes == (64, 128, 256)
"""


def test_report_lists_every_test_with_its_exponents(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--attn-scaling")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= attention scaling =*",
            "test_report_lists_every_test_with_its_exponents.py::test_naive_memory [[]naive_attention[]]",
            "  cpu (*), torch *, 1 thread, float32, forward",
            "  metric*exponent*95% CI*class*N range*",
            "  memory *O(N^2)*64..256 (3)*",
            "  flops        2.000  2.000 .. 2.000*O(N^2)*",
            "*::test_sdpa_time [[]fused[]]",
            "  time *64..256 (3)*",
        ]
    )


def test_no_report_without_the_flag(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*attention scaling*")


def test_json_holds_every_result(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--attn-scaling-json=out/scaling.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["attention scaling results written to *scaling.json"])
    document = json.loads((pytester.path / "out" / "scaling.json").read_text())
    assert [r["nodeid"].split("::")[1] for r in document["results"]] == [
        "test_naive_memory",
        "test_sdpa_time",
    ]
    naive = document["results"][0]
    assert naive["device"] == "cpu"
    assert naive["torch"] == torch.__version__
    assert set(naive["metrics"]) == {"memory", "flops"}
    for metric in naive["metrics"].values():
        assert set(metric) >= {"sizes", "values", "exponent", "ci", "r2", "complexity", "unit"}
        assert metric["sizes"] == [64, 128, 256]
    assert naive["metrics"]["flops"]["exponent"] == pytest.approx(2.0)
    assert naive["metrics"]["memory"]["unit"] == "B"
    assert document["machine_info"]["machine"]


def test_wrong_claim_fails_and_shows_the_measured_exponent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        from pytest_attncomplexity import naive_attention

        def test_claims_linear_memory(attn_scaling):
            r = attn_scaling(naive_attention, {FAST}, metrics=["memory"])
            r.assert_exponent("memory", 1, tol=0.2)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: naive_attention: memory exponent 1.* (95% CI * to *, class O(N^2)) is outside the "
            "expected 1 ± 0.2 [[]0.8, 1.2[]] on cpu",
            "*N*memory*IQR*local slope",
            "*     256 *",
        ]
    )


def test_sizes_default_from_command_line_and_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_attncomplexity import sdpa_attention

        def test_default_sizes(attn_scaling):
            r = attn_scaling(sdpa_attention, metrics=["flops"])
            print("SIZES", r.sizes("flops"))
        """
    )
    pytester.makeini("[pytest]\nattn_sizes = 32,64,128,256\nattn_scaling = true\n")
    from_ini = pytester.runpytest("-s")
    from_ini.assert_outcomes(passed=1)
    from_ini.stdout.fnmatch_lines(["*SIZES (32, 64, 128, 256)*", "*= attention scaling =*"])
    from_cli = pytester.runpytest("-s", "--attn-sizes=64:256")
    from_cli.stdout.fnmatch_lines(["*SIZES (64, 128, 256)*"])


def test_bad_option_is_a_usage_error_not_an_internal_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--attn-sizes=256,128,512")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-attncomplexity: --attn-sizes: sizes must be strictly increasing, got 128 after 256*"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_bad_call_fails_that_test_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        from pytest_attncomplexity import sdpa_attention

        def test_unknown_metric(attn_scaling):
            attn_scaling(sdpa_attention, {FAST}, metrics=["latency"])

        def test_fine(attn_scaling):
            attn_scaling(sdpa_attention, {FAST}, metrics=["flops"]).assert_exponent("flops", 2)
        """
    )
    result = pytester.runpytest("--attn-scaling")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ValueError: unknown metric 'latency'; choose from *"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the skip given where there is no GPU")
def test_cuda_without_gpu_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        from pytest_attncomplexity import sdpa_attention

        def test_on_gpu(attn_scaling):
            attn_scaling(sdpa_attention, {FAST}, device="cuda")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*device='cuda' was asked for, but CUDA is not available here"])


def test_profiler_noise_stays_out_of_the_output(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        from pytest_attncomplexity import sdpa_attention

        def test_memory(attn_scaling):
            attn_scaling(sdpa_attention, {FAST}, metrics=["memory"])
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    assert "USDT" not in result.stdout.str() + result.stderr.str()


def test_options_and_ini_keys_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    for name in (
        "attn-scaling",
        "attn-scaling-json",
        "attn-sizes",
        "attn-device",
        "attn-threads",
        "attn-inconclusive",
        "attn-max-time",
        "attn-max-memory",
        "attn-time-budget",
        "attn-scaling-plot",
        "attn-scaling-html",
        "attn-predict-n",
        "attn-ram-guard",
    ):
        result.stdout.fnmatch_lines([f"*--{name}*"])
        result.stdout.fnmatch_lines([f"*{name.replace('-', '_')} *"])


def test_report_says_when_no_test_used_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--attn-scaling")
    result.stdout.fnmatch_lines(["*= attention scaling =*", "no test used the attn_scaling fixture"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="limits the address space through /proc and RLIMIT_AS")
def test_out_of_memory_is_data_and_the_next_test_runs(pytester: pytest.Pytester) -> None:
    # A real CPU allocation failure. The inner session caps its address space at what it uses after importing
    # torch plus 6 GiB: naive attention (B1 H8 D64) runs at N=8192 (about 4.3 GB of scores and weights) and
    # cannot allocate at N=16384 (8.6 GB for the scores alone). Relative to the process's own size, the cap means
    # the same on a CPU build of torch and on a CUDA build, which maps far more address space at import.
    pytester.makeconftest(
        """
        import re, resource
        import torch

        with open("/proc/self/status") as status:
            used_kib = int(re.search(r"VmSize:\\s+(\\d+) kB", status.read()).group(1))
        cap = used_kib * 1024 + 6 * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        """
    )
    pytester.makepyfile(
        """
        from pytest_attncomplexity import naive_attention, sdpa_attention

        def test_naive_runs_out_of_memory(attn_scaling):
            r = attn_scaling(naive_attention, sizes=[2048, 4096, 8192, 16384], metrics=["memory"])
            assert r.halt.n == 16384 and r.halt.status == "oom"
            assert r.sizes("memory") == (2048, 4096, 8192)
            r.assert_exponent("memory", 2, tol=0.15)

        def test_next_test_runs_normally(attn_scaling):
            r = attn_scaling(sdpa_attention, sizes=[2048, 4096, 8192], metrics=["memory"])
            assert r.halt is None
            r.assert_exponent("memory", 1, tol=0.15)
        """
    )
    # The RAM guard would see N=16384 coming and skip it: off, to get the allocator's own failure.
    result = pytester.runpytest(
        "--attn-scaling", "--attn-scaling-plot=plots", "--attn-scaling-json=out.json", "--attn-ram-guard=off"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_naive_runs_out_of_memory [[]naive_attention[]]",
            "*memory*2048..8192 (3)*",
            "  sweep ended: out of memory at N=16384: RuntimeError: *can't allocate memory*",
            "  memory wall: N ≈ * fills * (the machine's RAM) *; the sweep ran out of memory at N=16,384",
        ]
    )
    # The point is data in the JSON and in the figure (matplotlib keeps each text as a comment in the SVG).
    naive = json.loads((pytester.path / "out.json").read_text())["results"][0]
    assert naive["metrics"]["memory"]["excluded"][0]["status"] == "oom"
    figure = (
        pytester.path / "plots" / "test_out_of_memory_is_data_and_the_next_test_runs__test_naive_runs_out_of_memory.svg"
    )
    assert "<!-- out of memory -->" in figure.read_text()


INCONCLUSIVE_TEST = """
from pytest_attncomplexity import Environment, Point, ScalingResult

def test_noisy_claim():
    # Synthetic points whose exponent misses the band while its interval reaches into it.
    sizes, factors = [256, 512, 1024, 2048, 4096], [3.0, 0.5, 2.0, 1.0, 1.0]
    points = tuple(Point(n, (1e-9 * n**2 * f * 0.6, 1e-9 * n**2 * f, 1e-9 * n**2 * f * 1.4))
                   for n, f in zip(sizes, factors))
    env = Environment("cpu", "cpu", "2.13.0", 1, "float32", "forward")
    ScalingResult("attn", env, {"time": points}).assert_exponent("time", 2, tol=0.2)
"""


@pytest.mark.parametrize(
    ("policy", "outcome", "line"),
    [
        (None, {"failed": 1}, "*InconclusiveExponent: attn: inconclusive: time exponent*"),
        ("fail", {"failed": 1}, "*too noisy to decide*"),
        ("skip", {"skipped": 1}, "SKIPPED*attn: inconclusive: time exponent*"),
        ("xfail", {"xfailed": 1}, "XFAIL*attn: inconclusive: time exponent*"),
    ],
)
def test_inconclusive_policy(pytester: pytest.Pytester, policy, outcome, line) -> None:
    pytester.makepyfile(INCONCLUSIVE_TEST)
    args = ["-rsx"] + ([f"--attn-inconclusive={policy}"] if policy else [])
    result = pytester.runpytest(*args)
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines([line])


def test_inconclusive_policy_from_ini_and_bad_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INCONCLUSIVE_TEST)
    pytester.makeini("[pytest]\nattn_inconclusive = skip\n")
    pytester.runpytest().assert_outcomes(skipped=1)
    bad = pytester.runpytest("--attn-inconclusive=ignore")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--attn-inconclusive must be one of ['fail', 'skip', 'xfail'], got 'ignore'" in bad.stderr.str()


def test_each_bad_input_fails_its_own_test_with_a_message_that_names_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import math
        import pytest
        from pytest_attncomplexity import sdpa_attention

        FAST = dict(time_budget=0.1)

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
    )
    result = pytester.runpytest("--attn-scaling")
    result.assert_outcomes(passed=1, failed=10, errors=2)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines_random(
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
            "*@pytest.mark.attn_scaling: unknown keyword argument 'tme'; known: time, memory, flops, tol",
            "*@pytest.mark.attn_scaling: tol must be >= 0, got -0.5",
        ]
    )


def test_budgets_from_the_command_line_show_as_skipped_points(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_attncomplexity import naive_attention

        def test_grows_until_the_budget(attn_scaling):
            r = attn_scaling(naive_attention, sizes=[32, 64, 128, 256, 512], metrics=["flops"])
            r.assert_exponent("flops", 2, tol=0.01)
        """
    )
    result = pytester.runpytest("--attn-scaling", "--attn-max-memory=3MiB", "--attn-scaling-json=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*flops*32..128 (3)*", "  sweep ended: skipped from N=256: predicted peak memory * at N=256 is over*"]
    )
    flops = json.loads((pytester.path / "r.json").read_text())["results"][0]["metrics"]["flops"]
    assert [(e["n"], e["status"]) for e in flops["excluded"]] == [(256, "skipped"), (512, "skipped")]

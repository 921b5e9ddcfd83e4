"""pytest-xdist: the controller gathers every worker's results into one set of reports; a worker that crashes
keeps the results of the tests it finished; each worker measures on its own GPU; CPU timing takes turns.

Two inner sessions (module scope, a few seconds each): one under ``-n 2`` with every report asked for, one whose
worker kills itself. The GPU choice and the lock are pure logic, tested on their own below with synthetic inputs
(this machine has no GPU: the inner sessions see a CUDA_VISIBLE_DEVICES of GPUs that a CPU build of torch cannot
use, so the workers narrow it and still measure on the CPU).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.nodeids import plain_nodeid
from pytest_attncomplexity.core.records import Halt, PointStatus
from pytest_attncomplexity.measure.timing_lock import lock_file, taking_turns
from pytest_attncomplexity.plugin.xdist_gpu import (
    GpuChoice,
    choose_gpu,
    cuda_driver_loaded,
    describe_plan,
    driver_gpu_count,
    pin,
    visible_gpus,
)

from .inner import FAST_SOURCE, InnerSession, run_inner_session

execnet = pytest.importorskip("execnet")
pytest.importorskip("xdist")

# Sweeps pass device="cpu": the session's device is auto (so that the workers choose GPUs), and on a GPU machine
# the made-up GPUs 3 and 5 may exist.
CONFTEST = f"""
import pytest
from pytest_attncomplexity import naive_attention, sdpa_attention

{FAST_SOURCE}

@pytest.fixture
def swept_in_setup(attn_scaling):
    return attn_scaling(naive_attention, metrics=["memory"], label="in setup", device="cpu", **FAST)

@pytest.fixture
def swept_in_teardown(attn_scaling):
    yield
    attn_scaling(sdpa_attention, metrics=["flops"], label="in teardown", device="cpu", **FAST)
"""

GATHERED = f"""
import os
import pytest
from pytest_attncomplexity import naive_attention, sdpa_attention
from pytest_attncomplexity.plugin.session import STATE_KEY

{FAST_SOURCE}
CPU = dict(device="cpu", **FAST)

@pytest.mark.attn_scaling(memory=2, tol=0.3)
def test_marked(attn_scaling):
    attn_scaling(naive_attention, metrics=["memory", "time"], **CPU)

def test_asserted(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["flops"], **CPU).assert_exponent("flops", 2)

def test_wrong_claim(attn_scaling):
    attn_scaling(naive_attention, metrics=["memory"], **CPU).assert_exponent("memory", 1, tol=0.2)

def test_two_results(attn_scaling):
    attn_scaling(naive_attention, metrics=["flops"], label="first", **CPU)
    attn_scaling(sdpa_attention, metrics=["flops"], label="second", **CPU)

def test_verdict_on_a_setup_sweep(swept_in_setup):
    swept_in_setup.assert_exponent("memory", 2, tol=0.3)

def test_sweep_in_teardown(swept_in_teardown):
    pass

def test_skipped(attn_scaling):
    pytest.skip("nothing to measure")

@pytest.mark.xdist_group("pair")
def test_grouped(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["flops"], label="grouped", **CPU)

def test_worker_gpu_and_timing_lock(attn_scaling, request):
    # Worker gwK takes visible GPU K of "3,5"; its sweeps take turns on the lock the controller handed out.
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "35"[int(worker.removeprefix("gw")) % 2]
    lock = request.config.stash[STATE_KEY].options.timing_lock
    assert lock is not None and lock.endswith("timing.lock")
    attn_scaling(sdpa_attention, metrics=["time"], label="timed", **CPU)
    assert os.path.exists(lock)
"""

# Results of each test, as labels (the node ids may carry an @group suffix under --dist loadgroup).
GATHERED_RESULTS = {
    "test_marked": ["naive_attention"],
    "test_asserted": ["sdpa_attention"],
    "test_wrong_claim": ["naive_attention"],
    "test_two_results": ["first", "second"],
    "test_verdict_on_a_setup_sweep": ["in setup"],
    "test_sweep_in_teardown": ["in teardown"],
    "test_grouped": ["grouped"],
    "test_worker_gpu_and_timing_lock": ["timed"],
}
OUTCOMES = {name: "passed" for name in GATHERED_RESULTS} | {"test_wrong_claim": "failed", "test_skipped": "skipped"}


@pytest.fixture(scope="module")
def gathered(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    path = tmp_path_factory.mktemp("xdist")
    (path / "out").mkdir()
    return run_inner_session(
        path,
        {"conftest.py": CONFTEST, "test_gathered.py": GATHERED},
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "-rs",
        "--attn-device=auto",
        "--attn-scaling",
        "--attn-scaling-json=out/results.json",
        "--attn-scaling-html=out/report.html",
        "--attn-scaling-plot=out/plots",
        "--junitxml=junit.xml",
        env={"CUDA_VISIBLE_DEVICES": "3,5", "GITHUB_STEP_SUMMARY": str(path / "out" / "summary.md")},
    )


@pytest.fixture(scope="module")
def document(gathered: InnerSession) -> dict:
    return json.loads((gathered.path / "out" / "results.json").read_text())


def _by_test(document: dict) -> dict[str, list[str]]:
    tests: dict[str, list[str]] = {}
    for result in document["results"]:
        tests.setdefault(plain_nodeid(result["nodeid"]).split("::")[-1], []).append(result["label"])
    return {test: sorted(labels) for test, labels in tests.items()}


def test_every_test_ran_on_a_worker_with_its_own_outcome(gathered):
    outcomes = {plain_nodeid(nodeid): outcome for nodeid, outcome in gathered.outcomes().items()}
    assert outcomes == {f"test_gathered.py::{test}": outcome for test, outcome in OUTCOMES.items()}
    assert gathered.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in gathered.stdout + gathered.stderr
    gathered.out.fnmatch_lines(["created: 2/2 workers"])


def test_one_json_holds_the_results_of_every_test_with_outcomes(gathered, document):
    assert _by_test(document) == {test: sorted(labels) for test, labels in GATHERED_RESULTS.items()}
    assert document["run"]["complete"] is True and document["run"]["exitstatus"] == 1
    assert document["run"]["tests_finished"] == len(OUTCOMES)
    outcomes = {plain_nodeid(r["nodeid"]).split("::")[-1]: r["outcome"] for r in document["results"]}
    assert outcomes == {test: OUTCOMES[test] for test in GATHERED_RESULTS}
    gathered.out.fnmatch_lines(["attention scaling results written to out/results.json"])
    # Node ids as pytest reported them: with --dist loadgroup's @group suffix where pytest-xdist adds one (pytest 8;
    # pytest 9.2 no longer lets it); plain_nodeid strips it.
    grouped = next(r["nodeid"] for r in document["results"] if r["label"] == "grouped")
    assert grouped in gathered.outcomes() and plain_nodeid(grouped) == "test_gathered.py::test_grouped"


def test_verdicts_given_after_the_sweep_reach_the_controller(document):
    checks = {
        (plain_nodeid(r["nodeid"]).split("::")[-1], r["label"]): [(c["metric"], c["outcome"]) for c in r["checks"]]
        for r in document["results"]
    }
    assert checks["test_marked", "naive_attention"] == [("memory", "pass")]  # the marker's, after the body
    assert checks["test_asserted", "sdpa_attention"] == [("flops", "pass")]
    assert checks["test_wrong_claim", "naive_attention"] == [("memory", "fail")]
    assert checks["test_verdict_on_a_setup_sweep", "in setup"] == [("memory", "pass")]  # recorded in setup
    assert checks["test_sweep_in_teardown", "in teardown"] == []
    marked = next(r for r in document["results"] if plain_nodeid(r["nodeid"]).endswith("::test_marked"))
    assert marked["metrics"]["time"]["exponent"] is not None and marked["metrics"]["time"]["samples"]


def test_the_terminal_report_lists_every_result_once(gathered):
    report = gathered.stdout.split("= attention scaling =", 1)[1]
    headings = re.findall(r"^test_gathered\.py::(\w+)\S* \[(.+)\]$", report, flags=re.M)
    expected = sorted((test, label) for test, labels in GATHERED_RESULTS.items() for label in labels)
    assert sorted(headings) == expected


def test_the_header_says_the_controller_gathers_and_where_workers_measure(gathered):
    gathered.out.fnmatch_lines(
        [
            "attncomplexity: pytest-xdist, 2 workers: this process gathers their results; CPU timing takes turns "
            "across the workers*",
            "attncomplexity: each of the 2 workers measures on its own GPU (worker gwK on visible GPU K: 3, 5)",
        ]
    )


def test_html_and_figures_hold_every_measuring_test(gathered, document):
    page = (gathered.path / "out" / "report.html").read_text()
    measuring = {r["nodeid"] for r in document["results"]}
    assert page.count('<section class="test">') == len(measuring)
    assert "had not finished" not in page
    assert len(list((gathered.path / "out" / "plots").glob("*.png"))) == len(measuring)


def test_the_step_summary_is_written_once_by_the_controller(gathered, document):
    # Workers write no report file: each one appending its own summary would repeat the tests.
    summary = (gathered.path / "out" / "summary.md").read_text()
    assert summary.count("| test | outcome | result | metric | exponent |") == 1
    for test in GATHERED_RESULTS:
        assert len(re.findall(rf"<code>[^<]*{test}[^<]*</code>", summary)) >= 1, test


CRASHING = f"""
import os
import signal
from pytest_attncomplexity import naive_attention, sdpa_attention

{FAST_SOURCE}

def test_first(attn_scaling):
    attn_scaling(naive_attention, metrics=["memory"], **FAST)

def test_second(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["flops", "time"], **FAST).assert_exponent("flops", 2)

def test_crash(attn_scaling):
    attn_scaling(sdpa_attention, metrics=["flops"], label="lost with its worker", **FAST)
    os.kill(os.getpid(), signal.SIGKILL)

def test_after(attn_scaling):
    # The replacement worker (gw1) takes the next GPU round-robin.
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "35"[int(os.environ["PYTEST_XDIST_WORKER"][2:]) % 2]
    attn_scaling(sdpa_attention, metrics=["flops"], label="after", **FAST)
"""


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> InnerSession:
    """One worker (-n 1), so that the tests before the crash ran on the worker that dies."""
    path = tmp_path_factory.mktemp("xdist_crash")
    return run_inner_session(
        path,
        {"test_crashing.py": CRASHING},
        "-n",
        "1",
        "--attn-device=auto",
        "--attn-scaling-json=results.json",
        "--junitxml=junit.xml",
        env={"CUDA_VISIBLE_DEVICES": "3,5"},
    )


def test_a_crashed_worker_keeps_the_results_of_the_tests_it_finished(crashed):
    crashed.out.fnmatch_lines(["*worker 'gw0' crashed while running 'test_crashing.py::test_crash'*"])
    assert "INTERNALERROR" not in crashed.stdout + crashed.stderr
    document = json.loads((crashed.path / "results.json").read_text())
    results = {(r["nodeid"], r["label"], r["outcome"]) for r in document["results"]}
    assert results == {
        ("test_crashing.py::test_first", "naive_attention", "passed"),
        ("test_crashing.py::test_second", "sdpa_attention", "passed"),
        ("test_crashing.py::test_after", "after", "passed"),
    }
    assert document["run"]["complete"] is True
    outcomes = crashed.outcomes()
    assert outcomes["test_crashing.py::test_after"] == "passed"
    assert outcomes["test_crashing.py::test_crash"] in ("failed", "error")


# -- pure logic ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodeid", "plain"),
    [
        ("test_a.py::test_x@gpu", "test_a.py::test_x"),
        ("test_a.py::test_x[1-2]@pair", "test_a.py::test_x[1-2]"),
        ("test_a.py::test_x[a@b]", "test_a.py::test_x[a@b]"),
        ("test_a.py::test_x[a@b]@g", "test_a.py::test_x[a@b]"),
        ("test_a.py::test_x@g1_g2", "test_a.py::test_x"),
        ("test_a.py::Test::test_x@g@h", "test_a.py::Test::test_x"),
        ("dir@1/test_a.py::test_x", "dir@1/test_a.py::test_x"),
        ("test_a.py::test_x", "test_a.py::test_x"),
        ("", ""),
    ],
)
def test_plain_nodeid_strips_the_group_suffix_only(nodeid, plain):
    assert plain_nodeid(nodeid) == plain


@pytest.mark.parametrize(
    ("variable", "driver", "visible"),
    [
        (None, 4, ("0", "1", "2", "3")),
        (None, None, ()),
        (None, 0, ()),
        ("2,3", 8, ("2", "3")),
        (" 1 , 0 ", None, ("1", "0")),
        ("", 4, ()),
        ("-1", 4, ()),
        ("0,-1,2", 4, ("0",)),
        ("0,gpu,2", 4, ("0",)),
        ("1,1", 4, ()),
        ("GPU-8f6e1c2a,GPU-0b7d9e11", None, ("GPU-8f6e1c2a", "GPU-0b7d9e11")),
        ("MIG-5c1d", None, ("MIG-5c1d",)),
    ],
)
def test_visible_gpus_read_cuda_visible_devices_as_cuda_does(variable, driver, visible):
    assert visible_gpus(variable, driver) == visible


def test_worker_k_takes_visible_gpu_k_mod_their_count():
    visible = ("2", "3")
    assert choose_gpu("gw0", "auto", visible) == GpuChoice("2", 0, 2)
    assert choose_gpu("gw1", "cuda", visible) == GpuChoice("3", 1, 2)
    assert choose_gpu("gw4", "auto", visible) == GpuChoice("2", 0, 2)  # more workers than GPUs: round-robin
    assert choose_gpu("gw5", "auto", ("GPU-a",)) == GpuChoice("GPU-a", 0, 1)


@pytest.mark.parametrize(
    ("worker", "device", "visible"),
    [("gw1", "cpu", ("0", "1")), ("gw1", "cuda:1", ("0", "1")), ("gw1", "auto", ()), (None, "auto", ("0",)),
     ("", "auto", ("0",)), ("master", "auto", ("0",))],
)  # fmt: skip
def test_no_gpu_is_chosen_for_another_device_without_gpus_or_outside_a_worker(worker, device, visible):
    assert choose_gpu(worker, device, visible) is None


def test_a_worker_narrows_cuda_visible_devices_unless_cuda_is_initialized():
    choice = GpuChoice("GPU-b", 1, 2)
    narrowed = pin(choice, cuda_initialized=False)
    assert narrowed is not None and (narrowed.environment, narrowed.device) == ("GPU-b", None)
    # CUDA no longer reads the variable: the session's device names the GPU by its index instead.
    indexed = pin(choice, cuda_initialized=True)
    assert indexed is not None and (indexed.environment, indexed.device) == (None, "cuda:1")
    assert pin(None, cuda_initialized=False) is None


def test_the_header_says_whether_workers_share_gpus():
    assert describe_plan(2, "auto", ("0", "1")) == (
        "each of the 2 workers measures on its own GPU (worker gwK on visible GPU K: 0, 1)"
    )
    shared = describe_plan(5, "cuda", ("0", "1"))
    assert shared is not None
    assert shared.startswith("5 workers share 2 GPUs (0, 1) round-robin, up to 3 per GPU")
    assert "take turns timing" in shared
    assert describe_plan(2, "cpu", ("0",)) is None and describe_plan(2, "auto", ()) is None


def test_driver_gpus_and_cuda_initialization_are_read_from_proc(tmp_path: Path):
    gpus = tmp_path / "gpus"
    gpus.mkdir()
    assert driver_gpu_count(str(gpus)) is None
    for address in ("0000:17:00.0", "0000:65:00.0"):
        (gpus / address).mkdir()
    assert driver_gpu_count(str(gpus)) == 2
    assert driver_gpu_count(str(tmp_path / "missing")) is None
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert not cuda_driver_loaded(str(maps))
    maps.write_text(maps.read_text() + "7f02-7f03 r-xp 0 08:01 2 /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\n")
    assert cuda_driver_loaded(str(maps))
    assert not cuda_driver_loaded(str(tmp_path / "missing"))


def test_the_cpu_takes_turns_on_the_lock_itself():
    import torch

    assert lock_file("/tmp/x/timing.lock", torch.device("cpu")) == "/tmp/x/timing.lock"
    assert lock_file(None, torch.device("cpu")) is None


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl.flock: POSIX; on Windows the lock stands aside")
def test_a_second_holder_waits_until_the_first_lets_go(tmp_path: Path):
    # Two holders in one process: flock locks belong to each open file, so two threads contend like two workers.
    lock = str(tmp_path / "locks" / "timing.lock")  # its directory is made on first use
    order: list[str] = []
    first_holds, second_tries = threading.Event(), threading.Event()

    def first() -> None:
        with taking_turns(lock):
            order.append("first in")
            first_holds.set()
            second_tries.wait(timeout=30)
            # Time for the second thread to reach the lock (without one it would get in now); with the lock it
            # cannot get in before this, however long it took.
            time.sleep(0.2)
            order.append("first out")

    def second() -> None:
        first_holds.wait(timeout=30)
        second_tries.set()
        with taking_turns(lock):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert order == ["first in", "first out", "second in"]
    with taking_turns(None):  # no lock: the block runs at once
        order.append("unlocked")


def test_results_travel_as_plain_data_execnet_carries_and_come_back_whole():
    from pytest_attncomplexity.plugin.xdist import _transportable

    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward", {"batch": 1}, 2**30)
    points = {
        "memory": (Point(256, (4.0e6,)), Point(512, (1.6e7,)), Point(1024, (6.4e7,)), Point(2048, (), "oom", "x")),
        "time": tuple(Point(n, (n * 1e-6, n * 1.1e-6, n * 0.9e-6)) for n in (256, 512, 1024)),
    }
    result = ScalingResult("naive", env, points, nodeid="t.py::test@g", halt=Halt(2048, "oom", "x"))
    result.check("memory", 2, tol=0.2)
    assert isinstance(result.points["memory"][-1].status, PointStatus)  # a str subclass: execnet refuses it
    data = _transportable(result)
    assert execnet.loads(execnet.dumps(data)) == data
    back = ScalingResult.from_json(data)
    assert _transportable(back) == data
    assert back.nodeid == "t.py::test@g" and [v.outcome for v in back.checks] == ["pass"]

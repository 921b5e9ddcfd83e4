"""A session survives a sweep that outgrows memory, and a killed session leaves its finished results behind.

Inner sessions, because only a whole session shows what an allocation failure, the kernel's OOM killer or a SIGKILL
leaves. None of them can endanger the machine running the tests: the smaller machine is made real for the inner
session alone, as an address-space cap or a memory cgroup. (The RAM guard against a played smaller machine is in
test_session_main.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .inner import run_inner_session

GiB = 2**30

OOM_SESSION = {
    # A real CPU allocation failure. The inner session caps its address space at what it uses after importing torch
    # plus 768 MiB: naive attention (B1 H8 D64) runs at N=2048 (about 270 MB of scores and weights) and cannot
    # allocate at N=4096 (540 MB for the scores, as much again for their scaled copy). Relative to the process's
    # own size, the cap means the same on a CPU build of torch and on a CUDA build, which maps far more address
    # space at import.
    "conftest.py": """
        import re, resource
        import torch

        with open("/proc/self/status") as status:
            used_kib = int(re.search(r"VmSize:\\s+(\\d+) kB", status.read()).group(1))
        cap = used_kib * 1024 + 3 * 2**28
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        """,
    "test_oom.py": """
        from pytest_attncomplexity import naive_attention, sdpa_attention

        def test_naive_runs_out_of_memory(attn_scaling):
            r = attn_scaling(naive_attention, sizes=[512, 1024, 2048, 4096], metrics=["memory"])
            assert r.halt.n == 4096 and r.halt.status == "oom"
            assert r.sizes("memory") == (512, 1024, 2048)
            r.assert_exponent("memory", 2, tol=0.15)

        def test_next_test_runs_normally(attn_scaling):
            r = attn_scaling(sdpa_attention, sizes=[512, 1024, 2048], metrics=["memory"])
            assert r.halt is None
            r.assert_exponent("memory", 1, tol=0.15)
        """,
}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="limits the address space through /proc and RLIMIT_AS")
def test_out_of_memory_is_data_and_the_next_test_runs(tmp_path):
    # The RAM guard would see N=4096 coming and skip it: off, to get the allocator's own failure.
    session = run_inner_session(
        tmp_path,
        OOM_SESSION,
        "--attn-scaling",
        "--attn-scaling-plot=plots",
        "--attn-scaling-json=out.json",
        "--attn-ram-guard=off",
    )
    session.out.fnmatch_lines(
        [
            "*::test_naive_runs_out_of_memory [[]naive_attention[]]",
            "*memory*512..2048 (3)*",
            "  sweep ended: out of memory at N=4096: RuntimeError: *can't allocate memory*",
            "  memory wall: N ≈ * fills * (the machine's RAM) *; the sweep ran out of memory at N=4,096",
            "*2 passed*",
        ]
    )
    # The point is data in the JSON and in the figure (matplotlib keeps each text as a comment in the SVG).
    naive = json.loads((tmp_path / "out.json").read_text())["results"][0]
    assert naive["metrics"]["memory"]["excluded"][0]["status"] == "oom"
    figure = tmp_path / "plots" / "test_oom__test_naive_runs_out_of_memory.svg"
    assert "<!-- out of memory -->" in figure.read_text()


def test_a_killed_session_leaves_valid_reports_with_every_finished_result(tmp_path):
    files = {
        "test_killed.py": """
            import os, signal
            from pytest_attncomplexity import sdpa_attention

            def test_finished_before_the_kill(attn_scaling):
                attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"]).assert_exponent("flops", 2)

            def test_killed_half_way(attn_scaling):
                attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"], label="measured before the kill")
                os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, or a CI timeout
            """
    }
    session = run_inner_session(
        tmp_path, files, "--attn-scaling-json=out/o.json", "--attn-scaling-html=out/o.html", "--attn-scaling-plot=out"
    )
    assert session.ret == -signal.SIGKILL
    out = tmp_path / "out"
    document = json.loads((out / "o.json").read_text())
    assert document["run"]["complete"] is False and document["run"]["exitstatus"] is None
    assert document["run"]["tests_finished"] == 1
    finished, running = document["results"]
    assert finished["nodeid"].endswith("::test_finished_before_the_kill") and finished["outcome"] == "passed"
    assert finished["metrics"]["flops"]["exponent"] == pytest.approx(2.0)
    assert running["label"] == "measured before the kill" and running["outcome"] is None
    page = (out / "o.html").read_text()
    assert "This run had not finished when this page was written (1 test(s) finished)" in page
    assert "test_finished_before_the_kill" in page and page.rstrip().endswith("</html>")
    drawn = sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".svg"))
    assert drawn == ["test_killed__test_finished_before_the_kill.png", "test_killed__test_finished_before_the_kill.svg"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@contextlib.contextmanager
def _memory_cgroup(limit: int) -> Iterator[tuple[Path, bool]]:
    """A child of this process's memory cgroup, limited to ``limit`` bytes, and whether it can swap past that
    limit; skips where none can be made."""
    from pytest_attncomplexity.measure.cgroup import memory_cgroups

    own = next((d for d, _ in memory_cgroups()), None)
    if own is None or not os.access(own, os.W_OK):
        pytest.skip("needs a memory cgroup this process may make children in (Linux, cgroupfs writable)")
    child = own / f"attncomplexity-test-{os.getpid()}"
    try:
        child.mkdir()
        v2 = (child / "memory.max").exists()
        (child / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(limit))
    except OSError as error:
        with contextlib.suppress(OSError):
            child.rmdir()
        pytest.skip(f"cannot make a limited memory cgroup here: {error}")
    swap_limited = False
    with contextlib.suppress(OSError):  # absent where the kernel does not account swap
        (child / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")).write_text("0" if v2 else str(limit))
        swap_limited = True
    no_swap = len(Path("/proc/swaps").read_text().splitlines()) <= 1
    try:
        yield child, swap_limited or no_swap
    finally:
        with contextlib.suppress(OSError):
            child.rmdir()


GUARDED_SWEEPS = {
    "test_guarded.py": """
        from pytest_attncomplexity import naive_attention, sdpa_attention

        def test_first(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"])

        def test_big(attn_scaling):
            attn_scaling(naive_attention, sizes=[256, 512, 1024, 2048, 4096], metrics=["memory"])
        """
}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory cgroups are Linux's")
def test_in_a_real_memory_cgroup_the_guard_is_what_keeps_the_session_alive(tmp_path):
    # 1.25 GiB for the whole inner session (Python, torch and pytest take about 0.45 GiB): naive attention takes
    # about 0.3 GiB at N=2048 and 1.1 GiB at N=4096. Without the guard the cgroup's OOM killer ends the session.
    with _memory_cgroup(5 * GiB // 4) as (cgroup, cannot_swap):
        into_the_cgroup = ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$0" "$@"']
        guarded = run_inner_session(
            tmp_path, GUARDED_SWEEPS, "--attn-scaling", "--attn-scaling-json=o.json", prefix=into_the_cgroup
        )
        unguarded = (
            run_inner_session(tmp_path, GUARDED_SWEEPS, "--attn-ram-guard=off", prefix=into_the_cgroup)
            if cannot_swap
            else None
        )
    assert guarded.ret == 0, guarded.stdout
    guarded.out.fnmatch_lines(
        [
            "*::test_big [[]naive_attention[]]",
            "  sweep ended: skipped from N=4096: predicted host memory * does not fit the RAM guard: 80% of the * "
            "available now (cgroup limit 1.25 GiB of *",
            "*2 passed*",
        ]
    )
    assert [r["outcome"] for r in json.loads((tmp_path / "o.json").read_text())["results"]] == ["passed"] * 2
    if unguarded is not None:  # where it could swap, the kernel would page the unguarded sweep out, not kill it
        assert unguarded.ret in (-signal.SIGKILL, 128 + signal.SIGKILL), unguarded.stdout


def test_a_report_is_replaced_whole_through_a_link_with_its_permissions(tmp_path):
    from pytest_attncomplexity.report.atomic import write_text_atomically

    real = tmp_path / "kept" / "report.json"
    real.parent.mkdir()
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "report.json"
    link.symlink_to(real)
    write_text_atomically(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert real.stat().st_mode & 0o777 == 0o640

    def broken(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    from pytest_attncomplexity.report.atomic import replace_atomically

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(real, broken)
    assert real.read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["report.json"]

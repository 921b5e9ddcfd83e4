"""A session survives a sweep that outgrows RAM, and a killed session leaves its finished results behind.

Inner sessions, because only a whole session shows what the kernel's OOM killer or a SIGKILL leaves. None of them
can endanger the machine running the tests: the small machine is played (the guard reads availability through one
function), or made real as a memory cgroup that holds only the inner session.
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

GiB = 2**30

ISSUE_SESSION = """
from pytest_attncomplexity import naive_attention, sdpa_attention

def test_first(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory"], device="cpu")

def test_big(attn_scaling):
    attn_scaling(naive_attention, sizes={sizes}, heads={heads}, metrics=["memory"], device="cpu")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard reads Linux's /proc")
def test_a_sweep_that_would_outgrow_ram_is_skipped_and_the_session_ends_normally(pytester: pytest.Pytester) -> None:
    # 2 GiB free: N=2048 takes about 600 MiB with 16 heads, N=4096 about four times that, over 80% of 2 GiB.
    pytester.makeconftest(
        """
        from pytest_attncomplexity.measure import host

        host.available_memory = lambda: host.Headroom(2 * 2**30, "a 2 GiB test machine")
        """
    )
    pytester.makepyfile(ISSUE_SESSION.format(sizes=[512, 1024, 2048, 4096], heads=16))
    result = pytester.runpytest("--attn-scaling", "--attn-scaling-json=o.json")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_first [[]sdpa_attention[]]",
            "*::test_big [[]naive_attention[]]",
            "  memory *O(N^2)*512..2048 (3)*",
            "  sweep ended: skipped from N=4096: predicted host memory * at N=4096 (extrapolated from the sizes "
            "measured) does not fit the RAM guard: 80% of the 2 GiB available now (a 2 GiB test machine) is 1.6 GiB;*",
        ]
    )
    document = json.loads((pytester.path / "o.json").read_text())
    assert document["run"]["complete"] is True and document["run"]["exitstatus"] == 0
    assert [(r["nodeid"].split("::")[1], r["outcome"]) for r in document["results"]] == [
        ("test_first", "passed"),
        ("test_big", "passed"),
    ]
    skipped = document["results"][1]["metrics"]["memory"]["excluded"]
    assert [(e["n"], e["status"]) for e in skipped] == [(4096, "skipped")]
    assert "does not fit the RAM guard" in skipped[0]["reason"]


def test_a_killed_session_leaves_valid_reports_with_every_finished_result(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, signal
        from pytest_attncomplexity import sdpa_attention

        def test_finished_before_the_kill(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"]).assert_exponent("flops", 2)

        def test_killed_half_way(attn_scaling):
            attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["flops"], label="measured before the kill")
            os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, or a CI timeout
        """
    )
    result = pytester.runpytest(
        "--attn-device=cpu",
        "--attn-scaling-json=out/o.json",
        "--attn-scaling-html=out/o.html",
        "--attn-scaling-plot=out",
    )
    assert result.ret == -signal.SIGKILL
    out = pytester.path / "out"
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
    stem = "test_a_killed_session_leaves_valid_reports_with_every_finished_result__test_finished_before_the_kill"
    assert drawn == [f"{stem}.png", f"{stem}.svg"]
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory cgroups are Linux's")
def test_in_a_real_memory_cgroup_the_guard_is_what_keeps_the_session_alive(pytester: pytest.Pytester) -> None:
    # 3 GiB for the whole inner session (Python, torch and pytest take about 0.4 GiB): naive attention with 8 heads
    # takes about 1.1 GiB at N=4096 and 4.3 GiB at N=8192. Without the guard the cgroup's OOM killer ends the session.
    pytester.makepyfile(ISSUE_SESSION.format(sizes=[1024, 2048, 4096, 8192], heads=8))
    with _memory_cgroup(3 * GiB) as (cgroup, cannot_swap):

        def run(*args: str) -> pytest.RunResult:
            command = f'echo $$ > "{cgroup}/cgroup.procs" && exec "{sys.executable}" -m pytest -p no:cacheprovider '
            return pytester.run("sh", "-c", command + " ".join(args), timeout=300)

        guarded = run("--attn-scaling", "--attn-scaling-json=o.json")
        unguarded = run("--attn-ram-guard=off") if cannot_swap else None
    assert guarded.ret == 0, guarded.stdout.str()
    guarded.stdout.fnmatch_lines(
        [
            "*::test_big [[]naive_attention[]]",
            "  sweep ended: skipped from N=8192: predicted host memory * does not fit the RAM guard: 80% of the * "
            "available now (cgroup limit 3 GiB of *",
            "*2 passed*",
        ]
    )
    assert [r["outcome"] for r in json.loads((pytester.path / "o.json").read_text())["results"]] == ["passed"] * 2
    if unguarded is not None:  # where it could swap, the kernel would page the unguarded sweep out, not kill it
        assert unguarded.ret in (-signal.SIGKILL, 128 + signal.SIGKILL), unguarded.stdout.str()


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

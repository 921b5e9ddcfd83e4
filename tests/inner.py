"""Inner pytest sessions, for what only a whole session shows (hooks, exit codes, reports, a killed process).

Each runs in a fresh interpreter that imports torch (about 2 s), so a test module runs its session once, in a
module-scoped fixture, and asserts on it in many tests. Inner test files use the same fast settings as the unit
tests (FAST): these tests check behaviour; precision at real sizes is measured by the scripts in benchmarks/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

FAST_SIZES = [64, 128, 256]
FAST = {"sizes": FAST_SIZES, "time_budget": 0.1}
FAST_SOURCE = f"FAST = dict(sizes={FAST_SIZES}, time_budget=0.1)"  # the same, for an inner test file

# An inner test whose time claim stays too noisy to decide, with synthetic points (no sweep): what
# --attn-inconclusive does to it is what a session shows.
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

# An inner test file of causal SDPA that, with EXPLICIT_MASK set, builds an N×N float mask inside the call instead:
# the memory-exponent regression (1 -> 1.8 at N=256..2048) that baselines and their history exist to catch.
CAUSAL_OR_MASK = """
import os

import torch
import torch.nn.functional as F

SIZES = [256, 512, 1024, 2048]


def causal(q, k, v):
    if os.environ.get("EXPLICIT_MASK"):  # the regression: an N×N float mask built inside the call
        n = q.shape[-2]
        mask = torch.full((n, n), float("-inf")).triu(1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def test_causal(attn_scaling):
    attn_scaling(causal, sizes=SIZES, metrics=["memory", "flops"])
"""


@dataclass(frozen=True)
class InnerSession:
    ret: int
    stdout: str
    stderr: str
    path: Path

    @property
    def out(self) -> pytest.LineMatcher:
        return pytest.LineMatcher(self.stdout.splitlines())

    @property
    def err(self) -> pytest.LineMatcher:
        return pytest.LineMatcher(self.stderr.splitlines())

    def outcomes(self, junit: str = "junit.xml") -> dict[str, str]:
        """``file.py::test`` -> passed, failed, error or skipped, from the session's --junitxml file."""
        outcomes: dict[str, str] = {}
        for case in ET.parse(self.path / junit).iter("testcase"):
            name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(kinds[0] if kinds else "")
            outcomes[name] = outcome or "passed"
        return outcomes


def run_inner_session(
    path: Path,
    files: Mapping[str, str],
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 600,
) -> InnerSession:
    """Write ``files`` into ``path`` and run ``python -m pytest ARGS`` there (after ``prefix``, e.g. a shell that
    moves the process into a cgroup). Sweeps default to the CPU, whatever this machine has."""
    for name, text in files.items():
        (path / name).write_text(textwrap.dedent(text))
    environment = {key: value for key, value in os.environ.items() if key != "GITHUB_STEP_SUMMARY"}
    environment.update({"PYTEST_ADDOPTS": "--attn-device=cpu", **(env or {})})
    command = [*prefix, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    done = subprocess.run(command, cwd=path, env=environment, capture_output=True, text=True, timeout=timeout)
    return InnerSession(done.returncode, done.stdout, done.stderr, path)

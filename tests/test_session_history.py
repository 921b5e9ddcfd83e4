"""The history and the merge on what real sessions saved: three runs saved in order, the second with an explicit
N×N mask in place of ``is_causal`` (the history must name it), and the same suite run whole and in two shards (the
merged shards must give the whole run's tests and exponents). Five sessions in one folder, in one fixture."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_attncomplexity.cli.main import main

try:
    import tomllib
except ImportError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

from .inner import CAUSAL_OR_MASK, InnerSession, run_inner_session

OTHER = """
from pytest_attncomplexity import naive_attention, sdpa_attention


def test_naive(attn_scaling):
    attn_scaling(naive_attention, sizes=[64, 128, 256], time_budget=0.1)


def test_sdpa(attn_scaling):
    attn_scaling(sdpa_attention, sizes=[64, 128, 256], metrics=["memory", "flops"])
"""


# Time exponents of tiny sweeps move from run to run on this shared machine; the memory exponent is what the test
# is about, so time is judged only past a change no noise here reaches.
RULES = "exponent:0.3,time:1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, InnerSession]:
    path = tmp_path_factory.mktemp("history")
    files = {"test_causal.py": CAUSAL_OR_MASK, "test_other.py": OTHER}
    return {
        "main": run_inner_session(path, files, "--attn-scaling-save=main"),
        "mask": run_inner_session(path, {}, "--attn-scaling-save=mask", env={"EXPLICIT_MASK": "1"}),
        "whole": run_inner_session(path, {}, "--attn-scaling-save=fixed", "--attn-scaling-json=whole.json"),
        "shard_a": run_inner_session(path, {}, "test_causal.py", "--attn-scaling-json=shard-a.json"),
        "shard_b": run_inner_session(path, {}, "test_other.py", "--attn-scaling-json=shard-b.json"),
    }


def test_the_history_names_the_run_where_the_memory_exponent_rose(runs):
    assert all(run.ret == 0 for run in runs.values()), {name: run.stdout[-2000:] for name, run in runs.items()}
    path = runs["main"].path
    page = path / "history.html"
    # The command, in a fresh interpreter: history, merge and export read what was saved without importing torch.
    code = (
        "import sys; from pytest_attncomplexity.cli.main import main; status = main(sys.argv[1:]); "
        "main(['merge', 'shard-a.json', 'shard-b.json', '--quiet']); main(['export', 'whole.json', '-o', 'b.json']); "
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported'); sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "history", "--html", str(page), "--rules", RULES],
        cwd=path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = pytest.LineMatcher(done.stdout.splitlines())
    out.fnmatch_lines(
        [
            f"attention scaling history of {path / '.attn-scaling'}: 3 saved run(s) on 1 machine(s) and device(s); *",
            "*-cpu: 3 run(s)",
            "  0001_main   saved *",
            "  0002_mask   saved *",
            "  0003_fixed  saved *",
            "  test_causal.py::test_causal [causal] memory",
            "    run * exponent  95% CI * at N=2048  change",
            "    0001_main   * 0.9* *",
            "    0002_mask   * 1.8* * regressed: exponent +0.8* (exponent:0.3)",
            "    0003_fixed  * 0.9* * improved: exponent -0.8* (exponent:0.3)",
            "regressed past the rules (1):",
            # (fnmatch reads [causal] as one character of a set: ?causal? stands for it)
            "  0002_mask (saved *) against 0001_main, on *-cpu: test_causal.py::test_causal ?causal? memory exponent "
            "0.9* -> 1.8*: regressed (exponent:0.3)",
            "improved past the rules (1):",
            "  0003_fixed (saved *) against 0002_mask, *",
            f"history page written to {page}",
            "merged 2 shard(s), 3 result(s):",
            "torch not imported",
        ]
    )
    html = page.read_text()
    assert html.count('class="card regressed"') == 1 and "in <b>0002_mask</b>" in html


def test_two_shards_merge_into_the_whole_runs_tests_and_exponents(runs, capsys):
    path = runs["main"].path
    merged_path = path / "merged.json"
    assert main(["merge", str(path / "shard-a.json"), str(path / "shard-b.json"), "--json", str(merged_path)]) == 0
    assert "merged 2 shard(s), 3 result(s):" in capsys.readouterr().out
    whole = json.loads((path / "whole.json").read_text())
    merged = json.loads(merged_path.read_text())

    def exponents(document: dict) -> dict[tuple[str, str], dict[str, float]]:
        return {
            (r["nodeid"], r["label"]): {metric: m["exponent"] for metric, m in r["metrics"].items()}
            for r in document["results"]
        }

    whole_exponents, merged_exponents = exponents(whole), exponents(merged)
    assert sorted(merged_exponents) == sorted(whole_exponents)  # the same tests
    for key, metrics in whole_exponents.items():
        assert set(merged_exponents[key]) == set(metrics)
        for metric in ("memory", "flops"):  # counts: the same in every run; time is measured anew in each
            if metric in metrics:
                assert merged_exponents[key][metric] == metrics[metric], (key, metric)
    assert {r["outcome"] for r in merged["results"]} == {"passed"}
    assert merged["environment"]["key"] == whole["environment"]["key"]


def test_the_console_script_names_the_commands_entry_point():
    """pyproject.toml's script is the command's main (the one these tests call), and the module runs it too."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, _, function = project["scripts"]["attn-scaling"].partition(":")
    assert getattr(importlib.import_module(module), function) is main
    done = subprocess.run(
        [sys.executable, "-m", "pytest_attncomplexity.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("attn-scaling ")

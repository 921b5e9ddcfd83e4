"""The history of saved baselines (gate/history.py) and its terminal and HTML forms, on baselines saved the way the
plugin saves them, with synthetic points: the logic under test is the reading, judging and reporting of saved runs
(tests/test_session_history.py runs the real thing)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.cli.main import main
from pytest_attncomplexity.core.records import OUT_OF_MEMORY, Halt
from pytest_attncomplexity.core.rules import parse_rules
from pytest_attncomplexity.gate.history import read_history
from pytest_attncomplexity.gate.storage import baseline_document, save_baseline
from pytest_attncomplexity.report.history_html import render_history_html
from pytest_attncomplexity.report.history_text import format_history

CPU = "Linux-CPython-3.11-64bit-cpu"
GPU = "Linux-CPython-3.11-64bit-cuda-NVIDIA_H100"
SIZES = (256, 512, 1024, 2048)


def _result(memory_exponent: float, *, nodeid: str = "t.py::test_causal", label: str = "causal", sizes=SIZES):
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")
    memory = tuple(Point(n, (1000.0 * n**memory_exponent,)) for n in sizes)
    # Time: five samples a few percent apart around 1e-9·N², the same in every run.
    time = tuple(Point(n, tuple(1e-9 * n**2 * (1 + 0.01 * i) for i in range(5))) for n in sizes)
    return ScalingResult(label, env, {"time": time, "memory": memory}, nodeid=nodeid)


def _save(storage: Path, name: str, results, *, key: str = CPU, commit: str = "c0ffee") -> Path:
    environment = {"key": key, "device": "cpu", "device_name": "test cpu", "cpu": "test cpu", "torch": "2.13.0"}
    outcomes = {result.nodeid: "passed" for result in results}
    document = baseline_document(results, outcomes, environment, {"id": commit, "dirty": False})
    return save_baseline(storage, key, name, document)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """Three runs: the second builds an explicit mask (memory exponent 1 -> 2), the third fixes it."""
    storage = tmp_path / ".attn-scaling"
    other = _result(1.0, nodeid="t.py::test_other", label="other")
    _save(storage, "main", [_result(1.0), other], commit="aaaa1111")
    _save(storage, "mask", [_result(2.0), other], commit="bbbb2222")
    _save(storage, "fixed", [_result(1.0), other], commit="cccc3333")
    return storage


def test_the_history_names_the_run_where_the_memory_exponent_rose(storage):
    history = read_history(storage)
    (machine,) = history.machines
    assert machine.key == CPU and [run.name for run in machine.runs] == ["0001_main", "0002_mask", "0003_fixed"]
    (regressed,) = history.flagged()
    assert regressed.entry.run.name == "0002_mask" and regressed.previous.name == "0001_main"
    assert regressed.series.title == "t.py::test_causal [causal] memory"
    assert regressed.change.metric == "memory" and regressed.change.change == "regressed"
    assert regressed.change.delta == pytest.approx(1.0)
    (improved,) = history.flagged("improved")
    assert improved.entry.run.name == "0003_fixed"
    memory = next(s for s in machine.series if s.title == "t.py::test_causal [causal] memory")
    assert [round(e.fit.exponent, 3) for e in memory.entries if e.fit] == [1.0, 2.0, 1.0]
    assert memory.reference_n == 2048 and memory.entries[1].value == pytest.approx(1000.0 * 2048**2)


def test_the_terminal_history_lists_each_run_and_the_change_with_its_commit(storage):
    lines = format_history(read_history(storage))
    text = "\n".join(lines)
    assert lines[0].startswith(f"attention scaling history of {storage}: 3 saved run(s) on 1 machine(s)")
    assert "rules: exponent:0.3" in lines[0]
    assert "  0002_mask   saved 20" in text and ", commit bbbb2222" in text
    assert re.search(
        r"0002_mask +2\.000 +2\.000 to 2\.000 +3\.91 GiB +regressed: exponent \+1\.000 \(exponent:0\.3\)", text
    )
    assert "regressed past the rules (1):" in text
    summary = lines[lines.index("regressed past the rules (1):") + 1]
    assert summary.startswith("  0002_mask (saved ") and "commit bbbb2222) against 0001_main" in summary
    assert summary.endswith("memory exponent 1.000 (95% CI 1.000 to 1.000) -> 2.000 (95% CI 2.000 to 2.000), "
                            "+1.000 over N=256..2048: regressed (exponent:0.3)")  # fmt: skip


def test_changed_only_leaves_out_the_series_that_did_not_change(storage):
    text = "\n".join(format_history(read_history(storage), changed_only=True))
    assert "t.py::test_causal [causal] memory" in text
    assert "t.py::test_other [other] memory" not in text and "[causal] time" not in text


def test_rules_decide_what_counts_as_a_change(storage):
    history = read_history(storage, parse_rules("memory:1.5"))  # a rise of 1 is within a threshold of 1.5
    assert history.flagged("regressed", "improved", "inconclusive") == []
    assert "no change past the rules between consecutive runs" in format_history(history)


def test_filters_keep_a_machine_a_test_a_metric_and_the_last_runs(storage):
    _save(storage, "gpu", [_result(1.0)], key=GPU)
    both = read_history(storage)
    assert [m.key for m in both.machines] == [CPU, GPU]  # each machine and device apart
    assert [m.key for m in read_history(storage, machine="cuda").machines] == [GPU]
    only = read_history(storage, test="other", metric="memory", last=2)
    (cpu, _gpu) = only.machines
    assert [s.title for s in cpu.series] == ["t.py::test_other [other] memory"]
    assert [run.name for run in cpu.runs] == ["0002_mask", "0003_fixed"]
    assert only.filtered == "tests containing 'other', the memory metric, the last 2 run(s) of each"


def test_runs_that_share_no_size_show_each_ones_largest(tmp_path):
    storage = tmp_path / "s"
    _save(storage, "small", [_result(1.0, sizes=(64, 128, 256))])
    _save(storage, "large", [_result(1.0, sizes=(512, 1024, 2048))])
    (series, *_) = [s for s in read_history(storage).machines[0].series if s.metric == "memory"]
    assert series.reference_n is None and [e.n for e in series.entries] == [256, 2048]
    text = "\n".join(format_history(read_history(storage)))
    assert "at the largest N" in text and "@2048" in text


def test_a_truncated_or_foreign_file_is_named_and_skipped(storage):
    folder = storage / CPU
    (folder / "0004_cut.json").write_text('{"schema": "pytest-attncomplexity-baseline", "vers')
    (folder / "0005_other.json").write_text(json.dumps({"benchmarks": []}))  # pytest-benchmark's, say
    (storage / "stray.json").write_text("{}")
    repeated = json.loads((folder / "0001_main.json").read_text())
    memory = repeated["results"][0]["metrics"]["memory"]
    memory["sizes"][1] = memory["sizes"][0]  # edited by hand: a size twice
    (folder / "0006_edited.json").write_text(json.dumps(repeated))
    history = read_history(storage)
    names = ["0004_cut.json", "0005_other.json", "0006_edited.json", "stray.json"]
    assert [s.path.name for s in history.skipped] == names
    reasons = [s.reason for s in history.skipped]
    assert "is not valid JSON" in reasons[0] and "truncated" in reasons[0]
    assert "is not a pytest-attncomplexity baseline" in reasons[1]
    assert "is damaged: ValueError: memory: a size appears twice in [256, 256, 1024, 2048]" in reasons[2]
    assert "not a saved baseline of this storage (those are KEY/NNNN_NAME.json)" in reasons[3]
    assert len(history.machines[0].runs) == 3  # the good runs are all there
    lines = format_history(history)
    assert any(line.startswith(f"skipped {folder / '0004_cut.json'}: baseline") for line in lines)
    assert "Skipped 4 file(s)" in render_history_html(history)


@pytest.mark.parametrize("made", [False, True])
def test_an_empty_history_says_so(tmp_path, made):
    storage = tmp_path / ".attn-scaling"
    if made:
        storage.mkdir()
    history = read_history(storage)
    assert history.machines == () and history.runs == 0
    expected = "does not exist" if not made else "no saved baselines in"
    assert expected in format_history(history)[-1]
    assert expected in render_history_html(history)


def test_the_page_is_self_contained_and_marks_the_regression(storage):
    page = render_history_html(read_history(storage))
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # nothing fetched
    assert page.count("<svg") == 4  # one chart per result and metric
    assert page.count('class="card regressed"') == 1
    flagged = page[page.index("Changes past the rules") : page.index(f"<h2>{CPU}</h2>")]
    assert "regressed</span> in <b>0002_mask</b>" in flagged and "commit bbbb2222" in flagged
    anchor = re.search(r'<a href="#([^"]+)">t\.py::test_causal \[causal\] memory</a>', flagged)
    assert anchor and f'id="{anchor[1]}"' in page
    card = page[page.index('class="card regressed"') :].split('<div class="card', 1)[0]
    assert 'stroke="#cf222e"' in card  # the run's mark in its chart
    assert "<td>0002_mask</td><td>2.000</td><td>2.000 to 2.000</td><td>3.91 GiB</td>" in card  # its row in the table
    assert "regressed: exponent +1.000 (exponent:0.3)" in card


def test_a_metric_without_a_fit_is_drawn_without_one(tmp_path):
    storage = tmp_path / "s"
    short = _result(1.0, sizes=(256, 512))
    short.halt = Halt(1024, OUT_OF_MEMORY, "out of memory")  # two sizes, then out of memory: no fit
    _save(storage, "short", [short])
    history = read_history(storage)
    series = history.machines[0].series[0]
    assert series.entries[0].fit is None and "a fit needs 3" in series.entries[0].error
    assert "no fit in any run" in render_history_html(history)


def test_the_command_prints_the_history_and_writes_the_page(storage, tmp_path, capsys):
    page = tmp_path / "out" / "history.html"
    assert main(["history", str(storage), "--html", str(page), "--metric", "memory"]) == 0
    out = capsys.readouterr().out
    assert "regressed past the rules (1):" in out and f"history page written to {page}" in out
    assert "<svg" in page.read_text()


def test_the_command_finds_the_storage_above_the_current_folder(storage, monkeypatch, capsys):
    below = storage.parent / "tests" / "deep"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert main(["history"]) == 0
    assert capsys.readouterr().out.startswith(f"attention scaling history of {storage}: 3 saved run(s)")


def test_bad_input_is_an_error_naming_it(tmp_path, capsys):
    afile = tmp_path / "notafolder"
    afile.write_text("x")
    assert main(["history", str(afile)]) == 2
    assert f"attn-scaling history: error: '{afile}' is a file, not a storage folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["history", "--rules", "memory:lots"])
    assert exit_.value.code == 2
    assert "argument --rules: the threshold of 'memory:lots' is not a number" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly(storage):
    """`attn-scaling history | head -1`: no BrokenPipeError traceback."""
    command = [sys.executable, "-m", "pytest_attncomplexity.cli", "history", str(storage)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"attention scaling history of")
        process.stdout.close()
        error = process.stderr.read().decode()
    assert "Traceback" not in error and "BrokenPipeError" not in error

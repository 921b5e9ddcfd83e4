"""Merging the JSON of shards (gate/shards.py, ``attn-scaling merge``): one run cut in parts merges back into the
run's results, and anything that is not one run is refused with the files named. Synthetic points: the logic under
test is the reading and merging of files (tests/test_session_history.py merges real shards)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.cli.main import main
from pytest_attncomplexity.core.comparison import Change, ExponentChange, ResultComparison
from pytest_attncomplexity.core.document import results_document
from pytest_attncomplexity.gate.shards import ShardError, load_run, merge_runs
from pytest_attncomplexity.gate.storage import baseline_document, load_baseline, save_baseline, saved_baselines

KEY = "Linux-CPython-3.11-64bit-cpu"
ENVIRONMENT = {"key": KEY, "device": "cpu", "device_name": "test cpu", "cpu": "test cpu", "torch": "2.13.0"}
COMMIT = {"id": "abc123", "dirty": False, "branch": "main"}


def _result(nodeid: str, exponent: float) -> ScalingResult:
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")
    points = tuple(Point(n, (float(n) ** exponent,)) for n in (256, 512, 1024, 2048))
    return ScalingResult(nodeid.rsplit("::", 1)[-1], env, {"memory": points}, nodeid=nodeid)


RESULTS = [_result("a.py::test_one", 1.0), _result("a.py::test_two", 2.0), _result("b.py::test_three", 1.0)]


def _report(path: Path, results, *, environment=ENVIRONMENT, commit=COMMIT, complete=True, **extra) -> Path:
    run = {"complete": complete, "exitstatus": 0 if complete else None, "started": "2026-12-06T07:00:00+00:00",
           "written": "2026-12-06T07:01:00+00:00", "tests_finished": len(results)}  # fmt: skip
    document = results_document(
        results,
        {"machine": "x86_64"},
        outcomes={r.nodeid: "passed" for r in results},
        run=run,
        environment=environment,
        commit=commit,
        **extra,
    )
    path.write_text(json.dumps(document))
    return path


def test_two_shards_merge_into_the_results_of_the_whole_run(tmp_path):
    whole = json.loads(_report(tmp_path / "whole.json", RESULTS).read_text())
    first = _report(tmp_path / "first.json", RESULTS[:2])
    second = _report(tmp_path / "second.json", RESULTS[2:])
    assert main(["merge", str(first), str(second), "--json", str(tmp_path / "merged.json"), "--quiet"]) == 0
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert merged["results"] == whole["results"]  # the same tests, the same exponents, the same samples
    assert merged["environment"] == ENVIRONMENT and merged["commit"] == COMMIT
    assert merged["run"]["complete"] is True and merged["run"]["tests_finished"] == 3
    assert merged["run"]["merged_from"] == [str(first), str(second)]
    assert merged["schema"] == "pytest-attncomplexity-report"


def test_the_merged_run_prints_its_report_and_saves_one_baseline(tmp_path, capsys):
    first = _report(tmp_path / "first.json", RESULTS[:2])
    second = _report(tmp_path / "second.json", RESULTS[2:])
    storage = tmp_path / "store"
    html = tmp_path / "merged.html"
    code = main(["merge", str(first), str(second), "--save", "main", "--storage", str(storage), "--html", str(html)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("merged 2 shard(s), 3 result(s):")
    assert "a.py::test_two" in out and "memory" in out  # the report itself
    (saved,) = saved_baselines(storage / KEY)
    assert f"baseline saved to {saved}" in out
    baseline = load_baseline(saved)
    assert [r.nodeid for r in baseline.results] == [r.nodeid for r in RESULTS]
    assert baseline.commit == COMMIT and baseline.environment["machine"] == {"machine": "x86_64"}
    assert "a.py::test_two" in html.read_text() and "b.py::test_three" in html.read_text()


def test_saved_baselines_merge_too(tmp_path):
    paths = [
        save_baseline(tmp_path, KEY, name, baseline_document(part, {}, ENVIRONMENT, COMMIT))
        for name, part in (("one", RESULTS[:1]), ("two", RESULTS[1:]))
    ]
    merged = merge_runs([load_run(path) for path in paths])
    assert [r.nodeid for r in merged.results] == [r.nodeid for r in RESULTS] and merged.complete


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (dict(results=RESULTS[1:2]), "a.py::test_two was measured in '{first}' and '{second}'"),
        (dict(commit={"id": "def456"}), "the shards measured different commits: abc123 in '{first}', def456 in"),
        (
            dict(environment={**ENVIRONMENT, "key": "Linux-CPython-3.11-64bit-cuda-NVIDIA_H100"}),
            "the shards were measured on different machines or devices: " + KEY + " in '{first}'",
        ),
    ],
    ids=["measured twice", "other commit", "other machine"],
)
def test_shards_of_different_runs_are_refused_by_name(tmp_path, capsys, second, message):
    first = _report(tmp_path / "first.json", RESULTS[:2])
    options = {"results": RESULTS[2:], **second}
    results = options.pop("results")
    other = _report(tmp_path / "second.json", results, **options)
    assert main(["merge", str(first), str(other), "--json", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attn-scaling merge: error: ")
    assert message.format(first=first, second=other) in err
    assert not (tmp_path / "m.json").exists()


def test_a_file_given_twice_is_a_test_measured_twice(tmp_path):
    first = _report(tmp_path / "first.json", RESULTS[:1])
    with pytest.raises(ShardError, match=r"a\.py::test_one was measured in '.*first\.json' twice"):
        merge_runs([load_run(first), load_run(first)])


_REPORT_WITH = '{{"schema": "pytest-attncomplexity-report", "version": 1, "results": [], {}}}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema": "pytest-attncomplexity-report", "vers', "is not valid JSON"),
        ('{"benchmarks": [], "machine_info": {}}', "is neither an --attn-scaling-json report nor a saved baseline"),
        ('{"version": 1, "run": {}, "results": []}', "an --attn-scaling-json report of an earlier version"),
        ('{"schema": "pytest-attncomplexity-report", "version": 2, "results": []}', "has pytest-attncomplexity-report "
         "version 2; this version of pytest-attncomplexity reads version 1"),
        ('{"schema": "pytest-attncomplexity-report", "version": 1, "environment": null, "results": []}',
         "does not say where it was measured"),
        ('{"schema": "pytest-attncomplexity-report", "version": 1, "environment": {"key": "k"}, "results": [{}]}',
         "is damaged: KeyError"),
        (_REPORT_WITH.format('"environment": {"key": "../../escaped"}'),
         "has a storage key that is not a folder name: '../../escaped'"),
        (_REPORT_WITH.format('"environment": {"key": 5}'), "has a storage key that is not a folder name: 5"),
        (_REPORT_WITH.format('"environment": {"key": "k"}, "run": [1]'), "is damaged: TypeError: run is list"),
        (_REPORT_WITH.format('"environment": {"key": "k"}, "run": {"exitstatus": "x"}'),
         "run.exitstatus is 'x', not a whole number"),
        (_REPORT_WITH.format('"environment": {"key": "k"}, "comparison": []'),
         "is damaged: TypeError: comparison is list, not an object"),
        (_REPORT_WITH.format('"environment": {"key": "k"}, "comparison": {"baseline": "b", "counts": {"new": "2"}}'),
         "comparison.counts holds something other than whole numbers"),
    ],
    ids=["truncated", "foreign", "older report", "newer version", "no environment", "damaged", "key climbs out",
         "key not text", "run not an object", "exit status not a number", "comparison a list", "counts not numbers"],
)  # fmt: skip
def test_a_file_that_is_not_a_run_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "shard.json"
    path.write_text(text)
    with pytest.raises(ShardError, match=r"shard\.json") as error:
        load_run(path)
    assert message in str(error.value)


def test_a_report_and_a_baseline_are_not_merged_together(tmp_path):
    report = _report(tmp_path / "first.json", RESULTS[:1])
    baseline = save_baseline(tmp_path, KEY, "b", baseline_document(RESULTS[1:], {}, ENVIRONMENT, COMMIT))
    with pytest.raises(ShardError, match=r"is a report and .* a baseline: merge shards of one kind"):
        merge_runs([load_run(report), load_run(baseline)])


@pytest.mark.parametrize("how", ["killed", "interrupted"])
def test_an_unfinished_shard_is_merged_but_never_saved(tmp_path, capsys, how):
    first = _report(tmp_path / "first.json", RESULTS[:2])
    killed = _report(tmp_path / "killed.json", RESULTS[2:], complete=False)
    if how == "interrupted":  # Ctrl-C or a CI timeout's SIGINT: the session ends and writes its file, exit status 2
        document = json.loads(killed.read_text())
        document["run"].update(complete=True, exitstatus=2)
        killed.write_text(json.dumps(document))
    merged_json = tmp_path / "merged.json"
    code = main(["merge", str(first), str(killed), "--json", str(merged_json), "--save", "m", "--storage",
                 str(tmp_path / "store"), "--quiet"])  # fmt: skip
    assert code == 1
    captured = capsys.readouterr()
    assert f"did not finish (killed, interrupted or ended by an error, or still running): {killed}" in captured.out
    assert "no baseline saved: a shard did not finish" in captured.err
    assert json.loads(merged_json.read_text())["run"]["complete"] is (how == "interrupted")
    assert not (tmp_path / "store").exists()


def _compared(result: ScalingResult, change: Change) -> ScalingResult:
    exponent = ExponentChange("memory", 1.0, (0.9, 1.1), 1.0, (0.9, 1.1), (256, 512, 1024, 2048), change, "memory:0.2")
    result.comparison = ResultComparison("0001_main", True, (exponent,))
    return result


def test_the_comparison_of_the_shards_adds_up(tmp_path, capsys):
    header = {
        "baseline": "0001_main",
        "path": "p",
        "saved": "s",
        "commit": {},
        "environment": {},
        "rules": [],
        "differences": [],
    }
    first = _report(
        tmp_path / "first.json",
        [_compared(_result("a.py::test_one", 1.0), Change.UNCHANGED)],
        comparison={**header, "counts": {"unchanged": 1}, "missing": ["b.py::test_three [x]", "gone"]},
    )
    second = _report(
        tmp_path / "second.json",
        [_compared(_result("b.py::test_three", 1.0), Change.REGRESSED)],
        comparison={**header, "counts": {"regressed": 1}, "missing": ["a.py::test_one [x]", "gone"]},
    )
    merged = merge_runs([load_run(first), load_run(second)])
    assert merged.comparison is not None
    assert merged.comparison["counts"] == {"unchanged": 1, "regressed": 1}
    assert merged.comparison["missing"] == ["gone"]  # not run in any shard
    code = main(["merge", str(first), str(second), "--save", "m", "--storage", str(tmp_path / "s"), "--quiet"])
    assert code == 1 and "1 change(s) regressed against the baseline" in capsys.readouterr().err
    for name, change in (("0002_pr", {"baseline": "0002_pr"}), ("cache", {"saved": "another day"})):
        # Another baseline, or another 0001_main (each CI cache saves its own): not one run.
        other = _report(tmp_path / f"{name}.json", RESULTS[1:2], comparison={**header, **change})
        with pytest.raises(ShardError, match="compared with different baselines"):
            merge_runs([load_run(first), load_run(other)])


def test_a_bad_save_name_or_output_is_an_error_before_anything_is_merged(tmp_path, capsys):
    first = _report(tmp_path / "first.json", RESULTS)
    assert main(["merge", str(first), "--save", "no/slash"]) == 2
    assert "--save: a baseline name is up to 100 letters" in capsys.readouterr().err
    assert main(["merge", str(first), "--json", str(tmp_path)]) == 2
    assert f"--json must name a file, but '{tmp_path}' is a directory" in capsys.readouterr().err


def test_the_number_of_shards_can_be_required(tmp_path, capsys):
    first = _report(tmp_path / "first.json", RESULTS[:2])
    assert main(["merge", str(first), "--expect-shards", "2", "--json", str(tmp_path / "m.json")]) == 2
    assert "--expect-shards=2, but 1 file(s) were given" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_shards_outside_git_merge_with_a_note(tmp_path, capsys):
    unversioned = {"id": "unversioned", "dirty": False, "branch": None}
    first = _report(tmp_path / "first.json", RESULTS[:2], commit=unversioned)
    second = _report(tmp_path / "second.json", RESULTS[2:], commit=unversioned)
    assert main(["merge", str(first), str(second), "--quiet"]) == 0
    assert "  note: the commit is not known (not a git checkout): the shards cannot be checked to be one run" in (
        capsys.readouterr().out
    )


def test_save_finds_the_storage_above_the_current_folder(tmp_path, monkeypatch, capsys):
    first = _report(tmp_path / "first.json", RESULTS)
    (tmp_path / ".attn-scaling").mkdir()
    below = tmp_path / "sub"
    below.mkdir()
    monkeypatch.chdir(below)
    assert main(["merge", str(first), "--save", "main", "--quiet"]) == 0
    assert saved_baselines(tmp_path / ".attn-scaling" / KEY) != []


@pytest.mark.parametrize(
    ("statuses", "merged"), [((0, 0), 0), ((0, 1), 1), ((5, 1), 1), ((5, 5), 5), ((1, 2), 2), ((0, 5), 0)]
)
def test_the_merged_exit_status_is_the_worst_that_ran(tmp_path, statuses, merged):
    paths = []
    for index, (status, results) in enumerate(zip(statuses, (RESULTS[:2], RESULTS[2:]), strict=True)):
        path = _report(tmp_path / f"s{index}.json", results)
        document = json.loads(path.read_text())
        document["run"]["exitstatus"] = status
        path.write_text(json.dumps(document))
        paths.append(path)
    assert merge_runs([load_run(path) for path in paths]).run_document()["exitstatus"] == merged


def test_an_output_that_cannot_be_written_fails_the_command_and_says_which(tmp_path, capsys):
    first = _report(tmp_path / "first.json", RESULTS)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    html = tmp_path / "merged.html"
    code = main(["merge", str(first), "--json", str(blocker / "out.json"), "--html", str(html), "--quiet"])
    assert code == 1
    captured = capsys.readouterr()
    assert f"could not write {blocker / 'out.json'}: " in captured.err and "Traceback" not in captured.err
    assert f"merged HTML report written to {html}" in captured.out and html.exists()  # the other output is written

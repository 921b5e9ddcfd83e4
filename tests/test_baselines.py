"""Saved baselines: numbering, lookup, atomic saves that never overwrite, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from pytest_attncomplexity import Environment, Point, ScalingResult
from pytest_attncomplexity.core.options import validate_name
from pytest_attncomplexity.gate.storage import (
    SCHEMA_VERSION,
    BaselineError,
    baseline_document,
    find_baseline,
    load_baseline,
    save_baseline,
    saved_baselines,
    storage_key,
)

KEY = "Linux-CPython-3.11-64bit-cpu"
ENVIRONMENT = {"key": KEY, "device": "cpu", "device_name": "test cpu", "cpu": "test cpu", "torch": "2.13.0"}


def _document(exponent: float = 1.0) -> dict:
    env = Environment("cpu", "test cpu", "2.13.0", 1, "float32", "forward")
    points = tuple(Point(n, (float(n) ** exponent,)) for n in (256, 512, 1024))
    result = ScalingResult("sdpa", env, {"memory": points}, nodeid="t.py::test_a")
    return baseline_document([result], {"t.py::test_a": "passed"}, ENVIRONMENT, {"id": "abc123", "dirty": False})


def test_saves_are_numbered_and_the_latest_is_the_highest(tmp_path):
    first = save_baseline(tmp_path, KEY, "main", _document(1.0))
    second = save_baseline(tmp_path, KEY, "main", _document(2.0))
    third = save_baseline(tmp_path, KEY, "pr-7", _document(2.0))
    assert [p.name for p in (first, second, third)] == ["0001_main.json", "0002_main.json", "0003_pr-7.json"]
    assert find_baseline(tmp_path, KEY, "latest") == third
    assert find_baseline(tmp_path, KEY, "main") == second  # a name: its newest save
    assert find_baseline(tmp_path, KEY, "1") == find_baseline(tmp_path, KEY, "0001") == first
    assert find_baseline(tmp_path, KEY, "0003_pr-7") == third
    assert find_baseline(tmp_path, KEY, str(first)) == first  # a path
    assert not [p for p in os.listdir(tmp_path / KEY) if p.endswith(".tmp")]


def test_a_loaded_baseline_holds_the_results_and_where_they_ran(tmp_path):
    baseline = load_baseline(save_baseline(tmp_path, KEY, "main", _document(2.0)))
    assert baseline.name == "0001_main" and baseline.environment["key"] == KEY
    ((key, result),) = baseline.entries.items()
    assert key == ("t.py::test_a", "sdpa", 1)
    assert result.exponent("memory") == pytest.approx(2.0)
    assert baseline.describe().startswith("0001_main (saved 20") and baseline.describe().endswith(", commit abc123)")


def test_a_name_from_another_machine_is_found_there(tmp_path):
    elsewhere = save_baseline(tmp_path, "Linux-CPython-3.11-64bit-cuda-NVIDIA_H200", "gpu-main", _document())
    assert find_baseline(tmp_path, KEY, "gpu-main") == elsewhere


def test_missing_baselines_are_errors_that_say_what_to_do(tmp_path):
    with pytest.raises(BaselineError, match=r"no baseline saved for this machine and device \(Linux-CPython-3.11"):
        find_baseline(tmp_path, KEY, "latest")
    save_baseline(tmp_path, KEY, "main", _document())
    with pytest.raises(BaselineError, match=r"no baseline named 'nightly' in .* \(saved there: 0001_main\)"):
        find_baseline(tmp_path, KEY, "nightly")
    with pytest.raises(BaselineError, match=r"baseline file 'gone/0007_x.json' does not exist"):
        find_baseline(tmp_path, KEY, "gone/0007_x.json")
    (tmp_path / "tests").mkdir()
    with pytest.raises(BaselineError, match=r"took '.*tests', a test path, as the baseline .* write --attn-scaling"):
        find_baseline(tmp_path, KEY, str(tmp_path / "tests"))  # `--attn-scaling-compare tests/`


def test_truncated_foreign_and_future_files_are_refused_by_name(tmp_path):
    good = save_baseline(tmp_path, KEY, "main", _document())
    truncated = tmp_path / KEY / "0002_cut.json"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(BaselineError, match=r"baseline '.*0002_cut\.json' is not valid JSON .*a truncated or corrupt"):
        load_baseline(truncated)
    foreign = tmp_path / "bench.json"
    foreign.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(BaselineError, match=r"'.*bench\.json' is not a pytest-attncomplexity baseline"):
        load_baseline(foreign)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**_document(), "version": SCHEMA_VERSION + 1}))
    with pytest.raises(BaselineError, match=rf"has schema version {SCHEMA_VERSION + 1}; .* reads version 1"):
        load_baseline(future)
    damaged = tmp_path / "damaged.json"
    document = _document()
    del document["results"][0]["metrics"]
    damaged.write_text(json.dumps(document))
    with pytest.raises(BaselineError, match=r"baseline '.*damaged\.json' is damaged: KeyError: 'metrics'"):
        load_baseline(damaged)


def test_runs_saving_at_once_never_overwrite_each_other(tmp_path):
    errors: list[BaseException] = []

    names = ["main", "pr-1"]  # names differ: the number is what must not be shared

    def save(index: int) -> None:
        try:
            save_baseline(tmp_path, KEY, names[index % 2], _document(1.0 + index / 10))
        except BaseException as error:  # pragma: no cover - the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    saved = saved_baselines(tmp_path / KEY)
    assert len(saved) == 8
    assert sorted(p.name[:4] for p in saved) == [f"{n:04d}" for n in range(1, 9)]  # eight saves, eight numbers
    exponents = sorted(round(load_baseline(p).results[0].exponent("memory"), 1) for p in saved)
    assert exponents == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]  # eight saves, eight distinct files


KILLED_SAVE = """
import json, sys, time
from pathlib import Path
from pytest_attncomplexity.gate.storage import save_baseline

ready = Path(sys.argv[2])

class Stuck:
    # Serialized (by str) after 30 results are on disk: the kill lands in the middle of the write.
    def __str__(self):
        ready.write_text("half written")
        time.sleep(60)
        return "never"

document = json.loads(Path(sys.argv[3]).read_text())
document["results"] = document["results"] * 30 + [{"stuck": Stuck()}]
save_baseline(Path(sys.argv[1]), "key", "main", document)
"""


def test_a_run_killed_while_saving_leaves_the_previous_baselines_loadable(tmp_path):
    storage = tmp_path / "storage"
    previous = save_baseline(storage, "key", "main", _document())
    ready, source, script = tmp_path / "ready", tmp_path / "document.json", tmp_path / "save.py"
    source.write_text(json.dumps(_document()))
    script.write_text(textwrap.dedent(KILLED_SAVE))
    process = subprocess.Popen([sys.executable, str(script), str(storage), str(ready), str(source)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None, "the saving process ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (partial,) = [p for p in (storage / "key").iterdir() if p.name.endswith(".tmp")]
        assert partial.stat().st_size > 0  # killed with part of the file written
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert saved_baselines(storage / "key") == [previous]  # no half-written NNNN file
    assert find_baseline(storage, "key", "latest") == previous
    assert load_baseline(previous).results[0].exponent("memory") == pytest.approx(1.0)
    assert save_baseline(storage, "key", "main", _document()).name == "0002_main.json"  # the next save goes on


def test_names_and_keys():
    assert validate_name("v1.2_main-x") == "v1.2_main-x"
    for bad in ("", "../x", "a/b", "-x", "a b"):
        with pytest.raises(ValueError, match=r"--attn-scaling-save: a baseline name is up to 100 letters"):
            validate_name(bad)
    assert storage_key("cpu", "AMD EPYC 7B13").endswith("-cpu")  # the CPU model is not part of the key
    assert storage_key("cuda:1", "NVIDIA H200 NVL").endswith("-cuda-NVIDIA_H200_NVL")

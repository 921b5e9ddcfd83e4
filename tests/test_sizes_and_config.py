"""Sizes and settings: defaults, parsing, and errors that name the bad value."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_attncomplexity import SweepConfig, geometric
from pytest_attncomplexity.core.options import PluginOptions
from pytest_attncomplexity.core.sizes import parse_sizes, validate_sizes


def test_geometric_series():
    assert geometric(256, 2048) == [256, 512, 1024, 2048]
    assert geometric(256, 2000) == [256, 512, 1024]
    assert geometric(100, 1000, 10) == [100, 1000]
    assert geometric(64, 256, 1.5) == [64, 96, 144, 216]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 10), "start must be a positive integer, got 0"),
        ((8, 4), "stop must be an integer >= start"),
        ((8, 64, 1), "factor must be > 1, got 1"),
    ],
)
def test_geometric_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        geometric(*args)


def test_parse_sizes_accepts_lists_and_ranges():
    assert parse_sizes("256, 512,1024") == [256, 512, 1024]
    assert parse_sizes("256:2048") == [256, 512, 1024, 2048]
    assert parse_sizes("256:4096:4") == [256, 1024, 4096]


@pytest.mark.parametrize("text", ["", "256,abc", "1:2:3:4", "a:b"])
def test_parse_sizes_names_the_bad_text(text):
    with pytest.raises(ValueError, match=r"sizes: (empty|cannot parse)"):
        parse_sizes(text)


def test_numpy_integers_are_sizes():
    assert validate_sizes(list(np.array([64, 128, 256]))) == (64, 128, 256)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([256, 512], "at least 3 values"),
        ([256, 256, 512], "strictly increasing, got 256 after 256"),
        ([512, 256, 1024], "strictly increasing, got 256 after 512"),
        ([256, 512.5, 1024], "must be integers, got 512.5"),
        ([256, True, 1024], "must be integers, got True"),
        ([-1, 2, 3], "must be positive, got -1"),
        ("256,512", "must be a list of integers"),
    ],
)
def test_bad_sizes_are_named(sizes, message):
    with pytest.raises(ValueError, match=message):
        SweepConfig(sizes=sizes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["time", "latency"]}, "unknown metric 'latency'"),
        ({"metrics": []}, "non-empty"),
        ({"mode": "backward"}, "mode must be one of"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:INDEX', got 'tpu'"),
        ({"heads": 0}, "heads must be a positive integer, got 0"),
        ({"threads": 1.5}, "threads must be a positive integer"),
        ({"time_budget": -1}, "time_budget must be a positive number, got -1"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SweepConfig(sizes=(64, 128, 256), **kwargs)


def test_metrics_keep_order_and_accept_one_name():
    assert SweepConfig(sizes=(1, 2, 3), metrics="memory").metrics == ("memory",)
    assert SweepConfig(sizes=(1, 2, 3), metrics=["flops", "time", "flops"]).metrics == ("flops", "time")


class _FakeConfig:
    """Stands in for pytest.Config's option lookup; the plugin tests run the real thing."""

    def __init__(self, options: dict[str, object], ini: dict[str, object]) -> None:
        self.options, self.ini = options, ini

    def getoption(self, name: str) -> object:
        return self.options.get(name)

    def getini(self, name: str) -> object:
        return self.ini.get(name, "")


def test_command_line_wins_over_ini():
    config = _FakeConfig({"attn_sizes": "64:256"}, {"attn_sizes": "8,16,32", "attn_threads": "2"})
    options = PluginOptions.from_pytest_config(config)
    assert options.sizes == (64, 128, 256)
    assert options.threads == 2
    assert options.device == "auto"
    assert options.time_budget == 3.0
    assert options.inconclusive == "fail" and options.ram_guard == 0.8


@pytest.mark.parametrize(
    ("options", "ini", "message"),
    [
        ({}, {"attn_threads": "many"}, "ini key attn_threads must be an integer, got 'many'"),
        ({"attn_threads": "many"}, {}, "--attn-threads must be an integer, got 'many'"),
        ({}, {"attn_time_budget": "0"}, "ini key attn_time_budget must be a positive number, got 0.0"),
        ({"attn_predict_n": "-5"}, {}, "--attn-predict-n must be a positive integer, got -5"),
        ({}, {"attn_device": "gpu"}, "got 'gpu'"),
    ],
)
def test_bad_session_options_are_named_where_they_came_from(options, ini, message):
    with pytest.raises(ValueError, match=message):
        PluginOptions.from_pytest_config(_FakeConfig(options, ini))


@pytest.mark.parametrize(("text", "expected"), [("8GiB", 8 * 2**30), ("512MB", 512 * 10**6), ("1.5e9", 1_500_000_000)])
def test_memory_sizes_parse(text, expected):
    from pytest_attncomplexity.core.units import parse_bytes

    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "0", "5XB"])
def test_bad_memory_sizes_are_named(text):
    with pytest.raises(ValueError, match=f"--attn-max-memory: a memory size must be a positive amount.*got {text!r}"):
        PluginOptions.from_pytest_config(_FakeConfig({"attn_max_memory": text}, {}))


def test_sizes_are_any_iterable_of_integers():
    import numpy as np

    assert SweepConfig(sizes=np.array([256, 512, 1024])).sizes == (256, 512, 1024)
    assert SweepConfig(sizes=range(64, 257, 64)).sizes == (64, 128, 192, 256)
    assert all(type(n) is int for n in SweepConfig(sizes=np.arange(1, 4)).sizes)
    with pytest.raises(ValueError, match=r"sizes must be integers, got 64\.0 in \[64\.0, 128\.5, 256\.0\]"):
        SweepConfig(sizes=np.array([64, 128.5, 256]))


def test_every_argument_of_the_fixture_call_is_documented():
    import inspect

    from pytest_attncomplexity import ScalingRunner

    doc = inspect.getdoc(ScalingRunner.__call__) or ""
    for name in inspect.signature(ScalingRunner.__call__).parameters:
        if name != "self":
            assert f"{name}:" in doc or f"{name}," in doc, name

"""Frozen settings of a sweep and of the plugin, validated where they are built (no torch, no pytest).

Every default is written once, here: the option table, the session options, a sweep's settings and the fixture's
signature all refer to these names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .axes import DEFAULT_AXIS, SEQ_LEN, validate_axis
from .baselines import DEFAULT_STORAGE, LATEST, validate_name
from .compare import Rule, parse_rules
from .sizes import parse_sizes, validate_sizes
from .units import METRICS, parse_bytes
from .verdict import DEFAULT_POLICY, validate_policy

MODES: tuple[str, ...] = ("forward", "train")
DEFAULT_SIZES: tuple[int, ...] = (256, 512, 1024, 2048)
DEFAULT_DEVICE = "auto"
DEFAULT_MODE = "forward"
DEFAULT_BATCH = 1
DEFAULT_HEADS = 8
DEFAULT_HEAD_DIM = 64
DEFAULT_SEED = 0
DEFAULT_THREADS = 1  # one intra-op thread times without bias beside other load (docs/precision.md)
DEFAULT_TIME_BUDGET = 3.0  # seconds of timed calls per sweep
DEFAULT_RAM_GUARD = 0.8  # share of the host's available memory a sweep may take
# The backends sdpa_backend= pins through torch.nn.attention.sdpa_kernel (measure/kernels.py maps them).
SDPA_BACKENDS: tuple[str, ...] = ("math", "flash", "efficient", "cudnn")
# The masks the built-in inputs can pass: "causal" as is_causal=True, "bool" and "float" as attn_mask=, a
# (seq_len, kv_len) tensor with the causal pattern made before measuring (attention.make_mask).
MASKS: tuple[str, ...] = ("causal", "bool", "float")
# The SweepConfig fields that shape the built-in inputs only: inputs= and setup= would ignore them.
BUILTIN_INPUT_FIELDS: tuple[str, ...] = ("seq_len", "kv_len", "batch", "heads", "head_dim", "kv_heads", "mask")


def validate_device(device: object) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:INDEX``."""
    if isinstance(device, str):
        name = device.strip().lower()
        if name in ("auto", "cpu", "cuda"):
            return name
        if name.startswith("cuda:") and name[5:].isdigit():
            return name
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:INDEX', got {device!r}")


def validate_sdpa_backend(backend: object) -> str | None:
    """None (PyTorch chooses) or one of SDPA_BACKENDS."""
    if backend is None or (isinstance(backend, str) and backend in SDPA_BACKENDS):
        return backend
    choices = ", ".join(repr(b) for b in SDPA_BACKENDS)
    raise ValueError(f"sdpa_backend must be one of {choices}, or None to let PyTorch choose; got {backend!r}")


def validate_metrics(metrics: object) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence) or not metrics:
        raise ValueError(f"metrics must be a non-empty list drawn from {list(METRICS)}, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {list(METRICS)}")
    return tuple(dict.fromkeys(metrics))  # keep order, drop repeats


_OFF = ("off", "none", "false", "no")


def parse_ram_guard(value: object, name: str = "ram_guard") -> float | None:
    """The RAM guard's share of the available memory: ``0.8``, ``"80%"``, ``True`` (the default share), or off
    (``False``, ``0``, ``"off"``): None."""
    if value is True:
        return DEFAULT_RAM_GUARD
    share: float | None = None
    if isinstance(value, int | float):
        share = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in _OFF:
            return None
        percent = text.endswith("%")
        try:
            share = float(text.removesuffix("%")) / (100 if percent else 1)
        except ValueError:
            share = None
    if share == 0:
        return None  # no share at all: the guard is off, as with False or "off"
    if share is None or not 0 < share <= 1:
        raise ValueError(
            f"{name} must be a share of the available memory in (0, 1] such as 0.8 or 80%, or off; got {value!r}"
        )
    return share


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def validate_mask(mask: object) -> str | None:
    """None (no mask) or one of MASKS."""
    if mask is None or (isinstance(mask, str) and mask in MASKS):
        return mask
    choices = ", ".join(repr(m) for m in MASKS)
    raise ValueError(f"mask must be one of {choices}, or None for no mask; got {mask!r}")


@dataclass(frozen=True)
class InputShape:
    """The shape of the built-in inputs at one size: q is (batch, heads, seq_len, head_dim), k and v are
    (batch, kv_heads, kv_len, head_dim)."""

    batch: int
    heads: int
    seq_len: int
    head_dim: int
    kv_len: int
    kv_heads: int


@dataclass(frozen=True)
class SweepConfig:
    """What one sweep measures and how. ``dtype`` is a ``torch.dtype``; ``None`` means float32.

    ``sizes`` are the values of ``axis`` (the sequence length by default); the other dimensions of the built-in
    inputs stay fixed at ``seq_len``, ``kv_len``, ``batch``, ``heads``, ``head_dim`` and ``kv_heads`` (None: the
    default, or for ``kv_len`` and ``kv_heads`` the same as ``seq_len`` and ``heads``). ``shape_at(size)`` gives the
    whole shape at one size.
    """

    sizes: tuple[int, ...]
    metrics: tuple[str, ...] = METRICS
    device: str = DEFAULT_DEVICE
    mode: str = DEFAULT_MODE
    dtype: Any = None
    batch: int | None = None  # None: DEFAULT_BATCH
    heads: int | None = None  # None: DEFAULT_HEADS
    head_dim: int | None = None  # None: DEFAULT_HEAD_DIM
    threads: int = DEFAULT_THREADS
    time_budget: float = DEFAULT_TIME_BUDGET
    min_rounds: int = 5
    max_rounds: int = 25
    seed: int = DEFAULT_SEED
    max_time: float | None = None
    max_memory: int | None = None
    ram_guard: float | None = DEFAULT_RAM_GUARD  # share of the host's available memory a sweep may take; None: off
    # A lock file the timing takes turns on with other processes (pytest-xdist workers); None: no turns. A GPU's
    # timing takes turns on a file of its own beside it (measure/timing_lock.py).
    timing_lock: str | None = None
    sdpa_backend: str | None = None  # pinned around every call of the sweep; None: PyTorch chooses
    axis: str = DEFAULT_AXIS  # what the sizes are the values of
    seq_len: int | None = None  # the fixed length of q when another axis is swept (needed then)
    kv_len: int | None = None  # the length of k and v (cross-attention); None: the same as q's
    kv_heads: int | None = None  # heads of k and v (grouped-query attention, passed enable_gqa=True); None: heads
    mask: str | None = None  # None, "causal" (is_causal=True), "bool" or "float" (attn_mask=)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", validate_sizes(self.sizes))
        validate_sdpa_backend(self.sdpa_backend)
        object.__setattr__(self, "metrics", validate_metrics(self.metrics))
        object.__setattr__(self, "device", validate_device(self.device))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name in ("threads", "min_rounds", "max_rounds"):
            _positive_int(name, getattr(self, name))
        self._check_input_shape()
        if self.max_rounds < self.min_rounds:
            raise ValueError(f"max_rounds ({self.max_rounds}) must be >= min_rounds ({self.min_rounds})")
        _positive_float("time_budget", self.time_budget)
        if self.max_time is not None:
            _positive_float("max_time", self.max_time)
        if self.max_memory is not None:
            object.__setattr__(self, "max_memory", parse_bytes(self.max_memory))
        if self.ram_guard is not None:
            object.__setattr__(self, "ram_guard", parse_ram_guard(self.ram_guard))

    def _check_input_shape(self) -> None:
        """The axis, the fixed dimensions and the mask: each named with its value when it is wrong."""
        axis = validate_axis(self.axis)
        validate_mask(self.mask)
        for name in ("seq_len", "kv_len", "batch", "heads", "head_dim", "kv_heads"):
            value = getattr(self, name)
            if value is None:
                continue
            _positive_int(name, value)
            if name == axis:
                raise ValueError(
                    f"{name}={value!r} was given, but axis={axis!r} sweeps {name}: its values are sizes=; "
                    f"leave {name}= out"
                )
        if axis != SEQ_LEN and self.seq_len is None:
            raise ValueError(
                f"axis={axis!r} needs seq_len=, the fixed sequence length of q (and of k and v unless kv_len= is given)"
            )
        if self.kv_heads is not None:
            heads = self.sizes if axis == "heads" else (self.heads or DEFAULT_HEADS,)
            uneven = [h for h in heads if h % self.kv_heads]
            if uneven:
                where = f"heads={uneven[0]} (a size of axis='heads')" if axis == "heads" else f"heads={uneven[0]}"
                raise ValueError(
                    f"kv_heads={self.kv_heads} must divide the number of query heads, but {where} is not a multiple of "
                    "it (grouped-query attention shares each k, v head among heads // kv_heads query heads)"
                )

    def shape_at(self, size: int) -> InputShape:
        """The shape of the built-in inputs at one of the sizes."""
        dims = {
            "batch": self.batch or DEFAULT_BATCH,
            "heads": self.heads or DEFAULT_HEADS,
            "seq_len": self.seq_len or 0,
            "head_dim": self.head_dim or DEFAULT_HEAD_DIM,
            "kv_len": self.kv_len or 0,
        }
        dims[self.axis] = size
        seq_len = dims["seq_len"]
        return InputShape(
            batch=dims["batch"],
            heads=dims["heads"],
            seq_len=seq_len,
            head_dim=dims["head_dim"],
            kv_len=dims["kv_len"] or seq_len,
            kv_heads=self.kv_heads or dims["heads"],
        )

    def fixed_shape(self) -> dict[str, int]:
        """The dimensions of the built-in inputs that stay fixed through the sweep (the result's ``shape``): batch,
        heads, head_dim, and seq_len, kv_len, kv_heads where they are set, less the axis swept."""
        shape = {
            "batch": self.batch or DEFAULT_BATCH,
            "heads": self.heads or DEFAULT_HEADS,
            "head_dim": self.head_dim or DEFAULT_HEAD_DIM,
        }
        shape.update({name: getattr(self, name) for name in ("seq_len", "kv_len", "kv_heads") if getattr(self, name)})
        shape.pop(self.axis, None)
        return shape


class _PytestConfigLike(Protocol):
    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PluginOptions:
    """Session-wide settings from the command line, falling back to the ini file of the same name (see OPTIONS)."""

    report: bool = False
    json_path: str | None = None
    sizes: tuple[int, ...] = DEFAULT_SIZES
    device: str = DEFAULT_DEVICE
    threads: int = DEFAULT_THREADS
    time_budget: float = DEFAULT_TIME_BUDGET
    inconclusive: str = DEFAULT_POLICY
    max_time: float | None = None
    max_memory: int | None = None
    plot_dir: str | None = None
    html_path: str | None = None
    predict_n: int | None = None
    ram_guard: float | None = DEFAULT_RAM_GUARD
    timing_lock: str | None = None  # not an option: a pytest-xdist worker's, from the controller (xdist_support.py)
    save: str | None = None  # baseline name to save this run's results under
    autosave: bool = False  # save under a name made of the git commit and the time
    storage: str = DEFAULT_STORAGE
    compare: str | None = None  # "latest", a baseline name or a path; None: no comparison
    compare_fail: tuple[Rule, ...] = ()

    @property
    def compares(self) -> str | None:
        """What to compare with: a rule without --attn-scaling-compare compares with the latest baseline."""
        return self.compare or (LATEST if self.compare_fail else None)

    @property
    def writes_output(self) -> bool:
        """Whether any report was asked for (the header line and progress are shown only then or with -v)."""
        return bool(self.report or self.json_path or self.plot_dir or self.html_path)

    @classmethod
    def from_pytest_config(cls, config: _PytestConfigLike) -> PluginOptions:
        """Each option given on the command line or in the ini file, read by its own parser; the rest default."""
        given: dict[str, Any] = {}
        for option in OPTIONS:
            from_flag = config.getoption(option.dest)
            raw = from_flag if from_flag is not None else config.getini(option.dest)
            if option.read is None:  # an on/off flag
                given[option.field] = bool(raw)
            elif raw not in (None, ""):
                source = option.flag if from_flag is not None else f"ini key {option.dest}"
                given[option.field] = option.read(str(raw), source)
        return cls(**given)


Reader = Callable[[str, str], Any]  # (text, where it came from: the flag or the ini key) -> value, or ValueError


@dataclass(frozen=True)
class Option:
    """One session setting: a flag, the ini key of the same name, the PluginOptions field it sets (whose default is
    the option's), and how its text is read (None: an on/off flag)."""

    flag: str
    field: str
    help: str
    read: Reader | None
    metavar: str | None = None
    const: str | None = None  # the value of the flag given without one (``--attn-scaling-compare``)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def _text(text: str, source: str) -> str:
    return text


def _positive_int_text(text: str, source: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{source} must be an integer, got {text!r}") from None
    return _positive_int(source, value)


def _positive_float_text(text: str, source: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{source} must be a number, got {text!r}") from None
    return _positive_float(source, value)


def _named(read: Callable[[str], Any]) -> Reader:
    """A reader whose errors say which flag or ini key the value came from."""

    def named(text: str, source: str) -> Any:
        try:
            return read(text)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    return named


OPTIONS: tuple[Option, ...] = (
    Option("--attn-scaling", "report", "print the attention scaling report (exponents per test) at the end", None),
    Option("--attn-scaling-json", "json_path", "write every scaling result to this JSON file", _text, "PATH"),
    Option(
        "--attn-scaling-plot",
        "plot_dir",
        "write a log-log figure per test (PNG and SVG) into this directory; needs matplotlib (the [plot] extra)",
        _text,
        "DIR",
    ),
    Option(
        "--attn-scaling-html",
        "html_path",
        "write one self-contained HTML report (verdicts, tables, plots) to this file",
        _text,
        "PATH",
    ),
    Option(
        "--attn-predict-n",
        "predict_n",
        "also report the time, memory and FLOPs each result's fit predicts at this N (terminal report and HTML)",
        _positive_int_text,
        "N",
    ),
    Option(
        "--attn-sizes",
        "sizes",
        "default sequence lengths: '256,512,1024,2048' or a geometric range 'start:stop[:factor]' "
        f"(default {','.join(map(str, DEFAULT_SIZES))})",
        _named(lambda text: validate_sizes(parse_sizes(text))),
        "SIZES",
    ),
    Option(
        "--attn-device",
        "device",
        "default device: auto (CUDA when there is a GPU, else cpu), cpu, cuda or cuda:INDEX "
        f"(default {DEFAULT_DEVICE})",
        _named(validate_device),
        "DEVICE",
    ),
    Option(
        "--attn-threads",
        "threads",
        f"torch intra-op threads while timing on the CPU (default {DEFAULT_THREADS}: unbiased beside other load)",
        _positive_int_text,
        "N",
    ),
    Option(
        "--attn-inconclusive",
        "inconclusive",
        "what a verdict that stays too noisy to decide (after measuring again) does to its test: fail, skip or "
        f"xfail (default {DEFAULT_POLICY})",
        lambda text, source: validate_policy(text, source),
        "fail|skip|xfail",
    ),
    Option(
        "--attn-max-time",
        "max_time",
        "stop growing N once one call takes longer than this many seconds; larger N are reported as skipped",
        _positive_float_text,
        "SECONDS",
    ),
    Option(
        "--attn-max-memory",
        "max_memory",
        "skip an N whose peak memory, predicted from the sizes measured before it, exceeds this (e.g. 8GiB)",
        _named(parse_bytes),
        "SIZE",
    ),
    Option(
        "--attn-ram-guard",
        "ram_guard",
        "skip an N whose predicted host memory exceeds this share of the memory available now (MemAvailable, or "
        "the cgroup's limit), and cap a CPU sweep's growth at it; a share such as 0.5, or off "
        f"(default {DEFAULT_RAM_GUARD:g})",
        lambda text, source: parse_ram_guard(text, source),
        "SHARE|off",
    ),
    Option(
        "--attn-scaling-save",
        "save",
        "save every result as a baseline named NAME under --attn-scaling-storage (NNNN_NAME.json)",
        lambda text, source: validate_name(text.strip(), source),
        "NAME",
    ),
    Option(
        "--attn-scaling-autosave",
        "autosave",
        "save every result as a baseline named after the git commit and the time",
        None,
    ),
    Option(
        "--attn-scaling-storage",
        "storage",
        "where baselines are kept, one folder per machine and device, relative to the rootdir "
        f"(default {DEFAULT_STORAGE})",
        _text,
        "DIR",
    ),
    Option(
        "--attn-scaling-compare",
        "compare",
        "compare every result with a saved baseline: this machine and device's latest (no value), a name, a number "
        "or a path",
        lambda text, source: text.strip(),
        "NAME|PATH",
        const=LATEST,
    ),
    Option(
        "--attn-scaling-compare-fail",
        "compare_fail",
        "fail a test whose result regressed against the baseline: exponent:0.3, memory:0.2, time-value:10%, ... "
        "(comma-separated; compares with the latest baseline unless --attn-scaling-compare names one)",
        lambda text, source: parse_rules(text, source),
        "EXPR[,EXPR...]",
    ),
    Option(
        "--attn-time-budget",
        "time_budget",
        f"seconds of timed calls per sweep; more rounds, less spread (default {DEFAULT_TIME_BUDGET:g})",
        _positive_float_text,
        "SECONDS",
    ),
)

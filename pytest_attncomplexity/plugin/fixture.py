"""The ``attn_scaling`` fixture: the session's ScalingRunner for the test, with progress on the terminal, and the
skips a sweep can end in."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ..core.result import ScalingResult
from ..errors import BackendUnavailable, DeviceUnavailable, DtypeUnavailable
from ..sweep.runner import ScalingRunner
from .compat import skip_at_test_line
from .progress import ProgressPrinter
from .session import STATE_KEY
from .verdicts import CLAIMS_KEY


class _PytestScalingRunner(ScalingRunner):
    """A missing device, a pinned SDPA backend that cannot run the case, or a dtype the device has no kernel for is a
    skip with the reason, not a failure."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScalingResult:
        __tracebackhide__ = True  # a failing sweep points at the test's line and the user's exception
        try:
            return super().__call__(*args, **kwargs)
        except (DeviceUnavailable, BackendUnavailable, DtypeUnavailable) as error:
            raise skip_at_test_line(str(error)) from None


def _attn_scaling(request: pytest.FixtureRequest) -> ScalingRunner:
    session = request.config.stash[STATE_KEY]
    plugins = request.config.pluginmanager
    terminal = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    progress = ProgressPrinter(terminal, capture, session.verbosity) if terminal is not None else None
    return _PytestScalingRunner(
        session.options,
        nodeid=request.node.nodeid,
        record=session.record,
        progress=progress,
        # The marker's claims, read when the body calls the fixture: a time claim ends the timing once decided.
        declared=lambda: request.node.stash.get(CLAIMS_KEY, None),
    )


# pytest --fixtures shows the fixture's docstring: the call it returns, with every argument (written once, there).
_attn_scaling.__doc__ = (
    "attn_scaling(fn, *, sizes, metrics, device, mode, dtype, ...) -> ScalingResult: measure fn at each N and fit "
    "log-log exponents of time, memory and FLOPs (every argument: pytest --fixtures -v).\n\n"
    + inspect.cleandoc(ScalingRunner.__call__.__doc__ or "")
)
attn_scaling = pytest.fixture(name="attn_scaling")(_attn_scaling)

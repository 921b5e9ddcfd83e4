"""The pytest plugin (the ``pytest11`` entry point): every pytest-facing piece of pytest-attncomplexity.

pytest registers this module, so the hooks (hooks.py) and the ``attn_scaling`` fixture (fixture.py) are named
here; the session state, verdicts after the body, baselines, progress, pytest-xdist and pytest-benchmark support
live beside them, one module each.
"""

from __future__ import annotations

from .fixture import attn_scaling
from .hooks import pytest_addoption, pytest_configure, pytest_report_header, pytest_runtest_call, pytest_runtest_setup

__all__ = [
    "attn_scaling",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_setup",
]

"""Exceptions a user sees (no torch, no pytest: the plugin imports them at start-up)."""

from __future__ import annotations

from typing import Any


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist here (``device="cuda"`` without a GPU): the test is skipped."""


class BackendUnavailable(RuntimeError):
    """The SDPA backend pinned with ``sdpa_backend=`` cannot run the call here: the test is skipped with PyTorch's
    reason (a sweep that already measured smaller sizes ends there instead, as skipped points)."""


class DtypeUnavailable(RuntimeError):
    """The device has no kernel for the dtype of the built-in inputs (PyTorch said so at the first size): the test
    is skipped with PyTorch's words."""


class SweepError(RuntimeError):
    """The function under test failed at some N; the message names the N and the original exception.

    ``result`` holds what was measured before that N (a ScalingResult), so a failing point loses nothing.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class AttnScalingWarning(UserWarning):
    """Something a run should know about but that does not stop it (a baseline measured elsewhere)."""

"""Exceptions a user sees (no torch, no pytest: the plugin imports them at start-up)."""

from __future__ import annotations


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist here (``device="cuda"`` without a GPU): the test is skipped."""


class SweepError(RuntimeError):
    """The function under test failed at some N; the message names the N and the original exception."""

from __future__ import annotations

import pytest

from .inner import FAST, FAST_SIZES


@pytest.fixture
def fast_sizes() -> list[int]:
    return list(FAST_SIZES)


@pytest.fixture
def fast() -> dict[str, object]:
    """Small sizes and a short time budget: the settings every behaviour test sweeps with."""
    return dict(FAST)

from __future__ import annotations

import pytest

from .inner import FAST_SIZES


@pytest.fixture
def fast_sizes() -> list[int]:
    """The small sizes behaviour tests sweep (tests/inner.py: the same for inner sessions)."""
    return list(FAST_SIZES)

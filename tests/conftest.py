from __future__ import annotations

import pytest

# Inner sessions and measurements use small N and short time budgets: these tests check behaviour, and the
# precision of the exponents at realistic sizes is measured by the scripts in benchmarks/.
FAST_SIZES = [64, 128, 256]


@pytest.fixture
def fast_sizes() -> list[int]:
    return list(FAST_SIZES)

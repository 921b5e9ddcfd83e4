"""Test node ids as results carry them. No torch, no pytest."""

from __future__ import annotations


def plain_nodeid(nodeid: str) -> str:
    """The node id without the ``@group`` suffix that ``pytest-xdist --dist loadgroup`` appends to the tests of an
    ``xdist_group``: ``test_a.py::test_x@gpu`` -> ``test_a.py::test_x``, so that a result matches the same test of
    a run without groups (a baseline, say).

    An ``@`` inside the parameters (``test_x[a@b]``) or the path is kept: as pytest-xdist itself tells them apart,
    the suffix starts at the first ``@`` after the last ``]`` of the test's name (a group name may hold ``@``).
    """
    name = nodeid.rfind("::")
    if name < 0:
        return nodeid
    at = nodeid.find("@", max(name, nodeid.rfind("]")))
    return nodeid if at < 0 else nodeid[:at]

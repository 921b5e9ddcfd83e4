"""The JSON document of a run's results: what ``--attn-scaling-json`` writes, and the body of a saved baseline.
No torch, no pytest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .result import ScalingResult

REPORT_SCHEMA = "pytest-attncomplexity-report"
FORMAT_VERSION = 1


def results_document(
    results: Sequence[ScalingResult],
    machine_info: dict[str, Any] | None = None,
    *,
    outcomes: Mapping[str, str] | None = None,
    run: Mapping[str, Any] | None = None,
    comparison: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    commit: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``outcomes``: the outcome of each finished test (a result of a test still running gets null); ``run``: how
    far the session got (``complete`` is false until it ends: a file left by a killed run says so); ``comparison``:
    the baseline compared with (null when none was); ``environment`` and ``commit``: where and at which commit the
    run measured, as a saved baseline records them (what ``attn-scaling merge`` needs to save shards as one)."""
    entries = []
    for result in results:
        entry = result.to_json()
        entry["outcome"] = (outcomes or {}).get(result.nodeid)
        entries.append(entry)
    document: dict[str, Any] = {"schema": REPORT_SCHEMA, "version": FORMAT_VERSION}
    if run is not None:
        document["run"] = dict(run)
    document["environment"] = None if environment is None else dict(environment)
    document["commit"] = None if commit is None else dict(commit)
    document["comparison"] = None if comparison is None else dict(comparison)
    document["results"] = entries
    if machine_info is not None:
        document["machine_info"] = machine_info
    return document

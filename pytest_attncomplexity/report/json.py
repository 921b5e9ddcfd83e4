"""The JSON file of ``--attn-scaling-json``: every result, plus the machine as pytest-benchmark describes it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..results import ScalingResult

FORMAT_VERSION = 1


def results_document(results: Sequence[ScalingResult], machine_info: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"version": FORMAT_VERSION, "results": [r.to_json() for r in results]}
    if machine_info is not None:
        document["machine_info"] = machine_info
    return document


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return target

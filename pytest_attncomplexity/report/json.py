"""The JSON file of ``--attn-scaling-json``, written atomically; the document itself is core's (core/document.py):
a saved baseline holds the same one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import write_text_atomically


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    """Write the document atomically (see report/atomic.py)."""
    return write_text_atomically(path, json.dumps(document, indent=2, default=str) + "\n")

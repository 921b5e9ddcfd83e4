"""``python -m pytest_attncomplexity.cli``: the ``attn-scaling`` command where its script is not on the PATH."""

from __future__ import annotations

import sys

from .main import main

sys.exit(main())

"""pytest imports the plugin in every run, also in projects that never sweep: that must not import torch."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_plugin_does_not_import_torch():
    check = (
        "import sys, pytest_attncomplexity, pytest_attncomplexity.plugin; "
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'scipy'))); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

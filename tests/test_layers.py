"""The layers of docs/architecture.md, as import-linter checks them (`lint-imports` in .ci/run): the package as it is
keeps every contract, an import planted in a copy of it breaks the contract it crosses, and every module at the top
of the package is one of the declared layers (import-linter would not constrain a module outside them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "pytest_attncomplexity"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def _lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the package copied into ``where`` (found first on the path), without a cache."""
    environment = {**os.environ, "PYTHONPATH": str(where)}
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    return subprocess.run(
        [*command, "--no-cache"], cwd=where, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(copy: Path, module: str, line: str) -> None:
    path = copy / PACKAGE.name / module
    source = path.read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"  # the line goes after it, before the module's own imports
    path.write_text(source.replace(future, f"{future}\n{line}\n", 1), encoding="utf-8")


def test_the_package_keeps_every_contract(copy: Path):
    done = _lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/units.py", "import torch", "The core imports neither torch nor pytest"),
        ("core/fit.py", "import pytest", "The core imports neither torch nor pytest"),
        ("core/result.py", "from ..gate import storage", "Layers: each imports only from the layers below it"),
        ("report/text.py", "from ..sweep import runner", "The reports import neither the sweep nor the measurers"),
        ("report/text.py", "from ..sweep import runner", "Layers: each imports only from the layers below it"),
        ("gate/compare.py", "from ..report import rows", "Layers: each imports only from the layers below it"),
        ("sweep/runner.py", "import pytest", "Below the plugin, nothing imports pytest"),
        ("cli/main.py", "import torch", "The attn-scaling command imports neither torch nor pytest"),
        ("cli/history.py", "from ..plugin import session", "Layers: each imports only from the layers below it"),
    ],
)
def test_a_planted_import_breaks_the_contract_it_crosses(copy: Path, module: str, line: str, broken: str):
    _plant(copy, module, line)
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(re.escape(broken) + r".* BROKEN", done.stdout), done.stdout


def _top_level_entries() -> list[Path]:
    """The modules and subpackages at the top of the package, besides ``__init__.py``."""
    return [
        path
        for path in sorted(PACKAGE.iterdir())
        if path.name != "__init__.py" and (path.suffix == ".py" or (path / "__init__.py").exists())
    ]


def test_every_top_level_module_is_a_declared_layer():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    declared = {name.strip() for line in layers for name in str(line).split("|")}  # type: ignore[attr-defined]
    entries = {path.stem for path in _top_level_entries()}
    assert entries == declared
    assert len(entries) <= 9  # two front ends (the pytest plugin, the attn-scaling command), five layers, errors


def test_docs_architecture_names_modules_that_exist():
    """docs/architecture.md names each layer and the modules of one sweep's path: they must be there."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", text))
    assert len(named) > 20
    missing = [path for path in sorted(named) if not (PACKAGE / path).is_file() and not (ROOT / path).is_file()]
    assert missing == []
    entries = [entry.name for entry in _top_level_entries()]
    assert [name for name in entries if re.search(rf"^[ |]*{re.escape(name)}/?\s", text, re.M)] == entries

"""The package declares what it imports: dependencies in pyproject.toml, pins in requirements.txt."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import norep

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "norep"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def normalize(name: str) -> str:
    """Return a distribution name in PEP 503 normal form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(top_level_only: bool) -> dict[str, str]:
    """Return each third-party module imported in src/norep, with one file importing it.

    Args:
        top_level_only: Only imports that run when the module is imported (not inside
            functions or classes).
    """
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        nodes = tree.body if top_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("norep", "__future__"):
                    found.setdefault(top, path.relative_to(ROOT).as_posix())
    return found


def distributions(requirements: list[str]) -> set[str]:
    """Return the normalized distribution names of requirement strings."""
    return {normalize(Requirement(text).name) for text in requirements}


def missing(imports: dict[str, str], declared: set[str]) -> list[str]:
    """Return the imports no declared distribution provides, with where they are imported."""
    providers = packages_distributions()
    return [f"{module} ({where})" for module, where in imports.items()
            if not declared & {normalize(d) for d in providers.get(module, [module])}]


def test_module_level_imports_are_runtime_dependencies():
    assert missing(third_party_imports(top_level_only=True), distributions(PROJECT["dependencies"])) == []


def test_every_import_is_a_dependency_or_an_extra():
    extras = [text for group in PROJECT["optional-dependencies"].values() for text in group]
    declared = distributions(PROJECT["dependencies"] + extras)
    assert missing(third_party_imports(top_level_only=False), declared) == []


def test_requirements_pins_satisfy_the_declared_ranges():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            [pin] = requirement.specifier
            assert pin.operator == "==", f"requirements.txt must pin exactly: {line}"
            pins[normalize(requirement.name)] = pin.version
    extras = [text for group in PROJECT["optional-dependencies"].values() for text in group]
    for text in PROJECT["dependencies"] + extras:
        requirement = Requirement(text)
        name = normalize(requirement.name)
        if name in pins:
            assert requirement.specifier.contains(pins[name]), f"{text} excludes the pin {pins[name]}"
    unpinned = distributions(PROJECT["dependencies"]) - set(pins)
    assert unpinned <= {"ipython"}, f"runtime dependencies without a pin: {sorted(unpinned)}"


def test_version_is_declared_once():
    assert norep.__version__ == PROJECT["version"]

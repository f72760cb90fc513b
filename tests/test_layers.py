"""The package's layers point down only, and no module reaches another's private names.

Layers, bottom to top: store, datasets, zoo, producers, analysis, book, cli (README,
"Architecture"). ``errors`` and ``runtime`` sit below every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "norep"
BASE = {"errors", "runtime"}
ALLOWED = {  # layer -> the layers its modules may import
    "store": {"store"},
    "datasets": {"store", "datasets"},
    "zoo": {"store", "zoo"},
    "producers": {"store", "datasets", "zoo", "producers"},
    "analysis": {"store", "zoo", "analysis"},
    "book": {"store", "datasets", "zoo", "producers", "analysis", "book"},
    "cli": {"store", "datasets", "zoo", "producers", "analysis", "book"},
    "": {"store"},  # the package's __init__
}


def module_name(path: Path, root: Path) -> str:
    """Return the dotted name of a module file under ``root`` (the norep folder)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(("norep",) + tuple(p for p in parts if p != "__init__"))


def layer(module: str) -> str:
    """Return the layer of a dotted norep module name ('' for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path, root: Path) -> list[tuple[str, list[str], int]]:
    """Return the norep modules a file imports, the names it takes, and the line."""
    found = []
    package = module_name(path, root)
    package = package if path.name == "__init__.py" else package.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [target])
                target = target.rstrip(".")
            if target == "norep" or target.startswith("norep."):
                found.append((target, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names
                      if alias.name == "norep" or alias.name.startswith("norep.")]
    return found


def violations(root: Path) -> list[str]:
    """Return every upward, CLI or private import among the modules under ``root``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        own = layer(module)
        for target, names, line in imports(path, root):
            where = f"{path.relative_to(root)}:{line}"
            targets = [target] + [f"{target}.{name}" for name in names if target == "norep"]
            for full in targets if target == "norep" and names else [target]:
                other = layer(full)
                if other == "cli":
                    problems.append(f"{where}: imports the CLI ({full})")
                elif own not in BASE and other not in BASE and other != "" and other not in ALLOWED[own]:
                    problems.append(f"{where}: {own or 'norep'} imports upward from {other} ({full})")
                elif own in BASE and other not in BASE:
                    problems.append(f"{where}: {own} must import no layer, imports {full}")
            private = [name for name in names if name.startswith("_") and target != module]
            problems += [f"{where}: imports the private name {name} of {target}" for name in private]
    return problems


def test_the_package_has_no_upward_cli_or_private_import():
    assert violations(SOURCE) == []


def test_every_module_belongs_to_a_layer():
    layers = {layer(module_name(path, SOURCE)) for path in SOURCE.rglob("*.py")}
    assert layers <= set(ALLOWED) | BASE, layers - set(ALLOWED) - BASE


def test_the_check_finds_upward_private_and_cli_imports(tmp_path):
    for folder in ("store", "analysis", "book"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "store" / "reader.py").write_text("from norep.analysis.pairs import pair_metrics\n")
    (tmp_path / "analysis" / "pairs.py").write_text("from norep.store.reader import _hidden\n")
    (tmp_path / "analysis" / "views.py").write_text("from norep.book import plots\nimport norep.cli\n")
    (tmp_path / "book" / "plots.py").write_text("from norep.analysis import pairs\n")
    found = violations(tmp_path)
    assert any("store imports upward from analysis" in p for p in found)
    assert any("private name _hidden" in p for p in found)
    assert any("analysis imports upward from book" in p for p in found)
    assert any("imports the CLI" in p for p in found)
    assert not any(p.startswith("book/") for p in found)

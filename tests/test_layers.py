"""The package's layers: a module imports only from its own layer and the layers below it.

From the bottom: the shared plain types (and `shown`, text made safe to print), storage, the
language, HTTP, the work, the backends, the engine, the user interface.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RANK = {
    "types": 0,
    "shown": 0,
    "storage": 1,
    "language": 2,
    "http": 3,
    "work": 4,
    "backends": 5,
    "engine": 6,
    "ui": 7,
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "yamlcrawl" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "yamlcrawl":
            found += [f"yamlcrawl.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def upward_imports() -> list[str]:
    wrong = []
    for path in sorted((ROOT / "yamlcrawl").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        mine = layer_of(module)
        if mine is None:
            continue
        for target in imported_modules(ast.parse(path.read_text("utf-8"))):
            theirs = layer_of(target)
            if theirs is not None and RANK[theirs] > RANK[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    return wrong


def test_every_module_belongs_to_a_layer() -> None:
    loose = [
        path.name
        for path in (ROOT / "yamlcrawl").glob("*.py")
        if path.stem not in RANK and path.stem not in ("__init__", "__main__")
    ]
    folders = [p.name for p in (ROOT / "yamlcrawl").iterdir() if p.is_dir() and p.name[0] != "_"]
    assert loose == []
    assert sorted(folders) == sorted(name for name in RANK if name not in ("types", "shown"))


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward_imports() == []


def test_the_shared_types_import_no_layer() -> None:
    tree = ast.parse((ROOT / "yamlcrawl" / "types.py").read_text("utf-8"))
    assert [m for m in imported_modules(tree) if m.startswith("yamlcrawl")] == []

"""Reading what a service's modules import, for the tests that keep its domain packages free of
its job shell (tests/unit/*/test_*_layout.py). Source is parsed, never imported, so a check
needs none of the libraries a module loads."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports (relative imports resolved against `module`), and for
    `from X import y` also `X.y`, since y may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = str(node.module)
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def matching(names: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """The names that are one of `prefixes` or lie inside one, sorted."""
    prefixes = tuple(prefixes)
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


def module_name(root: Path, path: Path) -> str:
    """The dotted name of `path`, a file under `root`, the folder of a top-level package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join((root.name, *(p for p in parts if p != "__init__")))


def modules_under(root: Path, folders: Iterable[str]) -> list[Path]:
    """Every module in the given sub-packages of `root`, at any depth."""
    return sorted(path for name in folders for path in (root / name).rglob("*.py"))

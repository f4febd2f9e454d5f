"""The pure core knows nothing of botocore: policy, templates, rules, operations, decide (and
what they import from rds_guard) import no botocore, directly or through another module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rds_guard"
PURE_CORE = ("policy", "templates", "rules", "operations", "decide")


def imports_of(module: str) -> set[str]:
    """Absolute names a module of the package imports (relative ones as rds_guard.X)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "rds_guard" + (f".{node.module}" if node.module else "")
                names = [base] if node.module else [f"rds_guard.{a.name}" for a in node.names]
                found |= set(names)
            elif node.module:
                found.add(node.module)
    return found


def reachable(module: str) -> set[str]:
    """Every name imported from ``module``, following the package's own modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("rds_guard.") and (PACKAGE / f"{name[10:]}.py").exists():
                todo.append(name[10:])
    return seen


@pytest.mark.parametrize("module", PURE_CORE)
def test_pure_core_imports_no_botocore(module: str) -> None:
    """Neither the module nor anything of rds_guard it imports reaches botocore or boto3."""
    names = reachable(module)
    assert not {n for n in names if n.split(".")[0] in ("botocore", "boto3")}, names
    assert "rds_guard.guard" not in names and "rds_guard.errors" not in names

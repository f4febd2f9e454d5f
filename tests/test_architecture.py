"""The package's layout keeps its promises: the pure core in ``rds_guard/core/`` imports no
botocore (nor boto3) and nothing of rds_guard outside ``core/``; no module is over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rds_guard"
CORE = PACKAGE / "core"
CORE_MODULES = sorted(path.stem for path in CORE.glob("*.py") if path.stem != "__init__")
MAX_LINES = 500


def imports_of(path: Path) -> set[str]:
    """Absolute names a module imports (relative ones resolved against its package)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                if node.module:
                    found.add(f"{base}.{node.module}")
                else:
                    found |= {f"{base}.{alias.name}" for alias in node.names}
            elif node.module:
                found.add(node.module)
    return found


def test_the_core_folder_holds_the_pure_core() -> None:
    assert {"policy", "templates", "rules", "operations", "decide"} <= set(CORE_MODULES)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_a_core_module_imports_nothing_of_botocore_nor_outside_the_core(module: str) -> None:
    names = imports_of(CORE / f"{module}.py")
    assert not {n for n in names if n.split(".")[0] in ("botocore", "boto3", "aiobotocore")}
    outside = {n for n in names if n.startswith("rds_guard") and not n.startswith("rds_guard.core")}
    assert not outside, f"core/{module}.py imports {sorted(outside)}"


def test_importing_the_core_loads_no_botocore() -> None:
    """Checked in a fresh interpreter on this checkout: importing the package and every core
    module pulls no botocore in (the package's public names load only when asked for)."""
    import subprocess
    import sys

    modules = ", ".join(f"rds_guard.core.{module}" for module in CORE_MODULES)
    script = (
        f"import sys; sys.path.insert(0, {str(PACKAGE.parent)!r});"
        f"import {modules};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "path",
    sorted(PACKAGE.rglob("*.py")),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_the_library_logs_only_through_its_two_escaping_loggers() -> None:
    """A logger's filters see only the records made on it: a module logging through a
    logger of its own (``getLogger(__name__)``) would bypass `OneLine`, and a tag or an
    endpoint's message it quotes could forge a line of the application's log. The CLI
    configures the ``rds_guard`` logger's handler, by name."""
    made_here = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "getLogger(" in path.read_text(encoding="utf-8")
    )
    assert made_here == ["cli/common.py", "core/logs.py"]
    common = (PACKAGE / "cli" / "common.py").read_text(encoding="utf-8")
    assert 'getLogger("rds_guard")' in common and common.count("getLogger(") == 1

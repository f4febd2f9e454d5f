"""The table of commands: every row is a command line with its own --help, each command is
one module, building the parser pays for no command's machinery, and whatever a command
raises reaches the user as one line."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_main

import rds_guard
from rds_guard import cli
from rds_guard.cli import check

CLI = Path(cli.__file__).parent
MODULES = sorted(CLI.rglob("*.py"))
LAZY = ("botocore.session", "rds_guard.reconcile")
"""What a command module imports only when its command runs."""


@pytest.mark.parametrize("words", list(cli.COMMANDS))
def test_every_row_is_a_command_with_its_help_and_example(
    capsys: pytest.CaptureFixture[str], words: str
) -> None:
    entry = cli.COMMANDS[words]
    result = run_main(capsys, *words.split(), "--help")
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"usage: rds-guard {words} ")
    if isinstance(entry, cli.Group):
        description, example = entry.description, entry.example
    else:
        description, example = entry.HELP, entry.EXAMPLE
    assert f"\n\n{description}\n" in result.out
    assert result.out.endswith(f"example:\n  {example}\n")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "--version")
    assert (result.code, result.out, result.err) == (0, f"rds-guard {rds_guard.__version__}\n", "")


@pytest.mark.parametrize(
    ("error", "code", "err"),
    [
        (
            RuntimeError("a bug\nover two lines"),
            2,
            "rds-guard: error: unexpected RuntimeError: a bug over two lines\n",
        ),
        (KeyboardInterrupt(), 130, ""),
    ],
    ids=["bug", "interrupted"],
)
def test_whatever_a_command_raises_is_never_a_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int,
    err: str,
) -> None:
    def run(args: object) -> int:
        raise error

    monkeypatch.setattr(check, "run", run)
    result = run_main(capsys, "check")
    assert (result.code, result.out, result.err) == (code, "", err)


def test_ctrl_c_while_the_command_line_is_read_is_no_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", interrupted)
    result = run_main(capsys, "check")
    assert (result.code, result.out, result.err) == (130, "", "")


# Stands in for the user's Ctrl-C while the command loads: the import of rds_guard.cli (boto3
# comes with it) is interrupted, in a fresh interpreter.
_INTERRUPTED_WHILE_LOADING = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "rds_guard.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
"""


@pytest.mark.parametrize(
    "start",
    [
        # what the rds-guard script runs (its entry point, checked below)
        "from rds_guard.__main__ import main\nsys.exit(main())",
        "import runpy\nrunpy.run_module('rds_guard', run_name='__main__')",
    ],
    ids=["script", "python -m"],
)
def test_ctrl_c_while_the_command_loads_is_no_traceback(start: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_WHILE_LOADING + start, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


def test_the_rds_guard_script_runs_the_main_that_loads_the_command() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="rds-guard")
    assert script.value == "rds_guard.__main__:main"


def top_level_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported (not in functions, not for typing)."""
    package = ".".join(path.relative_to(CLI.parent.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module if not node.level else f"{base}.{node.module or ''}".rstrip(".")
            found |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(CLI)))
def test_a_command_module_imports_botocore_session_and_reconcile_only_when_it_runs(
    path: Path,
) -> None:
    assert not top_level_imports(path) & set(LAZY)


def test_building_the_parser_loads_no_reconcile_or_guard_machinery() -> None:
    """In a fresh interpreter: parsing a command line leaves rds_guard.reconcile, the guard and
    botocore's session and client machinery unloaded (the ledger's commands included)."""
    lazy = ("rds_guard.reconcile", "rds_guard.guard", "botocore.session", "botocore.client")
    code = (
        "import sys; from rds_guard import cli;"
        "cli.build_parser().parse_args(['reconcile', '--audit', 'x']);"
        f"print([m for m in {lazy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"

"""The ``rds-guard`` command (also ``python -m rds_guard``).

One function per command (``cmd_audit_verify`` ...), each taking the parsed arguments and
returning the exit code: 0 fine, 1 a finding, 2 bad usage (DESIGN §7). ``build_parser`` wires
them up; ``main`` turns every expected error into one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO, TypeAlias

from rds_guard import audit
from rds_guard.errors import AuditError, PolicyError

PROG = "rds-guard"
"""The command's name, in usage lines and error messages."""

Command = Callable[[argparse.Namespace], int]
"""A command handler: parsed arguments in, exit code out."""

Subcommands: TypeAlias = "argparse._SubParsersAction[_Parser]"
"""What ``add_subparsers`` returns: the place ``add_command`` adds a command to."""


class UsageError(Exception):
    """A command cannot run as asked: reported as one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_command(
    parent: Subcommands,
    name: str,
    func: Command,
    summary: str,
    example: str,
) -> argparse.ArgumentParser:
    """Add command ``name`` run by ``func``, with ``summary`` and ``example`` in its --help."""
    parser = parent.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _hex64(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(char not in "0123456789abcdef" for char in value):
        raise argparse.ArgumentTypeError(f"expected 64 hex digits, got {text!r}")
    return value


def _add_key_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-env",
        metavar="VAR",
        help="environment variable holding the HMAC key (the policy's audit.hmac_key_env)",
    )


def _add_audit_commands(commands: Subcommands) -> None:
    group = commands.add_parser(
        "audit",
        help="verify, show, rotate or repair an audit log",
        description="Work with rds_guard's hash-chained audit log.",
        epilog="example:\n  rds-guard audit verify rds-guard-audit.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group.set_defaults(func=_missing_subcommand(group))
    actions = group.add_subparsers(metavar="ACTION", parser_class=_Parser)

    verify = add_command(
        actions,
        "verify",
        cmd_audit_verify,
        "Walk the hash chain of a log (several files: oldest first, one chain).",
        "rds-guard audit verify rds-guard-audit.jsonl.1-5000 rds-guard-audit.jsonl --head 3f2a...",
    )
    verify.add_argument("paths", nargs="+", metavar="PATH", help="log files, oldest first")
    verify.add_argument(
        "--head",
        type=_hex64,
        metavar="HEX",
        help="the head the log must end with (catches records cut off at the end)",
    )
    _add_key_env(verify)

    show = add_command(
        actions,
        "show",
        cmd_audit_show,
        "Show a log's records as a table, or as JSON lines.",
        "rds-guard audit show rds-guard-audit.jsonl --event blocked --snapshot orders-manual-1",
    )
    show.add_argument("path", metavar="PATH", help="the log file")
    show.add_argument("--event", choices=sorted(audit.EVENTS), help="only records of this event")
    show.add_argument("--snapshot", metavar="ID", help="only records about this snapshot")
    show.add_argument("--json", action="store_true", help="print the records as JSON lines")

    rotate = add_command(
        actions,
        "rotate",
        cmd_audit_rotate,
        "Rename the log to PATH.<first seq>-<last seq> and start a new file that continues "
        "its chain.",
        "RDS_GUARD_AUDIT_KEY=... rds-guard audit rotate rds-guard-audit.jsonl "
        "--key-env RDS_GUARD_AUDIT_KEY",
    )
    rotate.add_argument("path", metavar="PATH", help="the log file")
    _add_key_env(rotate)

    repair = add_command(
        actions,
        "repair",
        cmd_audit_repair,
        "Move damaged lines (from the first line that is not a record on) to "
        "PATH.damaged-<time> so guarded calls can go on.",
        "rds-guard audit repair rds-guard-audit.jsonl",
    )
    repair.add_argument("path", metavar="PATH", help="the log file")
    _add_key_env(repair)


def _missing_subcommand(parser: argparse.ArgumentParser) -> Command:
    def report(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return report


def build_parser() -> argparse.ArgumentParser:
    """The ``rds-guard`` argument parser; each command's ``func`` default is its handler.

    A new top-level command is one ``add_command(commands, ...)`` call here plus its
    ``cmd_*`` function.
    """
    parser = _Parser(
        prog=PROG,
        description="Naming, tagging and audit guardrails for RDS, DocumentDB and Neptune "
        "snapshots.",
        epilog="example:\n  rds-guard audit verify rds-guard-audit.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(metavar="COMMAND", parser_class=_Parser)
    _add_audit_commands(commands)
    return parser


# --- helpers shared by the commands ---------------------------------------------------------


def _hmac_key(variable: str | None) -> bytes | None:
    """The HMAC key held by the environment variable ``variable`` (its UTF-8 bytes)."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise UsageError(f"--key-env {variable}: the environment variable is not set")
    if not value:
        raise UsageError(f"--key-env {variable}: the environment variable is empty")
    return value.encode("utf-8", "surrogateescape")


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a regular file")
    return path


_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _printable(text: str) -> str:
    """``text`` with control, format and separator characters escaped: one terminal line."""
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in _UNSAFE_CATEGORIES else char
        for char in text
    )


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else _printable(str(value))


def _tags_cell(tags: object) -> str:
    if not isinstance(tags, Mapping) or not tags:
        return "-"
    return ", ".join(
        f"-{_printable(str(key))}" if value is None else f"{_printable(str(key))}={_cell(value)}"
        for key, value in tags.items()
    )


def _outcome_cell(record: Mapping[str, object]) -> str:
    """The error code of a failure, else the broken rules, else ``-``."""
    error = record.get("error")
    if isinstance(error, Mapping) and error.get("code"):
        return _cell(error["code"])
    violations = record.get("violations")
    if isinstance(violations, list) and violations:
        rules = (v.get("rule") for v in violations if isinstance(v, Mapping))
        return ",".join(_cell(rule) for rule in rules)
    return "-"


_TABLE = "{:<27}  {:<9}  {:<32}  {:<30}  {:<20}  {}"


def _table_row(record: Mapping[str, object]) -> str:
    return _TABLE.format(
        _cell(record.get("time")),
        _cell(record.get("event")),
        _cell(record.get("operation")),
        _cell(record.get("snapshot")),
        _outcome_cell(record),
        _tags_cell(record.get("tags")),
    ).rstrip()


def _bad_line_text(line: audit.LogLine) -> str:
    if not line.complete:
        return f"line {line.number}: torn: {len(line.raw)} bytes with no newline"
    shown = _printable(line.raw[:120].decode("utf-8", "replace"))
    more = "..." if len(line.raw) > 120 else ""
    return f"line {line.number}: not a record: {shown}{more}"


def _matches(record: Mapping[str, object], args: argparse.Namespace) -> bool:
    if args.event is not None and record.get("event") != args.event:
        return False
    snapshot = record.get("snapshot")
    return args.snapshot is None or (
        isinstance(snapshot, str) and snapshot.lower() == args.snapshot.lower()
    )


# --- the audit commands ---------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """``rds-guard audit verify PATH... [--head HEX] [--key-env VAR]``."""
    key = _hmac_key(args.key_env)
    paths = [_existing_file(text) for text in args.paths]
    result = audit.verify(paths, hmac_key=key, head=args.head)
    print(result.summary())
    if result.ok and result.continues is not None:
        print(
            f"note: {paths[0]} starts with a rotated record: it continues {result.continues}, "
            "which was not checked"
        )
    return 0 if result.ok else 1


def cmd_audit_show(args: argparse.Namespace) -> int:
    """``rds-guard audit show PATH [--event E] [--snapshot ID] [--json]``."""
    path = _existing_file(args.path)
    out: TextIO = sys.stdout
    problems: TextIO = sys.stderr if args.json else sys.stdout
    if not args.json:
        print(_TABLE.format("TIME", "EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS"), file=out)
    damaged = False
    for line in audit.iter_lines(path):
        if line.record is None:
            damaged = True
            print(_bad_line_text(line), file=problems)
        elif _matches(line.record, args):
            text = (
                json.dumps(line.record, ensure_ascii=True, separators=(",", ":"))
                if args.json
                else _table_row(line.record)
            )
            print(text, file=out)
    return 1 if damaged else 0


def cmd_audit_rotate(args: argparse.Namespace) -> int:
    """``rds-guard audit rotate PATH [--key-env VAR]``."""
    key = _hmac_key(args.key_env)
    path = _existing_file(args.path)
    if path.stat().st_size == 0:
        print(f"nothing to rotate: {path} is empty")
        return 0
    archive = audit.rotate(path, hmac_key=key)
    print(f"rotated: {path} -> {archive}; {path} now starts with a rotated record")
    return 0


def cmd_audit_repair(args: argparse.Namespace) -> int:
    """``rds-guard audit repair PATH [--key-env VAR]``."""
    key = _hmac_key(args.key_env)
    path = _existing_file(args.path)
    print(audit.repair(path, hmac_key=key).describe())
    return 0


# --- entry point ----------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"{PROG}: error: {' '.join(message.splitlines())}", file=sys.stderr)
    return 2


def _silence_stdout() -> None:
    """After a closed pipe (``| head``), keep the exit-time flush from printing an error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rds-guard`` with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return _exit_code(exc.code)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return func(args)
    except UsageError as exc:
        return _fail(str(exc))
    except AuditError as exc:
        return _fail(exc.detail)
    except PolicyError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the contract: one line, never a traceback
        return _fail(f"unexpected {type(exc).__name__}: {exc}")

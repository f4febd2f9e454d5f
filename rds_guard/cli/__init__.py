"""The ``rds-guard`` command (also ``python -m rds_guard``): `main`, and `COMMANDS`, the one
table of commands the parser is built from.

Each command is a module of this package (an action of ``audit`` one of ``cli/audit/``)
owning its arguments, its run function and its output; `main` turns every expected error
into one line on stderr and exit 2, and each of the library's warnings into one
``rds-guard: warning:`` line. Exit codes: 0 fine, 1 a finding, 2 bad usage or policy.
The commands are documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TextIO, TypeAlias

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from rds_guard import __version__
from rds_guard.audit.redact import without_signing_values
from rds_guard.clients import ClientSettingsError
from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError, PolicyError

from . import check, reconcile
from . import eval as eval_
from .audit import checkpoint as audit_checkpoint
from .audit import head as audit_head
from .audit import query as audit_query
from .audit import repair as audit_repair
from .audit import rotate as audit_rotate
from .audit import ship as audit_ship
from .audit import show as audit_show
from .audit import verify as audit_verify
from .common import PROG, Parser, UsageError, VersionAction, library_warnings, printable
from .ledger import init as ledger_init

__all__ = ["COMMANDS", "Command", "Group", "build_parser", "main"]


class Command(Protocol):
    """What a command's module holds: the table needs nothing else."""

    HELP: str
    """The command's --help text. Its first line, the summary, is also the command's line in
    the list of commands; lines after a blank one are shown as they are (already wrapped)."""
    EXAMPLE: str
    """A command line (lines after the first indented by two) closing the command's --help."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to its parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the command with the parsed arguments; return the exit code."""


@frozen
class Group:
    """A command made of actions (``audit``): its actions are the rows ``NAME ACTION`` that
    follow it in the table; given no action, it prints its --help (exit 2)."""

    summary: str
    description: str
    example: str


COMMANDS: Mapping[str, Command | Group] = {
    "check": check,
    "eval": eval_,
    "reconcile": reconcile,
    "audit": Group(
        "verify, show, head, rotate or repair an audit log; ship it to the fleet ledger",
        "Work with rds_guard's hash-chained audit log.",
        "rds-guard audit verify rds-guard-audit.jsonl",
    ),
    "audit verify": audit_verify,
    "audit head": audit_head,
    "audit show": audit_show,
    "audit rotate": audit_rotate,
    "audit repair": audit_repair,
    "audit ship": audit_ship,
    "audit checkpoint": audit_checkpoint,
    "audit query": audit_query,
    "ledger": Group(
        "set up the fleet ledger (for development)",
        "The fleet ledger: one DynamoDB table holding every host's audit log (docs/ledger.md).",
        "rds-guard ledger init --policy rds_guard.toml --endpoint-url http://127.0.0.1:5000",
    ),
    "ledger init": ledger_init,
}
"""Every command by the words that name it, in the order --help lists them; a group comes
before its actions. A new command is one module and one row here."""

Handler = Callable[[argparse.Namespace], int]
"""What a parsed command line runs: the arguments in, the exit code out."""

Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What ``add_subparsers`` returns: the place a command's parser is added to."""


def build_parser() -> argparse.ArgumentParser:
    """The ``rds-guard`` argument parser, built from `COMMANDS`; each command's parsed
    arguments carry its handler as ``func``."""
    parser = Parser(
        prog=PROG,
        description="Naming, tagging and audit guardrails for RDS, DocumentDB and Neptune "
        "snapshots.",
        epilog="example:\n"
        "  rds-guard check rds_guard.toml\n"
        "  rds-guard eval CreateDBClusterSnapshot --param DBClusterIdentifier=orders "
        "--tag team=payments\n"
        "  rds-guard reconcile --audit rds-guard-audit.jsonl --policy rds_guard.toml\n"
        "  rds-guard audit verify rds-guard-audit.jsonl\n"
        "\n'rds-guard COMMAND --help' explains each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=VersionAction, version=f"{PROG} {__version__}", help="print the version"
    )
    places = {"": parser.add_subparsers(metavar="COMMAND", parser_class=Parser)}
    for words, entry in COMMANDS.items():
        group, _, name = words.rpartition(" ")
        if isinstance(entry, Group):
            sub = _add_parser(places[group], name, entry.summary, entry.description, entry.example)
            sub.set_defaults(func=_missing_action(sub))
            places[words] = sub.add_subparsers(metavar="ACTION", parser_class=Parser)
        else:
            summary = entry.HELP.partition("\n")[0]
            sub = _add_parser(places[group], name, summary, entry.HELP, entry.EXAMPLE)
            entry.add_arguments(sub)
            sub.set_defaults(func=entry.run)
    return parser


def _add_parser(
    place: Subcommands, name: str, summary: str, description: str, example: str
) -> argparse.ArgumentParser:
    return place.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _missing_action(parser: argparse.ArgumentParser) -> Handler:
    def report(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return report


# --- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rds-guard`` with ``argv`` (default: the process's arguments); returns the exit code."""
    with _stderr_even_closed(), _stdout_even_closed(), _unencodable_escaped(), _reader_may_go():
        try:
            code = _run(argv)
        except KeyboardInterrupt:  # Ctrl-C, also while the parser is built
            return 130
        try:  # what is still buffered goes now: an output lost is met here, not at exit
            sys.stdout.flush()
        except BrokenPipeError:
            return _reader_gone()
        except OSError as exc:  # the output could not be written (a full disk)
            return _output_lost(exc)
        return code


@contextlib.contextmanager
def _stderr_even_closed() -> Iterator[None]:
    """When the process was started with stderr closed (``2>&-``, ``sys.stderr`` None), what
    goes to stderr goes nowhere, not to stdout, where ``print`` would put it."""
    if sys.stderr is not None:
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as nowhere:
        sys.stderr = nowhere
        try:
            yield
        finally:
            sys.stderr = None


class _ClosedOutput(io.TextIOBase):
    """Standard output of a process started with it closed (``>&-``): what a command writes
    there is lost (and not kept), which the command says (exit 2) rather than exit 0 having
    said nothing (a checkpoint printed nowhere)."""

    lost = False

    def write(self, text: str) -> int:
        self.lost = self.lost or bool(text)
        return len(text)

    def flush(self) -> None:
        if self.lost:
            raise OSError(errno.EBADF, "standard output is closed: the output was lost")


class _PipeOutput(io.RawIOBase):
    """Standard output's descriptor under a command: once its reader is gone (a pipe closed
    early: ``| head -1``), what the command writes after goes nowhere, and the command runs
    on to its verdict. Its exit code is thus the same however much of its output is read."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        """Write all of ``data`` (a pipe may take part of it at a time), or none once the
        reader is gone."""
        view = memoryview(data).cast("B")
        written = 0
        while not self.gone and written < len(view):
            try:
                written += os.write(self._fd, view[written:])
            except BrokenPipeError:
                self.gone = True
                _write_nowhere(self)  # and so does what Python still holds at exit
            except OSError as exc:  # a full disk: said to be standard output's, not a file's
                raise OSError(exc.errno, exc.strerror, _STDOUT) from None
        return len(view)


_STDOUT = "standard output"
"""The file name of an error writing standard output (`_PipeOutput`)."""


@contextlib.contextmanager
def _reader_may_go() -> Iterator[None]:
    """Standard output written through `_PipeOutput` while a command runs, when it is a
    descriptor (a stream captured in memory is left as it is)."""
    original = sys.stdout
    try:
        fd = original.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with contextlib.suppress(OSError, ValueError):
        original.flush()  # what the program printed before comes first
    # as buffered as it was: unbuffered under python -u or PYTHONUNBUFFERED
    raw = _PipeOutput(fd)
    buffered = isinstance(getattr(original, "buffer", None), io.BufferedWriter)
    below: Any = io.BufferedWriter(raw) if buffered else raw
    output = io.TextIOWrapper(
        below,
        encoding=original.encoding,
        errors=original.errors,
        line_buffering=bool(original.line_buffering),
        write_through=bool(getattr(original, "write_through", False)),
    )
    sys.stdout = output
    try:
        yield
    finally:
        sys.stdout = original
        with contextlib.suppress(OSError, ValueError):
            output.flush()


@contextlib.contextmanager
def _stdout_even_closed() -> Iterator[None]:
    if sys.stdout is not None:
        yield
        return
    sys.stdout = _ClosedOutput()
    try:
        yield
    finally:
        sys.stdout = None


_ESCAPE = "rds_guard.escape"
"""The streams' error handler while a command runs (`_escape`)."""


def _escape(error: UnicodeError) -> tuple[str | bytes, int]:
    """What the terminal's encoding cannot show: an argument's undecodable bytes (kept as
    surrogates, Python's ``surrogateescape``) written back as they came; any other character
    as a backslash escape (``\\xe9``)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    # Python hands over a whole run that cannot be encoded: its leading characters of one
    # kind are answered, and it asks again for the rest
    escaped = [0xDC80 <= ord(char) <= 0xDCFF for char in text]
    same = next((i for i, kind in enumerate(escaped) if kind != escaped[0]), len(text))
    end = error.start + same
    if escaped[0]:
        return bytes(ord(char) - 0xDC00 for char in text[:same]), end
    return text[:same].encode("ascii", "backslashreplace").decode("ascii"), end


codecs.register_error(_ESCAPE, _escape)


@contextlib.contextmanager
def _unencodable_escaped() -> Iterator[None]:
    """Print what the terminal's encoding cannot show escaped (`_escape`), not an error
    halfway through the output, then put the streams back as they were. Under a C locale
    without UTF-8 mode the streams take ``surrogateescape``, which fails on a policy's
    ``é`` as ``strict`` does."""
    changed: list[tuple[io.TextIOWrapper, str]] = []
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        errors = stream.errors
        if errors in ("strict", "surrogateescape"):
            with contextlib.suppress(ValueError, OSError):  # closed, or not changeable now
                stream.reconfigure(errors=_ESCAPE)
                changed.append((stream, errors))
    try:
        yield
    finally:
        for stream, errors in changed:
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return _exit_code(exc.code)
    except BrokenPipeError:  # --help | head -0
        return _reader_gone()
    except OSError as exc:  # --help or --version into a full disk
        return _output_lost(exc)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with library_warnings():
            return func(args)
    except UsageError as exc:
        return _fail(str(exc))
    except AuditError as exc:
        return _fail(exc.detail)
    except (BotoCoreError, ClientError) as exc:
        return _fail(_aws_error_text(exc, args))
    except (PolicyError, ClientSettingsError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        if exc.filename == _STDOUT:  # what is still buffered would fail again at the end
            return _output_lost(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # the contract: one line, never a traceback
        return _fail(f"unexpected {type(exc).__name__}: {exc}")


def _fail(message: str) -> int:
    try:
        # a URL's password (an endpoint given as http://user:password@host) is no output
        line = printable(without_signing_values(" ".join(message.splitlines())))
        print(f"{PROG}: error: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # a stderr that cannot take it (2>/dev/full): still exit 2
        _write_nowhere(sys.stderr)
    return 2


def _aws_error_text(error: BotoCoreError | ClientError, args: argparse.Namespace) -> str:
    """One line saying what went wrong talking to AWS, and what to do about it with the
    options this command has."""
    if isinstance(error, NoCredentialsError):
        profile = "--profile" if "profile" in args else "AWS_PROFILE"
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,"
            f" or name a profile with {profile}"
        )
    if isinstance(error, NoRegionError):
        if "region" in args:
            return "no AWS region: pass --region or set AWS_DEFAULT_REGION"
        # the other commands that reach AWS are the ledger's
        return (
            "no AWS region: name the ledger's (dynamodb://TABLE?region=R, or region in"
            " [audit.ledger]) or set AWS_DEFAULT_REGION"
        )
    if isinstance(error, (EndpointConnectionError, ReadTimeoutError)):
        return f"cannot reach the service: {error}"
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    missing = _MISSING.get(str(code))
    if missing is not None:  # AWS names neither the table nor the bucket
        what, option = missing
        given = getattr(args, option, None)
        return f"{what}{f' {given}' if given is not None else ''} is not there: {error}"
    return str(error)


_MISSING = {
    "ResourceNotFoundException": ("the ledger's table", "ledger"),
    "NoSuchBucket": ("the checkpoints' bucket", "checkpoints"),
}
"""An AWS error saying the ledger's table or the checkpoints' bucket is not there: what to
call it, and the option that may name it."""


def _reader_gone() -> int:
    """After a closed pipe where standard output is not `_PipeOutput` (``| head`` as the
    command runs: it is cut short, its verdict not known), exit 1 and keep the exit-time
    flush from printing an error."""
    _write_nowhere(sys.stdout)
    return 1


def _output_lost(error: OSError) -> int:
    """Exit 2 saying why the output could not be written; what is left of it goes nowhere."""
    _write_nowhere(sys.stdout)
    where = f"{error.filename}: " if error.filename else ""
    return _fail(f"{where}{error.strerror or error}")


def _write_nowhere(stream: TextIO | io.IOBase | None) -> None:
    """Point ``stream``'s descriptor at /dev/null, so that what it still holds goes there at
    exit rather than failing again (which would make the exit code Python's 120)."""
    if stream is None:  # started with it closed
        return
    with contextlib.suppress(OSError, ValueError):
        target = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, target)
        finally:
            os.close(devnull)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 2

"""What the ``rds-guard`` commands share, each written once: the parser whose errors are one
line, `UsageError`, printing escaped report lines, JSON and the library's warnings, the
progress line of long work (`Progress`, ``--quiet``), the ``--key-env``, ``--policy`` and
``--service`` options, the policy a command runs with, times, and the existing-file check.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import stat
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO
from urllib.parse import urlsplit

from rds_guard import audit
from rds_guard.audit.redact import without_signing_values
from rds_guard.core.operations import SERVICES
from rds_guard.core.policy import (
    DEFAULT_POLICY_FILE,
    POLICY_ENV,
    REGION_NAME,
    Policy,
    find_policy_path,
    resolve_policy,
    working_directory,
)
from rds_guard.core.positions import shown
from rds_guard.core.rules import escape_char
from rds_guard.core.templates import ENV_NAME

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

PROG = "rds-guard"
"""The command's name, in usage lines and error messages."""


class UsageError(Exception):
    """A command cannot run as asked: reported as one line on stderr, exit 2."""


class Once(argparse.Action):
    """An option that takes one value, given once: argparse keeps the last of several, and a
    second ``--head`` would drop the first without a word (the check the user asked for)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: set[str] = namespace.__dict__.setdefault(_GIVEN, set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given twice (it takes one value)")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


_GIVEN = "_options_given"
"""Where `Once` keeps the options given so far, on the namespace being parsed (taken off it
once parsed: `Parser.parse_known_args`)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), not usage + error,
    and whose options of one value may be given once (`Once`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, Once)
        self.register("action", "store", Once)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """As argparse parses, without what `Once` kept on the namespace while it did."""
        parsed, rest = super().parse_known_args(args, namespace)
        vars(parsed).pop(_GIVEN, None)
        return parsed, rest

    def error(self, message: str) -> NoReturn:
        """A usage error: one line and exit 2, never a traceback (argparse quotes arguments
        as given in some messages: escaped)."""
        self.exit(2, f"{self.prog}: error: {printable(message)} (see --help)\n")

    # argparse's own print_usage, print_help, exit and "version" action write through a
    # private method that ignores a failed write (--help into a full disk exited 0): these
    # write themselves, and a failed write raises (exit 2, see `main`)

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        """The usage line, on ``file`` (stdout)."""
        _write(self.format_usage(), file or sys.stdout)

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        """The help text, on ``file`` (stdout)."""
        _write(self.format_help(), file or sys.stdout)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        """``message`` on stderr, then exit with ``status``."""
        if message:
            _write(message, sys.stderr)
        sys.exit(status)


def _write(text: str, file: SupportsWrite[str] | None) -> None:
    """``text`` on ``file``; nothing when there is none (Python started with it closed: as
    ``print`` does), and a failed write raises."""
    if file is not None:
        file.write(text)


class VersionAction(argparse.Action):
    """``--version``: the version on stdout, then exit 0 (argparse's "version" action writes
    through the parser's private method)."""

    def __init__(
        self,
        option_strings: list[str],
        version: str,
        dest: str = argparse.SUPPRESS,
        default: str = argparse.SUPPRESS,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)
        self.version = version

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        _write(self.version + "\n", sys.stdout)
        parser.exit()


# --- output ---------------------------------------------------------------------------------

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` with control, format and separator characters escaped: one terminal line."""
    if text.isascii() and text.isprintable():  # the usual cell: nothing to escape
        return text
    return "".join(
        escape_char(char) if unicodedata.category(char) in _UNSAFE_CATEGORIES else char
        for char in text
    )


def print_lines(lines: Iterable[str]) -> None:
    """Print report lines, each escaped to stay one terminal line (values come from outside)."""
    for line in lines:
        print(printable(line))


def print_json(document: object) -> None:
    """Print ``document`` as one indented JSON document, ASCII only."""
    print(json.dumps(document, ensure_ascii=True, indent=2))


class _WarningLines(logging.Handler):
    """Each warning of logger ``rds_guard`` as one ``rds-guard: warning: ...`` line on the
    stderr of the moment (the library warns, for example, about a policy's ``services``)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = " ".join(record.getMessage().splitlines())
        except Exception:  # a bad format string: logging's own report, never a traceback here
            self.handleError(record)
            return
        print(f"{PROG}: warning: {printable(message)}", file=sys.stderr)


@contextlib.contextmanager
def library_warnings() -> Iterator[None]:
    """While the block runs, the library's warnings are one line each on stderr."""
    logger = logging.getLogger("rds_guard")
    handler = _WarningLines(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class Progress:
    """One line on stderr saying how far long work has got, rewritten in place and cleared at
    the end. Shown only when stderr is a terminal and not ``quiet``: a pipe, a file or a CI
    log gets nothing. `show` is cheap to call often: the line is redrawn at most every
    ``interval`` seconds."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and _is_terminal(self._stream)
        self._interval = interval
        self._clock = clock
        self._drawn = -math.inf
        self._shown = False

    def show(self, text: str) -> None:
        """Say ``text`` (one line), unless the line was redrawn less than ``interval`` ago."""
        if not self.enabled or self._clock() - self._drawn < self._interval:
            return
        self._drawn = self._clock()
        self._stream.write(f"\r{printable(text)}\x1b[K")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        """Clear the line, so that what the command prints next starts on a clean one."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress line (there is none anyway when stderr is not a terminal)."""
    parser.add_argument(
        "--quiet", action="store_true", help="no progress on stderr (shown only on a terminal)"
    )


# --- options and the values behind them -----------------------------------------------------

POLICY_HELP = f"the policy file (default: ${POLICY_ENV}, then ./{DEFAULT_POLICY_FILE})"
"""The help of every argument naming a policy file."""


def add_policy(parser: argparse._ActionsContainer, more_help: str = "") -> None:
    """``--policy P`` (``more_help`` is appended to its help; on a parser or a group)."""
    parser.add_argument("--policy", metavar="P", help=POLICY_HELP + more_help)


def add_service(parser: argparse.ArgumentParser) -> None:
    """``--service S``: rds (default), docdb or neptune."""
    parser.add_argument(
        "--service",
        choices=SERVICES,
        default="rds",
        metavar="S",
        help="rds (default), docdb or neptune",
    )


def add_log_key(parser: argparse.ArgumentParser) -> None:
    """``--key-env VAR | --policy P``: the audit log's HMAC key, from a variable or from the
    variable a policy's ``audit.hmac_key_env`` names (see `log_key`)."""
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--key-env",
        type=variable_name,
        metavar="VAR",
        help="environment variable holding the HMAC key (the policy's audit.hmac_key_env)",
    )
    key.add_argument(
        "--policy",
        metavar="P",
        help="take the key from the variable the policy's audit.hmac_key_env names",
    )


def log_key(args: argparse.Namespace) -> bytes | None:
    """The key `add_log_key`'s arguments name (None: no key); an unset variable is a
    `UsageError` saying which."""
    if args.policy is None:
        return hmac_key(args.key_env)
    return _key_in(resolve_policy(args.policy).audit.hmac_key_env, f"--policy {args.policy}")


def add_keyed_log(parser: argparse.ArgumentParser) -> None:
    """``PATH [--key-env VAR | --policy P]``: one log file and where its HMAC key is."""
    parser.add_argument("path", metavar="PATH", help="the log file")
    add_log_key(parser)


def keyed_log(args: argparse.Namespace) -> tuple[Path, bytes | None]:
    """The log file and the key that `add_keyed_log`'s arguments name (the key is read
    first: an unset variable is reported before a missing file)."""
    key = log_key(args)
    return existing_file(args.path), key


def hmac_key(variable: str | None) -> bytes | None:
    """The HMAC key held by ``--key-env`` ``variable`` (None: no key); unset: `UsageError`."""
    return _key_in(variable, f"--key-env {variable}")


def _key_in(variable: str | None, option: str) -> bytes | None:
    """The key ``variable`` holds (None: no variable); unset: a `UsageError` naming ``option``."""
    if variable is None:
        return None
    try:
        return audit.key_from_env(variable)
    except audit.MissingKey as exc:
        raise UsageError(f"{option}: {exc}") from None


def policy_if_any(path: str | None) -> Policy | None:
    """The policy at ``path``, else the one `install` would find, else None (nothing to find)."""
    found = path if path is not None else find_policy_path()
    return None if found is None else resolve_policy(found)


def policy_for(path: str | None, how: str) -> Policy:
    """The policy at ``path``, else the one `install` would find; none: a `UsageError` that
    says ``how`` to name one."""
    policy = policy_if_any(path)
    if policy is None:
        raise UsageError(
            f"no policy: {how}, set {POLICY_ENV}, or create ./{DEFAULT_POLICY_FILE}"
            f" (in {working_directory()})"
        )
    return policy


def iso_time(text: str) -> datetime:
    """An argparse type for an ISO 8601 time (``--since``, ``--snapshot-created``): an aware
    datetime; one given without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-11-01T00:00:00Z, got {shown(text)}"
        ) from None
    from rds_guard.core.decide import in_utc

    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        in_utc(moment, repr(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return moment


def whole_number(text: str) -> int | None:
    """``text`` as a whole number written in ASCII digits (a sign and blanks around allowed),
    or None: ``int()`` alone also reads ``１２`` (full-width digits) and ``1_000``, which
    nobody types as a number on the command line."""
    if not text.isascii() or "_" in text:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def days(text: str) -> int:
    """An argparse type for a number of days: a whole number from 1 to 36,500 (100 years, the
    longest S3 Object Lock retention, and the policy's limit on ``minimum_age_days``)."""
    number = whole_number(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}")
    if not 1 <= number <= MOST_DAYS:
        raise argparse.ArgumentTypeError(
            f"expected a number of days from 1 to {MOST_DAYS:,} (100 years), got {number}"
        )
    return number


MOST_DAYS = 36500


def variable_name(text: str) -> str:
    """An argparse type for an environment variable's name (letters, digits and ``_``, not
    starting with a digit), as the policy's ``audit.hmac_key_env`` takes."""
    if not ENV_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expected an environment variable's name (letters, digits and '_', not starting"
            f" with a digit), got {shown(text)}"
        )
    return text


def non_empty(text: str) -> str:
    """An argparse type for a name that may not be empty."""
    if not text:
        raise argparse.ArgumentTypeError("expected a name, got an empty one")
    return text


def region_name(text: str) -> str:
    """An argparse type for ``--region``: a region's name (botocore would build
    ``rds..amazonaws.com`` from an empty one, and send one ending in a newline)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty region: name one (us-east-1) or leave it out")
    if not REGION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a region's name: {shown(text)} (us-east-1, say)")
    return text


def endpoint_url(text: str) -> str:
    """An argparse type for ``--endpoint-url``: an http(s) URL with a host, and a port in
    range when it names one (botocore would take it, and fail at the first request)."""
    shown = without_signing_values(repr(text))  # argparse prints it: no password
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        # urllib's "Port could not be cast..." quotes a password's start (one with # or ?)
        raise argparse.ArgumentTypeError(f"{without_signing_values(str(exc))}: {shown}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL with a host, got {shown}"
        )
    return text


def existing_file(text: str) -> Path:
    """The regular file ``text`` names; missing, not a regular file or not to be looked at
    (a symbolic link loop, a directory on the way that may not be searched): `UsageError`
    saying which."""
    if not text:
        raise UsageError("an empty path: name a file")
    path = Path(text)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{path}: {why}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path}: not a regular file")
    return path

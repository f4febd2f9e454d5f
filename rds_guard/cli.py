"""The ``rds-guard`` command (also ``python -m rds_guard``).

One function per command (``cmd_audit_verify`` ...), each taking the parsed arguments and
returning the exit code: 0 fine, 1 a finding, 2 bad usage. ``build_parser`` wires
them up; ``main`` turns every expected error into one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO, TypeAlias

from botocore.exceptions import BotoCoreError, ClientError

from rds_guard import audit, cli_check, cli_eval, cli_reconcile
from rds_guard.core.decide import UNREADABLE, SourceTags, evaluate
from rds_guard.core.operations import SERVICES
from rds_guard.core.policy import (
    DEFAULT_POLICY_FILE,
    POLICY_ENV,
    Policy,
    load_policy,
    resolve_policy,
)
from rds_guard.errors import AuditError, PolicyError
from rds_guard.reconcile import list_snapshots, reconcile

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
    details: str = "",
) -> argparse.ArgumentParser:
    """Add command ``name`` run by ``func``, with ``summary`` and ``example`` in its --help.

    ``details`` (lines already wrapped) follow the summary in the command's own --help.
    """
    parser = parent.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{details}" if details else summary,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _hex64(text: str) -> str:
    value = text.strip().lower()
    if not audit.is_digest(value):
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


def _pair(what: str) -> Callable[[str], tuple[str, str]]:
    """An argparse type for ``NAME=VALUE`` words (split at the first ``=``)."""

    def parse(text: str) -> tuple[str, str]:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return name, value

    return parse


def _moment(text: str) -> datetime:
    """An argparse type for an ISO 8601 time; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-11-01T00:00:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_POLICY_HELP = f"the policy file (default: ${POLICY_ENV}, then ./{DEFAULT_POLICY_FILE})"


def _add_check_command(commands: Subcommands) -> None:
    check = add_command(
        commands,
        "check",
        cmd_check,
        "Validate a policy file and print what it enforces.",
        "rds-guard check rds_guard.toml",
        "Exit 0 with a summary (mode, services, naming, tags, sharing, audit) when the policy\n"
        "loads; exit 2 with one line, PATH:LINE: key: problem, when it does not. Run it in CI.",
    )
    check.add_argument("policy", nargs="?", metavar="POLICY", help=_POLICY_HELP)


def _add_eval_command(commands: Subcommands) -> None:
    evaluate_ = add_command(
        commands,
        "eval",
        cmd_eval,
        "Show what the guard would do to one call, offline.",
        "rds-guard eval CreateDBClusterSnapshot --param DBClusterIdentifier=orders "
        "--param DBClusterSnapshotIdentifier=orders-manual-20261129 --tag team=payments "
        "--tag env=prod\n"
        "  rds-guard eval ModifyDBClusterSnapshotAttribute --param "
        "DBClusterSnapshotIdentifier=orders-manual-20261129 --param AttributeName=restore "
        "--param ValuesToAdd=all --param ValuesToAdd=444455556666 --json",
        "Prints allowed or blocked, the final params, each violation, and the tag keys the\n"
        "policy injected and the source passed on; exit 1 when the call breaks a rule.\n"
        "A list parameter (ValuesToAdd, ValuesToRemove, TagKeys) is built from repeated\n"
        "--param; a boolean one (CopyTags, SkipFinalSnapshot) takes true or false.\n"
        "--source-tag stands for the tags the source passes on (CopyTagsToSnapshot, CopyTags).",
    )
    evaluate_.add_argument("operation", metavar="OPERATION", help="e.g. CreateDBClusterSnapshot")
    evaluate_.add_argument("--policy", metavar="P", help=_POLICY_HELP)
    _add_service(evaluate_)
    evaluate_.add_argument(
        "--region", metavar="R", help="the region {region} renders (default: the configured one)"
    )
    evaluate_.add_argument(
        "--param",
        type=_pair("NAME=VALUE"),
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a request parameter (repeat it for each item of a list parameter)",
    )
    evaluate_.add_argument(
        "--tag",
        type=_pair("KEY=VALUE"),
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tag of the request's Tags, in order",
    )
    source = evaluate_.add_mutually_exclusive_group()
    source.add_argument(
        "--source-tag",
        type=_pair("KEY=VALUE"),
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tag the source passes on (CopyTagsToSnapshot on, or CopyTags=true)",
    )
    source.add_argument(
        "--source-unreadable",
        action="store_true",
        help="the source would pass its tags on, but they cannot be read (tags.inherit)",
    )
    evaluate_.add_argument("--json", action="store_true", help="print the decision as JSON")


def _add_reconcile_command(commands: Subcommands) -> None:
    command = add_command(
        commands,
        "reconcile",
        cmd_reconcile,
        "Hold the audit log against the snapshots the service lists.",
        "rds-guard reconcile --audit rds-guard-audit.jsonl --policy rds_guard.toml "
        "--region eu-west-1 --since 2026-11-01T00:00:00Z",
        "Lists the service's snapshots with read-only Describe calls (every page; the rds API\n"
        "lists DocumentDB and Neptune snapshots too: they are told apart by engine) and reports\n"
        "  pending       calls with no outcome in the log, and whether the snapshot exists now\n"
        "  vanished      snapshots a guarded call created, gone, with no deleted record\n"
        "  unrecorded    manual snapshots no guarded call made (--since leaves older ones out)\n"
        "  noncompliant  recorded snapshots whose tags now break the policy\n"
        "Exit 1 when any list is non-empty. Credentials and region as for the AWS CLI.",
    )
    command.add_argument("--audit", required=True, metavar="PATH", help="the audit log file")
    command.add_argument(
        "--policy", metavar="P", help=_POLICY_HELP + "; none found: tags are not judged"
    )
    _add_service(command)
    command.add_argument("--region", metavar="R", help="default: the configured region")
    command.add_argument("--endpoint-url", metavar="URL", help="talk to this endpoint instead")
    command.add_argument("--profile", metavar="NAME", help="the AWS profile to use")
    command.add_argument(
        "--since",
        type=_moment,
        metavar="TIME",
        help="leave snapshots created before TIME (ISO 8601; no zone: UTC) out of unrecorded",
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_service(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        choices=SERVICES,
        default="rds",
        metavar="S",
        help="rds (default), docdb or neptune",
    )


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
        epilog="example:\n"
        "  rds-guard check rds_guard.toml\n"
        "  rds-guard eval CreateDBClusterSnapshot --param DBClusterIdentifier=orders "
        "--tag team=payments\n"
        "  rds-guard reconcile --audit rds-guard-audit.jsonl --policy rds_guard.toml\n"
        "  rds-guard audit verify rds-guard-audit.jsonl\n"
        "\n'rds-guard COMMAND --help' explains each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(metavar="COMMAND", parser_class=_Parser)
    _add_check_command(commands)
    _add_eval_command(commands)
    _add_reconcile_command(commands)
    _add_audit_commands(commands)
    return parser


# --- helpers shared by the commands ---------------------------------------------------------


def _hmac_key(variable: str | None) -> bytes | None:
    """The HMAC key held by the environment variable ``variable`` (its UTF-8 bytes)."""
    if variable is None:
        return None
    try:
        return audit.key_from_env(variable)
    except audit.MissingKey as exc:
        raise UsageError(f"--key-env {variable}: {exc}") from None


def _print_lines(lines: Iterable[str]) -> None:
    """Print report lines, each escaped to stay one terminal line (values come from outside)."""
    for line in lines:
        print(_printable(line))


def _print_json(document: object) -> None:
    print(json.dumps(document, ensure_ascii=True, indent=2))


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


# --- check, eval, reconcile ----------------------------------------------------------------


def _discoverable() -> bool:
    return POLICY_ENV in os.environ or Path(DEFAULT_POLICY_FILE).is_file()


def _policy(path: str | None, how: str) -> Policy:
    """The policy at ``path``, else the one `install` would find (``how``: how to name one)."""
    if path is None and not _discoverable():
        raise UsageError(
            f"no policy: {how}, set {POLICY_ENV}, or create ./{DEFAULT_POLICY_FILE}"
            f" (in {Path.cwd()})"
        )
    return resolve_policy(path)


def cmd_check(args: argparse.Namespace) -> int:
    """``rds-guard check [POLICY]``."""
    policy = _policy(args.policy, "name the file (rds-guard check POLICY)")
    _print_lines(cli_check.policy_summary(policy, os.environ))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``rds-guard eval [--policy P] [--service S] [--region R] OPERATION [--param ...] ...``."""
    policy = _policy(args.policy, "pass --policy P")
    try:
        operation = cli_eval.operation_name(args.service, args.operation)
        params = cli_eval.build_params(args.service, operation, args.param, args.tag)
    except cli_eval.ParamError as exc:
        raise UsageError(str(exc)) from None
    source_tags: SourceTags = dict(args.source_tag) if args.source_tag else None
    if args.source_unreadable:
        source_tags = UNREADABLE
    region = args.region or cli_eval.configured_region()
    decision = evaluate(
        policy, operation, params, service=args.service, source_tags=source_tags, region=region
    )
    if args.json:
        _print_json(cli_eval.decision_json(decision))
    else:
        _print_lines(cli_eval.decision_lines(decision, policy))
    return 0 if decision.allowed else 1


def _policy_if_any(path: str | None) -> Policy | None:
    """The policy named, else the one `install` would find, else None (nothing to find)."""
    if path is not None:
        return load_policy(path)
    return resolve_policy(None) if _discoverable() else None


def cmd_reconcile(args: argparse.Namespace) -> int:
    """``rds-guard reconcile --audit PATH [--policy P] [--service S] [--since TIME] ...``."""
    path = _existing_file(args.audit)
    policy = _policy_if_any(args.policy)
    try:
        client = cli_reconcile.make_client(
            args.service, region=args.region, endpoint_url=args.endpoint_url, profile=args.profile
        )
    except ValueError as exc:  # botocore's "Invalid endpoint: ..."
        raise UsageError(str(exc)) from None
    region = client.meta.region_name
    snapshots = list_snapshots(client, args.service)
    records = audit.read_records(path)
    report = reconcile(
        records, snapshots, policy, service=args.service, since=args.since, region=region
    )
    judged = policy is not None and args.service in policy.services
    if args.json:
        if not judged:
            print(
                f"{PROG}: note: no policy covering {args.service}: tags not judged", file=sys.stderr
            )
        _print_json(report.as_dict())
    else:
        _print_lines(
            cli_reconcile.report_lines(
                report, service=args.service, region=region, snapshots=snapshots, judged=judged
            )
        )
    return 0 if report.clean else 1


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
    except (BotoCoreError, ClientError) as exc:
        return _fail(cli_reconcile.aws_error_text(exc))
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

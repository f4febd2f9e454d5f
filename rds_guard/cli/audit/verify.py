"""``rds-guard audit verify PATH... [--head HEX] [--checkpoint SEQ:HEX]... [--key-env VAR |
--policy P] [--json] [--quiet]``: walk the hash chain of a log, several files as one chain
(oldest first); print ``ok: ...`` or each bad line. ``--ledger dynamodb://TABLE [--stream ID]
[--checkpoints s3://BUCKET/PREFIX] [--scan]`` walks every stream of the fleet ledger instead, and
checks its signed checkpoints. Documented in docs/cli.md and docs/ledger.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.verify import verify_ledger
from rds_guard.audit.verify import seq_number
from rds_guard.core.positions import shown

from ..common import (
    Progress,
    UsageError,
    add_log_key,
    add_quiet,
    existing_file,
    log_key,
    print_json,
    print_lines,
)
from ..ledger.options import add_checkpoints, add_ledger, add_scan, find_stream, ledger_from
from ..throughput import Throughput

HELP = """Walk the hash chain of a log (several files: oldest first, one chain).

Prints ok: N records, head HEX (exit 0), or line N: REASON: FILE: detail for every bad line
(exit 1). A keyed log needs its key (--key-env or --policy); without it, and for a file that
is not an audit log at all, exit 2. With --ledger, walks every stream of the fleet ledger
(or --stream ID) the same way, reports forks and one log under two streams, and with
--checkpoints (or --policy naming this table's) checks every signed checkpoint and holds the
ledger to them (reasons fork, missing-stream, checkpoint, duplicate-stream; without them, ok
says "no checkpoints checked"); --scan also walks every stream the table holds that no
marker lists (unlisted-stream)."""
EXAMPLE = (
    "rds-guard audit verify rds-guard-audit.jsonl.1-5000 rds-guard-audit.jsonl "
    "--checkpoint 4200:3f2a..."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--head HEX] [--checkpoint SEQ:HEX]... [--key-env VAR | --policy P] [--json]``,
    or ``--ledger L [--stream ID] [--checkpoints S3] [--scan]`` instead of the paths."""
    parser.add_argument("paths", nargs="*", metavar="PATH", help="log files, oldest first")
    parser.add_argument(
        "--head",
        type=_hex64,
        metavar="HEX",
        help="the head the log must end with (catches records cut off at the end)",
    )
    parser.add_argument(
        "--checkpoint",
        type=_checkpoint,
        action="append",
        default=[],
        metavar="SEQ:HEX",
        help="a head saved earlier (rds-guard audit head): the record at SEQ must still have"
        " that digest, however the log has grown since (repeat it for several)",
    )
    add_log_key(parser)
    add_ledger(parser)
    parser.add_argument(
        "--stream", metavar="ID", help="with --ledger: this stream only (its key or its id)"
    )
    add_checkpoints(parser)
    add_scan(parser)
    parser.add_argument(
        "--max-findings",
        type=_findings_cap,
        default=audit.MAX_FINDINGS,
        metavar="N",
        help=f"report up to N findings, then their count (default {audit.MAX_FINDINGS})",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    """Print the verdict on the chain; exit 1 when it is broken."""
    if args.ledger is not None:
        return _run_ledger(args)
    if not args.paths:
        raise UsageError("give the log files to verify, or --ledger dynamodb://TABLE")
    if args.stream or args.checkpoints or args.scan:
        raise UsageError("--stream, --checkpoints and --scan go with --ledger")
    key = log_key(args)
    paths = [existing_file(text) for text in args.paths]
    with Progress(quiet=args.quiet) as progress:
        counts = Throughput(progress, "verify")

        def report(lines: int, done: int, total: int) -> None:
            counts.update(lines, fraction=done / total if total else None)

        result = audit.verify(
            paths,
            hmac_key=key,
            head=args.head,
            checkpoints=args.checkpoint,
            max_findings=args.max_findings,
            progress=report if progress.enabled else None,
        )
    if args.json:
        print_json(result.as_dict())
        return 0 if result.ok else 1
    print_lines(result.lines())
    if result.continues is not None:
        print_lines(
            [
                f"note: {paths[0]} starts with a rotated record: it continues"
                f" {result.continues}, which was not checked"
            ]
        )
    if result.unsealed_end:
        print(
            "note: the log ends with a record of the first format, which nothing but a"
            " checkpoint vouches for: rds-guard audit rotate seals it"
        )
    return 0 if result.ok else 1


def _run_ledger(args: argparse.Namespace) -> int:
    """``verify --ledger``: every stream (or one), its forks, and the checkpoints."""
    if args.paths or args.head or args.checkpoint:
        raise UsageError("--ledger verifies the ledger: give no PATH, --head nor --checkpoint")
    if args.scan and args.stream is not None:
        raise UsageError("--scan finds every stream: give it without --stream")
    key = log_key(args)
    ledger = ledger_from(args.ledger, args.policy)
    history = None
    location = ledger.own_checkpoints(args.checkpoints)
    if location is not None:
        store = ledger.store(location)
        expected = store.key_arn() if store.kms_key else None
        history = read_history(store, expected, ledger.table.name)
    checkpointed = () if history is None else history.heads
    stream = None if args.stream is None else find_stream(ledger.table, args.stream, checkpointed)
    with Progress(quiet=args.quiet) as progress:
        counts = Throughput(progress, "verify --ledger")
        result = verify_ledger(
            ledger.table,
            stream=stream,
            hmac_key=key,
            history=history,
            max_findings=args.max_findings,
            progress=counts.update if progress.enabled else None,
            scan=args.scan,
        )
    if args.json:
        print_json(result.as_dict())
    else:
        print_lines(result.lines())
    return 0 if result.ok else 1


def _hex64(text: str) -> str:
    """An argparse type for a digest: 64 hex digits, lowercased."""
    value = text.strip().lower()
    if not audit.is_digest(value):
        raise argparse.ArgumentTypeError(f"expected 64 hex digits, got {shown(text)}")
    return value


def _checkpoint(text: str) -> audit.Checkpoint:
    """An argparse type for ``SEQ:HEX``."""
    try:
        return audit.parse_checkpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _findings_cap(text: str) -> int:
    """An argparse type for ``--max-findings``: a whole number from 1."""
    number = seq_number(text.strip())
    if number is None:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, got {shown(text)}")
    return number

"""``rds-guard audit verify PATH... [--head HEX] [--checkpoint SEQ:HEX]... [--key-env VAR |
--policy P] [--json]``: walk the hash chain of a log, several files as one chain (oldest
first); print ``ok: ...`` or each bad line. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_log_key, existing_file, log_key, print_json, print_lines

HELP = """Walk the hash chain of a log (several files: oldest first, one chain).

Prints ok: N records, head HEX (exit 0), or line N: REASON: detail for every bad line
(exit 1). A keyed log needs its key (--key-env or --policy); without it, and for a file that
is not an audit log at all, exit 2."""
EXAMPLE = (
    "rds-guard audit verify rds-guard-audit.jsonl.1-5000 rds-guard-audit.jsonl "
    "--checkpoint 4200:3f2a..."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--head HEX] [--checkpoint SEQ:HEX]... [--key-env VAR | --policy P] [--json]``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files, oldest first")
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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the verdict on the chain; exit 1 when it is broken."""
    key = log_key(args)
    paths = [existing_file(text) for text in args.paths]
    result = audit.verify(paths, hmac_key=key, head=args.head, checkpoints=args.checkpoint)
    if args.json:
        print_json(result.as_dict())
        return 0 if result.ok else 1
    print_lines(result.lines())
    if result.continues is not None:
        print(
            f"note: {paths[0]} starts with a rotated record: it continues {result.continues}, "
            "which was not checked"
        )
    if result.unsealed_end:
        print(
            "note: the log ends with a record of the first format, which nothing but a"
            " checkpoint vouches for: rds-guard audit rotate seals it"
        )
    return 0 if result.ok else 1


def _hex64(text: str) -> str:
    """An argparse type for a digest: 64 hex digits, lowercased."""
    value = text.strip().lower()
    if not audit.is_digest(value):
        raise argparse.ArgumentTypeError(f"expected 64 hex digits, got {text!r}")
    return value


def _checkpoint(text: str) -> audit.Checkpoint:
    """An argparse type for ``SEQ:HEX``."""
    try:
        return audit.parse_checkpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

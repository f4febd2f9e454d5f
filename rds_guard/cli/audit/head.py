"""``rds-guard audit head PATH... [--key-env VAR | --policy P] [--json]``: print where a log
stands, ``SEQ:HEX``, to keep somewhere else and hand to ``verify --checkpoint`` later.
Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import UsageError, add_log_key, existing_file, log_key, print_json

HELP = """Print where a log stands: SEQ:HEX, its last record's seq and digest.

Keep it somewhere the log's writers cannot reach (a ticket, a metrics system, another
account); rds-guard audit verify --checkpoint SEQ:HEX later proves that nothing up to it was
rewritten or cut off. The last record is authenticated first (a keyed log needs its key)."""
EXAMPLE = "rds-guard audit head rds-guard-audit.jsonl --key-env RDS_GUARD_AUDIT_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--key-env VAR | --policy P] [--json]``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files, oldest first")
    add_log_key(parser)
    parser.add_argument("--json", action="store_true", help='print {"seq", "head"}')


def run(args: argparse.Namespace) -> int:
    """Print the log's checkpoint."""
    key = log_key(args)
    paths = [existing_file(text) for text in args.paths]
    checkpoint = audit.head(paths, hmac_key=key)
    if checkpoint.seq == 0:  # "0:000..." would hold nothing, and verify refuses it
        which = f"{paths[0]} holds no record" if len(paths) == 1 else "no file holds a record"
        raise UsageError(f"{which} yet: there is no checkpoint to keep")
    if args.json:
        print_json({"seq": checkpoint.seq, "head": checkpoint.digest})
    else:
        print(checkpoint)
    return 0

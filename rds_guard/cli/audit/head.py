"""``rds-guard audit head PATH... [--key-env VAR | --policy P] [--json]``: print where a log
stands, ``SEQ:HEX``, to keep somewhere else and hand to ``verify --checkpoint`` later.
Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_log_key, existing_file, log_key, print_json

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
    checkpoint = audit.head([existing_file(text) for text in args.paths], hmac_key=key)
    if args.json:
        print_json({"seq": checkpoint.seq, "head": checkpoint.digest})
    else:
        print(checkpoint)
    return 0

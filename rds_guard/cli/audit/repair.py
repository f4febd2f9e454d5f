"""``rds-guard audit repair PATH [--key-env VAR | --policy P] [--dry-run] [--force] [--json]``:
move the damage (from the first line that is not a record on) to ``PATH.damaged-<time>`` so
guarded calls can go on, and print what it moved. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_keyed_log, keyed_log, print_json, print_lines

HELP = """Move damaged lines to PATH.damaged-<time> so guarded calls can go on.

The damage starts at the first complete line that is not a record (or a torn final line).
When complete records follow it, repair refuses (exit 1, saying what it would move): they
may be authentic; --force moves everything from the damage on, a deliberate act recorded in
the repaired record, and the one way out of a last record that fails authentication.
--dry-run says what would be done and changes nothing. Records are never rewritten."""
EXAMPLE = "rds-guard audit repair rds-guard-audit.jsonl --dry-run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH [--key-env VAR | --policy P] [--dry-run] [--force] [--json]``."""
    add_keyed_log(parser)
    parser.add_argument("--dry-run", action="store_true", help="say what would be moved")
    parser.add_argument(
        "--force",
        action="store_true",
        help="move everything from the damage on, authentic-looking records included",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Repair the log and print what was moved (or would be, or why not); exit 1 refused."""
    path, key = keyed_log(args)
    result = audit.repair(path, hmac_key=key, force=args.force, dry_run=args.dry_run)
    if args.json:
        print_json(
            {
                "repaired": result.repaired,
                "refused": result.refused,
                "dry_run": result.dry_run,
                "forced": result.forced or None,
                "why": result.why or None,
                "first_line": result.first_line or None,
                "lines_moved": result.lines_moved,
                "records_moved": result.records_moved,
                "bytes_moved": result.bytes_moved,
                "moved_to": None if result.moved_to is None else str(result.moved_to),
                "dropped_sha256": result.dropped_sha256 or None,
                "kept": result.kept or None,
            }
        )
    else:
        print_lines([result.describe()])
    return 1 if result.refused is not None else 0

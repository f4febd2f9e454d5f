"""``rds-guard audit rotate PATH [--key-env VAR]``: rename the log to
``PATH.<first seq>-<last seq>`` and start a new file whose first record continues its chain.
Documented in docs/cli.md (and the chain across files in docs/audit.md).
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_keyed_log, keyed_log, print_lines

HELP = (
    "Rename the log to PATH.<first seq>-<last seq> and start a new file that continues its chain."
)
EXAMPLE = (
    "RDS_GUARD_AUDIT_KEY=... rds-guard audit rotate rds-guard-audit.jsonl "
    "--key-env RDS_GUARD_AUDIT_KEY"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH [--key-env VAR]``: the log to rotate and the variable holding its key."""
    add_keyed_log(parser)


def run(args: argparse.Namespace) -> int:
    """Rotate the log (an empty one: say so) and print where it went."""
    path, key = keyed_log(args)
    if path.stat().st_size == 0:
        print_lines([f"nothing to rotate: {path} is empty"])
        return 0
    archive = audit.rotate(path, hmac_key=key)
    print_lines([f"rotated: {path} -> {archive}; {path} now starts with a rotated record"])
    return 0

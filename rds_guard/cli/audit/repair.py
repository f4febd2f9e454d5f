"""``rds-guard audit repair PATH [--key-env VAR]``: move the damage (from the first line that
is not a record on) to ``PATH.damaged-<time>`` so guarded calls can go on, and print what it
moved. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_keyed_log, keyed_log

HELP = (
    "Move damaged lines (from the first line that is not a record on) to "
    "PATH.damaged-<time> so guarded calls can go on."
)
EXAMPLE = "rds-guard audit repair rds-guard-audit.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH [--key-env VAR]``: the log to repair and the variable holding its key."""
    add_keyed_log(parser)


def run(args: argparse.Namespace) -> int:
    """Repair the log and print what was moved (or that there was nothing to repair)."""
    path, key = keyed_log(args)
    print(audit.repair(path, hmac_key=key).describe())
    return 0

"""``rds-guard audit verify PATH... [--head HEX] [--key-env VAR]``: walk the hash chain of a
log, several files as one chain (oldest first); print ``ok: ...`` or each bad line.
Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse

from rds_guard import audit

from ..common import add_key_env, existing_file, hmac_key

HELP = "Walk the hash chain of a log (several files: oldest first, one chain)."
EXAMPLE = "rds-guard audit verify rds-guard-audit.jsonl.1-5000 rds-guard-audit.jsonl --head 3f2a..."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--head HEX] [--key-env VAR]``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files, oldest first")
    parser.add_argument(
        "--head",
        type=_hex64,
        metavar="HEX",
        help="the head the log must end with (catches records cut off at the end)",
    )
    add_key_env(parser)


def run(args: argparse.Namespace) -> int:
    """Print the verdict on the chain; exit 1 when it is broken."""
    key = hmac_key(args.key_env)
    paths = [existing_file(text) for text in args.paths]
    result = audit.verify(paths, hmac_key=key, head=args.head)
    print(result.summary())
    if result.ok and result.continues is not None:
        print(
            f"note: {paths[0]} starts with a rotated record: it continues {result.continues}, "
            "which was not checked"
        )
    return 0 if result.ok else 1


def _hex64(text: str) -> str:
    """An argparse type for a digest: 64 hex digits, lowercased."""
    value = text.strip().lower()
    if not audit.is_digest(value):
        raise argparse.ArgumentTypeError(f"expected 64 hex digits, got {text!r}")
    return value

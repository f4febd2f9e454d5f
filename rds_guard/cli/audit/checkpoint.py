"""``rds-guard audit checkpoint [--policy P] [--ledger dynamodb://TABLE] [--checkpoints
s3://BUCKET/PREFIX] [--kms-key KEY] [--scan] [--json]``: write the next signed checkpoint of the
ledger to S3. Documented in docs/ledger.md.
"""

from __future__ import annotations

import argparse
import json

from rds_guard.audit.ledger.checkpoints import Checkpoint, write_checkpoint

from ..common import UsageError, add_policy, print_json, print_lines
from ..ledger.options import add_checkpoints, add_ledger, add_scan, kms_key_arg, ledger_from

HELP = """Write the next signed checkpoint of the fleet ledger to S3.

Records where every stream stands (its last seq and the SHA-256 of that record), signed with
the asymmetric KMS key (ECDSA_SHA_256), create-only into a bucket with Object Lock. Each
stream is first held to the previous checkpoint: one that shrank, vanished, changed at its
old head or whose new records do not follow on is a finding (exit 1), and the new checkpoint
keeps it where the previous one had it. --scan also finds every stream the table holds, not
only those its index lists (a stream no marker lists is pinned all the same, and is a
finding). The ledger, bucket and key come from the options or from the policy's
[audit.ledger]."""
EXAMPLE = "rds-guard audit checkpoint --policy rds_guard.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[--policy P] [--ledger L] [--checkpoints S3] [--kms-key KEY] [--scan] [--json]``."""
    add_policy(parser, " whose [audit.ledger] names the ledger, bucket and key")
    add_ledger(parser)
    add_checkpoints(parser)
    parser.add_argument(
        "--kms-key",
        type=kms_key_arg,
        metavar="KEY",
        help="the asymmetric KMS key that signs (id, ARN or alias)",
    )
    add_scan(parser)
    parser.add_argument("--json", action="store_true", help="print the checkpoint as JSON")


def run(args: argparse.Namespace) -> int:
    """Write one checkpoint; exit 1 when a stream is not consistent with the last one."""
    ledger = ledger_from(args.ledger, args.policy)
    location = ledger.checkpoints(args.checkpoints)
    key = args.kms_key or ledger.kms_key
    if location is None or key is None:
        raise UsageError(
            "a checkpoint needs a bucket and a key: --checkpoints s3://BUCKET/PREFIX and "
            "--kms-key KEY, or a policy whose [audit.ledger] names checkpoints and kms_key"
        )
    store = ledger.store(location, key)
    outcome = write_checkpoint(ledger.table, store, scan=args.scan)
    checkpoint = outcome.checkpoint
    if args.json:
        print_json(
            {
                "written": checkpoint is not None,
                "object": f"s3://{location.bucket}/{outcome.key}" if checkpoint else None,
                "checkpoint": None if checkpoint is None else _document(checkpoint),
                "findings": outcome.findings,
            }
        )
    elif checkpoint is None:
        print("no checkpoint written: others kept taking the next number; try again")
    else:
        print(
            f"checkpoint {checkpoint.number}: s3://{location.bucket}/{outcome.key}, "
            f"{len(checkpoint.streams)} stream(s), signed with {checkpoint.key}"
        )
        print_lines(
            f"  {head.stream}: seq {head.size}, head {head.head}" for head in checkpoint.streams
        )
    if not args.json:
        print_lines(f"finding: {finding}" for finding in outcome.findings)
    if checkpoint is None:
        return 2
    return 1 if outcome.findings else 0


def _document(checkpoint: Checkpoint) -> object:
    """The checkpoint's body, as signed, as JSON values."""
    return json.loads(checkpoint.body())

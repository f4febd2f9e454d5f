"""``rds-guard ledger init [--policy P] [--endpoint-url URL] [--retention-days N]``: create
the ledger's table (and indexes), the checkpoints' bucket (Object Lock) and the signing key
that the policy's ``[audit.ledger]`` names, for development (moto's server, a sandbox
account). Documented in docs/ledger.md.
"""

from __future__ import annotations

import argparse

from rds_guard.audit.ledger.provision import RETENTION_DAYS, Provisioned, provision

from ..common import add_policy, days, endpoint_url, print_json, print_lines
from .options import ledger_from

HELP = """Create the ledger's table, checkpoints bucket and signing key, for development.

Reads the policy's [audit.ledger] (table, region, checkpoints, kms_key) and creates what is
missing: the DynamoDB table with its indexes (on demand), the S3 bucket with versioning and
Object Lock in compliance mode, and an ECC_NIST_P256 signing key under the alias. Production
accounts use examples/ledger.yaml (CloudFormation) instead."""
EXAMPLE = "rds-guard ledger init --policy rds_guard.toml --endpoint-url http://127.0.0.1:5000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[--policy P] [--endpoint-url URL] [--retention-days N] [--json]``."""
    add_policy(parser, " whose [audit.ledger] names the table, bucket and key")
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        metavar="URL",
        help="send every request there (moto's server); default: botocore's configuration",
    )
    parser.add_argument(
        "--retention-days",
        type=days,
        default=RETENTION_DAYS,
        metavar="N",
        help=f"the bucket's default retention, compliance mode (default {RETENTION_DAYS})",
    )
    parser.add_argument("--json", action="store_true", help='print {"made", "found", "unfit"}')


def run(args: argparse.Namespace) -> int:
    """Create what is missing; say what was made and what was there, and exit 1 when
    something there is not what the ledger needs (another table's key, a bucket without
    compliance-mode Object Lock, a key that cannot sign checkpoints)."""
    ledger = ledger_from(
        None,
        args.policy,
        endpoint_url=args.endpoint_url,
        advice="give --policy naming a policy with an [audit.ledger], which says what to make",
    )
    done = Provisioned()
    try:
        provision(
            ledger.clients,
            ledger.location.table,
            ledger.checkpoints(None),
            ledger.kms_key,
            retention_days=args.retention_days,
            done=done,
        )
    except Exception:  # what was made before the error is said all the same (then the error)
        if done.made or done.found or done.unfit:
            _report(done, args.json)
        raise
    _report(done, args.json)
    return 1 if done.unfit else 0


def _report(done: Provisioned, as_json: bool) -> None:
    if as_json:
        print_json({"made": done.made, "found": done.found, "unfit": done.unfit})
    else:
        print_lines([f"made: {what}" for what in done.made])
        print_lines([f"there already: {what}" for what in done.found])
        print_lines([f"there already, not as the ledger needs it: {what}" for what in done.unfit])

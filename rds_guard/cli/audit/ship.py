"""``rds-guard audit ship PATH... [--policy P | --ledger dynamodb://TABLE] [--from SEQ]
[--json] [--quiet]``: send every record the ledger does not hold yet, resuming where the last
run stopped; idempotent. Documented in docs/ledger.md.
"""

from __future__ import annotations

import argparse

from rds_guard.audit.fileio import check_a_log
from rds_guard.audit.ledger import Shipper, ShipRefused, ShipResult
from rds_guard.audit.verify import seq_number
from rds_guard.core.positions import shown

from ..common import Progress, add_policy, add_quiet, existing_file, print_json, print_lines
from ..ledger.options import add_ledger, ledger_from
from ..throughput import Throughput

HELP = """Ship audit logs to the fleet ledger (a DynamoDB table), record for record.

Sends every record of each log (its rotated series included) that the ledger does not hold
yet, resuming from the lowest seq not acknowledged in order; safe to run again at any time,
and beside the guard's own shipping thread. Exit 0 when every record is in the ledger, 1
when a log is refused (a fork: another log shares its first record; or the ledger is ahead
of the local file), 2 when the ledger cannot be reached (the records wait)."""
EXAMPLE = "rds-guard audit ship rds-guard-audit.jsonl --ledger dynamodb://rds-guard-audit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--policy P | --ledger dynamodb://TABLE] [--from SEQ] [--json] [--quiet]``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="live log files (one stream each)")
    source = parser.add_mutually_exclusive_group()
    add_ledger(source)
    add_policy(source, " whose [audit.ledger] names it")
    parser.add_argument(
        "--from",
        dest="start",
        type=_seq,
        metavar="SEQ",
        help="look for records the ledger lacks from this seq on (a record deleted from the"
        " middle of the ledger is put back); default: from the last one acknowledged",
    )
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    """Ship each log; exit 1 when one is refused or lacks records (damaged, or in an archive
    removed), 2 when the ledger cannot be reached."""
    paths = [existing_file(text) for text in args.paths]
    for path in paths:  # a path given by mistake: no log, before anything is sent
        check_a_log(path)
    ledger = ledger_from(args.ledger, args.policy)
    results: list[ShipResult] = []
    refused: list[ShipRefused] = []
    for path in paths:
        shipper = Shipper(path, ledger.table)
        try:
            with Progress(quiet=args.quiet) as progress:
                counts = Throughput(progress, f"ship {path.name}")
                results.append(shipper.ship(timeout=None, start=args.start, progress=counts.update))
        except ShipRefused as exc:
            refused.append(exc)
        finally:
            shipper.close()
    unreachable = [result for result in results if result.error is not None]
    if args.json:
        print_json(
            {
                "logs": [_as_dict(result) for result in results],
                "refused": [{"stream": e.stream, "path": e.path, "why": e.detail} for e in refused],
            }
        )
    else:
        print_lines(result.describe() for result in results)
        print_lines(f"refused: {exc.detail}" for exc in refused)
    if refused or any(result.missing or result.damaged for result in results):
        return 1
    return 2 if unreachable else 0


def _as_dict(result: ShipResult) -> dict[str, object]:
    return {
        "path": str(result.path),
        "stream": result.stream,
        "shipped": result.shipped,
        "already": result.already,
        "acked": result.acked,
        "confirmed": result.confirmed,
        "last": result.last,
        "pending": result.pending,
        "error": result.error,
        "missing": [list(seqs) for seqs in result.missing],
        "damaged": [{"path": path, "offset": offset} for path, offset in result.damaged],
        "damaged_count": result.damaged_count,
    }


def _seq(text: str) -> int:
    number = seq_number(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"expected a seq (1, 2, ...), got {shown(text)}")
    return number

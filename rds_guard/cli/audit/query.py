"""``rds-guard audit query --ledger dynamodb://TABLE --snapshot ID [--key-env VAR | --policy
P] [--json]``: every record of one snapshot, across the fleet's streams (the ledger's
``snapshot`` index), each held to its own digest. Documented in docs/ledger.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import NamedTuple

from rds_guard import audit
from rds_guard.audit.ledger.items import FORK_PART, Item, line_of, not_its_record, number, text

from ..common import PROG, add_log_key, log_key, non_empty, print_json, print_lines, printable
from ..ledger.options import add_ledger, ledger_from

HELP = """Who did what to one snapshot, across the fleet: every record naming it in the ledger.

Prints each record (time, host, stream and seq, event, operation, caller's policy) and
whether its own digest holds (authentic). That a record is authentic says its bytes are as
written; rds-guard audit verify --ledger --stream ID says its whole stream is. Exit 1 when a
record is not authentic, or an item the index lists under the snapshot holds another's
record (a warning names it); a keyed record needs the key (--key-env or --policy), and
under the key a record sealed with plain SHA-256 is NOT KEYED (exit 1)."""
EXAMPLE = (
    "rds-guard audit query --ledger dynamodb://rds-guard-audit --snapshot orders-daily-20261129"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ledger L --snapshot ID [--key-env VAR | --policy P] [--json]``."""
    add_ledger(parser)
    parser.add_argument(
        "--snapshot", required=True, type=non_empty, metavar="ID", help="the snapshot identifier"
    )
    add_log_key(parser)
    parser.add_argument("--json", action="store_true", help="print the records as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the snapshot's records; exit 1 when one is not authentic (under a key: not
    keyed)."""
    key = log_key(args)
    ledger = ledger_from(args.ledger, args.policy)
    snapshot = args.snapshot.lower()
    found = []
    misfiled = []
    for item in ledger.table.by_snapshot(snapshot):
        line = line_of(item) or b""
        record = audit.parse_record(line)
        where = (text(item, "stream") or "", number(item, "seq") or 0)
        # (no record: a NaN, a key given twice; no line a writer writes, nor valid --json)
        problem = _NO_RECORD if record is None else _misfiled(item, record, snapshot, where[1])
        if record is None or problem is not None:
            misfiled.append(f"{where[0]} seq {where[1]}: its item {problem}")
            continue
        found.append((*where, record, _verdict(line, key)))
    # oldest first by the records' own times, not by the items' time attribute
    found.sort(key=lambda row: (str(row[2].get("time")), row[0], row[1]))
    for note in misfiled:
        left_out = f"{note}: the item was edited (verify --ledger reports it); left out"
        print(f"{PROG}: warning: {printable(left_out)}", file=sys.stderr)
    bad = bool(misfiled) or any(verdict.bad for *_, verdict in found)
    if args.json:
        print_json(
            [
                {
                    "stream": stream,
                    "seq": seq,
                    "authentic": verdict.authentic,
                    "keyed": verdict.keyed,
                    "record": record,
                }
                for stream, seq, record, verdict in found
            ]
        )
        return 1 if bad else 0
    if not found:
        print(f"no record of snapshot {snapshot} in {ledger.location}")
        return 1 if bad else 0
    rows = [_row(stream, seq, record, verdict) for stream, seq, record, verdict in found]
    print_lines(_aligned([_HEADER, *rows]))
    return 1 if bad else 0


class _Verdict(NamedTuple):
    """What the RECORD column says of a record, and its JSON."""

    text: str
    authentic: bool | None
    """Its own digest holds (None: keyed, and no key was given)."""
    keyed: bool
    bad: bool
    """Exit 1."""


_AUTHENTIC = _Verdict("authentic", True, False, False)
_AUTHENTIC_KEYED = _Verdict("authentic", True, True, False)
_NOT_AUTHENTIC = _Verdict("NOT AUTHENTIC", False, False, True)
_NO_KEY = _Verdict("keyed (no key given)", None, True, False)
# Under a key, a record sealed without one is what anyone who can write the table can make.
_NOT_KEYED = _Verdict("NOT KEYED (the key was given)", True, False, True)


def _verdict(line: bytes, key: bytes | None) -> _Verdict:
    keyed = audit.chain_of(line) == audit.CHAIN_HMAC
    if keyed and key is None:
        return _NO_KEY
    if not audit.is_authentic(line, key):
        return _NOT_AUTHENTIC
    if key is not None and not keyed:
        return _NOT_KEYED
    return _AUTHENTIC_KEYED if keyed else _AUTHENTIC


def _misfiled(item: Item, record: Mapping[str, object], snapshot: str, seq: int) -> str | None:
    """Why ``item``, at ``seq``, which the index lists under ``snapshot``, holds no record of
    it there (None: it does). The index lists an item by its attributes, which a writer of
    the table can set apart from its line: the record (``item``'s, parsed) may be another
    snapshot's (or none at all), or one copied into an item at another seq, or filed where
    no stream's records are (a fork's key, a marker's or a fork's kind), which the walks of
    the streams never read."""
    kind = text(item, "kind")
    if kind is not None:
        return f"is filed as a {json.dumps(kind)} item, not as a stream's record"
    if FORK_PART in (text(item, "stream") or ""):
        return "is filed under a fork's key, not as a stream's record"
    if record.get("snapshot") != snapshot:
        named = json.dumps(record.get("snapshot"))
        return f"is listed under {snapshot}, but its record names {named}"
    return not_its_record(item, seq)


_NO_RECORD = "holds a line that is no audit record"

_HEADER = ("TIME", "EVENT", "OPERATION", "BY", "POLICY", "STREAM", "SEQ", "RECORD")


def _row(stream: str, seq: int, record: dict[str, object], verdict: _Verdict) -> tuple[str, ...]:
    error = record.get("error")
    event = str(record.get("event"))
    if isinstance(error, dict) and error.get("code"):
        event += f" ({error['code']})"
    return (
        str(record.get("time")),
        event,
        str(record.get("operation")),
        f"{record.get('host')} pid {record.get('pid')}",
        str(record.get("policy") or "-")[:12],
        stream,
        str(seq),
        verdict.text,
    )


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]

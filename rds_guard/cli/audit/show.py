"""``rds-guard audit show PATH [--event E] [--snapshot ID] [--json]``: a log's records as a
readable table, or as JSON lines; a line that is not a record is shown as such (exit 1).
Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TextIO

from rds_guard import audit

from ..common import existing_file, printable

HELP = "Show a log's records as a table, or as JSON lines."
EXAMPLE = "rds-guard audit show rds-guard-audit.jsonl --event blocked --snapshot orders-manual-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH [--event E] [--snapshot ID] [--json]``."""
    parser.add_argument("path", metavar="PATH", help="the log file")
    parser.add_argument("--event", choices=sorted(audit.EVENTS), help="only records of this event")
    parser.add_argument("--snapshot", metavar="ID", help="only records about this snapshot")
    parser.add_argument("--json", action="store_true", help="print the records as JSON lines")


def run(args: argparse.Namespace) -> int:
    """Print the matching records; exit 1 when a line is not a record."""
    path = existing_file(args.path)
    out: TextIO = sys.stdout
    problems: TextIO = sys.stderr if args.json else sys.stdout
    if not args.json:
        print(_TABLE.format("TIME", "EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS"), file=out)
    damaged = False
    for line in audit.iter_lines(path):
        if line.record is None:
            damaged = True
            print(_bad_line_text(line), file=problems)
        elif _matches(line.record, args):
            text = (
                json.dumps(line.record, ensure_ascii=True, separators=(",", ":"))
                if args.json
                else _table_row(line.record)
            )
            print(text, file=out)
    return 1 if damaged else 0


def _matches(record: Mapping[str, object], args: argparse.Namespace) -> bool:
    if args.event is not None and record.get("event") != args.event:
        return False
    snapshot = record.get("snapshot")
    return args.snapshot is None or (
        isinstance(snapshot, str) and snapshot.lower() == args.snapshot.lower()
    )


_TABLE = "{:<27}  {:<9}  {:<32}  {:<30}  {:<20}  {}"


def _table_row(record: Mapping[str, object]) -> str:
    return _TABLE.format(
        _cell(record.get("time")),
        _cell(record.get("event")),
        _cell(record.get("operation")),
        _cell(record.get("snapshot")),
        _outcome_cell(record),
        _tags_cell(record.get("tags")),
    ).rstrip()


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else printable(str(value))


def _tags_cell(tags: object) -> str:
    if not isinstance(tags, Mapping) or not tags:
        return "-"
    return ", ".join(
        f"-{printable(str(key))}" if value is None else f"{printable(str(key))}={_cell(value)}"
        for key, value in tags.items()
    )


def _outcome_cell(record: Mapping[str, object]) -> str:
    """The error code of a failure, else the broken rules, else ``-``."""
    error = record.get("error")
    if isinstance(error, Mapping) and error.get("code"):
        return _cell(error["code"])
    violations = record.get("violations")
    if isinstance(violations, list) and violations:
        rules = (v.get("rule") for v in violations if isinstance(v, Mapping))
        return ",".join(_cell(rule) for rule in rules)
    return "-"


def _bad_line_text(line: audit.LogLine) -> str:
    if not line.complete:
        return f"line {line.number}: torn: {len(line.raw)} bytes with no newline"
    shown = printable(line.raw[:120].decode("utf-8", "replace"))
    more = "..." if len(line.raw) > 120 else ""
    return f"line {line.number}: not a record: {shown}{more}"

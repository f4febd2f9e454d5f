"""``rds-guard audit show PATH... [--event E] [--snapshot ID] [--json]``: the records of a log
(a rotated series: oldest first) as a readable table, or as JSON lines; a line that is not a
record is shown as such (exit 1). Documented in docs/cli.md.

The table's columns are as wide as what they show, up to a cap (a longer cell ends in
``…``), so they stay aligned whatever the snapshot names and the rules broken. The files are
read twice, streaming — once for the widths, once to print — so memory stays flat whatever
the log's size.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from rds_guard import audit

from ..common import existing_file, printable

HELP = (
    "Show a log's records as a table, or as JSON lines.\n"
    "\n"
    "Several files (a rotated series, oldest first) are shown as one log. The OUTCOME\n"
    "column holds the error code of a failure, the rules a call broke, else what the\n"
    "event says (when a presigned URL expires, what a repair moved, what was shared)."
)
EXAMPLE = (
    "rds-guard audit show rds-guard-audit.jsonl.1-5000 rds-guard-audit.jsonl "
    "--event blocked --snapshot orders-manual-1"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH... [--event E] [--snapshot ID] [--json]``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files, oldest first")
    parser.add_argument("--event", choices=sorted(audit.EVENTS), help="only records of this event")
    parser.add_argument("--snapshot", metavar="ID", help="only records about this snapshot")
    parser.add_argument("--json", action="store_true", help="print the records as JSON lines")


def run(args: argparse.Namespace) -> int:
    """Print the matching records; exit 1 when a line is not a record."""
    from rds_guard.audit.verify import distinct_files

    paths = [existing_file(text) for text in args.paths]
    distinct_files(paths)  # a file given twice, by two names, would show its records twice
    out: TextIO = sys.stdout
    problems: TextIO = sys.stderr if args.json else sys.stdout
    named = len(paths) > 1  # a bad line then says which file it is in
    widths: list[int] = []
    if not args.json:
        widths = column_widths(_rows(paths, args))
        print(_table_line(HEADER, widths), file=out)
    damaged = False
    for path, line in _lines(paths):
        if line.record is None:
            damaged = True
            print(_bad_line_text(path if named else None, line), file=problems)
        elif _matches(line.record, args):
            text = (
                json.dumps(line.record, ensure_ascii=True, separators=(",", ":"))
                if args.json
                else _table_line(table_row(line.record), widths)
            )
            print(text, file=out)
    return 1 if damaged else 0


def _lines(paths: Sequence[Path]) -> Iterator[tuple[Path, audit.LogLine]]:
    for path in paths:
        for line in audit.iter_lines(path):
            yield path, line


def _rows(paths: Sequence[Path], args: argparse.Namespace) -> Iterator[list[str]]:
    for _, line in _lines(paths):
        if line.record is not None and _matches(line.record, args):
            yield table_row(line.record)


def _matches(record: Mapping[str, object], args: argparse.Namespace) -> bool:
    if args.event is not None and record.get("event") != args.event:
        return False
    snapshot = record.get("snapshot")
    return args.snapshot is None or (
        isinstance(snapshot, str) and snapshot.lower() == args.snapshot.lower()
    )


# --- the table ------------------------------------------------------------------------------

HEADER = ["TIME", "EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS"]
CAPS = (32, 10, 32, 63, 48)
"""The widest each column but the last (TAGS, never cut) may grow: a cluster snapshot's
identifier fits whole (63), a longer instance snapshot's is cut."""
_GAP = "  "
_CUT = "…"


def column_widths(rows: Iterator[list[str]]) -> list[int]:
    """The width of each column but the last: its widest cell or header, up to its cap."""
    widths = [len(title) for title in HEADER[:-1]]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    return [min(width, cap) for width, cap in zip(widths, CAPS, strict=True)]


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    fitted = [_fit(cell, width).ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return _GAP.join([*fitted, cells[-1]]).rstrip()


def _fit(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + _CUT


def table_row(record: Mapping[str, object]) -> list[str]:
    """A record's cells, escaped to stay on one line: time, event, operation, snapshot,
    outcome, tags."""
    return [
        _cell(record.get("time")),
        _cell(record.get("event")),
        _cell(record.get("operation")),
        _cell(record.get("snapshot")),
        outcome_cell(record),
        _tags_cell(record.get("tags")),
    ]


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else printable(str(value))


def _tags_cell(tags: object) -> str:
    if not isinstance(tags, Mapping) or not tags:
        return "-"
    return ", ".join(
        f"-{printable(str(key))}" if value is None else f"{printable(str(key))}={_cell(value)}"
        for key, value in tags.items()
    )


def _notes(record: Mapping[str, object]) -> str | None:
    notes = record.get("notes")
    if isinstance(notes, list) and notes:
        return "; ".join(str(note) for note in notes)
    return None


def _expires(record: Mapping[str, object]) -> str | None:
    expires = record.get("expires")
    return f"expires {expires}" if expires else None


def _rotated(record: Mapping[str, object]) -> str | None:
    source = record.get("rotated_from")
    return f"continues {source}" if source else None


def _repaired(record: Mapping[str, object]) -> str | None:
    dropped = record.get("dropped_bytes")
    return _notes(record) or (f"dropped {dropped} bytes" if dropped is not None else None)


_EVENT_OUTCOMES: Mapping[str, Callable[[Mapping[str, object]], str | None]] = {
    "presigned": _expires,
    "rotated": _rotated,
    "repaired": _repaired,
}
"""What an event says of itself when it is neither a failure nor a violation (every other
event: its notes, such as the accounts a share added or the bucket of an export)."""


def outcome_cell(record: Mapping[str, object]) -> str:
    """The error code of a failure, else the rules broken, else what the event says of
    itself, else ``-``."""
    error = record.get("error")
    if isinstance(error, Mapping) and error.get("code"):
        return _cell(error["code"])
    violations = record.get("violations")
    if isinstance(violations, list) and violations:
        rules = (v.get("rule") for v in violations if isinstance(v, Mapping))
        return ",".join(_cell(rule) for rule in rules)
    said = _EVENT_OUTCOMES.get(str(record.get("event")), _notes)(record)
    return _cell(said)


def _bad_line_text(path: Path | None, line: audit.LogLine) -> str:
    where = f"{printable(str(path))}: " if path is not None else ""
    if not line.complete:
        return f"{where}line {line.number}: torn: {len(line.raw)} bytes with no newline"
    shown = printable(line.raw[:120].decode("utf-8", "replace"))
    more = "..." if len(line.raw) > 120 else ""
    return f"{where}line {line.number}: not a record: {shown}{more}"

"""Reading a log file line by line, streaming: `iter_lines` and `read_records`; and
`continues`, the archive a log's `rotated` record names.

No lock is taken, but a moment's shared one to read again an end read in the middle of a
line (`settled_blocks`: a write in flight), and nothing is checked beyond "is this line a
record"; the chain is `verify`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import cast

from rds_guard.core.files import open_regular_file
from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import NotAnAuditLog
from .fileio import Lines
from .record import Record, StrPath, may_be_a_cut_record, not_a_cut_record, parse_record
from .settled import settled_blocks
from .torn import no_write_left, torn_detail


@frozen
class LogLine:
    """One line of a log file: its 1-based number, its bytes and the record it holds.

    ``record`` is None for a line that is not a record; ``complete`` is False for a final
    line with no newline (a torn write), which never counts as a record.
    """

    number: int
    raw: bytes
    record: Record | None
    complete: bool = True


def iter_lines(path: StrPath) -> Iterator[LogLine]:
    """Every line of the file with its number, streaming (flat memory). Raises OSError."""
    number = 0
    with open(open_regular_file(path), "rb", buffering=0) as stream:
        lines_of = Lines(settled_blocks(stream.fileno(), path=path), path=path)
        for lines in lines_of:
            for raw in lines:
                number += 1
                yield LogLine(number, raw, parse_record(raw))
    if lines_of.rest:
        yield LogLine(number + 1, lines_of.rest, None, complete=False)


def read_records(
    path: StrPath, *, on_bad_line: Callable[[LogLine], None] | None = None
) -> Iterator[Record]:
    """The records of a log file, oldest first, streaming.

    A line that is not a record goes to ``on_bad_line`` when given; otherwise a complete one
    raises ``AuditError`` naming the file and line, and a torn final line (a cut-off write)
    is skipped, unless it is a whole record lacking only its newline, the one after the last
    (which the next writer keeps): it is read as a record. A final line no write cut off
    leaves (whole records one after another, their newlines removed or made carriage
    returns; past its first MiB, anything but zeros) raises ``AuditError`` too, as a writer
    refuses it (`torn.no_write_left`): never skipped unread. A file of bytes with no newline
    that cannot be a record cut short is `NotAnAuditLog`.
    """
    seq = 0
    for line in iter_lines(path):
        record = line.record if line.complete else _whole_but_its_newline(line.raw, seq)
        if record is not None:
            seq = cast(int, record["seq"])  # parse_record checked it
            yield record
        elif on_bad_line is not None:
            on_bad_line(line)
        elif line.complete:
            raise AuditError(
                f"{path}:{line.number}: line {line.number} is not an audit record",
                path=str(path),
            )
        elif no_write_left(line.raw):
            raise AuditError(f"{path}:{line.number}: {torn_detail(line.raw)}", path=str(path))
        elif line.number == 1 and not may_be_a_cut_record(line.raw):
            raise NotAnAuditLog(os.fspath(path), not_a_cut_record(len(line.raw)))


def _whole_but_its_newline(raw: bytes, seq: int) -> Record | None:
    """The final line ``raw``, without its newline, as the record after the one of ``seq``
    (0: it is the file's only line), or None: a write cut anywhere before its newline leaves
    no JSON, and a line that does not follow is no record a writer keeps."""
    record = parse_record(raw)
    if record is None or (seq and record["seq"] != seq + 1):
        return None
    return record


def continues(record: Mapping[str, object]) -> str | None:
    """The name of the archive a `rotated` record continues: a file beside the log, as
    rotate names it, never a path elsewhere (nor ``.``, ``..``, or a name no file can have);
    None for any other record."""
    source = record.get("rotated_from") if record.get("event") == "rotated" else None
    if not isinstance(source, str) or source in ("", ".", "..") or "/" in source:
        return None
    try:
        os.fsencode(source)  # a lone surrogate the file system's encoding cannot carry
    except UnicodeError:
        return None
    return None if "\x00" in source else source

"""A log's records in seq order across its rotated series, for the shipper: the live file
and, through each ``rotated`` record's ``rotated_from``, the archives before it.

Reading resumes at a `Cursor` (the file, named by its first line, and an offset in it), so
a shipper that keeps up reads each line once; a cursor that no longer fits (the file was
rotated onto another filesystem, repaired, replaced) is dropped and the file read from its
start. Only complete lines are read: a line being written is left for the next round.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from ..fileio import (
    READ_FLAGS,
    Lines,
    first_line,
    line_before,
    read_blocks,
    rfind_newline,
)
from ..read import continues
from ..record import parse_record
from .errors import Reordered, ShipRefused, UnreadableLine
from .items import Item, line_digest, record_item


@frozen
class Cursor:
    """Where a reader stood: in the file whose first line has digest ``file``, the line with
    ``seq`` spanning bytes ``start:end`` (``end`` just past its newline)."""

    file: str
    start: int
    end: int
    seq: int

    def as_dict(self) -> dict[str, object]:
        """The cursor as plain JSON values."""
        return {"file": self.file, "start": self.start, "end": self.end, "seq": self.seq}

    @classmethod
    def from_dict(cls, value: object) -> Cursor | None:
        """The cursor `as_dict` wrote, or None for anything else."""
        if not isinstance(value, dict):
            return None
        file, start, end, seq = (value.get(k) for k in ("file", "start", "end", "seq"))
        if not isinstance(file, str) or not all(type(n) is int for n in (start, end, seq)):
            return None
        cursor = cls(file, int(str(start)), int(str(end)), int(str(seq)))
        # no line is where a negative offset says (os.pread refuses one), nor at seq 0
        return cursor if 0 <= cursor.start < cursor.end and cursor.seq >= 1 else None


@frozen
class LogFile:
    """One file of a series: where it is, its first line and that line's seq."""

    path: Path
    first_line: bytes
    first_seq: int

    @property
    def id(self) -> str:
        """The file's name in a cursor: its first line's digest (the same whether the
        archive is a hard link or a copy)."""
        return line_digest(self.first_line)


@frozen
class Entry:
    """One record line read from the series, and the cursor just past it."""

    seq: int
    line: bytes
    cursor: Cursor


class Junk:
    """The complete lines after the series' last record read that hold no record: how many,
    and where the first `KEPT` are (file, byte offset). Only so many are kept: whoever can
    write the log could append millions of them, and a run must not hold them all."""

    KEPT = 100

    def __init__(self) -> None:
        self.count = 0
        self.lines: list[tuple[str, int]] = []

    def add(self, path: Path, offset: int) -> None:
        """One more such line, at ``offset`` of ``path``."""
        self.count += 1
        if len(self.lines) < self.KEPT:
            self.lines.append((str(path), offset))

    def clear(self) -> None:
        """A record came after them: the gap in the seqs names what they took."""
        self.count = 0
        self.lines.clear()


class Series:
    """The rotated series a log file ends, oldest file first, as far back as its archives
    are still there."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._walked: list[LogFile] = []

    def files(self) -> list[LogFile]:
        """The files of the series, oldest first (empty when the log holds no record yet).

        Goes back through ``rotated_from`` while the archive it names is in the same folder
        and holds the record before. The walk is kept while the live file starts with the
        same record: an archive's first line never changes, and a long-lived shipper (the
        guard's, once per record) must not reopen every archive of a long series each time.
        """
        first = _first_record_line(self.path)
        if first is not None and self._walked and self._walked[-1].first_line == first:
            return list(self._walked)
        found: list[LogFile] = []
        path = self.path
        while first is not None:
            record = parse_record(first)
            if record is None:
                break
            seq = cast(int, record["seq"])
            if found and seq >= found[0].first_seq:
                break  # an archive that does not come before: not this series
            found.insert(0, LogFile(path, first, seq))
            source = continues(record)
            if source is None:
                break
            path = self.path.with_name(source)
            first = _first_record_line(path)
        self._walked = found
        return list(found)

    def starts_with_junk(self) -> bool:
        """Whether the live file starts with a complete line that holds no record: the series
        cannot be walked from it (`files` is empty), so no record of it is shipped."""
        first = _first_complete_line(self.path)
        return first is not None and _record_seq(first) is None

    def first_line(self) -> bytes | None:
        """The series' first record (seq 1), when its file was there when the series was
        walked."""
        files = self.files()
        if files and files[0].first_seq == 1:
            return files[0].first_line
        return None

    def last(self) -> tuple[int, bytes] | None:
        """The seq and line of the series' last complete record, or None."""
        for log in reversed(self.files()):
            found = _last_record_line(log.path)
            if found is not None:
                return found
        return None

    def entries(
        self, start: int, cursor: Cursor | None = None, damaged: Junk | None = None
    ) -> Iterator[Entry]:
        """Every record line with seq ``start`` or more, in file order (a complete line that
        is no record is passed over), resuming at ``cursor`` when it still fits. ``damaged``
        ends holding such lines after the series' last record read (`Junk`): they leave no gap
        in the seqs (the last record made junk), where those with a record after them do.

        Raises `Reordered` at a record whose seq is not above the one before it in its file
        (the cursor's counts): older records copied behind the writer, whose next record
        then takes a seq the ledger holds already, would otherwise be passed over unseen."""
        files = self.files()
        for index, log in enumerate(files):
            following = files[index + 1].first_seq if index + 1 < len(files) else None
            if following is not None and following <= start:
                continue
            offset, before = 0, 0
            if cursor is not None and cursor.file == log.id and cursor.seq < start:
                offset, before = cursor.end, cursor.seq
            elif cursor is not None and cursor.file == log.id and cursor.seq == start:
                offset, before = cursor.start, cursor.seq - 1
            yield from _read(self._same(log), start, offset, before, following, damaged)

    def _same(self, log: LogFile) -> LogFile:
        """``log`` where it is now: a live file rotated since it was listed is an archive."""
        if _first_record_line(log.path) == log.first_line:
            return log
        for now in self.files():
            if now.id == log.id:
                return now
        return log

    def line_at(self, seq: int, cursor: Cursor | None = None) -> bytes | None:
        """The line of the record with ``seq``, or None when the series holds none."""
        for entry in self.entries(seq, cursor):
            return entry.line if entry.seq == seq else None
        return None


def _readable(lines_of: Lines, path: Path) -> Iterator[list[bytes]]:
    """``lines_of``'s batches; a line no reader reads (`Lines`) is `UnreadableLine`, which
    stops the shipping of this log, not a ledger out of reach."""
    try:
        yield from lines_of
    except ShipRefused:
        raise
    except AuditError as exc:
        raise UnreadableLine(
            f"{exc.detail}; nothing is shipped from it on", path=str(path)
        ) from None


def _read(
    log: LogFile,
    start: int,
    offset: int,
    before: int,
    following: int | None,
    damaged: Junk | None = None,
) -> Iterator[Entry]:
    try:
        fd = os.open(log.path, READ_FLAGS)
    except OSError:
        return
    try:
        if first_line(fd) != log.first_line:
            return  # replaced since it was found (rotated twice?): the next run finds it
        size = os.fstat(fd).st_size
        if offset > size or (offset and not _starts_a_line(fd, offset)):
            offset, before = 0, 0
        lines_of = Lines(read_blocks(fd, offset, path=log.path), path=log.path, start=offset)
        position = offset
        for lines in _readable(lines_of, log.path):
            for line in lines:
                begin, position = position, position + len(line) + 1
                seq = _record_seq(line)
                if seq is None:
                    if damaged is not None:
                        damaged.add(log.path, begin)
                    continue
                if damaged is not None and damaged.count:
                    damaged.clear()
                if seq <= before:
                    raise Reordered(
                        f"{log.path}: the record with seq {seq} comes after seq {before}: older"
                        " records were copied into the log (or it was edited); nothing more is"
                        " shipped from it",
                        path=str(log.path),
                    )
                before = seq
                if seq < start:
                    continue
                if following is not None and seq >= following:
                    return
                yield Entry(seq, line, Cursor(log.id, begin, position, seq))
    finally:
        os.close(fd)


def _record_seq(line: bytes) -> int | None:
    """The seq of the record the whole line holds; None when it holds none. Parsed, not read
    by position as `rds_guard.audit.record.seq_of` reads it: a line torn or damaged after
    its seq would pass for a record."""
    record = parse_record(line) if line.startswith(b"{") else None
    return None if record is None else cast(int, record["seq"])


def _starts_a_line(fd: int, offset: int) -> bool:
    return os.pread(fd, 1, offset - 1) == b"\n"


def _first_record_line(path: Path) -> bytes | None:
    return _first_complete_line(path) or None  # an empty line is no record's


def _first_complete_line(path: Path) -> bytes | None:
    """The file's first line when it ends with a newline (empty, when the file starts with
    one); None when the file cannot be read or holds no complete line."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return None
    try:
        with contextlib.suppress(OSError):
            line = first_line(fd)
            if os.pread(fd, 1, len(line)) == b"\n":
                return line
        return None
    finally:
        os.close(fd)


def _last_record_line(path: Path) -> tuple[int, bytes] | None:
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return None
    try:
        end = rfind_newline(fd, os.fstat(fd).st_size)
        while end >= 0:
            line = line_before(fd, end)
            seq = _record_seq(line)
            if seq is not None:
                return seq, line
            end = rfind_newline(fd, end)
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


def in_batches(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    """``entries`` in lists of ``size``; the entries read before a refusal (`ShipRefused`: a
    line no reader reads, records out of order) are one more list before it is raised."""
    batch: list[Entry] = []
    try:
        for entry in entries:
            batch.append(entry)
            if len(batch) == size:
                yield batch
                batch = []
    except ShipRefused as refused:
        if batch:
            yield batch
        raise refused from None
    if batch:
        yield batch


def batch_items(path: Path, stream: str, batch: list[Entry]) -> list[Item]:
    """The ledger items of a batch's records (of the log at ``path``); `ShipRefused` for a
    record no item can hold."""
    items = []
    for entry in batch:
        try:
            items.append(record_item(stream, entry.seq, entry.line))
        except UnicodeDecodeError:
            raise ShipRefused(
                f"{path}: the record at seq {entry.seq} holds bytes that are no UTF-8 (an "
                "edited record: a writer's are ASCII), which a ledger item cannot hold; nothing"
                f" was shipped from it on (rds-guard audit verify {path} says what is wrong)",
                path=str(path),
                stream=stream,
            ) from None
    return items

"""Maintenance of a log file: `rotate` starts a new file, `repair` moves damage aside.

Both run under the writer's locks through `AuditLog.exclusive` and never rewrite a record;
what they do to the file is described in docs/audit.md ("Crashes, damage and repair",
"Rotation").
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rds_guard.errors import AuditError

from .fileio import (
    NEW_FILE_FLAGS,
    Copied,
    Lines,
    copy_to_new_file,
    first_line,
    fsync_dir,
    line_before,
    open_checked,
    os_error,
    read_blocks,
    rfind_newline,
)
from .record import (
    ZERO_HASH,
    Record,
    StrPath,
    chain_hash,
    encode,
    new_call_id,
    parse_record,
    prev_of,
)
from .writer import AuditLog, LockedFile, Tail

# --- rotation -------------------------------------------------------------------------------


def rotate(path: StrPath, *, hmac_key: bytes | None = None) -> Path:
    """Rename the log to ``PATH.<first seq>-<last seq>`` and start a new one.

    Done under the lock; the new file's first record is ``rotated``, with ``prev`` the old
    file's head, ``seq`` continuing, and ``rotated_from`` the archive's name. Returns the
    archive's path. An empty log, a damaged one or a key that does not match the log's last
    link is an ``AuditError``.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key)
    try:
        with log.exclusive() as locked:
            tail = locked.tail()
            if tail.seq == 0:
                raise AuditError(
                    f"{log.path}: holds no records: nothing to rotate", path=str(log.path)
                )
            with locked.reader() as rfd:
                _check_last_link(log.path, rfd, tail.size, hmac_key)
                first = parse_record(first_line(rfd))
                first_seq = tail.seq if first is None else int(str(first["seq"]))
                archive = log.path.with_name(f"{log.path.name}.{first_seq}-{tail.seq}")
                _start_successor(locked, tail, archive, rfd)
        return archive
    finally:
        log.close()


def _start_successor(locked: LockedFile, tail: Tail, archive: Path, rfd: int) -> None:
    """Move the log to ``archive`` and put a file starting with ``rotated`` in its place.

    The new file is complete before it appears at the path, and the path always names
    one of the two files, so no writer ever sees a missing or headless log. ``rfd`` reads
    the old file, for filesystems without hard links.
    """
    path = locked.path
    record = locked.record_after(tail, "rotated", {"rotated_from": archive.name})
    line = encode(record)
    temp = path.with_name(f".{path.name}.rotating-{new_call_id()}")
    fd = open_checked(temp, NEW_FILE_FLAGS, "cannot create the rotated log")
    try:
        try:
            if os.write(fd, line + b"\n") != len(line) + 1:
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            _keep_old_name(path, archive, rfd)
        except FileExistsError:
            raise AuditError(
                f"{path}: cannot rotate: {archive} already exists", path=str(path)
            ) from None
        try:
            os.replace(temp, path)
        except OSError:
            _undo_keep(path, archive)
            raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise os_error(path, "cannot rotate", exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(path.parent)
    locked.written_elsewhere(record, line)


def _keep_old_name(path: Path, archive: Path, rfd: int) -> None:
    """Give the current log its archive name too, never replacing an existing file.

    A hard link where the filesystem has them; else a copy of the bytes (``rfd`` reads the
    old file; the caller holds its flock, so nothing is appended meanwhile). Never a rename:
    that would leave the path missing until the new file replaces it, and a writer that came
    then would create a file there, write to it unopposed and lose its record to the replace.
    """
    try:
        os.link(path, archive, follow_symlinks=False)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
    copy_to_new_file(rfd, archive)


def _undo_keep(path: Path, archive: Path) -> None:
    with contextlib.suppress(OSError):
        if os.path.lexists(path):
            os.unlink(archive)
        else:
            os.rename(archive, path)


def _check_last_link(path: Path, fd: int, end: int, key: bytes | None) -> None:
    """Refuse to chain onto a log whose last link was made with another key.

    A record appended with the wrong key would break the chain for good; ``end`` is the
    offset just past the last record's newline.
    """
    last_newline = end - 1
    if last_newline <= 0:
        return
    last = line_before(fd, last_newline)
    before = rfind_newline(fd, last_newline)
    if before < 0:
        return
    previous = line_before(fd, before)
    if prev_of(last) == chain_hash(previous, key).encode():
        return
    if key is None:
        hint = "was it written with an HMAC key? (give --key-env)"
    else:
        hint = "is it keyed with another key, or not keyed at all?"
    raise AuditError(
        f"{path}: the last two records do not chain with "
        f"{'plain SHA-256' if key is None else 'HMAC-SHA256 under the given key'}: {hint}; "
        "run rds-guard audit verify first",
        path=str(path),
    )


# --- repair ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` did: which lines it moved where, and the ``repaired`` record it wrote."""

    path: Path
    moved_to: Path | None = None
    first_line: int = 0
    lines_moved: int = 0
    bytes_moved: int = 0
    dropped_sha256: str = ""
    record: Record | None = None

    @property
    def repaired(self) -> bool:
        """True when something was moved out of the log."""
        return self.moved_to is not None

    def lines_text(self) -> str:
        """``line N`` or ``lines N-M``: the lines that were moved."""
        last = self.first_line + self.lines_moved - 1
        if last <= self.first_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}-{last}"

    def describe(self) -> str:
        """One line for a person: what was moved, or that there was nothing to repair."""
        if self.moved_to is None:
            return f"nothing to repair: every line of {self.path} is a record"
        appended = (
            "" if self.record is None else f"; appended repaired record seq {self.record['seq']}"
        )
        return (
            f"moved {self.lines_text()} of {self.path} ({self.bytes_moved} bytes, sha256 "
            f"{self.dropped_sha256}) to {self.moved_to}{appended}"
        )


def repair(path: StrPath, *, hmac_key: bytes | None = None) -> RepairResult:
    """Move every line from the first complete non-record line on to ``PATH.damaged-<time>``.

    A torn final line is moved too. Then a ``repaired`` record (``dropped_bytes``,
    ``dropped_sha256``, a note naming the file) is appended, chained to the last record kept,
    so writers can go on. Records are never rewritten. Nothing to repair: nothing changes.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key)
    try:
        with log.exclusive() as locked:
            size = locked.st.st_size
            with locked.reader() as rfd:
                damage = _find_damage(rfd, size)
                if damage is None:
                    return RepairResult(log.path)
                if damage.last_good is not None:
                    _check_last_link(log.path, rfd, damage.offset, hmac_key)
                moved_to, moved = _move_out(log.path, rfd, damage.offset, size)
            return _truncate_and_note(locked, damage, moved_to, moved, hmac_key)
    finally:
        log.close()


@dataclass(frozen=True)
class _Damage:
    """Where the part of a log that repair moves out starts, and the last record before it."""

    offset: int
    first_line: int
    last_good: bytes | None
    last_seq: int | None


def _find_damage(fd: int, size: int) -> _Damage | None:
    """The first complete line that is not a record (or a torn final line), streaming."""
    offset, number = 0, 0
    last_good: bytes | None = None
    last_seq: int | None = None
    lines_of = Lines(read_blocks(fd, 0, size))
    for lines in lines_of:
        for raw in lines:
            record = parse_record(raw)
            if record is None:
                return _Damage(offset, number + 1, last_good, last_seq)
            number += 1
            offset += len(raw) + 1
            last_good, last_seq = raw, int(str(record["seq"]))
    if lines_of.rest:
        return _Damage(offset, number + 1, last_good, last_seq)
    return None


def _move_out(path: Path, fd: int, start: int, end: int) -> tuple[Path, Copied]:
    """Copy bytes ``start:end`` of the log to a new ``PATH.damaged-<time>``, fsynced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        target = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            return target, copy_to_new_file(fd, target, start, end)
        except FileExistsError:
            continue
        except OSError as exc:
            # os.open names the file in its error; a failed read, write or fsync does not.
            action = "cannot create" if exc.filename else "cannot write the damaged lines"
            raise os_error(target, action, exc) from exc
    raise AuditError(f"{path}: no free name for the damaged lines", path=str(path))


def _truncate_and_note(
    locked: LockedFile, damage: _Damage, moved_to: Path, moved: Copied, key: bytes | None
) -> RepairResult:
    """Cut the damage off the log and append the ``repaired`` record that says where it went."""
    moved_bytes = locked.st.st_size - damage.offset
    last = damage.last_good
    head = ZERO_HASH if last is None else chain_hash(last, key)
    seq = 0 if damage.last_seq is None else damage.last_seq
    tail = locked.truncate(damage.offset, head, seq, "the damaged lines")
    result = RepairResult(
        locked.path, moved_to, damage.first_line, moved.lines, moved_bytes, moved.sha256
    )
    fields: dict[str, object] = {
        "dropped_bytes": moved_bytes,
        "dropped_sha256": moved.sha256,
        "notes": [f"moved {result.lines_text()} ({moved_bytes} bytes) to {moved_to.name}"],
    }
    return dataclasses.replace(result, record=locked.append(tail, "repaired", fields))

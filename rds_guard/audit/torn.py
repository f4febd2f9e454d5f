"""A torn final line: the bytes after the log's last newline, as a writer finds them under the
lock, and how it replaces them by its `repaired` record without ever losing them unrecorded.

A write cut off at its very end (or a cut of one byte) leaves a whole record without its
newline: when it is the record a writer would chain onto the last one (`next_record`), it is
kept rather than dropped.

docs/audit.md, "Crashes, damage and repair", says what a writer does with them and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import changed_while_locked
from .fileio import (
    CHUNK,
    count_newlines,
    only_zeros,
    open_if_there,
    os_error,
    read_range,
    sha256_range,
)
from .record import LINE_START, chain_name, chain_of, is_authentic, parse_record, prev_of
from .tail import WRITE, Vouched, authenticate, scan_tail

KEEP_LIMIT = CHUNK
"""The most bytes after the last newline that may be kept as a record, more than any record's
line: past them, only zeros (a file system's, after a crash) may follow for the bytes to be
dropped as a write cut off; anything else there is damage (`Torn.too_long`)."""


@frozen
class Torn:
    """The bytes after the last newline: where they start, how many, their SHA-256 (empty for
    bytes a writer refuses, past `KEEP_LIMIT`), and the record they are when they are a whole
    one missing only its newline (`next_record`)."""

    start: int
    size: int
    sha256: str
    kept: Vouched | None = None
    joined: int = 0
    """Whole records the bytes hold one after another (`joined_records`): no write cut off
    leaves that, and they may be authentic."""
    too_long: bool = False
    """Past their first `KEEP_LIMIT` bytes, which no record's line fills, they are not all
    zeros: more than any write leaves, even cut off with a file system's zeros after it."""

    @property
    def end(self) -> int:
        """Where they end: the file's size."""
        return self.start + self.size


def look(fd: int, start: int, end: int, after: Vouched, hmac_key: bytes | None) -> Torn:
    """The torn bytes ``start:end`` of ``fd``, which follow the record ``after``."""
    if end - start > KEEP_LIMIT:
        joined = joined_records(read_range(fd, start, start + KEEP_LIMIT))
        too_long = not only_zeros(fd, start + KEEP_LIMIT, end)
        if joined or too_long:  # refused (`check_not_joined`): no digest needed, none read
            return Torn(start, end - start, "", None, joined, too_long)
        return Torn(start, end - start, sha256_range(fd, start, end))
    line = read_range(fd, start, end)
    kept = next_record(line, after, hmac_key)
    joined = 0 if kept is not None else joined_records(line)
    return Torn(start, len(line), hashlib.sha256(line).hexdigest(), kept, joined)


def joined_records(data: bytes) -> int:
    """How many whole records ``data`` (a line without its newline, or the bytes after the
    last one) holds when it is not one record: records whose newlines were removed, or a
    record with bytes put before or after it. None (0) in a part of one record, or one record
    followed by zeros, all a write cut off can leave (a file system may leave zeros where a
    crash lost the end of a write). Every record starts with `LINE_START`, which none holds
    anywhere else (JSON escapes the quotes of its strings)."""
    data = data.rstrip(b"\0")
    if parse_record(data) is not None:
        return 0
    return sum(1 for rest in data.split(LINE_START)[1:] if _starts_with_record(LINE_START + rest))


_DECODER = json.JSONDecoder()


def _starts_with_record(piece: bytes) -> bool:
    """Whether ``piece`` starts with a whole record (bytes may follow it)."""
    try:
        text = piece.decode("utf-8", "surrogatepass")
        _, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        return False
    return parse_record(text[:end]) is not None


def no_write_left(rest: bytes) -> bool:
    """Whether ``rest``, the bytes after the last newline (read whole), are none a write cut
    off leaves: whole records (`joined_records`), or past their first `KEEP_LIMIT` bytes
    anything but zeros (`Torn.too_long`). A writer refuses them (`check_not_joined`)."""
    past = rest[KEEP_LIMIT:]
    return bool(joined_records(rest)) or past.count(0) != len(past)


def torn_detail(rest: bytes) -> str:
    """What `verify` says of ``rest``, the bytes after the last newline, when they are no
    record a writer keeps: a write cut off, which the next writer drops (and records), or
    bytes no write leaves, which it refuses as `check_not_joined` does. ``rest`` may be the
    start of a line too long to read (`fileio.LongLine`)."""
    size = getattr(rest, "size", len(rest))
    start = f"the last line has no newline ({size} bytes)"
    joined = joined_records(rest)
    if joined:
        return (
            f"{start} and holds {joined} whole record(s) one after another, which no write cut"
            " off leaves: the next writer refuses it, and rds-guard audit repair --force moves"
            " it aside"
        )
    if size != len(rest):  # too long to read here: what lies past its first MiB is unknown
        return (
            f"{start}: the next writer drops it as a write cut off when all past its first"
            f" {KEEP_LIMIT} bytes is zeros, and refuses it otherwise"
        )
    past = rest[KEEP_LIMIT:]
    if size > KEEP_LIMIT and past.count(0) != len(past):
        return (
            f"{start}, not zeros past its first {KEEP_LIMIT}: longer than any write leaves; the"
            " next writer refuses it, and rds-guard audit repair moves it aside"
        )
    return f"{start}: a write was cut off (the next writer repairs it)"


def check_not_joined(path: Path, fd: int, torn: Torn) -> None:
    """An `AuditError` when the torn bytes of ``fd`` are no write cut off: they hold whole
    records (`joined_records`), or more than any write leaves (`Torn.too_long`). That is
    damage, which a writer never writes over (it would drop records that may be authentic);
    repair moves it, and refuses to move whole records unless forced."""
    if not (torn.joined or torn.too_long):
        return
    line = count_newlines(fd, torn.start) + 1
    if torn.joined:
        what = (
            f"hold {torn.joined} whole record(s) one after another (newlines removed, or bytes"
            " added)"
        )
    else:
        what = f"are {torn.size} bytes, not zeros past the first {KEEP_LIMIT}"
    raise AuditError(
        f"{path}:{line}: the bytes after its last newline {what}, which no write cut off "
        f"leaves: the log is damaged; rds-guard audit verify {path} says what is wrong, and "
        f"rds-guard audit repair {path} moves them aside (with --force when they hold "
        "records; recorded)",
        path=str(path),
    )


def kept_record(
    fd: int, start: int, end: int, after: Vouched, hmac_key: bytes | None
) -> Vouched | None:
    """The torn bytes ``start:end`` of ``fd`` as the record a writer keeps after ``after``
    (`next_record`); None when they are not, or longer than `KEEP_LIMIT` (then never read)."""
    if end - start > KEEP_LIMIT:
        return None
    return next_record(read_range(fd, start, end), after, hmac_key)


def next_record(line: bytes, after: Vouched, hmac_key: bytes | None) -> Vouched | None:
    """``line`` as the record to chain onto, when it is the one a writer holding ``hmac_key``
    would have written after ``after``: sealed in that writer's algorithm, authentic, its
    ``seq`` next and its ``prev`` linking; else None."""
    record = parse_record(line)
    chain = chain_name(hmac_key)
    if record is None or chain_of(line) != chain or not is_authentic(line, hmac_key):
        return None
    if record["seq"] != after.seq + 1 or prev_of(line) != after.head(hmac_key).encode():
        return None
    return Vouched(line, after.seq + 1, chain)


def unchanged(path: Path, fd: int, size: int) -> None:
    """`ChangedWhileLocked` unless the locked file ``fd`` is still ``size`` bytes long: a
    process that takes no lock cut it (or wrote to it) since it was measured."""
    if os.fstat(fd).st_size != size:
        raise changed_while_locked(path)


def overwrite(
    path: Path, fd: int, torn: Torn, payload: bytes, *, fsync: bool, what: str = "a torn final line"
) -> None:
    """Put ``payload`` (a sealed line and its newline) in place of the torn bytes on ``fd``, a
    descriptor of the locked file that writes where it is told (not ``O_APPEND``).

    The line is written over the torn bytes (one write), and only once it is whole in the file
    is what is left of them cut: a process killed at any point leaves the torn bytes as they
    were, or the line that records them (followed, at worst, by the rest of them: a shorter
    torn line, which the next writer records in turn). A power loss in the middle of the one
    write may leave part of each. Cutting first and appending after would leave the torn
    bytes gone with nothing recording them whenever the append fails (a full disk) or a
    crash comes between the two. When the line cannot be written the bytes it covered are
    put back and the file cut to its size before; then an `AuditError`. ``what`` names the
    bytes in its messages (repair puts its record over damaged lines the same way).
    """
    try:
        covered = read_range(fd, torn.start, torn.start + len(payload))
        unchanged(path, fd, torn.end)  # cut meanwhile: written past its end, after zeros
    except OSError as exc:
        raise os_error(path, "cannot read", exc) from exc
    try:
        written = os.pwrite(fd, payload, torn.start)
        if written != len(payload):
            raise OSError(
                0, f"short write ({written} of {len(payload)} bytes; disk full or file size limit?)"
            )
        if fsync:
            os.fsync(fd)
    except OSError as exc:
        put_back = _put_back(fd, torn, covered)
        error = os_error(path, f"cannot write the repaired record of {what}", exc)
        raise AuditError(
            error.detail
            + ("; nothing was changed" if put_back else "; the bytes it covered may be damaged"),
            path=str(path),
        ) from exc
    if len(payload) < torn.size:
        try:
            if os.fstat(fd).st_size != torn.end:  # appended to without the lock: not ours to cut
                raise OSError(0, "the log grew while it was locked")
            os.ftruncate(fd, torn.start + len(payload))
        except OSError as exc:  # the line is whole: what is left is a torn line, recorded next
            raise os_error(path, f"cannot cut the rest of {what}", exc) from exc


def _put_back(fd: int, torn: Torn, covered: bytes) -> bool:
    """Write back the torn bytes a failed write covered and cut the file to their end; False
    when that failed too."""
    with contextlib.suppress(OSError):
        offset, view = torn.start, memoryview(covered)
        while view:
            done = os.pwrite(fd, view, offset)
            if not done:
                return False
            offset, view = offset + done, view[done:]
        if os.fstat(fd).st_size > torn.end:
            os.ftruncate(fd, torn.end)
        return True
    return False


def check_log_end(path: Path, hmac_key: bytes | None) -> None:
    """Raise what a writer would on its first record to the log at ``path``, which it does
    not change: its last record not one to chain onto under ``hmac_key`` (`KeyRequired`,
    `NotAuthentic`, a damaged line: `AuditError`), or bytes after the last newline that no
    write cut off left (`check_not_joined`). A missing file passes (the writer makes it)."""
    fd = open_if_there(path, "cannot open for reading")
    if fd is None:
        return
    try:
        size = os.fstat(fd).st_size
        scan = scan_tail(fd, size, WRITE.longest)
        vouched = authenticate(path, fd, scan, hmac_key, WRITE)
        if scan.torn_bytes:
            check_not_joined(path, fd, look(fd, scan.complete_end, size, vouched, hmac_key))
    except OSError as exc:
        raise os_error(path, "cannot read", exc) from exc
    finally:
        os.close(fd)

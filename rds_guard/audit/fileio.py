"""File I/O for the audit log: opening (regular files only), reading byte ranges, copying.

Every reader is built on `read_blocks`, one ``pread`` loop over a byte range (`read_back`
goes backwards from an end); `Lines` turns blocks into batches of lines, `Lookahead` lets a
reader peek at the lines ahead. An OS error becomes an `AuditError` naming the file through
`os_error`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from rds_guard.core.files import file_kind
from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import NotAnAuditLog
from .record import LINE_START, NOT_A_LOG_START, starts_as_a_log

APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
OVERWRITE_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""For the one write that is not an append: a `repaired` record put where a torn line starts."""
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE = 0o600
CHUNK = 1 << 20
"""How much one read takes when streaming a file."""
TAIL_BLOCK = 1 << 13
"""How much one read takes when looking for a single line (the first, or one near the end)."""
LOOKAHEAD = 100
"""How many lines past the one it is at a `Lookahead` shows (the walk's diagnosis of a bad
line looks at them)."""

_OS_REASONS = {
    errno.ELOOP: "a symbolic link is at the path (refused)",
    errno.EISDIR: "a directory is at the path, not a regular file",
    errno.ENXIO: "a FIFO or socket is at the path, not a regular file",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (file size limit reached)",
    errno.ENOENT: "the directory does not exist",
    errno.ENOTDIR: "a component of the path is not a directory",
}


def os_error(path: Path, action: str, exc: OSError | ValueError) -> AuditError:
    """An ``AuditError`` naming the file and what failed; a ValueError is a path with a NUL."""
    if isinstance(exc, OSError):
        reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    else:
        reason = str(exc)
    return AuditError(f"{path}: {action}: {reason}", path=str(path))


def close_if_owner(fd: int, pid: int) -> None:
    """Close ``fd`` when this process is ``pid`` (a forked child's copy of it is its
    parent's, and may name another file of the child's by now)."""
    if os.getpid() == pid:
        with contextlib.suppress(OSError):
            os.close(fd)


def open_checked(path: Path, flags: int, action: str) -> int:
    """Open ``path`` and refuse anything but a regular file (checked on the open descriptor)."""
    try:
        fd = os.open(path, flags, FILE_MODE)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise os_error(path, action, exc) from exc
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise os_error(path, action, exc) from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise AuditError(
            f"{path}: {action}: {file_kind(mode)} is at the path, not a regular file (refused)",
            path=str(path),
        )
    return fd


def file_of(fd: int) -> tuple[int, int] | None:
    """The device and inode of the file ``fd`` is open on (None: not known)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_OPEN_MODE = os.O_ACCMODE | os.O_APPEND


class DescriptorOwner(Protocol):
    """An object that opens a descriptor of its own (a log, a shipping state file)."""

    def _own_descriptor(self) -> int | None:
        """The descriptor it has open, when this process opened it (None: none, or one a
        parent opened before a fork)."""


_OWNERS: weakref.WeakSet[DescriptorOwner] = weakref.WeakSet()


def owns_descriptors(owner: DescriptorOwner) -> None:
    """Count ``owner``'s descriptor, for as long as it lives, among those this process opened
    itself (`inherited` never takes one of them for a parent's)."""
    _OWNERS.add(owner)


def inherited(fd: int, file: tuple[int, int] | None, flags: int = APPEND_FLAGS) -> bool:
    """Whether ``fd``, a descriptor a forked child got from its parent and found only later
    (a fork no at-fork hook saw), still is that one: open as ``flags`` say (for appending, or
    reading and writing) on ``file`` (its device and inode when it was opened, `file_of`),
    and none of those an owner opened in this process since (`owns_descriptors`). Another
    file under its number (the child closed it, and the number was taken since) is not. The
    child closes it: a ``flock`` belongs to the open file both share, and one the parent held
    when it was killed would otherwise hold every other process off for as long as the child
    kept its copy."""
    if file is None or any(owner._own_descriptor() == fd for owner in list(_OWNERS)):
        return False
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & _OPEN_MODE
    except OSError:
        return False
    return mode == flags & _OPEN_MODE and file_of(fd) == file


_Read = TypeVar("_Read")


def read_if_possible(path: Path, read: Callable[[int, os.stat_result], _Read]) -> _Read | None:
    """``read(fd, st)`` of ``path``, a regular file opened for reading (`open_checked`), and
    closed after; None when it cannot be opened, or read (an OSError)."""
    try:
        fd = open_checked(path, READ_FLAGS, "cannot open for reading")
    except AuditError:
        return None
    try:
        return read(fd, os.fstat(fd))
    except OSError:
        return None
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a new name in ``directory`` durable (best effort: not every filesystem can)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- reading: one primitive, and the readers built on it -----------------------------------


def read_blocks(
    fd: int,
    start: int = 0,
    end: int | None = None,
    *,
    block: int = CHUNK,
    path: str | os.PathLike[str] | None = None,
) -> Iterator[bytes]:
    """The bytes ``start:end`` of ``fd`` (``end`` None: to the end of the file) in blocks of at
    most ``block`` bytes, read with ``pread``; fewer when the file ends first. Raises OSError,
    naming ``path`` (the file ``fd`` is open on) when given."""
    while end is None or start < end:
        try:
            data = os.pread(fd, block if end is None else min(block, end - start), start)
        except OSError as exc:  # a failing disk or mount: the error says which file
            if path is not None and exc.filename is None:
                exc.filename = os.fspath(path)
            raise
        if not data:
            return
        yield data
        start += len(data)


def open_if_there(path: Path, action: str) -> int | None:
    """A descriptor open for reading on ``path`` as writers open it (no link followed);
    None when nothing is there; an `AuditError` saying ``action`` failed, and why,
    otherwise."""
    try:
        return os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(path, action, exc) from None


def check_a_log(path: Path) -> None:
    """`NotAnAuditLog` for a file whose first bytes cannot start a log (`may_start_a_log`: a
    policy, a token, a binary named by mistake), which `rds-guard audit ship` would otherwise
    call up to date with nothing shipped, and `rds-guard check` a place for the log. A missing
    or empty file, one a first record is being written to, or zeros a crash left there pass:
    a log before its first record. A file that cannot be read (a symbolic link, which no
    writer or shipper follows, or one the user may not read) is an `AuditError` saying why:
    its records would never ship."""
    fd = open_if_there(path, "cannot be read")
    if fd is None:
        return
    try:
        a_log = may_start_a_log(fd, os.pread(fd, FIRST_BYTES, 0))
    except OSError as exc:
        raise os_error(path, "cannot be read", exc) from None
    finally:
        os.close(fd)
    if not a_log:
        raise NotAnAuditLog(path, NOT_A_LOG_START)


FIRST_BYTES = 64 * 1024
"""How much of a file `check_a_log` reads: a log's first line, damaged, is shorter."""


def may_start_a_log(fd: int, block: bytes) -> bool:
    """Whether ``fd``, whose first bytes are ``block``, may be an audit log: they start as one
    (`record.starts_as_a_log`), or the file holds no newline and may be a first record cut
    short (`may_be_a_cut_file`: zeros a crash left there). Raises OSError."""
    if starts_as_a_log(block):
        return True
    return b"\n" not in block and may_be_a_cut_file(fd, os.fstat(fd).st_size)


def may_be_a_cut_file(fd: int, size: int) -> bool:
    """`record.may_be_a_cut_record` of ``fd``'s first ``size`` bytes (a file holding no
    newline), read no further than it takes to tell."""
    head = read_range(fd, 0, min(size, len(LINE_START)))
    return LINE_START.startswith(head) or only_zeros(fd, 0, size)


def only_zeros(fd: int, start: int, end: int) -> bool:
    """Whether the bytes ``start:end`` of ``fd`` are all zeros: read block by block, the
    holes of a sparse file skipped where the file system tells them, up to the first other
    byte. Raises OSError."""
    offset = start
    while offset < end:
        data, hole = _data_run(fd, offset, end)
        for block in read_blocks(fd, data, hole):
            if block.count(0) != len(block):
                return False
        offset = hole
    return True


def _data_run(fd: int, offset: int, end: int) -> tuple[int, int]:
    """The next run of ``fd``'s bytes at or after ``offset`` that may hold data, up to
    ``end``: ``(end, end)`` when only a hole is left; the whole range where the file system
    cannot tell (``SEEK_DATA`` unknown to it or to the platform)."""
    try:
        data = os.lseek(fd, offset, os.SEEK_DATA)
        hole = os.lseek(fd, data, os.SEEK_HOLE)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data after offset
            return end, end
        return offset, end
    except AttributeError:  # pragma: no cover - a platform without SEEK_DATA
        return offset, end
    return min(data, end), min(hole, end)


def read_range(fd: int, start: int, end: int) -> bytes:
    """The bytes ``start:end`` of ``fd`` (fewer when the file ends first)."""
    return b"".join(read_blocks(fd, start, end))


def sha256_range(fd: int, start: int, end: int) -> str:
    """The hex SHA-256 of the bytes ``start:end`` of ``fd``."""
    digest = hashlib.sha256()
    for data in read_blocks(fd, start, end):
        digest.update(data)
    return digest.hexdigest()


def count_newlines(fd: int, end: int) -> int:
    """How many newlines the first ``end`` bytes of ``fd`` hold."""
    count = 0
    for data in read_blocks(fd, 0, end):
        count += data.count(b"\n")
    return count


def read_back(fd: int, end: int, block: int = TAIL_BLOCK) -> Iterator[tuple[int, bytes]]:
    """The bytes before ``end`` of ``fd`` in blocks of ``block`` bytes, the last block first,
    each with its offset."""
    while end > 0:
        start = max(0, end - block)
        yield start, read_range(fd, start, end)
        end = start


def rfind_newline(fd: int, end: int, block: int = TAIL_BLOCK) -> int:
    """Offset of the last newline before ``end``, reading backwards in blocks of ``block``
    bytes; -1 when there is none."""
    for start, data in read_back(fd, end, block):
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found
    return -1


def line_before(fd: int, newline: int) -> bytes:
    """The line that ends at the newline at offset ``newline`` (without it)."""
    return read_range(fd, rfind_newline(fd, newline) + 1, newline)


def first_line(fd: int) -> bytes:
    """The file's first line without its newline (the whole file when it has none)."""
    parts: list[bytes] = []
    for data in read_blocks(fd, block=TAIL_BLOCK):
        newline = data.find(b"\n")
        if newline >= 0:
            parts.append(data[:newline])
            break
        parts.append(data)
    return b"".join(parts)


class Lines(Iterator[list[bytes]]):
    """The lines of a stream of blocks (without their newlines): a list per block.

    ``rest`` holds the bytes after the last newline read so far; once the blocks are used up,
    a final line with no newline (``b""`` when the stream ends with a newline). A line longer
    than `LONGEST_READ` is an `AuditError` naming ``path`` and where the line starts (the
    stream's first byte at ``start`` of the file): no record is so long, and held whole it
    would take the reader's memory. With ``long_lines``, such a line is a `LongLine` instead,
    its bytes past the first `LONGEST_READ` passed over unheld (`verify` reports it).
    """

    def __init__(
        self,
        blocks: Iterable[bytes],
        *,
        path: str | os.PathLike[str] | None = None,
        start: int = 0,
        long_lines: bool = False,
    ) -> None:
        self._blocks = iter(blocks)
        self._pieces: list[bytes] = []  # the line begun, one piece per block read into it
        self._held = 0  # the bytes in the pieces
        self._begun = start  # where the line begun starts in the file
        self._path = path
        self._long_lines = long_lines
        self._passed_over: LongLine | None = None  # a long line whose newline is still ahead

    @property
    def rest(self) -> bytes:
        """The bytes after the last newline read so far."""
        if self._passed_over is not None:
            return self._passed_over
        return b"".join(self._pieces)

    def __next__(self) -> list[bytes]:
        block = next(self._blocks)
        if self._passed_over is not None:
            end = block.find(b"\n")
            self._passed_over.size += len(block) if end < 0 else end
            if end < 0:
                return []
            long_line, self._passed_over = self._passed_over, None
            self._begun += long_line.size + 1
            block = block[end + 1 :]
            self._pieces, self._held = [], 0
            return [long_line, *self._joined(block)] if block else [long_line]
        return self._joined(block)

    def _joined(self, block: bytes) -> list[bytes]:
        """The lines ``block`` ends, the line begun before it joined to the first."""
        self._pieces.append(block)
        self._held += len(block)
        if b"\n" not in block:
            if self._held > LONGEST_READ and self._long_lines:
                first = next(piece for piece in self._pieces if piece)  # never b"": falsy
                self._passed_over = LongLine(first[:LONG_LINE_SHOWN], self._held)
                self._pieces, self._held = [], 0
                return []
            if self._held > LONGEST_READ:
                raise AuditError(
                    f"{self._path}: the line at byte {self._begun} is longer than any record"
                    f" (more than {LONGEST_READ} bytes): it is not read; cut it out of the"
                    " file (no tool reads it)",
                    path=None if self._path is None else os.fspath(self._path),
                )
            return []  # a line longer than a block is joined once, when it ends: linear time
        lines = b"".join(self._pieces).split(b"\n")
        rest = lines.pop()
        self._begun += self._held - len(rest)
        self._pieces, self._held = [rest], len(rest)
        return lines


LONGEST_READ = 64 << 20
"""The longest line a reader of a log reads (`Lines`): 256 times the longest record."""

LONG_LINE_SHOWN = 256
"""How many of a `LongLine`'s first bytes it holds: fewer than any record has (every record
lays out all its fields, over 400 bytes), so they are never read as a whole record."""


class LongLine(bytes):
    """A line longer than `LONGEST_READ`, not read: its first bytes (at most
    `LONG_LINE_SHOWN`), and ``size``, its whole length without the newline (counted as the
    line is passed over). Its text (``str``) says what it is, for a finding."""

    size: int

    def __new__(cls, start: bytes, size: int) -> LongLine:
        line = super().__new__(cls, start)
        line.size = size
        return line

    def __str__(self) -> str:
        return f"a line of {self.size:,} bytes, longer than any record (not read)"


class Lookahead(Iterator[list[bytes]]):
    """Batches of lines (`Lines`) that a reader may look ahead into, at most `LOOKAHEAD`
    lines past the one it is at (memory stays flat)."""

    def __init__(self, batches: Iterator[list[bytes]]) -> None:
        self._batches = batches
        self._queued: deque[list[bytes]] = deque()

    def __next__(self) -> list[bytes]:
        return self._queued.popleft() if self._queued else next(self._batches)

    def following(self, lines: list[bytes], index: int) -> list[bytes]:
        """Up to `LOOKAHEAD` lines after ``lines[index]``, reading batches ahead if need be."""
        found = lines[index + 1 : index + 1 + LOOKAHEAD]
        for batch in self._queued:
            found.extend(batch[: LOOKAHEAD - len(found)])
        for batch in self._batches:
            self._queued.append(batch)
            found.extend(batch[: LOOKAHEAD - len(found)])
            if len(found) >= LOOKAHEAD:
                break
        return found


@frozen
class Copied:
    """What `copy_to_new_file` copied: how many lines (a final one without newline counts)
    and their SHA-256."""

    lines: int
    sha256: str


def copy_to_new_file(fd: int, target: Path, start: int = 0, end: int | None = None) -> Copied:
    """Copy the bytes ``start:end`` of ``fd`` to a new file at ``target`` (mode 0600), fsynced,
    its name too. Raises OSError: FileExistsError when the name is taken; after any other
    failure no file is left at ``target``."""
    out = os.open(target, NEW_FILE_FLAGS, FILE_MODE)
    digest = hashlib.sha256()
    newlines, last_byte = 0, b"\n"
    try:
        for data in read_blocks(fd, start, end):
            digest.update(data)
            newlines += data.count(b"\n")
            last_byte = data[-1:]
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        os.fsync(out)
    except BaseException:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    os.close(out)
    fsync_dir(target.parent)
    return Copied(newlines + (last_byte != b"\n"), digest.hexdigest())

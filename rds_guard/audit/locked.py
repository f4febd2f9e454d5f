"""The log's file under its locks: the writer's append (`locked_append`), the records of an
`AuditLog.held_if_free` block (`write_held`), and what maintenance (rotate, repair) works on
while `AuditLog.exclusive` holds them (`LockedFile`), through the writer's own descriptor."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import ChangedWhileLocked, changed_while_locked
from .fileio import OVERWRITE_FLAGS, READ_FLAGS, open_checked, os_error, read_range
from .lock import try_flock
from .record import Record, seal
from .tail import WRITE, Tail, Use, Vouched
from .torn import Torn, unchanged

if TYPE_CHECKING:
    from .writer import AuditLog, Emitted, Holder, Locked

MAX_REOPEN = 16
"""How many times in a row a writer takes the lock again on what the path names, while
another process keeps replacing (or cutting) the file, before it gives up."""


def kept_replacing(path: Path) -> AuditError:
    """What a writer raises once the file was replaced `MAX_REOPEN` times in a row."""
    return AuditError(f"{path}: the file keeps being replaced; giving up", path=str(path))


def locked_append(
    log: AuditLog, locked: Locked, emitted: Emitted, event: str, fields: Mapping[str, object]
) -> None:
    """Append the record ``event`` to ``log`` under its ``flock`` (put in ``locked``, for
    the caller's ``finally`` to let go), chained onto the tail read there; all again, on what
    the path names then, while a process that takes no lock renames, removes or cuts the file
    between the check that the path names it, the read of its end and the append
    (`ChangedWhileLocked`, raised before anything of the record is left in the file)."""
    for _ in range(MAX_REOPEN):
        fd, st = log._acquire(locked)
        with contextlib.suppress(ChangedWhileLocked):
            tail = log._current_tail(fd, st, emitted)
            emitted.append(log._append_record(fd, tail, event, fields))
            return
        try:  # noqa: SIM105 (inline: a function's entry is a gap a signal handler can use)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:  # closing the descriptor releases it anyway
            pass
        locked.clear()
    raise kept_replacing(log.path)


def flock_if_free(log: AuditLog, flocked: list[int]) -> bool:
    """For `AuditLog.held_if_free`, its thread lock taken: the ``flock`` taken on ``log``'s own
    descriptor, without waiting, and True when it was free and the path still names the file
    (the flock kept, its descriptor put in ``flocked`` for the block's end to let go); else
    False, the flock let go and ``flocked`` left empty."""
    fd = log._own_descriptor()
    if fd is None:
        return False
    try:
        if try_flock(fd, 0):
            if log._path_names(os.fstat(fd)):
                flocked.append(fd)
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BaseException as exc:  # a signal handler's too, the flock taken or not
        try:  # noqa: SIM105 (as in AuditLog._acquire)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        flocked.clear()  # before the descriptor is closed: its number may be another file's
        log._drop_fd(close=True)
        if isinstance(exc, OSError | AuditError):
            return False
        raise


def write_held(log: AuditLog, holder: Holder, event: str, fields: Mapping[str, object]) -> Record:
    """`AuditLog.write` in the `AuditLog.held_if_free` block of this thread (``holder``): the
    record appended under the locks the block holds, and logged as it ends. The block is put
    aside while the record is written: a record written meanwhile from this thread (a signal
    handler's) waits for the locks as any other, and is never chained onto a tail this one is
    about to append to."""
    emitted = holder[1]
    log._holder = None
    try:
        locked_append(log, [], emitted, event, fields)
    finally:
        log._holder = holder
    return emitted[-1][0]


@frozen
class LockedFile:
    """The log's file while `AuditLog.exclusive` holds its locks: what maintenance works on.

    ``fd`` is the writer's own descriptor (append-only), ``st`` its ``fstat``.
    """

    log: AuditLog
    fd: int
    st: os.stat_result
    emitted: Emitted

    @property
    def path(self) -> Path:
        """The log's path."""
        return self.log.path

    def tail(self, use: Use = WRITE) -> Tail:
        """The end to chain from, as a write finds it: a torn final line is dropped (and
        recorded), a damaged or unauthentic last line is an `AuditError`; ``use`` says what
        the caller may chain onto (`tail.ROTATE` may seal a first-format tail)."""
        return self.log._current_tail(self.fd, self.st, self.emitted, use)

    def reader(self) -> contextlib.AbstractContextManager[int]:
        """A descriptor that reads the locked file; an OSError inside is an `AuditError`."""
        return reopened(self.path, self.st)

    def sealed_after(
        self, tail: Tail, event: str, fields: Mapping[str, object]
    ) -> tuple[Record, bytes]:
        """The record this writer would append after ``tail``, and its sealed line, unwritten."""
        record = self.log._build(event, fields, tail.head, tail.seq + 1)
        return record, seal(record, self.log._pads)[0]

    def written_elsewhere(self, record: Record, line: bytes) -> None:
        """Log ``record``, which maintenance wrote to another file, with the others."""
        self.emitted.append((record, line.decode("ascii")))

    def put(self, offset: int, data: bytes) -> None:
        """Write ``data`` over the file's bytes at ``offset``, synced."""
        with reopened(self.path, self.st, writes=True) as wfd:
            if os.pwrite(wfd, data, offset) != len(data):
                raise AuditError(f"{self.path}: cannot write: short write", path=str(self.path))
            os.fsync(wfd)

    def replace_end(
        self, start: int, after: tuple[str, int], fields: Mapping[str, object]
    ) -> Record:
        """Put a `repaired` record chained after ``after`` (its head and seq) over the file's
        bytes from ``start`` on, as a writer puts one over a torn line (`overwrite`: a failed
        write or a crash never leaves them gone unrecorded); logged once the locks are free."""
        head, seq = after
        tail = Tail(self.st.st_dev, self.st.st_ino, start, 0, head, seq)
        damage = Torn(start, self.st.st_size - start, "")
        what = "the damaged lines"
        self.log._put_over(self.fd, self.st, tail, damage, fields, self.emitted, what)
        return self.emitted[-1][0]

    def append(self, tail: Tail, event: str, fields: Mapping[str, object]) -> Record:
        """Append a record chained after ``tail``; it is logged once the locks are released."""
        record, line = self.log._append_record(self.fd, tail, event, fields)
        self.emitted.append((record, line))
        return record


def keep_unterminated(log: AuditLog, fd: int, tail: Tail, kept: Vouched, emitted: Emitted) -> Tail:
    """Add the newline a whole record after the last newline of ``log``'s file lacks, in one
    write with a `repaired` record (the writer changed bytes it did not write in one go, and
    `verify` had called the line torn: the log says what became of it); when that write
    fails, the record is left as it was. The tail after it, or `ChangedWhileLocked` when a
    process that takes no lock cut the file, or added to it, meanwhile."""
    tail = Tail(tail.dev, tail.ino, tail.size, 0, kept.head(log._key), kept.seq)
    fields: dict[str, object] = {
        "dropped_bytes": 0,
        "dropped_sha256": hashlib.sha256().hexdigest(),
        "notes": [
            f"kept seq {kept.seq}, a whole authentic record that lacked only its final "
            "newline (a write cut off at its end, or a cut of one byte): added the newline"
        ],
    }
    emitted.append(log._append_record(fd, tail, "repaired", fields, before=b"\n"))
    if log._tail is None:
        raise changed_while_locked(log.path)
    return log._tail


def take_back(path: Path, fd: int, payload: bytes) -> None:
    """After the append of ``payload`` (a record's line) left the file another size than the
    writer expected: when the file ends with it, a process that takes no lock cut the file
    between the read of its end and the append (logrotate's ``copytruncate``), and the line
    follows one it does not chain onto. It is cut off again and `ChangedWhileLocked` raised:
    the writer chains the record anew onto what is left. Anything else (the line itself cut
    since, bytes added after it) is left as it is, for the next writer to read."""
    try:
        st = os.fstat(fd)
        start = st.st_size - len(payload)
        with reopened(path, st) as rfd:
            if start < 0 or read_range(rfd, start, st.st_size) != payload:
                return
        unchanged(path, fd, st.st_size)  # cut again: a cut past its end would add zeros
        os.ftruncate(fd, start)
    except (OSError, AuditError):  # not known to be the writer's own line: left as it is
        return
    raise changed_while_locked(path)


@contextlib.contextmanager
def reopened(path: Path, st: os.stat_result, *, writes: bool = False) -> Iterator[int]:
    """A second descriptor of the locked file ``st`` describes, at ``path``, for reading (or
    ``writes``: for writing where it is told, never appending); an OSError inside is an
    AuditError, and a file no longer the one locked (or gone) `ChangedWhileLocked`."""
    verb = "write" if writes else "read"
    flags = OVERWRITE_FLAGS if writes else READ_FLAGS
    try:
        rfd = open_checked(path, flags, f"cannot open for {verb}ing")
    except AuditError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):  # renamed or removed since locked
            raise changed_while_locked(path, "removed while locked") from None
        raise
    try:
        rst = os.fstat(rfd)
        if (rst.st_dev, rst.st_ino) != (st.st_dev, st.st_ino):
            raise changed_while_locked(path, "replaced while locked")
        yield rfd
    except OSError as exc:  # an I/O error on the log (pread, fstat)
        raise os_error(path, f"cannot {verb}", exc) from exc
    finally:
        os.close(rfd)

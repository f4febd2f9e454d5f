"""The writer: `AuditLog` appends records to one file shared by threads and processes.

One ``os.write`` per record under a threading lock and an exclusive ``flock`` on a descriptor
this process opened itself (reopened after ``fork``), each waited for at most ``lock_timeout``
seconds (`lock`). Before chaining onto a tail it did not write itself, a writer authenticates
it (`tail`): a torn final line is dropped and recorded, a damaged or unauthentic one stops
every write. Each record is sealed with its own digest. `AuditLog.exclusive` lends the locked
file (`locked.LockedFile`) to maintenance (rotate, repair).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeAlias

from rds_guard.core.logs import AUDIT_LOGGER as _logger
from rds_guard.errors import AuditError
from rds_guard.forks import after_fork_in_child

from .fileio import (
    APPEND_FLAGS,
    close_if_owner,
    file_of,
    fsync_dir,
    inherited,
    open_checked,
    os_error,
    owns_descriptors,
)
from .lock import (
    flock_within,
    take_lock,
    this_process_lock,
    thread_lock_within,
    unlock,
)
from .locked import (
    MAX_REOPEN,
    LockedFile,
    flock_if_free,
    keep_unterminated,
    kept_replacing,
    locked_append,
    reopened,
    take_back,
    write_held,
)
from .record import (
    Record,
    StrPath,
    build_record,
    chain_name,
    check_fields,
    hmac_pads,
    seal,
)
from .record import writer as records_writer
from .tail import WRITE, Tail, Use, authenticate, identity, scan_tail
from .torn import Torn, check_not_joined, look, overwrite, unchanged

Emitted: TypeAlias = list[tuple[Record, str]]
"""Records written under the locks, with their lines: logged once the locks are released."""
Locked: TypeAlias = list[tuple[int, os.stat_result]]
"""The descriptor whose flock a writer holds, with its stat, once taken (`AuditLog._acquire`)."""
Holder: TypeAlias = tuple[int, Emitted]
"""The thread in an `AuditLog.held_if_free` block, and the records it wrote there."""


DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for the log's lock by default (the policy's ``[audit] lock_timeout``)."""


def _emit(emitted: Iterable[tuple[Record, str]], path: Path) -> None:
    # the path tells apart the records of several logs in one process (the pytest plugin);
    # the records are in the file: a program's handler that raises fails neither write nor call
    for record, line in emitted:
        with contextlib.suppress(Exception):
            _logger.info(line, extra={"audit_record": record, "audit_path": path})


_LIVE_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


class AuditLog:
    """An append-only, hash-chained audit log file.

    Safe to share between threads; any number of processes, forked ones included, may
    append to the same file. The file is opened lazily, on the first write.
    """

    def __init__(
        self,
        path: StrPath,
        *,
        fsync: bool = True,
        hmac_key: bytes | None = None,
        policy_sha256: str = "",
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.path: Path = Path(path)
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        """Seconds to wait for each lock before an `AuditError` (None: for ever)."""
        self._key = hmac_key
        self._pads = None if hmac_key is None else hmac_pads(hmac_key)
        self._chain = chain_name(hmac_key)
        self._policy = policy_sha256
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._fd_pid, self._pid = 0, os.getpid()  # a fork no hook saw is found by comparing
        self._fd_file: tuple[int, int] | None = None  # the file the descriptor was opened on
        self._closer: weakref.finalize[[int, int], AuditLog] | None = None
        self._tail: Tail | None = None
        self._damage: tuple[tuple[int, int, int, int], AuditError] | None = None
        self._closing = False  # asked by `close` while another thread held the log
        self._holder: Holder | None = None  # the thread in a `held_if_free` block, its records
        _LIVE_LOGS.add(self)
        owns_descriptors(self)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def _own_descriptor(self) -> int | None:
        """The descriptor of the log, when this process opened it."""
        return self._fd if self._fd_pid == os.getpid() else None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, event: str, **fields: object) -> Record:
        """Append one record; fills prev, seq, time, policy, pid and host, and seals it (chain
        and digest, last).

        ``fields`` are the record's other keys (``call``, ``service``, ``operation``,
        ``region``, ``snapshot``, ``source``, ``arn``, ``tags``, ``injected``, ``inherited``,
        ``violations``, ``error``, ``request_id``, ``notes``) plus the `EXTRA_FIELDS`
        (``dropped_bytes``, ``dropped_sha256``, ``rotated_from``, ...), written after ``notes``.
        Missing ones default to None, or ``[]`` for the lists and ``{}`` for ``tags``;
        ``violations`` takes ``Violation`` objects or dicts; ``snapshot`` is lowercased.
        Returns the record written. An unknown event is a ValueError, an unknown field a
        TypeError; a record that cannot be written (a damaged log, an unauthentic tail, a lock
        held past ``lock_timeout``) is an ``AuditError``, none of it left where that can be helped.
        """
        check_fields(event, fields)
        holder = self._holder
        if holder is not None and holder[0] == threading.get_ident():
            return write_held(self, holder, event, fields)
        lock = self._lock_after_any_fork()
        emitted: Emitted = []
        held: list[bool] = []
        locked: Locked = []
        try:
            try:
                thread_lock_within(lock, self.path, self.lock_timeout, held)
                try:
                    locked_append(self, locked, emitted, event, fields)
                finally:
                    if locked:  # C calls alone up to the release (no handler runs between)
                        try:  # noqa: SIM105 (suppress's __enter__ is a Python function's)
                            fcntl.flock(locked[0][0], fcntl.LOCK_UN)
                        except OSError:  # closing the descriptor releases it anyway
                            pass
            finally:
                if held:
                    lock.release()
                    if self._closing:
                        self._close_file()
        finally:
            _emit(emitted, self.path)  # a repaired record may be written even when this one is not
        return emitted[-1][0]

    @contextlib.contextmanager
    def held_if_free(self) -> Iterator[bool]:
        """Hold the log's locks for the block when both are free now: yields True, and the
        records this thread writes in the block are written under them, with no wait. Yields
        False, holding nothing, when a lock is held or that is not known: the file not open
        in this process yet (or closed), replaced (rotated), or not to be locked (the write
        says why). The async guard writes a record on its event loop only in a block that
        yields True (a wait there would stop every task): the check and the write are one
        hold, so no lock taken between them can stop the loop. Opens nothing; the records
        written in the block are logged as it ends."""
        lock = self._lock_after_any_fork()
        taken: list[bool] = []
        flocked: list[int] = []
        emitted: Emitted = []
        try:
            try:
                held = take_lock(lock, 0, taken) and flock_if_free(self, flocked)
                if held:
                    self._holder = (threading.get_ident(), emitted)
                yield held
            finally:
                if taken:  # only the thread holding the lock has a hold to end: another's stays
                    self._holder = None
                # as in write: C calls alone up to the unlock, of the descriptor locked while
                # the log still holds it (closed meanwhile, its number may be another file's)
                if flocked and self._fd == flocked[0]:
                    try:  # noqa: SIM105 (suppress's __enter__ is a Python function's)
                        fcntl.flock(flocked[0], fcntl.LOCK_UN)
                    except OSError:
                        pass
        finally:  # a signal handler raising at the unlock still lets the thread lock go
            if taken:
                lock.release()
                if self._closing:
                    self._close_file()
            _emit(emitted, self.path)

    def close(self) -> None:
        """Close the file; a later write opens it again. While another thread holds the log
        (writing a record, waiting up to ``lock_timeout`` for another process's lock, stuck
        in an fsync; maintenance), close does not wait: that thread closes it as it lets go."""
        self._close_file()

    def _close_file(self) -> None:
        """The file (not a subclass's shipping thread) closed now, or by the thread holding
        the log, which looks at ``_closing`` after its release: asked again once it is set (a
        holder may have looked before), and a holder since looks after its own release."""
        lock = self._lock_after_any_fork()
        taken: list[bool] = []
        try:
            if not take_lock(lock, 0, taken):
                self._closing = True
                if not take_lock(lock, 0, taken):
                    return
            self._closing = False
            self._drop_fd(close=True)
            self._tail = None
        finally:
            if taken:
                lock.release()
                if self._closing:  # another close came meanwhile
                    self._close_file()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[LockedFile]:
        """Hold both locks (the threading lock, then the ``flock``) around maintenance.

        Yields the `LockedFile`, checked to still be the file at ``self.path``. The records
        appended through it are logged once the locks are released; afterwards the log
        forgets what it knew of the file's end, which maintenance may have moved or cut.
        """
        lock = self._lock_after_any_fork()
        emitted: Emitted = []
        held: list[bool] = []
        locked: Locked = []
        try:
            try:
                thread_lock_within(lock, self.path, self.lock_timeout, held)
                try:
                    fd, st = self._acquire(locked)
                    yield LockedFile(self, fd, st, emitted)
                finally:
                    if locked:  # as in write
                        try:  # noqa: SIM105
                            fcntl.flock(locked[0][0], fcntl.LOCK_UN)
                        except OSError:
                            pass
                        self._tail = self._damage = None
            finally:
                if held:
                    lock.release()
                    if self._closing:
                        self._close_file()
        finally:
            _emit(emitted, self.path)

    def _build(self, event: str, fields: Mapping[str, object], head: str, seq: int) -> Record:
        """The record this writer would write after ``head``, unsealed (the benchmarks use it)."""
        return build_record(event, fields, head, seq, self._policy, self._chain)

    # -- the descriptor and the locks --

    def _own_fd(self) -> int:
        if self._fd is None:
            fd = open_checked(self.path, APPEND_FLAGS, "cannot open for appending")
            self._fd, self._fd_pid, self._fd_file = fd, os.getpid(), file_of(fd)
            self._closer = weakref.finalize(self, close_if_owner, fd, self._fd_pid)
            # not at exit: an exit handler run after the interpreter's hooks may still write a
            # record, on a descriptor closed there that a file the program opened since took
            self._closer.atexit = False
            if self.fsync:
                fsync_dir(self.path.parent)
        return self._fd

    def _drop_fd(self, *, close: bool) -> None:
        if self._closer is not None:
            self._closer.detach()
            self._closer = None
        mine = close and self._fd_pid == os.getpid()
        # forgotten, then closed, with no call between for a signal's handler to run at: an
        # interrupt leaves a descriptor open at worst, never a number a file since took
        fd, self._fd = self._fd, None
        if fd is not None and mine:
            try:  # noqa: SIM105 (suppress's __enter__ is a call)
                os.close(fd)
            except OSError:
                pass

    def _forget_after_fork(self, *, close: bool = True) -> None:
        """In a forked child: new locks, the parent's descriptor closed (``close``; found late,
        only while it is still the parent's: `inherited`), and the pid, last: it tells other
        threads."""
        self._lock, self._closing, self._holder = threading.Lock(), False, None
        if self._fd is not None and (close or inherited(self._fd, self._fd_file)):
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._drop_fd(close=False)
        self._pid = records_writer()[0]  # the records' pid asked again too

    def _lock_after_any_fork(self) -> threading.Lock:
        """The log's thread lock, after `_forget_after_fork` when a fork no at-fork hook saw
        (uWSGI's, by default) is found here: once, whichever threads of the child find it."""
        if self._pid != os.getpid():
            with this_process_lock():
                if self._pid != os.getpid():
                    self._forget_after_fork(close=False)
        return self._lock

    def _acquire(self, locked: Locked) -> tuple[int, os.stat_result]:
        """The descriptor, flock held, checked to still be the file at ``self.path``, and put in
        ``locked`` (empty) for the caller's ``finally`` to unlock; until then any exception (a
        signal handler's too) closes it, which lets the flock go."""
        for _ in range(MAX_REOPEN):
            fd = self._own_fd()
            try:
                flock_within(fd, self.path, self.lock_timeout)
                st = os.fstat(fd)
                if self._path_names(st):
                    locked.append((fd, st))  # one C call: no handler runs before it is in
                    return fd, st
                # Rotated or removed since we opened it: write to whatever the path names now.
                unlock(fd)
            except BaseException as exc:  # a signal handler's too, the flock taken or not
                if locked:  # kept: the caller's finally lets it go
                    raise
                try:  # noqa: SIM105 (inline: a second interrupt at a call's entry would keep it)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                except OSError:
                    pass
                self._drop_fd(close=True)
                if isinstance(exc, OSError):
                    raise os_error(self.path, "cannot lock", exc) from exc
                raise
            self._drop_fd(close=True)
        raise kept_replacing(self.path)

    def _path_names(self, st: os.stat_result) -> bool:
        try:
            current = os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise os_error(self.path, "cannot stat", exc) from exc
        return (current.st_dev, current.st_ino) == (st.st_dev, st.st_ino)

    # -- the file's end --

    def _current_tail(
        self, fd: int, st: os.stat_result, emitted: Emitted, use: Use = WRITE
    ) -> Tail:
        """Head and seq to chain from; reads the file only when another writer changed it,
        and then authenticates the last record before chaining onto it (`tail.authenticate`)."""
        if self._tail is not None and self._tail.describes(st):
            return self._tail
        if self._damage is not None and self._damage[0] == identity(st):
            raise self._damage[1].with_traceback(None)
        self._tail = None
        with reopened(self.path, st) as rfd:
            scan = scan_tail(rfd, st.st_size, use.longest)
            torn = None
            try:
                vouched = authenticate(self.path, rfd, scan, self._key, use)
                if scan.torn_bytes:
                    torn = look(rfd, scan.complete_end, st.st_size, vouched, self._key)
                    check_not_joined(self.path, rfd, torn)
            except AuditError as exc:
                unchanged(self.path, rfd, st.st_size)  # a cut meanwhile is no damage
                self._damage = (identity(st), exc)
                raise
            unchanged(self.path, rfd, st.st_size)
        tail = Tail(
            st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns, vouched.head(self._key), vouched.seq
        )
        if torn is None:
            self._tail = tail
            return tail
        if torn.kept is not None:
            return keep_unterminated(self, fd, tail, torn.kept, emitted)
        return self._drop_torn_line(fd, st, tail, torn, emitted)

    def _drop_torn_line(
        self, fd: int, st: os.stat_result, tail: Tail, torn: Torn, emitted: Emitted
    ) -> Tail:
        """Put a `repaired` record of a torn final line (a crash mid-write) in its place."""
        fields: dict[str, object] = {
            "dropped_bytes": torn.size,
            "dropped_sha256": torn.sha256,
            "notes": [f"dropped a torn final line of {torn.size} bytes (a cut-off write)"],
        }
        return self._put_over(fd, st, tail, torn, fields, emitted)

    def _put_over(
        self,
        fd: int,
        st: os.stat_result,
        tail: Tail,
        torn: Torn,
        fields: Mapping[str, object],
        emitted: Emitted,
        what: str = "a torn final line",
    ) -> Tail:
        """Put a `repaired` record chained after ``tail`` in place of the bytes ``torn``
        describes: written over them, and only then the rest cut (`overwrite`)."""
        record = self._build("repaired", fields, tail.head, tail.seq + 1)
        line, head = seal(record, self._pads)
        with reopened(self.path, st, writes=True) as wfd:
            overwrite(self.path, wfd, torn, line + b"\n", fsync=self.fsync, what=what)
        emitted.append((record, line.decode("ascii")))
        return self._advance(fd, tail, torn.start + len(line) + 1, head)

    # -- appending --

    def _append_record(
        self, fd: int, tail: Tail, event: str, fields: Mapping[str, object], before: bytes = b""
    ) -> tuple[Record, str]:
        """Append the record after ``tail``, preceded by ``before``, in one write (taken back
        when the file was cut under it: `take_back`)."""
        record = self._build(event, fields, tail.head, tail.seq + 1)
        line, head = seal(record, self._pads)
        payload = before + line + b"\n"
        self._append(fd, payload, tail.size)
        self._advance(fd, tail, tail.size + len(payload), head)
        if self._tail is None:  # the file is not as this write left it
            take_back(self.path, fd, payload)
        return record, line.decode("ascii")

    def _advance(self, fd: int, tail: Tail, size: int, head: str) -> Tail:
        """Remember the end once the record after ``tail`` is written: ``size`` bytes, ``head``;
        forgotten (the next write reads the end again) when the file is another size then."""
        try:
            st = os.fstat(fd)
            ctime_ns, now = st.st_ctime_ns, st.st_size
        except OSError:
            ctime_ns, now = 0, size  # never matches a real stat: the next write rereads the tail
        advanced = Tail(tail.dev, tail.ino, size, ctime_ns, head, tail.seq + 1)
        self._tail = advanced if now == size else None
        return advanced

    def _append(self, fd: int, payload: bytes, size: int) -> None:
        """One ``write`` of the whole line, then fsync; on failure leave no partial bytes."""
        try:
            written = os.write(fd, payload)
        except OSError as exc:
            self._undo(fd, size)
            raise os_error(self.path, "cannot append a record", exc) from exc
        if written != len(payload):
            undone = self._undo(fd, size)
            raise AuditError(
                f"{self.path}: cannot append a record: short write ({written} of "
                f"{len(payload)} bytes; disk full or file size limit?); "
                + ("the partial line was removed" if undone else "a torn line may remain"),
                path=str(self.path),
            )
        if self.fsync:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._undo(fd, size)
                raise os_error(self.path, "cannot fsync a record", exc) from exc

    def _undo(self, fd: int, size: int) -> bool:
        """Truncate back to ``size``; False when that failed (the next writer repairs it)."""
        self._tail = None
        try:
            if os.fstat(fd).st_size > size:
                os.ftruncate(fd, size)
        except OSError:
            return False
        return True


def _after_fork_in_child() -> None:
    for log in list(_LIVE_LOGS):
        log._forget_after_fork()


after_fork_in_child(_after_fork_in_child)

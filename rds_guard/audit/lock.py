"""Taking the log's ``flock`` (a writer's exclusive one, a reader's shared one) without
waiting forever, and naming who holds it.

The uncontended path is one ``flock(LOCK_EX | LOCK_NB)``; a held lock is polled with a short,
growing sleep until ``lock_timeout`` runs out, then the `AuditError` names the file and, where
Linux's ``/proc/locks`` tells (by the file's device and inode), the holder's pid. See
docs/audit.md, "Many writers, one file".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from rds_guard.errors import AuditError

PROC_LOCKS = Path("/proc/locks")
_FIRST_SLEEP = 0.0002
_LONGEST_SLEEP = 0.02


def flock_within(fd: int, path: Path, timeout: float | None) -> None:
    """Take the exclusive ``flock`` on ``fd``, waiting at most ``timeout`` seconds (None:
    for ever). A lock still held then is an `AuditError`; any other failure an OSError."""
    if not try_flock(fd, timeout):
        assert timeout is not None  # waiting for ever never gives up
        raise timed_out(path, timeout, holder_pids(os.fstat(fd)))


def unlock(fd: int) -> None:
    """Let go of the ``flock`` on ``fd``; an error is ignored (closing ``fd`` lets it go too)."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)


def try_flock(fd: int, timeout: float | None, *, shared: bool = False) -> bool:
    """Take the exclusive ``flock`` on ``fd`` (``shared``: a shared one, which a reader
    takes), waiting at most ``timeout`` seconds (None: for ever); False when it is still
    held then."""
    kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        if timeout is None:
            fcntl.flock(fd, kind)
            return True
    deadline = time.monotonic() + timeout
    pause = _FIRST_SLEEP
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(pause, left))
        pause = min(pause * 2, _LONGEST_SLEEP)
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


def take_lock(lock: threading.Lock, timeout: float | None, held: list[bool]) -> bool:
    """Take ``lock``, waiting at most ``timeout`` seconds (None: for ever); whether it was
    taken. ``held`` (empty) gets True once it is, in the same C call that takes it: a signal
    handler (its KeyboardInterrupt, a time limit's exception) runs between two bytecodes,
    never within one C call, so never between taking the lock and recording it, and the
    caller's ``finally`` releases the lock exactly when it was taken.
    (``lock.acquire`` itself gives up, untaken, when a handler raises while it waits.)"""
    held.extend(filter(None, map(lock.acquire, (True,), (-1 if timeout is None else timeout,))))
    return bool(held)


def thread_lock_within(
    lock: threading.Lock, path: Path, timeout: float | None, held: list[bool]
) -> None:
    """Take this process's lock on the log (`take_lock`: ``held`` gets True as it is taken),
    waiting at most ``timeout`` seconds (None: for ever); a lock still held then (by another
    thread) is an `AuditError`."""
    if take_lock(lock, timeout, held):
        return
    raise AuditError(
        f"{path}: cannot lock: another thread of this process (pid {os.getpid()}) has held "
        f"the log's lock for more than {timeout:g}s; nothing was written",
        path=str(path),
    )


_PER_PROCESS: dict[int, threading.Lock] = {}


def this_process_lock() -> threading.Lock:
    """A lock of this process's own, made at its first use here, so that no thread of a
    parent can have held it at a fork (seen by an at-fork hook or not): for the threads of a
    child that each find the fork, so that only one of them acts on it."""
    pid = os.getpid()
    lock = _PER_PROCESS.get(pid)
    if lock is None:  # a process's first: its ancestors' locks are no use to it
        lock = _PER_PROCESS.setdefault(pid, threading.Lock())
        for other in list(_PER_PROCESS):  # a copy taken at once: another thread may add
            if other != pid:
                _PER_PROCESS.pop(other, None)
    return lock


def timed_out(path: Path, timeout: float, holders: list[int]) -> AuditError:
    """The error for a lock still held after ``timeout`` seconds, naming the holders known."""
    who = "held by pid " + ", ".join(map(str, holders)) if holders else "its holder unknown"
    return AuditError(
        f"{path}: cannot lock: another writer has held the log's lock for more than "
        f"{timeout:g}s ({who}; stopped or hung?); nothing was written",
        path=str(path),
    )


def holder_pids(st: os.stat_result, locks: Path = PROC_LOCKS) -> list[int]:
    """The pids ``/proc/locks`` shows holding a ``flock`` on the file ``st`` describes; empty
    when that cannot be known (another OS, a pid outside our namespace shows as 0)."""
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        text = locks.read_text()
    except OSError:
        return []
    pids: list[int] = []
    for entry in text.splitlines():
        fields = entry.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF"; waiters have "->" after the id.
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[5] != wanted:
            continue
        if fields[4].isdigit() and int(fields[4]) > 0 and int(fields[4]) not in pids:
            pids.append(int(fields[4]))
    return pids

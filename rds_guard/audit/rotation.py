"""Rotation of a log file: `rotate` renames it to ``PATH.<first seq>-<last seq>`` and starts a
new file whose first record, ``rotated``, continues the chain.

It runs under the writer's locks through `AuditLog.exclusive` (waiting at most
``lock_timeout`` for them) and authenticates the record it chains onto as a writer does;
docs/audit.md ("Rotation") describes what it does to the files.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from rds_guard.errors import AuditError

from .fileio import NEW_FILE_FLAGS, copy_to_new_file, first_line, fsync_dir, open_checked, os_error
from .record import StrPath, new_call_id, parse_record
from .tail import ROTATE
from .writer import DEFAULT_LOCK_TIMEOUT, AuditLog, LockedFile, Tail


def rotate(
    path: StrPath,
    *,
    hmac_key: bytes | None = None,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> Path:
    """Rename the log to ``PATH.<first seq>-<last seq>`` and start a new one.

    Done under the lock; the new file's first record is ``rotated``, sealed in the new format
    (HMAC-SHA256 when ``hmac_key`` is given), with ``prev`` the old file's head, ``seq``
    continuing, and ``rotated_from`` the archive's name. Returns the archive's path.

    The old file's last record is authenticated first, as a writer does; unlike a writer,
    rotate with a key continues a log in the first format (its last link checked with the
    key) or a plain SHA-256 chain (its last record checked with SHA-256): it is how a log goes
    keyed. An empty log, a damaged or unauthentic tail, an HMAC-keyed log without its key
    (`KeyRequired`), a first-format log whose last link does not hold with the key, or a lock
    held past ``lock_timeout`` is an ``AuditError``.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key, lock_timeout=lock_timeout)
    try:
        with log.exclusive() as locked:
            tail = locked.tail(ROTATE)
            if tail.seq == 0:
                raise AuditError(
                    f"{log.path}: holds no records: nothing to rotate", path=str(log.path)
                )
            with locked.reader() as rfd:
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
    record, line = locked.sealed_after(tail, "rotated", {"rotated_from": archive.name})
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

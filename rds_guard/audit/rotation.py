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
import stat
from pathlib import Path

from rds_guard.errors import AuditError

from .fileio import (
    CHUNK,
    NEW_FILE_FLAGS,
    READ_FLAGS,
    copy_to_new_file,
    first_line,
    fsync_dir,
    open_checked,
    os_error,
    read_if_possible,
)
from .locked import LockedFile
from .read import continues
from .record import CHAIN_HMAC, StrPath, chain_of, new_call_id, parse_record
from .tail import ROTATE, Tail, scan_tail
from .writer import DEFAULT_LOCK_TIMEOUT, AuditLog


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
                if hmac_key is not None:
                    _check_not_a_downgrade(log.path, rfd, locked.st.st_size, first)
                first_seq = tail.seq if first is None else int(str(first["seq"]))
                archive = log.path.with_name(f"{log.path.name}.{first_seq}-{tail.seq}")
                _start_successor(locked, tail, archive, rfd)
        return archive
    finally:
        log.close()


def _check_not_a_downgrade(
    path: Path, rfd: int, size: int, first: dict[str, object] | None
) -> None:
    """Refuse to take a file that is not HMAC-keyed into a keyed series when a keyed archive
    of the log lies beside it (one its first record names as ``rotated_from``, or one named
    as rotate names them, ``PATH.<first seq>-<last seq>``): a keyed log never goes plain, so
    someone without the key rewrote it, and the keyed `rotated` record would vouch for the
    forgery (docs/audit.md, "Rotation"). The file's own fields are not trusted for this: whoever
    rewrote it resealed them as they liked."""
    if chain_of(scan_tail(rfd, size, ROTATE.longest).last_line or b"") == CHAIN_HMAC:
        return
    named = None if first is None else continues(first)
    names = {named} if named is not None else set()
    with contextlib.suppress(OSError):
        names.update(name for name in os.listdir(path.parent) if _archive_name(path, name))
    for name in sorted(names):
        if name != path.name and _keyed(path.with_name(name)):
            raise AuditError(
                f"{path}: its records are not HMAC-keyed, and {name} beside it, an archive of"
                " the log, is: a keyed log never goes plain (rewritten by someone without the "
                f"key?); rds-guard audit verify --key-env VAR {path.with_name(name)} {path} "
                "says what changed; nothing was rotated (to start a keyed series anew, move the"
                " keyed archives away first)",
                path=str(path),
            )


def _keyed(candidate: Path) -> bool:
    """Whether ``candidate`` is a regular file whose last record is HMAC-keyed."""
    last = read_if_possible(
        candidate, lambda fd, st: scan_tail(fd, st.st_size, ROTATE.longest).last_line
    )
    return last is not None and chain_of(last) == CHAIN_HMAC


def _start_successor(locked: LockedFile, tail: Tail, archive: Path, rfd: int) -> None:
    """Move the log to ``archive`` and put a file starting with ``rotated`` in its place.

    The new file is complete before it appears at the path, and the path always names
    one of the two files, so no writer ever sees a missing or headless log. ``rfd`` reads
    the old file, for filesystems without hard links.
    """
    path = locked.path
    record, line = locked.sealed_after(tail, "rotated", {"rotated_from": archive.name})
    _clear_stopped_rotation(path, archive, locked.st, rfd)
    temp = path.with_name(f".{path.name}.rotating-{new_call_id()}")
    fd = open_checked(temp, NEW_FILE_FLAGS, "cannot create the rotated log")
    try:
        try:
            _owned_as(fd, locked.st)
            written = os.write(fd, line + b"\n")
            if written != len(line) + 1:  # a full disk, or the process's file size limit
                raise OSError(
                    0,
                    f"short write ({written} of {len(line) + 1} bytes; disk full or file size"
                    " limit?)",
                )
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            _keep_old_name(path, archive, rfd, locked.st)
        except FileExistsError:
            raise AuditError(
                f"{path}: cannot rotate: {archive} already exists", path=str(path)
            ) from None
        try:
            os.replace(temp, path)
        except BaseException:
            _undo_keep(archive, temp)
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


def _owned_as(fd: int, old: os.stat_result) -> None:
    """Give the new log the old one's owner, group and permissions: the writers that could
    write the old one write the new (a rotation run by root's cron must not lock the
    application out, nor a group's reader lose it). The owner as far as the rotating user may
    give it (root may; another user may give a group of its own); the read and write
    permissions always. Never the execute, setuid, setgid or sticky bits: whoever can set
    them on the old log (its owner) would get them on a file the rotating user made, and
    owns when it may not give the file away: a setuid file of that user's, which they can
    write."""
    with contextlib.suppress(OSError):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            os.fchown(fd, -1, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & _READ_WRITE)


_READ_WRITE = 0o666
"""The permission bits a rotated log takes from the old one: read and write, no more."""


def _keep_old_name(path: Path, archive: Path, rfd: int, st: os.stat_result) -> None:
    """Give the current log (``st``, locked) its archive name too, never replacing an
    existing file.

    A hard link where the filesystem has them, checked to name the locked file (one who can
    write the directory may have put another file at the path: refused, the name taken back);
    else a copy of the bytes (``rfd`` reads the old file; the caller holds its flock, so
    nothing is appended meanwhile). Never a rename: that would leave the path missing until
    the new file replaces it, and a writer that came then would create a file there, write to
    it unopposed and lose its record to the replace.
    """
    try:
        os.link(path, archive, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        copy_to_new_file(rfd, archive)
        return
    linked = os.lstat(archive)
    if (linked.st_dev, linked.st_ino) != (st.st_dev, st.st_ino):
        os.unlink(archive)
        raise AuditError(
            f"{path}: cannot rotate: another file was put at the path while it was rotated (by"
            " someone who can write its directory); nothing was rotated",
            path=str(path),
        )


def _undo_keep(archive: Path, temp: Path) -> None:
    """Remove the archive name when the new file has not replaced the log (``temp`` is still
    there): the log keeps its one name. Once it has, the archive is the old log's only name."""
    with contextlib.suppress(OSError):
        if os.path.lexists(temp):
            os.unlink(archive)


def _clear_stopped_rotation(path: Path, archive: Path, st: os.stat_result, rfd: int) -> None:
    """Remove what a rotate of this very file left when it was stopped (killed) before the
    new file replaced the log: that new file, never put in place (``.PATH.rotating-<id>``
    holding one ``rotated`` record; the caller holds the lock, so no rotate is making one now),
    and an archive name on the log itself (a hard link, which grows with it) or, under this
    rotation's first seq, on a copy of the start of its bytes. Such a name is read as the log's
    records again by whoever verifies ``PATH.*``; this rotation archives them under its own.

    Only ``PATH.<seq>-<seq>`` names are looked at, and only a file that is the log itself or
    (named ``PATH.<this first seq>-<seq>``) holds nothing but the log's first bytes is
    removed."""
    prefix = archive.name[: archive.name.rindex("-") + 1]
    try:
        entries = [entry for entry in os.scandir(path.parent) if _leftover_name(path, entry.name)]
    except OSError:
        return  # no listing: a taken name is still refused by _keep_old_name
    for entry in entries:
        with contextlib.suppress(OSError):
            found = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(found.st_mode):
                continue
            if entry.name.startswith("."):
                stopped = _unplaced(entry.path, found.st_size)
            else:
                stopped = (found.st_dev, found.st_ino) == (st.st_dev, st.st_ino) or (
                    entry.name.startswith(prefix) and _starts(entry.path, rfd, found.st_size)
                )
            if stopped:
                os.unlink(entry.path)


_UNPLACED_MAX = 1 << 16
"""The most bytes a new file never put in place can hold: its one ``rotated`` record."""


def _leftover_name(path: Path, name: str) -> bool:
    """Whether ``name`` is one a stopped rotate of ``path`` leaves: ``PATH.<seq>-<seq>``, or
    ``.PATH.rotating-<32 hex digits>``."""
    if name.startswith(f".{path.name}.rotating-"):
        tail = name[len(path.name) + 11 :]
        return len(tail) == 32 and all(c in "0123456789abcdef" for c in tail)
    return _archive_name(path, name)


def _archive_name(path: Path, name: str) -> bool:
    """Whether ``name`` is one rotate gives an archive of ``path``: ``PATH.<seq>-<seq>``."""
    if not name.startswith(f"{path.name}."):
        return False
    first, dash, last = name[len(path.name) + 1 :].partition("-")
    return bool(dash) and all(part.isascii() and part.isdigit() for part in (first, last))


def _unplaced(name: str, size: int) -> bool:
    """Whether the file ``name`` holds one ``rotated`` record and nothing else."""
    if size > _UNPLACED_MAX:
        return False
    fd = os.open(name, READ_FLAGS)
    try:
        record = parse_record(os.pread(fd, _UNPLACED_MAX, 0).rstrip(b"\n"))
    finally:
        os.close(fd)
    return record is not None and record.get("event") == "rotated"


def _starts(name: str, rfd: int, size: int) -> bool:
    """Whether the file ``name`` holds exactly the first ``size`` bytes of the log ``rfd``."""
    fd = os.open(name, READ_FLAGS)
    try:
        offset = 0
        while offset < size:
            block = os.pread(fd, CHUNK, offset)
            if not block or block != os.pread(rfd, len(block), offset):
                return False
            offset += len(block)
        return not os.pread(fd, 1, offset)
    finally:
        os.close(fd)

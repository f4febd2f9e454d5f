"""Reading a file that must be a regular one (a FIFO or a device is refused, never waited on),
and saying why a file could not be created in a directory."""

from __future__ import annotations

import os
import stat
import sys

_FILE_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a directory",
    stat.S_IFREG: "a regular file",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def file_kind(mode: int) -> str:
    """What kind of file a ``st_mode`` is, for messages ("a FIFO", "a directory"...)."""
    return _FILE_KINDS.get(stat.S_IFMT(mode), "a special file")


class NotRegularFile(OSError):
    """Something other than a regular file is at the path; ``kind`` says what."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} is at the path, not a regular file")
        self.kind = kind


def read_regular_file(path: str, limit: int | None = None) -> bytes:
    """The bytes of the regular file at ``path``: `NotRegularFile`, or OSError, otherwise.

    With ``limit``, at most ``limit + 1`` bytes are read: more than ``limit`` says the file is
    larger, without reading all of it.
    """
    with open(open_regular_file(path), "rb") as stream:
        return stream.read() if limit is None else stream.read(limit + 1)


def open_regular_file(path: str | os.PathLike[str]) -> int:
    """A descriptor open for reading on the regular file at ``path``: `NotRegularFile`, or
    OSError, otherwise. Never waits: a FIFO with no writer is refused, not waited on."""
    # O_NONBLOCK: opening a FIFO that has no writer would otherwise wait for one forever
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(file_kind(mode))
    return fd


def directory_problem(path: str | os.PathLike[str]) -> str | None:
    """Why no file could be created in the directory ``path``; None when one can be.

    Asked before the first write (the audit log at install, ``rds-guard check``), so that a
    missing or read-only directory is found then, not at the first guarded call.
    """
    where = os.fspath(path)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError:
        return f"the directory {where} does not exist"
    except NotADirectoryError:
        return f"the directory {where} does not exist (a part of the path is a file)"
    except OSError as exc:
        return f"the directory {where} cannot be examined: {exc.strerror or exc}"
    if not stat.S_ISDIR(mode):
        return f"{where} is {file_kind(mode)}, not a directory"
    effective = os.access in os.supports_effective_ids  # the ids a file is created with
    if not os.access(where, os.W_OK | os.X_OK, effective_ids=effective):
        try:
            read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        if read_only:
            return f"the directory {where} is on a read-only file system"
        return f"the directory {where} is not writable (permission denied)"
    return None


def append_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a file at ``path`` could not be opened for appending: its directory (see
    `directory_problem`, when the file is not there yet), or the file itself (not a regular
    file, not writable, or not readable: a log's writer reads its last record). None when
    nothing stands in the way."""
    where = os.fspath(path)
    if not where:
        return "the path is empty"
    if "\0" in str(where):
        return "the path holds a NUL byte"
    unencodable = unencodable_path(where)
    if unencodable is not None:
        return unencodable
    try:
        mode = os.lstat(where).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return directory_problem(os.path.dirname(where) or ".")
    except OSError as exc:
        return f"{where} cannot be examined: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return f"{file_kind(mode)} is at the path, not a regular file"
    effective = os.access in os.supports_effective_ids  # the ids the writer opens it with
    if not os.access(where, os.W_OK, effective_ids=effective):
        return f"the file {where} is not writable (permission denied)"
    if not os.access(where, os.R_OK, effective_ids=effective):
        return (
            f"its writer reads its last record, and the file {where} is not readable"
            " (permission denied)"
        )
    return None


def unencodable_path(path: str) -> str | None:
    """Why ``path`` cannot name a file on this system: a character the file system's encoding
    (ASCII under ``LC_ALL=C`` without UTF-8 mode) cannot write. None when it can."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError as exc:
        return (
            f"the path holds {path[exc.start]!r}, which this system's file name encoding"
            f" ({sys.getfilesystemencoding()}) cannot write: run Python in UTF-8 mode"
            " (PYTHONUTF8=1) or under a UTF-8 locale"
        )
    return None


def log_problem(path: str | os.PathLike[str], policy_source: str) -> str | None:
    """Why an audit log could not be appended at ``path`` (`append_problem`), or why it must
    not be: it is the policy file (``policy_source``) itself, under any name, which the log's
    first record would end. None when nothing stands in the way."""
    problem = append_problem(path)
    if problem is None and _same_file(path, policy_source):
        return "it is the policy file itself"
    return problem


def _same_file(path: str | os.PathLike[str], other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except (OSError, ValueError):  # either is not there (a policy made from text)
        return False

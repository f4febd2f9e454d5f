"""Reading a file that must be a regular one: a FIFO or a device is refused, never waited on."""

from __future__ import annotations

import os
import stat

_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, for messages (``st_mode`` in)."""
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
    # O_NONBLOCK: opening a FIFO that has no writer would otherwise wait for one forever
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(file_kind(mode))
        with open(fd, "rb", closefd=False) as stream:
            return stream.read() if limit is None else stream.read(limit + 1)
    finally:
        os.close(fd)

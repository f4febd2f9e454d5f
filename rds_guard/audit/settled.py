"""Reading a log file to an end no write is in the middle of.

A writer appends each record with one ``write`` under the file's exclusive ``flock``, but a
reader that takes no lock can see part of that write: Linux makes the bytes of a write
readable as it copies them in, page by page. A reader at the end of a live log may so read
the start of a line being written, which is no torn line. `settled_blocks` reads such an
end again once it can share the ``flock``: no writer is in the middle of a write then.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from .fileio import read_blocks
from .lock import try_flock, unlock
from .record import StrPath

SETTLE_WAIT = 5.0
"""How long, in seconds, a reader waits to share the ``flock`` of a log whose end it read in
the middle of a line; a lock held longer, the end is read as it was (a torn line)."""


def settled_blocks(fd: int, *, path: StrPath, wait: float | None = None) -> Iterator[bytes]:
    """The bytes of ``fd`` in blocks, as `read_blocks` reads them to the end of the file; when
    they end within a line, the bytes written after them up to where the file ends once its
    ``flock`` is shared (read under that lock, which holds writers off only while they are
    read): a line still unterminated then is torn (a write cut off), not one in flight. Where
    the lock cannot be shared within ``wait`` seconds (default: `SETTLE_WAIT`), the file
    system has no ``flock``, the unfinished line is longer than a block, or a writer wrote
    over it meanwhile (the repair of a torn line), the bytes end where they were first read."""
    end, last = 0, b""
    for last in read_blocks(fd, path=path):
        end += len(last)
        yield last
    started = last.rfind(b"\n") + 1  # where in the last block the unfinished line starts
    if not last or started == len(last) or (started == 0 and end > len(last)):
        return  # no line left unfinished, or one longer than a block: as it was read
    try:
        if not try_flock(fd, SETTLE_WAIT if wait is None else wait, shared=True):
            return
    except OSError:  # no flock here (some network file systems): nothing more is known
        return
    try:
        begun = end - len(last) + started
        # a writer that repaired a torn line meanwhile wrote over it: the end, as read, stands
        still = os.pread(fd, end - begun, begun) == last[started:]
        rest = list(read_blocks(fd, end, os.fstat(fd).st_size, path=path)) if still else []
    finally:
        unlock(fd)
    yield from rest

"""A torn final line: the bytes after the log's last newline, as a writer finds them under the
lock, and how it replaces them by its `repaired` record without ever losing them unrecorded.

docs/audit.md, "Crashes, damage and repair", says what a writer does with them and why.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from rds_guard.errors import AuditError

from .fileio import os_error, read_range, sha256_range


@dataclass(frozen=True)
class Torn:
    """The bytes after the last newline: where they start, how many, and their SHA-256."""

    start: int
    size: int
    sha256: str

    @property
    def end(self) -> int:
        """Where they end: the file's size."""
        return self.start + self.size


def look(fd: int, start: int, end: int) -> Torn:
    """The torn bytes ``start:end`` of ``fd``."""
    return Torn(start, end - start, sha256_range(fd, start, end))


def overwrite(path: Path, fd: int, torn: Torn, payload: bytes, *, fsync: bool) -> None:
    """Put ``payload`` (a sealed line and its newline) in place of the torn bytes on ``fd``, a
    descriptor of the locked file that writes where it is told (not ``O_APPEND``).

    The line is written over the torn bytes, and only once it is whole in the file is what is
    left of them cut: a crash at any point leaves the torn bytes as they were, or the line
    that records them (followed, at worst, by the rest of them: a shorter torn line, which
    the next writer records in turn). Cutting first and appending after would leave the torn
    bytes gone with nothing recording them whenever the append fails (a full disk) or a
    crash comes between the two. When the line cannot be written the bytes it covered are
    put back and the file cut to its size before; then an `AuditError`.
    """
    try:
        covered = read_range(fd, torn.start, torn.start + len(payload))
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
        error = os_error(path, "cannot write the repaired record of a torn final line", exc)
        raise AuditError(
            error.detail
            + (
                "; the torn line is left as it was"
                if put_back
                else "; the torn line may be damaged"
            ),
            path=str(path),
        ) from exc
    if len(payload) < torn.size:
        try:
            os.ftruncate(fd, torn.start + len(payload))
        except OSError as exc:  # the line is whole: what is left is a torn line, recorded next
            raise os_error(path, "cannot cut the rest of a torn final line", exc) from exc


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

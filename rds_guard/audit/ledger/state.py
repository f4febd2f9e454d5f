"""What a shipper remembers beside the log: ``PATH.shipped``, a small JSON file naming the
table and stream, the seq up to which every record is acknowledged in order, and where in
the series it stands (a `Cursor`); and the lock that lets one shipper at a time work on a log
(an exclusive ``flock`` on that file, waited for at most a timeout).

The file is a convenience, never trusted for safety: every put is conditional, a shipper
compares its record at the ledger's head before resuming, and a lost or damaged state file
only means the ledger is read to find where shipping stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from ..fileio import FILE_MODE, file_of, inherited, os_error, owns_descriptors
from ..lock import try_flock
from .series import Cursor

SUFFIX = ".shipped"
"""What the state file adds to the log's name."""

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


@frozen
class ShipState:
    """Every record of ``stream`` up to ``acked`` (in the series' order) is in ``table``;
    ``cursor`` is where the acknowledged line was read."""

    table: str
    stream: str
    acked: int
    cursor: Cursor | None = None

    def as_json(self) -> bytes:
        """The state file's bytes."""
        document = {
            "version": 1,
            "table": self.table,
            "stream": self.stream,
            "acked": self.acked,
            "cursor": None if self.cursor is None else self.cursor.as_dict(),
        }
        return json.dumps(document, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> ShipState | None:
        """The state `as_json` wrote; None for anything else (a damaged file is forgotten)."""
        try:
            value = json.loads(data)
        except ValueError:
            return None
        if not isinstance(value, dict) or value.get("version") != 1:
            return None
        table, stream, acked = value.get("table"), value.get("stream"), value.get("acked")
        if not isinstance(table, str) or not isinstance(stream, str) or type(acked) is not int:
            return None
        return cls(table, stream, int(str(acked)), Cursor.from_dict(value.get("cursor")))


def state_path(log: Path) -> Path:
    """Where the state of ``log``'s shipping is kept."""
    return log.with_name(log.name + SUFFIX)


class StateFile:
    """The state file of one log, open and locked while a shipper works (`locked`)."""

    def __init__(self, log: Path) -> None:
        self.path = state_path(log)
        self._fd: int | None = None
        self._file: tuple[int, int] | None = None  # the device and inode of the one held
        self._open: int | None = None  # open by `locked`, held or not (`_own_descriptor`)
        self._pid = os.getpid()
        owns_descriptors(self)

    def _own_descriptor(self) -> int | None:
        """The descriptor `locked` has open, when this process opened it."""
        return self._open if self._pid == os.getpid() else None

    @contextlib.contextmanager
    def locked(self, timeout: float | None) -> Iterator[bool]:
        """Hold the shipping lock of the log for the block; yields False (and holds nothing)
        when another shipper kept it for ``timeout`` seconds (0: do not wait)."""
        try:
            fd = os.open(self.path, _FLAGS, FILE_MODE)
        except (OSError, ValueError) as exc:
            raise os_error(self.path, "cannot open the shipping state", exc) from exc
        self._open, self._pid = fd, os.getpid()
        try:
            if not try_flock(fd, timeout):
                yield False
                return
            self._fd, self._file = fd, file_of(fd)
            try:
                yield True
            finally:
                self._fd = None
                # unlocked before it is closed: the lock belongs to the open file, which a
                # child's copy of the descriptor (a fork while it was held) keeps open
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._open = None
            os.close(fd)

    def forget_after_fork(self, *, close: bool = True) -> None:
        """In a forked child: close its copy of a descriptor a parent's thread held locked at
        the fork, so that the open file, and its lock, go with the parent's. A fork found
        only later (``close`` False: no at-fork hook saw it) closes it only while it is still
        the parent's (`inherited`): its number may name another file by then. Left open, a
        parent killed while it held the lock would hold every shipper of the log off for as
        long as the child lived."""
        fd, self._fd, self._open = self._fd, None, None
        if fd is not None and (close or inherited(fd, self._file, _FLAGS)):
            with contextlib.suppress(OSError):
                os.close(fd)

    def load(self) -> ShipState | None:
        """The state saved last (None: none, or unreadable). Only while `locked`."""
        fd = self._held()
        try:
            data = os.pread(fd, 1 << 16, 0)
        except OSError:
            return None
        return ShipState.from_json(data)

    def save(self, state: ShipState) -> None:
        """Replace the saved state (one write; a torn one is forgotten on the next load)."""
        fd = self._held()
        data = state.as_json()
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError as exc:
            raise os_error(self.path, "cannot save the shipping state", exc) from exc

    def _held(self) -> int:
        if self._fd is None:
            raise AuditError(f"{self.path}: the shipping state is read only under its lock")
        return self._fd

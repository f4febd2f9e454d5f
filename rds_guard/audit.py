"""The audit log: one hash-chained JSON record per line, shared by threads and processes.

Every line starts with ``{"prev":"`` followed by the 64 hex digits of the previous line's hash
and ``","seq":``, so the chain can be checked by slicing bytes, without parsing JSON. The
file is appended to with one ``os.write`` per record, under a threading lock and an exclusive
``flock`` on a descriptor this process opened itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import hmac
import io
import itertools
import json
import logging
import os
import re
import socket
import stat
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

from rds_guard.core.files import file_kind
from rds_guard.errors import AuditError, Violation

__all__ = [
    "EVENTS",
    "EXTRA_FIELDS",
    "REASONS",
    "RECORD_FIELDS",
    "ZERO_HASH",
    "AuditLog",
    "LogLine",
    "MissingKey",
    "RepairResult",
    "VerifyResult",
    "chain_hash",
    "is_digest",
    "iter_lines",
    "key_from_env",
    "new_call_id",
    "parse_record",
    "read_records",
    "repair",
    "rotate",
    "verify",
]

StrPath: TypeAlias = "str | os.PathLike[str]"
Record: TypeAlias = dict[str, object]

RECORD_FIELDS: tuple[str, ...] = (
    "prev",
    "seq",
    "time",
    "event",
    "call",
    "service",
    "operation",
    "region",
    "snapshot",
    "source",
    "arn",
    "tags",
    "injected",
    "inherited",
    "violations",
    "error",
    "request_id",
    "policy",
    "pid",
    "host",
    "notes",
)
"""The keys of every record, in the order they are written."""

EXTRA_FIELDS: tuple[str, ...] = ("dropped_bytes", "dropped_sha256", "rotated_from")
"""Keys some records add after the standard ones (``repaired`` and ``rotated`` records)."""

EVENTS: frozenset[str] = frozenset(
    {
        "blocked",
        "requested",
        "created",
        "failed",
        "unknown",
        "tagged",
        "untagged",
        "shared",
        "unshared",
        "deleted",
        "repaired",
        "rotated",
    }
)
"""Every event a record may carry."""

ZERO_HASH = "0" * 64
"""The ``prev`` of the first record of a log."""

_logger = logging.getLogger("rds_guard.audit")

_LINE_START = b'{"prev":"'
_SEQ_KEY = b'","seq":'
_PREV_START, _PREV_END = 9, 73
_SEQ_DIGITS = _PREV_END + len(_SEQ_KEY)
_HEX64 = re.compile(r"[0-9a-f]{64}")

_APPEND_FLAGS = (
    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_MODE = 0o600
_CHUNK = 1 << 20
_TAIL_BLOCK = 1 << 13
_MAX_REOPEN = 16
_LOOKAHEAD = 100

_CALLER_FIELDS = frozenset(RECORD_FIELDS[4:]) - {"policy", "pid", "host"} | set(EXTRA_FIELDS)

_OS_REASONS = {
    errno.ELOOP: "a symbolic link is at the path (refused)",
    errno.EISDIR: "a directory is at the path, not a regular file",
    errno.ENXIO: "a FIFO or socket is at the path, not a regular file",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (file size limit reached)",
    errno.ENOENT: "the directory does not exist",
    errno.ENOTDIR: "a component of the path is not a directory",
}


_call_prefix = os.urandom(8).hex()  # drawn again in a forked child
_call_numbers = itertools.count(1)


def new_call_id() -> str:
    """A fresh id for one API call, shared by its ``requested`` record and its outcome.

    32 hex digits: 16 random ones drawn once per process, then a counter (a uuid4 per call
    costs a getrandom system call).
    """
    return f"{_call_prefix}{next(_call_numbers):016x}"


def is_digest(text: str) -> bool:
    """True for a hex digest as records and heads write it: 64 lowercase hex digits."""
    return _HEX64.fullmatch(text) is not None


class MissingKey(LookupError):
    """The environment variable meant to hold the audit HMAC key is unset or empty."""

    def __init__(self, variable: str, state: str) -> None:
        super().__init__(f"environment variable {variable} (the audit HMAC key) is {state}")
        self.variable = variable


def key_from_env(variable: str, environ: Mapping[str, str] = os.environ) -> bytes:
    """The HMAC key held by ``variable``: its own bytes (UTF-8, surrogates escaped)."""
    value = environ.get(variable)
    if not value:
        raise MissingKey(variable, "not set" if value is None else "empty")
    return value.encode("utf-8", "surrogateescape")


def chain_hash(line: bytes, hmac_key: bytes | None = None) -> str:
    """The hex digest that the next record's ``prev`` holds for ``line`` (without newline).

    SHA-256 of the bytes, or HMAC-SHA256 keyed with ``hmac_key`` when one is given.
    """
    if hmac_key is None:
        return hashlib.sha256(line).hexdigest()
    return hmac.digest(hmac_key, line, "sha256").hex()


def parse_record(raw: bytes) -> Record | None:
    """The record one line holds, or None when the line is not a record.

    A record is a JSON object with a 64-hex-digit ``prev`` and a positive integer ``seq``.
    """
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    prev, seq = value.get("prev"), value.get("seq")
    if not (isinstance(prev, str) and is_digest(prev)):
        return None
    if type(seq) is not int or seq < 1:
        return None
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def _encode(record: Mapping[str, object]) -> bytes:
    return _ENCODER.encode(record).encode("ascii")


_second_text: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _utc_now() -> str:
    """``datetime.now(UTC)`` as ``%Y-%m-%dT%H:%M:%S.%fZ``, formatting each second only once."""
    global _second_text
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    known = _second_text
    if known[0] != second:
        known = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{known[1]}.{micro:06d}Z"


def _host() -> str:
    return socket.gethostname()


# --- field normalisation: only plain JSON values of known shape reach the file -------------


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return [str(item) for item in value]


def _tags(value: object) -> dict[str, str | None]:
    """Tags as a ``{key: value}`` object; a botocore ``[{"Key", "Value"}]`` list is accepted."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(key): _text(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        tags: dict[str, str | None] = {}
        for tag in value:
            if not isinstance(tag, Mapping) or "Key" not in tag:
                raise TypeError("tags: expected a mapping or a list of {'Key', 'Value'} dicts")
            tags[str(tag["Key"])] = _text(tag.get("Value"))
        return tags
    raise TypeError(f"tags: expected a mapping, got {type(value).__name__}")


def _violation(value: object) -> dict[str, str | None]:
    if isinstance(value, Violation):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {key: _text(value.get(key)) for key in ("rule", "field", "value", "message")}
    raise TypeError(f"violations: expected Violation or dict, got {type(value).__name__}")


def _violations(value: object) -> list[dict[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, Iterable) or isinstance(value, str | Mapping):
        raise TypeError("violations: expected a list of Violation or dict")
    return [_violation(item) for item in value]


def _error(value: object) -> dict[str, str | None] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {"code": _text(value.get("code")), "message": _text(value.get("message"))}
    if isinstance(value, BaseException):
        return {"code": type(value).__name__, "message": str(value)}
    raise TypeError(f"error: expected a {{'code', 'message'}} dict, got {type(value).__name__}")


def _snapshot(value: object) -> str | None:
    text = _text(value)
    return None if text is None else text.lower()


def _count(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return value


_NORMALIZERS: dict[str, Callable[[object], object]] = {
    "tags": _tags,
    "injected": _strings,
    "inherited": _strings,
    "violations": _violations,
    "notes": _strings,
    "error": _error,
    "snapshot": _snapshot,
    "dropped_bytes": _count,
}


def _normalize(name: str, value: object) -> object:
    return _NORMALIZERS.get(name, _text)(value)


# The caller's fields between ``event`` and ``policy``, each with its normaliser, in order.
_LEADING_FIELDS = tuple(
    (name, _NORMALIZERS.get(name, _text))
    for name in RECORD_FIELDS[RECORD_FIELDS.index("event") + 1 : RECORD_FIELDS.index("policy")]
)
_TRAILING_FIELDS = RECORD_FIELDS[RECORD_FIELDS.index("host") + 1 :]


# --- low-level file helpers -----------------------------------------------------------------


def _os_error(path: Path, action: str, exc: OSError | ValueError) -> AuditError:
    """An ``AuditError`` naming the file and what failed; a ValueError is a path with a NUL."""
    if isinstance(exc, OSError):
        reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    else:
        reason = str(exc)
    return AuditError(f"{path}: {action}: {reason}", path=str(path))


def _open_checked(path: Path, flags: int, action: str) -> int:
    """Open ``path`` and refuse anything but a regular file (checked on the open descriptor)."""
    try:
        fd = os.open(path, flags, _FILE_MODE)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise _os_error(path, action, exc) from exc
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise _os_error(path, action, exc) from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise AuditError(
            f"{path}: {action}: {file_kind(mode)} is at the path, not a regular file (refused)",
            path=str(path),
        )
    return fd


def _pread(fd: int, size: int, offset: int) -> bytes:
    parts: list[bytes] = []
    while size > 0:
        block = os.pread(fd, min(size, _CHUNK), offset)
        if not block:
            break
        parts.append(block)
        size -= len(block)
        offset += len(block)
    return b"".join(parts)


def _rfind_newline(fd: int, end: int) -> int:
    """Offset of the last newline before ``end``, reading backwards; -1 when there is none."""
    pos = end
    while pos > 0:
        start = max(0, pos - _TAIL_BLOCK)
        found = _pread(fd, pos - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        pos = start
    return -1


def _line_before(fd: int, newline: int) -> bytes:
    """The line that ends at the newline at offset ``newline`` (without it)."""
    start = _rfind_newline(fd, newline) + 1
    return _pread(fd, newline - start, start)


def _sha256_range(fd: int, start: int, end: int) -> str:
    digest = hashlib.sha256()
    while start < end:
        block = os.pread(fd, min(_CHUNK, end - start), start)
        if not block:
            break
        digest.update(block)
        start += len(block)
    return digest.hexdigest()


def _count_newlines(fd: int, end: int) -> int:
    count, pos = 0, 0
    while pos < end:
        block = os.pread(fd, min(_CHUNK, end - pos), pos)
        if not block:
            break
        count += block.count(b"\n")
        pos += len(block)
    return count


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):  # closing the descriptor releases it anyway
        fcntl.flock(fd, fcntl.LOCK_UN)


def _close_if_owner(fd: int, pid: int) -> None:
    if os.getpid() == pid:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass(frozen=True)
class _Tail:
    """What a writer knows about the file's end: enough to chain the next record."""

    dev: int
    ino: int
    size: int
    ctime_ns: int
    head: str
    seq: int

    def describes(self, st: os.stat_result) -> bool:
        return (self.dev, self.ino, self.size, self.ctime_ns) == _identity(st)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns)


@dataclass(frozen=True)
class _TailScan:
    """The end of the file as read from disk."""

    complete_end: int
    last_line: bytes | None
    torn_bytes: int


# --- the writer -----------------------------------------------------------------------------

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
    ) -> None:
        self.path: Path = Path(path)
        self.fsync = fsync
        self._key = hmac_key
        self._policy = policy_sha256
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._fd_pid = 0
        self._closer: weakref.finalize[[int, int], AuditLog] | None = None
        self._tail: _Tail | None = None
        self._damage: tuple[tuple[int, int, int, int], str] | None = None
        _LIVE_LOGS.add(self)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, event: str, **fields: object) -> Record:
        """Append one record; fills prev, seq, time, policy, pid and host.

        ``fields`` are the record's other keys (``call``, ``service``, ``operation``,
        ``region``, ``snapshot``, ``source``, ``arn``, ``tags``, ``injected``, ``inherited``,
        ``violations``, ``error``, ``request_id``, ``notes``) plus ``dropped_bytes``,
        ``dropped_sha256`` and ``rotated_from``, which are written after the standard keys.
        Missing ones default to None, or ``[]`` for the lists and ``{}`` for ``tags``;
        ``violations`` takes ``Violation`` objects or dicts; ``snapshot`` is lowercased.
        Returns the record written. An unknown event is a ValueError, an unknown field a
        TypeError; a record that cannot be written (or a damaged log) is an ``AuditError``,
        and then nothing of it is left in the file when that can be helped.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if not _CALLER_FIELDS.issuperset(fields):
            unknown = sorted(set(fields) - _CALLER_FIELDS)
            raise TypeError(f"AuditLog.write() got unknown field(s): {', '.join(unknown)}")
        emitted: list[tuple[Record, str]] = []
        try:
            with self._lock:
                fd, st = self._acquire()  # what _locked_file does, without a generator per call
                try:
                    tail = self._current_tail(fd, st, emitted)
                    emitted.append(self._append_record(fd, tail, event, fields))
                finally:
                    _unlock(fd)
        finally:
            _emit(emitted)  # a repaired record may be written even when this one is not
        return emitted[-1][0]

    def close(self) -> None:
        """Close the file; a later write opens it again."""
        with self._lock:
            self._drop_fd(close=True)
            self._tail = None

    # -- the descriptor and the locks --

    def _own_fd(self) -> int:
        if self._fd is not None and self._fd_pid != os.getpid():
            # Inherited across a fork the at-fork hook did not see: its lock is the parent's.
            self._drop_fd(close=False)
        if self._fd is None:
            fd = _open_checked(self.path, _APPEND_FLAGS, "cannot open for appending")
            self._fd, self._fd_pid = fd, os.getpid()
            self._closer = weakref.finalize(self, _close_if_owner, fd, self._fd_pid)
            if self.fsync:
                _fsync_dir(self.path.parent)
        return self._fd

    def _drop_fd(self, *, close: bool) -> None:
        if self._closer is not None:
            self._closer.detach()
            self._closer = None
        if self._fd is not None and close and self._fd_pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None

    def _forget_after_fork(self) -> None:
        self._lock = threading.Lock()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._drop_fd(close=False)

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[tuple[int, os.stat_result]]:
        """The descriptor, flock held, checked to still be the file at ``self.path``."""
        fd, st = self._acquire()
        try:
            yield fd, st
        finally:
            _unlock(fd)

    def _acquire(self) -> tuple[int, os.stat_result]:
        for _ in range(_MAX_REOPEN):
            fd = self._own_fd()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                st = os.fstat(fd)
                names_it = self._path_names(st)
            except (OSError, AuditError) as exc:
                self._drop_fd(close=True)  # closing the descriptor releases the lock too
                if isinstance(exc, AuditError):
                    raise
                raise _os_error(self.path, "cannot lock", exc) from exc
            if names_it:
                return fd, st
            # Rotated or removed since we opened it: write to whatever the path names now.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._drop_fd(close=True)
        raise AuditError(
            f"{self.path}: the file keeps being replaced; giving up", path=str(self.path)
        )

    def _path_names(self, st: os.stat_result) -> bool:
        try:
            current = os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _os_error(self.path, "cannot stat", exc) from exc
        return (current.st_dev, current.st_ino) == (st.st_dev, st.st_ino)

    # -- the file's end --

    def _current_tail(
        self, fd: int, st: os.stat_result, emitted: list[tuple[Record, str]]
    ) -> _Tail:
        """Head and seq to chain from; reads the file only when another writer changed it."""
        if self._tail is not None and self._tail.describes(st):
            return self._tail
        if self._damage is not None and self._damage[0] == _identity(st):
            raise AuditError(self._damage[1], path=str(self.path))
        self._tail = None
        with self._reader(st) as rfd:
            scan = _scan_tail(rfd, st.st_size)
            record = None if scan.last_line is None else parse_record(scan.last_line)
            if scan.last_line is not None and record is None:
                line = _count_newlines(rfd, scan.complete_end)
                message = (
                    f"{self.path}:{line}: line {line} is not an audit record: the log is "
                    f"damaged; run rds-guard audit repair {self.path}"
                )
                self._damage = (_identity(st), message)
                raise AuditError(message, path=str(self.path))
            torn_sha256 = _sha256_range(rfd, scan.complete_end, st.st_size)
        head = ZERO_HASH if scan.last_line is None else chain_hash(scan.last_line, self._key)
        seq = 0 if record is None else int(str(record["seq"]))
        tail = _Tail(st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns, head, seq)
        if not scan.torn_bytes:
            self._tail = tail
            return tail
        return self._drop_torn_line(fd, tail, scan, torn_sha256, emitted)

    def _drop_torn_line(
        self,
        fd: int,
        tail: _Tail,
        scan: _TailScan,
        torn_sha256: str,
        emitted: list[tuple[Record, str]],
    ) -> _Tail:
        """Truncate a torn final line (a crash mid-write) and record what was dropped."""
        try:
            os.ftruncate(fd, scan.complete_end)
        except OSError as exc:
            raise _os_error(self.path, "cannot truncate a torn final line", exc) from exc
        tail = _Tail(tail.dev, tail.ino, scan.complete_end, 0, tail.head, tail.seq)
        fields: dict[str, object] = {
            "dropped_bytes": scan.torn_bytes,
            "dropped_sha256": torn_sha256,
            "notes": [f"dropped a torn final line of {scan.torn_bytes} bytes (a cut-off write)"],
        }
        emitted.append(self._append_record(fd, tail, "repaired", fields))
        assert self._tail is not None
        return self._tail

    @contextlib.contextmanager
    def _reader(self, st: os.stat_result) -> Iterator[int]:
        """A second descriptor for reading the locked file; an OSError inside is an AuditError."""
        rfd = _open_checked(self.path, _READ_FLAGS, "cannot open for reading")
        try:
            rst = os.fstat(rfd)
            if (rst.st_dev, rst.st_ino) != (st.st_dev, st.st_ino):
                raise AuditError(f"{self.path}: replaced while locked", path=str(self.path))
            yield rfd
        except OSError as exc:  # an I/O error reading the log (pread, fstat)
            raise _os_error(self.path, "cannot read", exc) from exc
        finally:
            os.close(rfd)

    # -- appending --

    def _build(self, event: str, fields: Mapping[str, object], head: str, seq: int) -> Record:
        get = fields.get
        record: Record = {"prev": head, "seq": seq, "time": _utc_now(), "event": event}
        for name, normalize in _LEADING_FIELDS:
            record[name] = normalize(get(name))
        record["policy"] = self._policy
        record["pid"] = os.getpid()
        record["host"] = _host()
        for name in _TRAILING_FIELDS:
            record[name] = _normalize(name, get(name))
        for name in EXTRA_FIELDS:
            if name in fields:
                record[name] = _normalize(name, fields[name])
        return record

    def _append_record(
        self, fd: int, tail: _Tail, event: str, fields: Mapping[str, object]
    ) -> tuple[Record, str]:
        record = self._build(event, fields, tail.head, tail.seq + 1)
        line = _encode(record)
        self._append(fd, line + b"\n", tail.size)
        size = tail.size + len(line) + 1
        try:
            ctime_ns = os.fstat(fd).st_ctime_ns
        except OSError:
            ctime_ns = 0  # never matches a real stat: the next write rereads the tail
        self._tail = _Tail(
            tail.dev, tail.ino, size, ctime_ns, chain_hash(line, self._key), tail.seq + 1
        )
        return record, line.decode("ascii")

    def _append(self, fd: int, payload: bytes, size: int) -> None:
        """One ``write`` of the whole line, then fsync; on failure leave no partial bytes."""
        try:
            written = os.write(fd, payload)
        except OSError as exc:
            self._undo(fd, size)
            raise _os_error(self.path, "cannot append a record", exc) from exc
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
                raise _os_error(self.path, "cannot fsync a record", exc) from exc

    def _undo(self, fd: int, size: int) -> bool:
        """Truncate back to ``size``; False when that failed (the next writer repairs it)."""
        self._tail = None
        try:
            if os.fstat(fd).st_size > size:
                os.ftruncate(fd, size)
        except OSError:
            return False
        return True

    # -- maintenance under the lock: rotation and repair --

    def _rotate(self) -> Path:
        emitted: list[tuple[Record, str]] = []
        with _emitting(emitted), self._lock:
            with self._locked_file() as (fd, st):
                tail = self._current_tail(fd, st, emitted)
                if tail.seq == 0:
                    raise AuditError(
                        f"{self.path}: holds no records: nothing to rotate", path=str(self.path)
                    )
                with self._reader(st) as rfd:
                    _check_last_link(self.path, rfd, tail.size, self._key)
                    first = parse_record(_first_line(rfd))
                    first_seq = tail.seq if first is None else int(str(first["seq"]))
                    archive = self.path.with_name(f"{self.path.name}.{first_seq}-{tail.seq}")
                    emitted.append(self._start_successor(tail, archive, rfd))
            self._drop_fd(close=True)
            self._tail = None
        return archive

    def _start_successor(self, tail: _Tail, archive: Path, rfd: int) -> tuple[Record, str]:
        """Move the log to ``archive`` and put a file starting with ``rotated`` in its place.

        The new file is complete before it appears at the path, and the path always names
        one of the two files, so no writer ever sees a missing or headless log. ``rfd`` reads
        the old file, for filesystems without hard links.
        """
        fields = {"rotated_from": archive.name}
        record = self._build("rotated", fields, tail.head, tail.seq + 1)
        line = _encode(record)
        temp = self.path.with_name(f".{self.path.name}.rotating-{new_call_id()}")
        fd = _open_checked(temp, _NEW_FILE_FLAGS, "cannot create the rotated log")
        try:
            try:
                if os.write(fd, line + b"\n") != len(line) + 1:
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                _keep_old_name(self.path, archive, rfd)
            except FileExistsError:
                raise AuditError(
                    f"{self.path}: cannot rotate: {archive} already exists", path=str(self.path)
                ) from None
            try:
                os.replace(temp, self.path)
            except OSError:
                _undo_keep(self.path, archive)
                raise
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _os_error(self.path, "cannot rotate", exc) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(self.path.parent)
        return record, line.decode("ascii")

    def _repair(self) -> RepairResult:
        emitted: list[tuple[Record, str]] = []
        with _emitting(emitted), self._lock:
            with self._locked_file() as (fd, st):
                with self._reader(st) as rfd:
                    damage = _find_damage(rfd, st.st_size)
                    if damage is None:
                        return RepairResult(self.path)
                    if damage.last_good is not None:
                        _check_last_link(self.path, rfd, damage.offset, self._key)
                    moved = _move_out(self.path, rfd, damage.offset, st.st_size)
                result = self._truncate_and_note(fd, st, damage, moved, emitted)
            self._damage = None
        return result

    def _truncate_and_note(
        self,
        fd: int,
        st: os.stat_result,
        damage: _Damage,
        moved: _Moved,
        emitted: list[tuple[Record, str]],
    ) -> RepairResult:
        moved_bytes = st.st_size - damage.offset
        try:
            os.ftruncate(fd, damage.offset)
        except OSError as exc:
            raise _os_error(self.path, "cannot truncate the damaged lines", exc) from exc
        last = damage.last_good
        head = ZERO_HASH if last is None else chain_hash(last, self._key)
        seq = 0 if damage.last_seq is None else damage.last_seq
        tail = _Tail(st.st_dev, st.st_ino, damage.offset, 0, head, seq)
        result = RepairResult(
            self.path, moved.path, damage.first_line, moved.lines, moved_bytes, moved.sha256
        )
        fields: dict[str, object] = {
            "dropped_bytes": moved_bytes,
            "dropped_sha256": moved.sha256,
            "notes": [f"moved {result.lines_text()} ({moved_bytes} bytes) to {moved.path.name}"],
        }
        record, line = self._append_record(fd, tail, "repaired", fields)
        emitted.append((record, line))
        return dataclasses.replace(result, record=record)


def _emit(emitted: Iterable[tuple[Record, str]]) -> None:
    for record, line in emitted:
        _logger.info(line, extra={"audit_record": record})


@contextlib.contextmanager
def _emitting(emitted: list[tuple[Record, str]]) -> Iterator[None]:
    """Log the records appended to ``emitted`` on leaving, after the locks are released."""
    try:
        yield
    finally:
        _emit(emitted)


def _after_fork_in_child() -> None:
    global _call_prefix, _call_numbers
    _call_prefix, _call_numbers = os.urandom(8).hex(), itertools.count(1)
    for log in list(_LIVE_LOGS):
        log._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _scan_tail(fd: int, size: int) -> _TailScan:
    newline = _rfind_newline(fd, size)
    last_line = None if newline < 0 else _line_before(fd, newline)
    return _TailScan(newline + 1, last_line, size - newline - 1)


def _first_line(fd: int) -> bytes:
    newline, pos = -1, 0
    parts: list[bytes] = []
    while newline < 0:
        block = os.pread(fd, _TAIL_BLOCK, pos)
        if not block:
            break
        newline = block.find(b"\n")
        parts.append(block if newline < 0 else block[:newline])
        pos += len(block)
    return b"".join(parts)


def _check_last_link(path: Path, fd: int, end: int, key: bytes | None) -> None:
    """Refuse to chain onto a log whose last link was made with another key.

    A record appended with the wrong key would break the chain for good; ``end`` is the
    offset just past the last record's newline.
    """
    last_newline = end - 1
    if last_newline <= 0:
        return
    last = _line_before(fd, last_newline)
    before = _rfind_newline(fd, last_newline)
    if before < 0:
        return
    previous = _line_before(fd, before)
    if last[_PREV_START:_PREV_END] == chain_hash(previous, key).encode():
        return
    if key is None:
        hint = "was it written with an HMAC key? (give --key-env)"
    else:
        hint = "is it keyed with another key, or not keyed at all?"
    raise AuditError(
        f"{path}: the last two records do not chain with "
        f"{'plain SHA-256' if key is None else 'HMAC-SHA256 under the given key'}: {hint}; "
        "run rds-guard audit verify first",
        path=str(path),
    )


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
    _copy_to_new_file(rfd, archive)


def _copy_to_new_file(fd: int, target: Path) -> None:
    """Copy everything ``fd`` reads to a new file at ``target``, fsynced; no file on failure."""
    out = os.open(target, _NEW_FILE_FLAGS, _FILE_MODE)  # FileExistsError: the name is taken
    try:
        pos = 0
        while block := os.pread(fd, _CHUNK, pos):
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
            pos += len(block)
        os.fsync(out)
    except BaseException:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    os.close(out)


def _undo_keep(path: Path, archive: Path) -> None:
    with contextlib.suppress(OSError):
        if os.path.lexists(path):
            os.unlink(archive)
        else:
            os.rename(archive, path)


@dataclass(frozen=True)
class _Damage:
    """Where the part of a log that repair moves out starts, and the last record before it."""

    offset: int
    first_line: int
    last_good: bytes | None
    last_seq: int | None


@dataclass(frozen=True)
class _Moved:
    """The file the damaged lines went to, how many lines they were and their SHA-256."""

    path: Path
    lines: int
    sha256: str


def _find_damage(fd: int, size: int) -> _Damage | None:
    """The first complete line that is not a record (or a torn final line), streaming."""
    offset, number, leftover = 0, 0, b""
    last_good: bytes | None = None
    last_seq: int | None = None
    pos = 0
    while pos < size:
        block = os.pread(fd, min(_CHUNK, size - pos), pos)
        if not block:
            break
        pos += len(block)
        lines = (leftover + block).split(b"\n")
        leftover = lines.pop()
        for raw in lines:
            record = parse_record(raw)
            if record is None:
                return _Damage(offset, number + 1, last_good, last_seq)
            number += 1
            offset += len(raw) + 1
            last_good, last_seq = raw, int(str(record["seq"]))
    if leftover:
        return _Damage(offset, number + 1, last_good, last_seq)
    return None


def _move_out(path: Path, fd: int, start: int, end: int) -> _Moved:
    """Copy bytes ``start:end`` of the log to a new ``PATH.damaged-<time>``, fsynced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        target = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            out = os.open(target, _NEW_FILE_FLAGS, _FILE_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _os_error(target, "cannot create", exc) from exc
        break
    else:
        raise AuditError(f"{path}: no free name for the damaged lines", path=str(path))
    digest = hashlib.sha256()
    newlines, last_byte = 0, b"\n"
    try:
        pos = start
        while pos < end:
            block = os.pread(fd, min(_CHUNK, end - pos), pos)
            if not block:
                break
            digest.update(block)
            newlines += block.count(b"\n")
            last_byte = block[-1:]
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
            pos += len(block)
        os.fsync(out)
    except OSError as exc:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise _os_error(target, "cannot write the damaged lines", exc) from exc
    os.close(out)
    _fsync_dir(path.parent)
    return _Moved(target, newlines + (last_byte != b"\n"), digest.hexdigest())


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` did: which lines it moved where, and the ``repaired`` record it wrote."""

    path: Path
    moved_to: Path | None = None
    first_line: int = 0
    lines_moved: int = 0
    bytes_moved: int = 0
    dropped_sha256: str = ""
    record: Record | None = None

    @property
    def repaired(self) -> bool:
        """True when something was moved out of the log."""
        return self.moved_to is not None

    def lines_text(self) -> str:
        """``line N`` or ``lines N-M``: the lines that were moved."""
        last = self.first_line + self.lines_moved - 1
        if last <= self.first_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}-{last}"

    def describe(self) -> str:
        """One line for a person: what was moved, or that there was nothing to repair."""
        if self.moved_to is None:
            return f"nothing to repair: every line of {self.path} is a record"
        appended = (
            "" if self.record is None else f"; appended repaired record seq {self.record['seq']}"
        )
        return (
            f"moved {self.lines_text()} of {self.path} ({self.bytes_moved} bytes, sha256 "
            f"{self.dropped_sha256}) to {self.moved_to}{appended}"
        )


def rotate(path: StrPath, *, hmac_key: bytes | None = None) -> Path:
    """Rename the log to ``PATH.<first seq>-<last seq>`` and start a new one.

    Done under the lock; the new file's first record is ``rotated``, with ``prev`` the old
    file's head, ``seq`` continuing, and ``rotated_from`` the archive's name. Returns the
    archive's path. An empty log, a damaged one or a key that does not match the log's last
    link is an ``AuditError``.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key)
    try:
        return log._rotate()
    finally:
        log.close()


def repair(path: StrPath, *, hmac_key: bytes | None = None) -> RepairResult:
    """Move every line from the first complete non-record line on to ``PATH.damaged-<time>``.

    A torn final line is moved too. Then a ``repaired`` record (``dropped_bytes``,
    ``dropped_sha256``, a note naming the file) is appended, chained to the last record kept,
    so writers can go on. Records are never rewritten. Nothing to repair: nothing changes.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key)
    try:
        return log._repair()
    finally:
        log.close()


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    """One line of a log file: its 1-based number, its bytes and the record it holds.

    ``record`` is None for a line that is not a record; ``complete`` is False for a final
    line with no newline (a torn write), which never counts as a record.
    """

    number: int
    raw: bytes
    record: Record | None
    complete: bool = True


def _split_lines(path: StrPath) -> Iterator[tuple[bytes, bool]]:
    with open(path, "rb", buffering=0) as stream:
        leftover = b""
        while chunk := stream.read(_CHUNK):
            lines = (leftover + chunk).split(b"\n")
            leftover = lines.pop()
            for raw in lines:
                yield raw, True
        if leftover:
            yield leftover, False


def iter_lines(path: StrPath) -> Iterator[LogLine]:
    """Every line of the file with its number, streaming (flat memory). Raises OSError."""
    for number, (raw, complete) in enumerate(_split_lines(path), start=1):
        yield LogLine(number, raw, parse_record(raw) if complete else None, complete)


def read_records(
    path: StrPath, *, on_bad_line: Callable[[LogLine], None] | None = None
) -> Iterator[Record]:
    """The records of a log file, oldest first, streaming.

    A line that is not a record goes to ``on_bad_line`` when given; otherwise a complete one
    raises ``AuditError`` naming the file and line, and a torn final line (a cut-off write,
    never a record) is skipped.
    """
    for line in iter_lines(path):
        if line.record is not None:
            yield line.record
        elif on_bad_line is not None:
            on_bad_line(line)
        elif line.complete:
            raise AuditError(
                f"{path}:{line.number}: line {line.number} is not an audit record",
                path=str(path),
            )


# --- verification ---------------------------------------------------------------------------

REASONS = ("edited", "removed", "reordered", "torn", "key", "head")
"""The reasons ``verify`` gives for a broken chain."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify``: the chain's length and head, or its first bad line."""

    ok: bool
    records: int
    head: str
    line: int | None = None
    reason: str | None = None
    detail: str | None = None
    path: Path | None = None
    continues: str | None = None

    def summary(self) -> str:
        """``ok: N records, head HEX`` or ``line N: REASON: detail``."""
        if self.ok:
            return f"ok: {self.records} records, head {self.head}"
        return f"line {self.line}: {self.reason}: {self.detail}"


def verify(
    paths: StrPath | Sequence[StrPath],
    *,
    hmac_key: bytes | None = None,
    head: str | None = None,
) -> VerifyResult:
    """Walk the hash chain of one log, or of several files oldest first, as one chain.

    Streams the files in large chunks and checks each line's ``prev``, ``seq`` and envelope
    (``{"prev":"`` ... ``}``) by byte position, parsing JSON only for the last line of each
    file (no later line vouches for it) and around a bad line. A first file that starts with
    ``rotated`` is checked from there on (``VerifyResult.continues`` names the file it
    continues).
    ``head``: the head the log must end with, which catches records cut off at a line
    boundary and an edited last record. A missing file raises OSError.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    expected_head = None
    if head is not None:
        expected_head = head.strip().lower()
        if not is_digest(expected_head):
            raise ValueError(f"head must be 64 hex digits, got {head!r}")
    walk = _ChainWalk(hmac_key)
    for index, path in enumerate(paths):
        failure = walk.walk_file(Path(path), first=index == 0)
        if failure is not None:
            return failure
    return walk.finish(expected_head)


@dataclass(frozen=True)
class _BadLine:
    """A line whose ``prev`` or ``seq`` does not follow, with what surrounds it."""

    path: Path
    number: int
    line: bytes
    previous: bytes | None
    previous_at: tuple[Path, int] | None
    following: list[bytes]


def _seq_of(line: bytes) -> int | None:
    if line.startswith(_LINE_START) and line[_PREV_END:_SEQ_DIGITS] == _SEQ_KEY:
        end = line.find(b",", _SEQ_DIGITS)
        digits = line[_SEQ_DIGITS:end] if end > 0 else b""
        if digits.isdigit():
            return int(digits)
    record = parse_record(line)
    return None if record is None else int(str(record["seq"]))


class _ChainWalk:
    """The state of a walk along the chain, across files."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.prev = ZERO_HASH.encode()
        self.seq = 0
        self.records = 0
        self.last_line: bytes | None = None
        self.last_at: tuple[Path, int] | None = None
        self.continues: str | None = None

    def hash(self, line: bytes) -> bytes:
        return chain_hash(line, self.key).encode()

    def walk_file(self, path: Path, *, first: bool) -> VerifyResult | None:
        with open(path, "rb", buffering=0) as stream:
            chunk = stream.read(_CHUNK)
            if first:
                self._adopt_rotated_start(chunk)
            start_seq, leftover = self.seq, b""
            while chunk:
                lines = (leftover + chunk).split(b"\n")
                leftover = lines.pop()
                if lines:
                    bad = self._scan(lines)
                    if bad >= 0:
                        context = self._context(path, start_seq, lines, bad, stream, leftover)
                        return self._diagnose(context)
                chunk = stream.read(_CHUNK)
            lines_here = self.seq - start_seq
            if leftover:
                return self._fail(
                    path,
                    lines_here + 1,
                    "torn",
                    f"the last line has no newline ({len(leftover)} bytes): a write was cut "
                    "off (the next writer repairs it)",
                )
            if lines_here and self.last_line is not None and parse_record(self.last_line) is None:
                # The fast path checks only the envelope; no later line vouches for the last.
                self.records, self.seq = self.records - 1, self.seq - 1
                self.prev = self.last_line[_PREV_START:_PREV_END]
                return self._fail(path, lines_here, "edited", "not an audit record")
            if lines_here or self.last_at is None:
                self.last_at = (path, lines_here)
        return None

    def _adopt_rotated_start(self, chunk: bytes) -> None:
        """A first file that starts with ``rotated`` continues a chain whose start we lack."""
        end = chunk.find(b"\n")
        record = parse_record(chunk[:end]) if end > 0 else None
        if record is None or record.get("event") != "rotated":
            return
        self.prev = str(record["prev"]).encode()
        self.seq = int(str(record["seq"])) - 1
        self.continues = str(record.get("rotated_from") or "an earlier log")

    def _scan(self, lines: list[bytes]) -> int:
        """Check lines on the fast path; the index of the first that does not follow, or -1."""
        prev, seq, key = self.prev, self.seq, self.key
        start = seq
        # Two copies of one loop, so that the hot path has no per-line branch on the key.
        # Each line must link, carry the next seq and have a record's envelope: it starts with
        # {"prev":" and ends with } (bytes only; the last line of a file is parsed in full).
        if key is None:
            sha256 = hashlib.sha256
            for line in lines:
                if (
                    line[9:73] != prev
                    or not line.startswith(b'","seq":%d,' % (seq + 1), 73)
                    or line[:9] != b'{"prev":"'
                    or line[-1] != 125  # b"}"
                ):
                    break
                seq += 1
                prev = sha256(line).hexdigest().encode()
        else:
            digest = hmac.digest
            for line in lines:
                if (
                    line[9:73] != prev
                    or not line.startswith(b'","seq":%d,' % (seq + 1), 73)
                    or line[:9] != b'{"prev":"'
                    or line[-1] != 125  # b"}"
                ):
                    break
                seq += 1
                prev = digest(key, line, "sha256").hex().encode()
        done = seq - start
        if done:
            self.last_line = lines[done - 1]
        self.prev, self.seq = prev, seq
        self.records += done
        return done if done < len(lines) else -1

    def _context(
        self,
        path: Path,
        start_seq: int,
        lines: list[bytes],
        bad: int,
        stream: io.FileIO,
        leftover: bytes,
    ) -> _BadLine:
        """The bad line with the line before it and up to ``_LOOKAHEAD`` lines after it."""
        number = self.seq - start_seq + 1
        following = lines[bad + 1 : bad + 1 + _LOOKAHEAD]
        while len(following) < _LOOKAHEAD:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            more = (leftover + chunk).split(b"\n")
            leftover = more.pop()
            following.extend(more[: _LOOKAHEAD - len(following)])
        previous_at = (path, number - 1) if number > 1 else self.last_at
        return _BadLine(path, number, lines[bad], self.last_line, previous_at, following)

    def _fail(self, path: Path, line: int, reason: str, detail: str) -> VerifyResult:
        return VerifyResult(
            False,
            self.records,
            self.prev.decode(),
            line=line,
            reason=reason,
            detail=f"{path}: {detail}",
            path=path,
            continues=self.continues,
        )

    def _diagnose(self, bad: _BadLine) -> VerifyResult:
        expected = self.seq + 1
        found = _seq_of(bad.line)
        if found is None:
            return self._fail(bad.path, bad.number, "edited", "not an audit record")
        if found == expected and bad.line[_PREV_START:_PREV_END] == self.prev:
            # It links and follows, so what failed is the envelope: {"prev":" ... }.
            detail = (
                "not an audit record"
                if parse_record(bad.line) is None
                else "not as a writer writes a record: it does not end with }"
            )
            return self._fail(bad.path, bad.number, "edited", detail)
        if bad.line[_PREV_START:_PREV_END] == self.prev:
            return self._fail(
                bad.path,
                bad.number,
                "edited",
                f"seq {found} where {expected} was expected, yet prev links to the line "
                "before: the seq was changed",
            )
        if found > expected:
            return self._gap(bad, expected, found)
        if found < expected:
            return self._fail(
                bad.path, bad.number, "reordered", f"seq {found} comes after seq {expected - 1}"
            )
        return self._broken_link(bad)

    def _gap(self, bad: _BadLine, expected: int, found: int) -> VerifyResult:
        later = next(
            (s for s in map(_seq_of, bad.following) if s is not None and expected <= s < found),
            None,
        )
        if later is not None:
            return self._fail(
                bad.path,
                bad.number,
                "reordered",
                f"seq {found} where {expected} was expected; seq {later} comes later",
            )
        missing = found - expected
        return self._fail(
            bad.path,
            bad.number,
            "removed",
            f"seq jumps from {expected - 1} to {found}: {missing} record(s) missing",
        )

    def _broken_link(self, bad: _BadLine) -> VerifyResult:
        """The seq follows but ``prev`` does not: an edit, or a chain made with another key."""
        prev_field = bad.line[_PREV_START:_PREV_END]
        if bad.previous is None:
            return self._fail(
                bad.path, bad.number, "edited", f"the first record's prev is not {ZERO_HASH}"
            )
        if self.key is not None and prev_field == chain_hash(bad.previous).encode():
            return self._fail(
                bad.path,
                bad.number,
                "key",
                "the chain is plain SHA-256, not HMAC-SHA256 under the given key",
            )
        chain = [bad.line, *bad.following[:2]]
        links_broken = [nxt[9:73] != self.hash(cur) for cur, nxt in itertools.pairwise(chain)]
        if len(links_broken) == 2 and all(links_broken):
            detail = (
                "prev matches neither plain SHA-256 nor HMAC-SHA256 under the given key on "
                "3 lines in a row: a wrong key?"
                if self.key is not None
                else "prev does not match plain SHA-256 on 3 lines in a row: the log was "
                "written with an HMAC key (give --key-env)"
            )
            return self._fail(bad.path, bad.number, "key", detail)
        if links_broken and links_broken[0]:
            return self._fail(
                bad.path,
                bad.number,
                "edited",
                f"line {bad.number} was changed: its prev does not link to the line before "
                "and it no longer hashes to the next line's prev",
            )
        path, number = bad.previous_at or (bad.path, bad.number - 1)
        return self._fail(
            path,
            number,
            "edited",
            f"line {number} was changed: it no longer hashes to the prev recorded in the "
            "line after it",
        )

    def finish(self, expected_head: str | None) -> VerifyResult:
        head = self.prev.decode()
        if expected_head is not None and head != expected_head:
            path, number = self.last_at or (Path(), 0)
            return self._fail(
                path,
                number,
                "head",
                f"the log ends at seq {self.seq} with head {head}, not {expected_head}: records "
                "were cut off at the end, or the last record was changed",
            )
        return VerifyResult(True, self.records, head, continues=self.continues)

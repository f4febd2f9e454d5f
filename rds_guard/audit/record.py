"""One audit record: its fields and events, how a line is laid out, built, encoded and hashed.

Pure functions over bytes and dicts, no file I/O. The record format (every key, the chain)
is described in docs/audit.md, "Records"; the layout constants below are the one place that
names where ``prev`` and ``seq`` sit in a line.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias

from rds_guard.errors import Violation

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

EXTRA_FIELDS: tuple[str, ...] = (
    "dropped_bytes",
    "dropped_sha256",
    "rotated_from",
    "expires",
    "snapshot_created",
)
"""Keys some records add after the standard ones: ``repaired`` (what was dropped), ``rotated``
(the file it continues), ``presigned`` (when the URL expires), deletes (when the snapshot
was made)."""

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
        "presigned",
        "exported",
    }
)
"""Every event a record may carry."""

ZERO_HASH = "0" * 64
"""The ``prev`` of the first record of a log."""

# --- the line layout: every line starts {"prev":"<64 hex>","seq":<digits>, and ends with } ---

LINE_START = b'{"prev":"'
"""The bytes every record's line starts with."""
PREV_START = len(LINE_START)
PREV_END = PREV_START + 64
"""``line[PREV_START:PREV_END]`` is the ``prev`` digest, as ASCII hex."""
SEQ_KEY = b'","seq":'
"""The bytes that follow ``prev``; the ``seq`` digits come right after them."""
SEQ_DIGITS = PREV_END + len(SEQ_KEY)
LINE_END = ord("}")
"""The last byte of every record's line (``line[-1]``)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")

CALLER_FIELDS = frozenset(RECORD_FIELDS[4:]) - {"policy", "pid", "host"} | set(EXTRA_FIELDS)
"""The fields a writer takes from its caller; it fills in the others itself."""


def prev_of(line: bytes) -> bytes:
    """The ``prev`` digest where a writer puts it (the bytes there, whatever the line holds)."""
    return line[PREV_START:PREV_END]


def seq_of(line: bytes) -> int | None:
    """The line's ``seq``: read by position when the line is laid out as a writer lays it out,
    else parsed; None when the line is not a record."""
    if line.startswith(LINE_START) and line[PREV_END:SEQ_DIGITS] == SEQ_KEY:
        end = line.find(b",", SEQ_DIGITS)
        digits = line[SEQ_DIGITS:end] if end > 0 else b""
        if digits.isdigit():
            return int(digits)
    record = parse_record(line)
    return None if record is None else int(str(record["seq"]))


# --- call ids -----------------------------------------------------------------------------

_call_prefix = os.urandom(8).hex()  # drawn again in a forked child
_call_numbers = itertools.count(1)


def new_call_id() -> str:
    """A fresh id for one API call, shared by its ``requested`` record and its outcome.

    32 hex digits: 16 random ones drawn once per process, then a counter (a uuid4 per call
    costs a getrandom system call).
    """
    return f"{_call_prefix}{next(_call_numbers):016x}"


def _new_call_ids_after_fork() -> None:
    global _call_prefix, _call_numbers
    _call_prefix, _call_numbers = os.urandom(8).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_call_ids_after_fork)


# --- digests and keys ---------------------------------------------------------------------


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


# --- building and encoding a record -------------------------------------------------------

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def encode(record: Mapping[str, object]) -> bytes:
    """The record's line (without newline): compact JSON, ASCII only, keys in their order."""
    return _ENCODER.encode(record).encode("ascii")


_second_text: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def utc_now() -> str:
    """``datetime.now(UTC)`` as ``%Y-%m-%dT%H:%M:%S.%fZ``, formatting each second only once."""
    global _second_text
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    known = _second_text
    if known[0] != second:
        known = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{known[1]}.{micro:06d}Z"


def check_fields(event: str, fields: Iterable[str]) -> None:
    """Refuse an unknown event (ValueError) or a field a caller may not set (TypeError)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    if not CALLER_FIELDS.issuperset(fields):
        unknown = sorted(set(fields) - CALLER_FIELDS)
        raise TypeError(f"AuditLog.write() got unknown field(s): {', '.join(unknown)}")


def build_record(
    event: str, fields: Mapping[str, object], head: str, seq: int, policy: str
) -> Record:
    """The record ``event`` with the caller's ``fields`` normalised, chained after ``head``."""
    get = fields.get
    record: Record = {"prev": head, "seq": seq, "time": utc_now(), "event": event}
    for name, normalize in _LEADING_FIELDS:
        record[name] = normalize(get(name))
    record["policy"] = policy
    record["pid"] = os.getpid()
    record["host"] = socket.gethostname()
    for name in _TRAILING_FIELDS:
        record[name] = _normalize(name, get(name))
    for name in EXTRA_FIELDS:
        if name in fields:
            record[name] = _normalize(name, fields[name])
    return record


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

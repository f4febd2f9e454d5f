"""One audit record: its fields and events, how a line is laid out, built, sealed and hashed.

Pure functions over bytes and dicts, no file I/O. The record format (every key, the chain,
each line's own digest) is described in docs/audit.md, "Records"; the layout constants below
are the one place that names where ``prev``, ``seq``, ``chain`` and ``digest`` sit in a line.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import os
import re
import socket
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypeAlias

from ..forks import after_fork_in_child
from .fields import LINE_MAX, NORMALIZERS, as_text, fit, normalize

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
    "chain",
    "digest",
)
"""The keys of every record, in the order they are written; the `EXTRA_FIELDS` a record has go
between ``notes`` and ``chain``. Records in the first format (before the second release) end
at ``notes`` (then their extra fields): they carry no ``chain`` nor ``digest``."""

EXTRA_FIELDS: tuple[str, ...] = (
    "dropped_bytes",
    "dropped_sha256",
    "rotated_from",
    "expires",
    "snapshot_created",
)
"""Keys some records add after ``notes`` (before ``chain`` and ``digest``): ``repaired`` (what
was dropped), ``rotated`` (the file it continues), ``presigned`` (when the URL expires),
deletes (when the snapshot was made)."""

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

CHAIN_SHA256 = "sha256"
CHAIN_HMAC = "hmac-sha256"
CHAINS: tuple[str, ...] = (CHAIN_SHA256, CHAIN_HMAC)
"""The chain algorithms a record may name: plain SHA-256, or HMAC-SHA256 under the key."""

# --- the line layout: every line starts {"prev":"<64 hex>","seq":<digits>, and ends with } ---

LINE_START = b'{"prev":"'
"""The bytes every record's line starts with."""


NOT_A_LOG_START = "its first bytes are not how a record's line starts"
"""What `NotAnAuditLog` says of a file `starts_as_a_log` refuses."""


def starts_as_a_log(block: bytes) -> bool:
    """Whether ``block``, a file's first bytes, may be a log's: they start as a record's line
    does (or are none), or a line in them does (a log whose first line is damaged). A binary
    may hold no newline at all: this is said before reading on."""
    start = block[: len(LINE_START)]
    return not block or LINE_START.startswith(start) or b"\n" + LINE_START in block


def not_a_cut_record(count: int) -> str:
    """What `NotAnAuditLog` says of a file of ``count`` bytes with no newline that
    `may_be_a_cut_record` refuses."""
    return (
        f"its {count} bytes hold no newline and do not start as a record does (nor are they"
        " all zeros, as a crash may leave a first record), so they are no record cut short:"
        " no writer writes over them"
    )


def may_be_a_cut_record(data: bytes) -> bool:
    """Whether ``data``, the bytes of a file holding no newline, may be a first record cut
    short: they start as every record's line does, or are all zeros (a file system may leave
    a crashed first write so: XFS, ext4 without ``data=ordered``). Anything else (a token, a
    key, a binary, zeros before other bytes) is no log, and no writer or repair writes over
    it. `fileio.may_be_a_cut_file` asks the same of a file without reading it whole."""
    return LINE_START.startswith(data[: len(LINE_START)]) or data.count(0) == len(data)


PREV_START = len(LINE_START)
PREV_END = PREV_START + 64
"""``line[PREV_START:PREV_END]`` is the ``prev`` digest, as ASCII hex."""
SEQ_KEY = b'","seq":'
"""The bytes that follow ``prev``; the ``seq`` digits come right after them."""
SEQ_DIGITS = PREV_END + len(SEQ_KEY)
LINE_END = ord("}")
"""The last byte of every record's line (``line[-1]``)."""

# --- ... and since the second release ends ,"chain":"<algorithm>","digest":"<64 hex>"} ------

DIGEST_KEY = b',"digest":"'
DIGEST_TAIL = len(DIGEST_KEY) + 64 + 2
"""A sealed line's last ``DIGEST_TAIL`` bytes are ``,"digest":"<64 hex>"}``; its digest covers
every byte before them, ``line[:-DIGEST_TAIL]``."""
DIGEST_START = -64 - 2
DIGEST_END = -2
"""``line[DIGEST_START:DIGEST_END]`` is a sealed line's own digest, as ASCII hex."""
SEALED_END = b'"}'
"""The last two bytes of a sealed line."""
CHAIN_KEY = b',"chain":"'
CHAIN_MARKS: dict[str, bytes] = {
    name: CHAIN_KEY + name.encode() + b'"' + DIGEST_KEY for name in CHAINS
}
"""What a line sealed with each algorithm holds just before its digest's hex digits."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX64_BYTES = re.compile(rb"[0-9a-f]{64}")

CALLER_FIELDS = frozenset(RECORD_FIELDS[4:]) - {"policy", "pid", "host", "chain", "digest"} | set(
    EXTRA_FIELDS
)
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
        if digits.isdigit() and len(digits) < 4000:  # longer: no int (the parser refuses it)
            return int(digits)
    record = parse_record(line)
    return None if record is None else int(str(record["seq"]))


def own_digest(line: bytes) -> str | None:
    """The digest a sealed line carries (its ``digest``, read by position): 64 hex digits.

    None for a line in the first format, or anything else not laid out as a writer seals one.
    """
    if line[DIGEST_START - len(DIGEST_KEY) : DIGEST_START] != DIGEST_KEY:
        return None
    if line[DIGEST_END:] != SEALED_END:
        return None
    digest = line[DIGEST_START:DIGEST_END]
    return digest.decode("ascii") if _HEX64_BYTES.fullmatch(digest) else None


def chain_of(line: bytes) -> str | None:
    """The algorithm a sealed line names (its ``chain``, read by position); None for a line in
    the first format, and ``""`` for a sealed line naming none of `CHAINS`."""
    if own_digest(line) is None:
        return None
    for name, mark in CHAIN_MARKS.items():
        if line.endswith(mark, 0, len(line) + DIGEST_START):
            return name
    return ""


def first_format(line: bytes) -> bool:
    """Whether ``line`` is a record of the first format, which carries no digest of its own;
    a line whose ending was converted to CRLF is read without its carriage return (it hides
    a sealed line's chain name, read by position)."""
    return chain_of(line.removesuffix(b"\r")) is None


def signed_part(line: bytes) -> bytes:
    """The bytes a sealed line's own digest covers: everything before ``,"digest":"``."""
    return line[:-DIGEST_TAIL]


def is_authentic(line: bytes, hmac_key: bytes | None = None) -> bool:
    """True when a sealed line's own digest matches its bytes under the algorithm it names.

    False for a line that is not sealed, names no known algorithm, or names ``hmac-sha256``
    while no key is given (see `KeyRequired` for callers that must tell that case apart).
    """
    chain = chain_of(line)
    if not chain or (chain == CHAIN_HMAC and hmac_key is None):
        return False
    key = hmac_key if chain == CHAIN_HMAC else None
    return hmac.compare_digest(_digest(signed_part(line), key), line[DIGEST_START:DIGEST_END])


def stream_id(first_line: bytes) -> str:
    """The id of the chain a log starts: the first 16 hex digits of its first record's own
    digest (for a first record in the first format, of its SHA-256)."""
    digest = own_digest(first_line)
    return (digest or hashlib.sha256(first_line).hexdigest())[:16]


# --- call ids -----------------------------------------------------------------------------

_call_prefix = os.urandom(8).hex()  # drawn again in a forked child
_call_numbers = itertools.count(1)


def new_call_id() -> str:
    """A fresh id for one API call, shared by its ``requested`` record and its outcome.

    32 hex digits: 16 random ones drawn once per process, then a counter (a uuid4 per call
    costs a getrandom system call)."""
    writer()  # a fork no at-fork hook saw would have a child repeat the parent's ids
    return f"{_call_prefix}{next(_call_numbers):016x}"


_writer: tuple[int, str] = (os.getpid(), socket.gethostname())
"""Who writes the records (``pid``, ``host``): the host is a system call, asked once."""


def writer() -> tuple[int, str]:
    """The ``pid`` and ``host`` this process writes into its records, asked again in a forked
    child, seen by an at-fork hook or not (uWSGI's workers, without ``py-call-osafterfork``)."""
    if _writer[0] != os.getpid():
        _after_fork_in_child()
    return _writer


def _after_fork_in_child() -> None:
    global _call_prefix, _call_numbers, _writer
    _call_prefix, _call_numbers = os.urandom(8).hex(), itertools.count(1)
    _writer = (os.getpid(), socket.gethostname())


after_fork_in_child(_after_fork_in_child)


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
    """The digest of a line's full bytes (without newline): the next record's ``prev``, and
    the head or checkpoint a log ending with that line has.

    SHA-256 of the bytes, or HMAC-SHA256 keyed with ``hmac_key`` when one is given (a record
    sealed with HMAC-SHA256 links with it too).
    """
    if hmac_key is None:
        return hashlib.sha256(line).hexdigest()
    return hmac.digest(hmac_key, line, "sha256").hex()


_BLOCK = 64
"""SHA-256's block size: HMAC pads (or first hashes) the key to it."""

Pads: TypeAlias = "tuple[hashlib._Hash, hashlib._Hash]"


def hmac_pads(key: bytes) -> Pads:
    """SHA-256 states that have taken HMAC's inner and outer padded key (RFC 2104): a copy
    of ``inner`` updated with a message, digested into a copy of ``outer``, is its HMAC."""
    block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block = block.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
    return inner, outer


def _digest(data: bytes, hmac_key: bytes | None) -> bytes:
    """The hex digest of ``data`` as ASCII bytes: SHA-256, or HMAC-SHA256 under ``hmac_key``."""
    if hmac_key is None:
        return hashlib.sha256(data).hexdigest().encode()
    return hmac.digest(hmac_key, data, "sha256").hex().encode()


def chain_name(hmac_key: bytes | None) -> str:
    """The algorithm a writer holding ``hmac_key`` (or none) seals and chains with."""
    return CHAIN_SHA256 if hmac_key is None else CHAIN_HMAC


def _each_key_once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key given twice")
    return found


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is no JSON number")


_RECORD_DECODER = json.JSONDecoder(
    object_pairs_hook=_each_key_once, parse_float=_finite, parse_constant=_no_constant
)


def parse_record(raw: bytes | str) -> Record | None:
    """The record one line holds, or None when the line is not a record.

    A record is a JSON object with a 64-hex-digit ``prev`` and a positive integer ``seq``,
    as a writer writes it: no key given twice in an object (which one a reader takes is its
    own choice: verify reads by position, a JSON reader the last), no NaN or infinite number
    (no JSON document holds one).
    """
    try:
        text = (
            raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
        )
        value = _RECORD_DECODER.decode(text)
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


def seal(record: Record, pads: Pads | None = None) -> tuple[bytes, str]:
    """The line of ``record`` (which ends with its ``chain``) with its own digest appended,
    and the digest of that full line: the next record's ``prev``.

    The own digest covers every byte of the line before ``,"digest":"`` and is also set as
    the record's ``digest``; SHA-256, or HMAC-SHA256 from the key's ``pads`` (`hmac_pads`; the
    record's ``chain`` must name the same algorithm). Both digests share one pass over the
    line: the tail is added after the first is taken.
    """
    signed = encode(record)[:-1]
    if len(signed) + _DIGEST_TAIL > LINE_MAX:
        signed = fit(record, len(signed) + 1, LINE_MAX - _DIGEST_TAIL + 1, encode)[:-1]
    if pads is None:
        running = hashlib.sha256(signed)
    else:
        running = pads[0].copy()
        running.update(signed)
    digest = _taken(running, pads)
    record["digest"] = digest
    tail = DIGEST_KEY + digest.encode("ascii") + SEALED_END
    running.update(tail)
    return signed + tail, _taken(running, pads)


_DIGEST_TAIL = len(DIGEST_KEY) + 64 + len(SEALED_END)
"""The bytes `seal` adds after the signed part of a line: the digest and the closing brace."""


def _taken(running: hashlib._Hash, pads: Pads | None) -> str:
    """The hex digest of what ``running`` has taken so far (it can take more): SHA-256, or
    HMAC-SHA256 when it started as a copy of ``pads``' inner state."""
    if pads is None:
        return running.hexdigest()
    outer = pads[1].copy()
    outer.update(running.digest())
    return outer.hexdigest()


_second_text: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def utc_now() -> str:
    """``datetime.now(UTC)`` as ``%Y-%m-%dT%H:%M:%S.%fZ``, formatting each second only once."""
    global _second_text
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    known = _second_text
    if known[0] != second:
        known = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{known[1]}.{micro:06d}Z"


def parse_time(text: str) -> datetime | None:
    """A record's time (`utc_now`'s form, or any ISO 8601 time with its zone), aware; None for
    text that is no such time (a forged or damaged record's)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def check_fields(event: str, fields: Iterable[str]) -> None:
    """Refuse an unknown event (ValueError) or a field a caller may not set (TypeError)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    if not CALLER_FIELDS.issuperset(fields):
        unknown = sorted(set(fields) - CALLER_FIELDS)
        raise TypeError(f"AuditLog.write() got unknown field(s): {', '.join(unknown)}")


def build_record(
    event: str,
    fields: Mapping[str, object],
    head: str,
    seq: int,
    policy: str,
    chain: str = CHAIN_SHA256,
) -> Record:
    """The record ``event`` with the caller's ``fields`` normalised, chained after ``head``,
    naming ``chain``; `seal` adds its digest."""
    get = fields.get
    record: Record = {"prev": head, "seq": seq, "time": utc_now(), "event": event}
    for name, normalized in _LEADING_FIELDS:
        record[name] = normalized(get(name))
    record["policy"] = policy
    record["pid"], record["host"] = _writer  # its writer saw any fork first (`AuditLog`)
    for name in _TRAILING_FIELDS:
        record[name] = normalize(name, get(name))
    for name in EXTRA_FIELDS:
        if name in fields:
            record[name] = normalize(name, fields[name])
    record["chain"] = chain
    return record


# The caller's fields between ``event`` and ``policy``, each with its normaliser, in order.
_LEADING_FIELDS = tuple(
    (name, NORMALIZERS.get(name, as_text))
    for name in RECORD_FIELDS[RECORD_FIELDS.index("event") + 1 : RECORD_FIELDS.index("policy")]
)
_TRAILING_FIELDS = RECORD_FIELDS[RECORD_FIELDS.index("host") + 1 : RECORD_FIELDS.index("chain")]

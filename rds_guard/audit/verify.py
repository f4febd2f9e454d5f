"""Verification: `verify` walks the chain of one log or a series of rotated files, `verify_lines`
the same walk over lines from anywhere, and `head` gives the checkpoint a log stands at.

The walk itself is `walk.ChainWalk` (parse-free on its fast path, every bad line reported);
every reason it gives is in `REASONS`; what the chain proves, with and without a key and with
checkpoints, is in docs/audit.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from ..core.files import open_regular_file
from .errors import NotAnAuditLog
from .fileio import READ_FLAGS, Lines, may_start_a_log, open_checked, os_error
from .findings import Finding
from .record import NOT_A_LOG_START, StrPath, first_format, is_digest
from .settled import settled_blocks
from .tail import HEAD, authenticate, scan_tail
from .torn import kept_record
from .walk import FIRST_FORMAT, ChainWalk

REASONS = (
    "edited",
    "removed",
    "reordered",
    "torn",
    "key",
    "head",
    "fork",
    "missing-stream",
    "checkpoint",
    "duplicate-stream",
    "unlisted-stream",
)
"""The reasons ``verify`` gives for a bad line; the last five only ``verify --ledger`` (a
fork, a stream gone from the ledger, a checkpoint that does not hold, one log under two
streams, a stream no marker lists that a scan found: docs/ledger.md)."""

MAX_FINDINGS = 100
"""How many findings ``verify`` keeps by default; the rest are counted."""

_BATCH = 1024


class Checkpoint(NamedTuple):
    """Where a log stood: the seq of its last record and the digest of that line's full bytes
    (SHA-256, or HMAC-SHA256 for a keyed record). ``str()`` is ``SEQ:HEX``."""

    seq: int
    digest: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.digest}"


def seq_number(text: str) -> int | None:
    """``text`` as a seq (1, 2, ...), or None: ASCII digits only ("²" is a digit to
    str.isdigit, not to int), and no more of them than a record's seq can have (int() refuses
    a number of over 4300 digits)."""
    if not (text.isascii() and text.isdigit() and len(text) < 4000):
        return None
    number = int(text)
    return number if number >= 1 else None


def parse_checkpoint(text: str) -> Checkpoint:
    """``SEQ:HEX`` (as `head` prints it) as a `Checkpoint`; anything else is a ValueError."""
    seq, colon, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    number = seq_number(seq)
    if not colon or number is None or not is_digest(digest):
        raise ValueError(
            f"a checkpoint is SEQ:HEX (a seq from 1, then 64 hex digits), got {text!r}"
        )
    return Checkpoint(number, digest)


@frozen
class VerifyResult:
    """The outcome of ``verify``: the chain's length and head, and every bad line found.

    ``records`` counts the lines that hold a record (bad ones included); ``findings`` holds
    up to the cap, ``more`` counts the rest; ``line``, ``reason``,
    ``detail`` and ``path`` repeat the first finding. ``seq`` is the last record's seq (with
    ``head``, the log's `Checkpoint`); ``first_format`` counts the records in the first
    format (no digest of their own: each is vouched for only by the record after it, or by a
    checkpoint), and ``unsealed_end`` is True when the last record is one of them: nothing
    but a checkpoint vouches for it (the command says so; `rotate` seals it).
    """

    ok: bool
    records: int
    head: str
    line: int | None = None
    reason: str | None = None
    detail: str | None = None
    path: Path | None = None
    continues: str | None = None
    findings: tuple[Finding, ...] = ()
    more: int = 0
    seq: int = 0
    first_format: int = 0
    unsealed_end: bool = False

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint the log stands at (seq and head)."""
        return Checkpoint(self.seq, self.head)

    def lines(self) -> list[str]:
        """``ok: N records, head HEX``, or one ``line N: REASON: detail`` per finding, then
        ``... and N more bad lines`` past the cap."""
        if self.ok:
            return [f"ok: {self.records} records, head {self.head}"]
        more = [f"... and {self.more} more bad lines"] if self.more else []
        return [str(finding) for finding in self.findings] + more

    def summary(self) -> str:
        """`lines` as one text (one line when the chain holds)."""
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, object]:
        """The result as plain JSON values (for ``--json``)."""
        return {
            "ok": self.ok,
            "records": self.records,
            "seq": self.seq,
            "head": self.head,
            "continues": self.continues,
            "first_format": self.first_format,
            "unsealed_end": self.unsealed_end,
            "findings": [
                {
                    "line": f.line,
                    "reason": f.reason,
                    "detail": f.detail,
                    "path": None if f.path is None else str(f.path),
                }
                for f in self.findings
            ],
            "more": self.more,
        }


def verify(
    paths: StrPath | Iterable[StrPath],
    *,
    hmac_key: bytes | None = None,
    head: str | None = None,
    checkpoints: Iterable[tuple[int, str]] = (),
    max_findings: int = MAX_FINDINGS,
    progress: Callable[[int, int, int], None] | None = None,
) -> VerifyResult:
    """Walk the chain of one log, or of several files oldest first, as one chain.

    Streams the files (flat memory) and checks each line's ``prev``, ``seq``, algorithm and
    own digest by byte position, parsing JSON only for the last line of each file and around
    a bad line; every bad line is reported (up to ``max_findings``), the walk resynchronising
    after each. A first file that starts with ``rotated`` is checked from there on
    (``VerifyResult.continues`` names the file it continues).

    ``head``: the head the log must end with (catches records cut off at a line boundary).
    ``checkpoints``: ``(seq, hex)`` pairs (`Checkpoint`) the log, grown since or not, must
    still hold: the record at each seq must have that digest, and a log that ends before it
    is a finding too (reason ``head``).

    ``progress``: told ``(lines read, bytes read, bytes in all)`` after each block read.

    Raises `KeyRequired` for an HMAC-keyed log without ``hmac_key``, `NotAnAuditLog` for a
    file whose first line is no record, OSError for a missing file or one that is not a regular
    file (a FIFO is refused, never waited on), `AuditError` for one file given twice (by two
    names too: hard links), ValueError for no file at all or a malformed ``head`` or
    checkpoint. ``paths`` may be any iterable (a generator, ``Path.glob``); it is read once.
    """
    paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not paths:
        raise ValueError("no file to verify: give the log's files, oldest first")
    sizes = distinct_files(paths)
    walk = _new_walk(hmac_key, checkpoints, max_findings)
    counter = None if progress is None else _Counter(progress, sum(sizes))
    for index, path in enumerate(paths):
        with open(open_regular_file(path), "rb", buffering=0) as stream:
            blocks = settled_blocks(stream.fileno(), path=path)
            if counter is not None:
                blocks = counter.count(blocks)
            first_block = next(blocks, b"")
            _check_first_bytes(Path(path), stream.fileno(), first_block)
            batches = Lines(_chained(first_block, blocks), path=path, long_lines=True)
            walk.walk(batches, Path(path), first=index == 0)
            if batches.rest:
                walk.torn(batches.rest)
    return _result(walk, head)


def distinct_files(paths: Sequence[StrPath], *, passing_over: bool = False) -> list[int]:
    """The files' sizes, after checking no file is given twice, by one name or two (its
    records would be read as records again): `AuditError` naming both. ``passing_over``: a
    path that cannot be looked at (gone, an archive pruned) is left out, not an OSError."""
    seen: dict[tuple[int, int], StrPath] = {}
    sizes: list[int] = []
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            if passing_over:
                continue
            raise
        first = seen.setdefault((st.st_dev, st.st_ino), path)
        if len(seen) == len(sizes):
            raise AuditError(
                f"{first} and {path} are one file (hard links of each other, or one name "
                "given twice): its records would be read twice. An audit rotate stopped "
                "between naming the archive and replacing the log leaves the log so; the next "
                "rds-guard audit rotate removes that name",
                path=str(path),
            )
        sizes.append(st.st_size)
    return sizes


def verify_lines(
    lines: Iterable[bytes],
    *,
    hmac_key: bytes | None = None,
    head: str | None = None,
    checkpoints: Iterable[tuple[int, str]] = (),
    max_findings: int = MAX_FINDINGS,
) -> VerifyResult:
    """`verify`'s walk over lines from anywhere (a ledger, a socket, a list): each item one
    line's bytes, without its newline (one trailing newline is taken off), oldest first.

    The lines are one stream: a first line that is ``rotated`` continues an earlier chain.
    Findings carry no path; their line numbers count the items from 1. Same errors as
    `verify` (`NotAnAuditLog` when the first line is no record).
    """
    walk = _new_walk(hmac_key, checkpoints, max_findings)
    walk.walk(_batched(lines), None, first=True)
    return _result(walk, head)


def head(paths: StrPath | Sequence[StrPath], *, hmac_key: bytes | None = None) -> Checkpoint:
    """The checkpoint a log (or a series of files, oldest first: the last one holding a
    record) stands at: its last record's seq and the digest of that line's full bytes.

    The last record is authenticated as a writer would before chaining onto it (its own
    digest, its link to the record before it, its seq), not the whole chain: that is
    `verify`'s job. A log with no record stands at ``(0, 64 zeros)``. Raises `KeyRequired`
    (an HMAC-keyed log without ``hmac_key``), `AuditError` (a damaged or unauthentic last
    line, one file given twice, as `verify` refuses it), OSError (a missing file).
    """
    listed = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    distinct_files(listed, passing_over=True)  # a file not read, as before, if it is gone
    for path in reversed(listed):
        fd = open_checked(path, READ_FLAGS, "cannot open for reading")
        try:
            size = os.fstat(fd).st_size
            scan = scan_tail(fd, size, HEAD.longest)
            vouched = authenticate(path, fd, scan, hmac_key, HEAD)
            if scan.torn_bytes:  # a whole record missing only its newline is kept by writers
                vouched = kept_record(fd, scan.complete_end, size, vouched, hmac_key) or vouched
            if vouched.line is None:
                continue
            return Checkpoint(vouched.seq, vouched.own_head(hmac_key))
        except OSError as exc:
            raise os_error(path, "cannot read", exc) from exc
        finally:
            os.close(fd)
    return Checkpoint(0, "0" * 64)


def _new_walk(
    key: bytes | None, checkpoints: Iterable[tuple[int, str]], max_findings: int
) -> ChainWalk:
    held: dict[int, tuple[bytes, ...]] = {}
    for seq, digest in checkpoints:
        checkpoint = parse_checkpoint(f"{seq}:{digest}")
        digests = held.get(checkpoint.seq, ())
        if checkpoint.digest.encode() not in digests:  # every one given must hold
            held[checkpoint.seq] = (*digests, checkpoint.digest.encode())
    return ChainWalk(key, held, max_findings)


def _result(walk: ChainWalk, head: str | None) -> VerifyResult:
    expected = None
    if head is not None:
        expected = head.strip().lower()
        if not is_digest(expected):
            raise ValueError(f"head must be 64 hex digits, got {head!r}")
    walk.finish(expected)
    first = walk.findings[0] if walk.findings else None
    return VerifyResult(
        ok=first is None,
        records=walk.records,
        head=walk.head,
        line=None if first is None else first.line,
        reason=None if first is None else first.reason,
        detail=None if first is None else first.detail,
        path=None if first is None else first.path,
        continues=walk.continues,
        findings=tuple(walk.findings),
        more=walk.more,
        seq=walk.seq,
        first_format=walk.first_format,
        unsealed_end=walk.mode == FIRST_FORMAT and first_format(walk.last or b""),
    )


def _check_first_bytes(path: Path, fd: int, block: bytes) -> None:
    """A file whose first bytes are not how a record's line starts, and whose first block
    holds no line that starts as one, is no audit log (said before reading on: a binary may
    hold no newline at all). Zeros a crash left of a first record are a torn line, as the
    writers, ``head`` and ``show`` take them (`fileio.may_start_a_log`)."""
    if not may_start_a_log(fd, block):
        raise NotAnAuditLog(path, NOT_A_LOG_START)


class _Counter:
    """Tells `verify`'s ``progress`` how far the reading of the files has got."""

    def __init__(self, progress: Callable[[int, int, int], None], total: int) -> None:
        self.progress = progress
        self.total = total
        self.lines = 0
        self.done = 0

    def count(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            self.lines += block.count(b"\n")
            self.done += len(block)
            self.progress(self.lines, self.done, self.total)
            yield block


def _chained(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _batched(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line[:-1] if line[-1:] == b"\n" else line)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch

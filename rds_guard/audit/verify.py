"""Verification: `verify` walks the hash chain of one log, or of a series of rotated files.

The walk checks each line by byte position (``prev``, ``seq`` and the record's envelope, as
laid out in `record`), hashing as it goes and parsing JSON only where a line needs a closer
look. Every reason it gives is in `REASONS`; what the chain proves is in docs/audit.md.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .fileio import Lines, read_blocks
from .record import (
    LINE_END,
    LINE_START,
    PREV_END,
    PREV_START,
    SEQ_KEY,
    ZERO_HASH,
    StrPath,
    chain_hash,
    is_digest,
    parse_record,
    prev_of,
    seq_of,
)

_LOOKAHEAD = 100


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
        """The digest the line after ``line`` must hold as ``prev``."""
        return chain_hash(line, self.key).encode()

    def walk_file(self, path: Path, *, first: bool) -> VerifyResult | None:
        """Walk one file on from where the chain stands; its first bad line, or None."""
        start_seq = self.seq
        with open(path, "rb", buffering=0) as stream:
            batches = Lines(read_blocks(stream.fileno()))
            for lines in batches:
                if first:
                    self._adopt_rotated_start(lines[0] if lines else b"")
                    first = False
                if lines:
                    bad = self._scan(lines)
                    if bad >= 0:
                        return self._diagnose(self._context(path, start_seq, lines, bad, batches))
        lines_here = self.seq - start_seq
        if batches.rest:
            return self._fail(
                path,
                lines_here + 1,
                "torn",
                f"the last line has no newline ({len(batches.rest)} bytes): a write was cut "
                "off (the next writer repairs it)",
            )
        if lines_here and self.last_line is not None and parse_record(self.last_line) is None:
            # The fast path checks only the envelope; no later line vouches for the last.
            self.records, self.seq = self.records - 1, self.seq - 1
            self.prev = prev_of(self.last_line)
            return self._fail(path, lines_here, "edited", "not an audit record")
        if lines_here or self.last_at is None:
            self.last_at = (path, lines_here)
        return None

    def _adopt_rotated_start(self, line: bytes) -> None:
        """A first file that starts with ``rotated`` continues a chain whose start we lack."""
        record = parse_record(line)
        if record is None or record.get("event") != "rotated":
            return
        self.prev = str(record["prev"]).encode()
        self.seq = int(str(record["seq"])) - 1
        self.continues = str(record.get("rotated_from") or "an earlier log")

    def _scan(self, lines: list[bytes]) -> int:
        """Check lines on the fast path; the index of the first that does not follow, or -1.

        Each line must link, carry the next seq and have a record's envelope: it starts with
        ``{"prev":"`` and ends with ``}`` (bytes only; the last line of a file is parsed in
        full). The lines are hashed first, in one pass that knows whether there is a key, so
        that the loop has no per-line branch on it.
        """
        prev, seq = self.prev, self.seq
        start = seq
        # The layout as locals: this loop runs once per line of the log.
        prev_start, prev_end, line_start, line_end = PREV_START, PREV_END, LINE_START, LINE_END
        seq_at = SEQ_KEY + b"%d,"
        for line, link in zip(lines, self._links(lines), strict=True):
            if (
                line[prev_start:prev_end] != prev
                or not line.startswith(seq_at % (seq + 1), prev_end)
                or not line.startswith(line_start)
                or line[-1] != line_end
            ):
                break
            seq += 1
            prev = link
        done = seq - start
        if done:
            self.last_line = lines[done - 1]
        self.prev, self.seq = prev, seq
        self.records += done
        return done if done < len(lines) else -1

    def _links(self, lines: list[bytes]) -> list[bytes]:
        """The digest of each line, as the next line's ``prev`` must hold it."""
        key = self.key
        if key is None:
            sha256 = hashlib.sha256
            return [sha256(line).hexdigest().encode() for line in lines]
        digest = hmac.digest
        return [digest(key, line, "sha256").hex().encode() for line in lines]

    def _context(
        self, path: Path, start_seq: int, lines: list[bytes], bad: int, batches: Lines
    ) -> _BadLine:
        """The bad line with the line before it and up to ``_LOOKAHEAD`` lines after it."""
        number = self.seq - start_seq + 1
        following = lines[bad + 1 : bad + 1 + _LOOKAHEAD]
        while len(following) < _LOOKAHEAD:
            more = next(batches, None)
            if more is None:
                break
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
        found = seq_of(bad.line)
        if found is None:
            return self._fail(bad.path, bad.number, "edited", "not an audit record")
        if found == expected and prev_of(bad.line) == self.prev:
            # It links and follows, so what failed is the envelope: {"prev":" ... }.
            detail = (
                "not an audit record"
                if parse_record(bad.line) is None
                else "not as a writer writes a record: it does not end with }"
            )
            return self._fail(bad.path, bad.number, "edited", detail)
        if prev_of(bad.line) == self.prev:
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
            (s for s in map(seq_of, bad.following) if s is not None and expected <= s < found),
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
        prev_field = prev_of(bad.line)
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
        links_broken = [prev_of(nxt) != self.hash(cur) for cur, nxt in itertools.pairwise(chain)]
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

"""The chain walk behind `verify`: batches of lines in, every bad line out, from anywhere.

`ChainWalk` takes batches of lines (without their newlines) from files or from any other
source, one stream after another, and checks each line by byte position on a fast path:
``prev`` links, ``seq`` follows, the record names the chain's algorithm and its own digest
matches its bytes (`record` names where each sits). A line the fast path does not accept is
looked at closely (`_careful`), parsed, and either accepted or reported as a `Finding`; the
walk then resynchronises and goes on. What each reason means is in docs/audit.md, "Verify".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from itertools import pairwise
from pathlib import Path

from . import findings
from .errors import KeyRequired, NotAnAuditLog
from .fastpath import scan_first_format, scan_sealed
from .fileio import LongLine, Lookahead
from .findings import CRLF, NOT_AUTHENTIC, NOTHING_KEYED, Finding
from .record import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    ZERO_HASH,
    chain_hash,
    chain_of,
    first_format,
    hmac_pads,
    is_authentic,
    may_be_a_cut_record,
    parse_record,
    prev_of,
    seq_of,
)
from .tail import Vouched
from .torn import next_record, torn_detail

FIRST_FORMAT = "first format"
"""The mode of a walk whose last record is in the first format (no digest of its own)."""
_WRONG_KEY_RUN = 3  # HMAC records failing in a row that make a wrong key, not edits


class ChainWalk:
    """The state of a walk along one chain, across streams (files, oldest first).

    ``checkpoints`` maps a seq to the digests (hex, ASCII bytes) its record's full bytes must
    have (each one given: two that differ cannot both hold; a first-format record's under the
    key or, taken before the log was keyed, plain SHA-256); ``max_findings`` caps the findings
    kept (the rest are counted in ``more``)."""

    def __init__(
        self, key: bytes | None, checkpoints: dict[int, tuple[bytes, ...]], max_findings: int
    ) -> None:
        self.key = key
        self._pads = None if key is None else hmac_pads(key)
        self.prev = ZERO_HASH.encode()  # what the next line's prev must be
        self.link_key: bytes | None = key  # ... under this key (None: SHA-256)
        self.seq = 0
        self.last: bytes | None = None
        self.mode: str | None = None  # FIRST_FORMAT or the algorithm of the last record
        self.records = 0
        self.first_format = 0
        self.sealed_seen = False
        self.hmac_seen = False
        self.keyed_link = False  # an HMAC record, or a first-format one linked under the key
        self.unvouched: tuple[Path | None, int] | None = None
        self.continues: str | None = None
        self.findings: list[Finding] = []
        self.more = 0
        self.max_findings = max_findings
        self.checkpoints = checkpoints
        self._pending_checkpoints = sorted(checkpoints)
        self.checked: set[int] = set()
        self.first_seq: int | None = None
        self.max_seq = 0
        self.path: Path | None = None
        self.number = 0
        self.last_at: tuple[Path | None, int] | None = None
        self._bad = 0  # lines just walked that are not (trusted) records: resync slack
        self._failed: list[int] = []  # HMAC records failing in a row (their numbers)
        self._parsed_last = True
        self._reported: set[str] = set()

    # -- streams --

    def walk(self, batches: Iterator[list[bytes]], path: Path | None, *, first: bool) -> None:
        """Walk one stream of batches on from where the chain stands."""
        self.path, self.number, self._parsed_last = path, 0, True
        source = Lookahead(batches)
        opening, unproven, records_before = True, "", self.records
        for lines in source:
            if not lines:
                continue
            if opening:
                unproven = self._opening(lines[0], partial(source.following, lines, 0), first)
                opening = False
            index = 0
            while index < len(lines):
                index = self._fast(lines, index)
                if index < len(lines):
                    self._careful(lines[index], partial(source.following, lines, index))
                    index += 1
        self._flush_failed()
        if not self._parsed_last and self.last is not None and parse_record(self.last) is None:
            # The fast path checks only the envelope; no later line vouches for the last.
            self.records -= 1
            self.report(self.number, "edited", "not an audit record", at=self.last_at)
        if unproven and self.records == records_before:
            raise NotAnAuditLog(self.path, unproven)

    def torn(self, rest: bytes) -> None:
        """The stream ended with ``rest``: bytes after its last newline (a cut-off write); a whole
        record that follows, as a writer keeps it, is walked as a line before it is reported."""
        if not self.number and not may_be_a_cut_record(rest):
            raise NotAnAuditLog(self.path, "its bytes do not start as a record's line")
        if not self._bad and next_record(rest, Vouched(self.last, self.seq, None), self.key):
            # The writer keeps such a line: it is counted, and the head ends there.
            self._careful(rest, list)
            self.report(
                self.number,
                "torn",
                f"the last line has no newline, but it is the whole authentic record that "
                f"follows (seq {self.seq}): the next writer keeps it and adds the newline",
            )
            return
        self.report(self.number + 1, "torn", torn_detail(rest))

    def _opening(self, line: bytes, following: Callable[[], list[bytes]], first: bool) -> str:
        """What the stream's first line is, when it is no record and neither is any of the
        `LOOKAHEAD` lines after it: the stream is no audit log unless a line further on is a
        record (a damaged first line of a log, however many lines the damage took, is a
        finding); else empty. A first stream that starts with ``rotated`` continues a chain
        whose start we lack."""
        record = parse_record(line)
        if record is None:
            if any(parse_record(after) is not None for after in following()):
                return ""
            return "an empty line" if not line.strip() else "not a JSON object with prev and seq"
        if first and record.get("event") == "rotated":
            self.prev = str(record["prev"]).encode()
            self.seq = int(str(record["seq"])) - 1
            self.continues = str(record.get("rotated_from") or "an earlier log")
        return ""

    # -- findings --

    def report(
        self, line: int, reason: str, detail: str, at: tuple[Path | None, int] | None = None
    ) -> None:
        """Keep one finding about ``line`` of the current stream (``at``: a line elsewhere)."""
        self._flush_failed()
        path, number = at or (self.path, line)
        self._keep(path, number, reason, detail)

    def _keep(self, path: Path | None, line: int, reason: str, detail: str) -> None:
        """Keep a finding, or count it past the cap."""
        if len(self.findings) >= self.max_findings:
            self.more += 1
            return
        where = "" if path is None else f"{path}: "
        self.findings.append(Finding(line, reason, where + detail, path))

    def _flush_failed(self) -> None:
        """Report the HMAC records that failed in a row: one ``key`` finding when there are
        enough of them to be a wrong key, else one ``edited`` finding each."""
        failed, self._failed = self._failed, []
        if len(failed) >= _WRONG_KEY_RUN:
            return self._keep(self.path, failed[0], "key", findings.wrong_key(failed))
        for number in failed:
            self._keep(self.path, number, "edited", NOT_AUTHENTIC)

    # -- the fast path --

    def _fast(self, lines: list[bytes], start: int) -> int:
        """Accept lines from ``start`` on while each follows as a writer would have written
        it; the index of the first line left for `_careful`."""
        if self._bad or self._failed or self.mode is None:
            return start
        seq = self.seq
        if self.mode == FIRST_FORMAT:
            done, prev = scan_first_format(lines, start, self.prev, seq, self.link_key)
            self.first_format += done
            self.keyed_link = self.keyed_link or bool(done and self.link_key)
        else:
            done, prev = scan_sealed(lines, start, self.prev, seq, self.mode, self._pads)
        if done:
            self.prev, self.seq = prev, seq + done
            end = start + done
            self.last = lines[end - 1]
            self.number += done
            self.records += done
            self.max_seq = max(self.max_seq, self.seq)
            self.last_at = (self.path, self.number)
            self._parsed_last = False
            self._check_checkpoints(lines, start, seq)
            return end
        return start

    def _check_checkpoints(self, lines: list[bytes], start: int, seq_before: int) -> None:
        """Hold the lines just accepted (seqs after ``seq_before``) to the checkpoints."""
        pending = self._pending_checkpoints
        while pending and pending[0] <= self.seq:
            seq = pending.pop(0)
            if seq > seq_before:
                line = lines[start + seq - seq_before - 1]
                self._hold_to_checkpoint(line, seq, self.number - (self.seq - seq))

    def _hold_to_checkpoint(self, line: bytes, seq: int, number: int) -> None:
        self.checked.add(seq)
        digests = self._digests(line, chain_of(line))
        for expected in self.checkpoints[seq]:
            if expected not in digests:
                self.report(
                    number,
                    "head",
                    f"the record with seq {seq} has digest {digests[0].decode()}, not the "
                    f"checkpoint's {expected.decode()}: the log was rewritten up to it",
                )

    def _digests(self, line: bytes, chain: str | None) -> tuple[bytes, ...]:
        """The digests of ``line`` a checkpoint or head may give: under the algorithm its
        ``chain`` names, or a first format's under the key or plain (taken before the key)."""
        digest = chain_hash(line, None if chain == CHAIN_SHA256 else self.key).encode()
        return (digest, chain_hash(line).encode()) if chain is None else (digest,)

    # -- a line looked at closely --

    def _careful(self, line: bytes, following: Callable[[], list[bytes]]) -> None:
        """Check one line the fast path did not accept: report what is wrong, then resync."""
        self.number += 1
        number = self.number
        record = None if isinstance(line, LongLine) else parse_record(line)
        if record is None:
            what = "an empty line" if not line.strip() else "not an audit record"
            self.report(number, "edited", str(line) if isinstance(line, LongLine) else what)
            self._bad += 1
            return
        self.records += 1
        self._parsed_last = True
        seq = int(str(record["seq"]))
        chain = chain_of(line)
        at = self.last_at
        plain_here = self.mode != CHAIN_HMAC and at is not None and at[0] == self.path
        if (
            chain == CHAIN_HMAC
            and self.key is None
            and findings.hmac_among_plain(record, self.seq + 1, plain_here, following)
        ):
            self.report(number, "edited", findings.HMAC_AMONG_PLAIN)
            self._bad += 1
            return
        link_key = self.key if chain in (None, CHAIN_HMAC) else None
        problem = self._authenticity(line, number, chain)
        if problem:
            if problem != "failed":
                reason, detail = problem.split(": ", 1)
                self.report(number, reason, detail)
            self._bad += 1
            return
        if chain is None and self._plain_first_format(line):
            link_key, self.unvouched = None, self.unvouched or self.last_at
        self._follow(line, record, seq, chain, link_key, following)

    def _plain_first_format(self, line: bytes) -> bool:
        """Under a key, a first-format record linked in plain SHA-256 before anything keyed."""
        plain = not (self.key is None or self._bad or self.keyed_link or self.hmac_seen)
        return plain and self.last is not None and prev_of(line) == chain_hash(self.last).encode()

    def _authenticity(self, line: bytes, number: int, chain: str | None) -> str:
        """What is wrong with the line on its own, as ``reason: detail`` (``failed``: an HMAC
        record that does not authenticate, reported with its run); ``""`` when nothing is."""
        if chain is None:
            if self.sealed_seen and self._converted(line):
                return f"edited: line {number} {CRLF}"
            if self.sealed_seen:
                return (
                    "edited: a record in the first format (no digest of its own) after sealed "
                    "records: edited, or a downgrade"
                )
            return ""
        if chain == "":
            return "edited: its chain names no known algorithm"
        if chain == CHAIN_HMAC and self.key is None:
            raise KeyRequired(self.path, number, "verify")
        self.keyed_link = self.keyed_link or chain == CHAIN_HMAC  # a wrong key is its own finding
        if not is_authentic(line, self.key if chain == CHAIN_HMAC else None):
            if chain == CHAIN_HMAC:
                self._failed.append(number)
                return "failed"
            return "edited: its own SHA-256 digest does not match its bytes (edited or damaged)"
        self._flush_failed()
        if chain == CHAIN_HMAC:
            self.hmac_seen, self.unvouched = True, None
        elif self.key is not None:
            if self.hmac_seen:
                return (
                    "key: a plain SHA-256 record after HMAC-keyed ones: a downgrade (edited, or "
                    "written without the key)"
                )
            self.unvouched = self.unvouched or (self.path, number)
        return ""

    def _converted(self, line: bytes) -> bool:
        """A sealed record but for a carriage return at its end (which hides its chain's
        name), authentic and linking on without it."""
        bare = line[:-1] if line[-1:] == b"\r" else b""
        chain = chain_of(bare)
        key = self.key if chain == CHAIN_HMAC else None
        known = chain == CHAIN_SHA256 or key is not None
        return known and is_authentic(bare, key) and prev_of(bare) == self._expected_prev(key)

    def _follow(
        self,
        line: bytes,
        record: dict[str, object],
        seq: int,
        chain: str | None,
        link_key: bytes | None,
        following: Callable[[], list[bytes]],
    ) -> None:
        """Check that a record on its own in good standing follows the chain, then adopt it
        (or leave it out, when it is out of place)."""
        number, expected = self.number, self.seq + 1
        if self._bad and expected <= seq <= expected + self._bad:
            self._adopt(line, seq, chain, link_key)  # after damage the link cannot be known
            return
        expected_prev = None if self._bad else self._expected_prev(link_key)
        linked = prev_of(line) == expected_prev
        if seq == expected:
            if not linked:
                self._broken_link(line, link_key, following)
            elif self.last is not None and link_key is not None:
                self.keyed_link = True
        elif linked:
            self.report(
                number,
                "edited",
                f"seq {seq} where {expected} was expected, yet prev links to the line before: "
                "the seq was changed",
            )
            self._bad += 1
            return
        elif seq > expected:
            later = next(
                (s for s in map(seq_of, following()) if s is not None and expected <= s < seq),
                None,
            )
            if later is not None:
                self.report(
                    number,
                    "reordered",
                    f"seq {seq} where {expected} was expected; seq {later} comes later",
                )
            else:
                self.report(number, "removed", findings.jump(expected - 1, seq))
        else:
            detail = findings.behind(seq, expected - 1, number, prev_of(line))
            self.report(number, "reordered", detail)
            return
        self._adopt(line, seq, chain, link_key)

    def _expected_prev(self, link_key: bytes | None) -> bytes:
        if self.last is None or link_key == self.link_key:
            return self.prev
        return chain_hash(self.last, link_key).encode()

    def _broken_link(
        self, line: bytes, link_key: bytes | None, following: Callable[[], list[bytes]]
    ) -> None:
        """The seq follows but ``prev`` does not: an edit, or a chain made with another key."""
        number = self.number
        if self.last is None:
            self.report(number, "edited", f"the first record's prev is not {ZERO_HASH}")
            return
        path, before = self.last_at or (self.path, number - 1)
        unconverted = self.last[:-1] if self.last[-1:] == b"\r" else None
        if unconverted and prev_of(line) == chain_hash(unconverted, link_key).encode():
            return self.report(before, "edited", f"line {before} {CRLF}", at=(path, before))
        # (a carriage return first: it also hides the chain's name, read as the first format)
        if chain_of(line) is None and self._first_format_key(line, link_key, following):
            return
        after = following()[:1]
        if after and prev_of(after[0]) == chain_hash(line, link_key).encode():
            if chain_of(line) == CHAIN_HMAC and chain_of(self.last) == CHAIN_HMAC:
                self.report(
                    number,
                    "edited",
                    f"line {number} does not link to the line before it, though both are "
                    "authentic: a record of another chain in between, or lines removed?",
                )
                return
            self.report(
                before,
                "edited",
                f"line {before} was changed: it no longer hashes to the prev recorded in the "
                "line after it",
                at=(path, before),
            )
            return
        self.report(
            number,
            "edited",
            f"line {number} was changed: its prev does not link to the line before and it no "
            "longer hashes to the next line's prev"
            if after
            else f"line {number}'s prev does not link to line {before}: one of the two was "
            "changed (no line after it tells which)",
        )

    def _first_format_key(
        self, line: bytes, link_key: bytes | None, following: Callable[[], list[bytes]]
    ) -> bool:
        """A first-format chain made with another key than the one given: say so once."""
        assert self.last is not None
        if link_key is not None and prev_of(line) == chain_hash(self.last).encode():
            detail = "the chain is plain SHA-256, not HMAC-SHA256 under the given key"
        else:
            chain = [line, *following()[:2]]
            broken = [prev_of(b) != chain_hash(a, link_key).encode() for a, b in pairwise(chain)]
            if len(broken) < 2 or not all(broken):
                return False
            detail = (
                "prev matches neither plain SHA-256 nor HMAC-SHA256 under the given key on 3 "
                "lines in a row: a wrong key?"
                if link_key is not None
                else "prev does not match plain SHA-256 on 3 lines in a row: the log was written "
                "with an HMAC key (give --key-env)"
            )
        if "first-format key" not in self._reported:
            self._reported.add("first-format key")
            self.report(self.number, "key", detail)
        return True

    def _adopt(self, line: bytes, seq: int, chain: str | None, link_key: bytes | None) -> None:
        """Make ``line`` the record the chain goes on from."""
        self.seq, self.last, self.link_key = seq, line, link_key
        self.prev = chain_hash(line, link_key).encode()
        self.mode = chain or FIRST_FORMAT
        self.sealed_seen = self.sealed_seen or bool(chain)
        self.first_format += not chain and first_format(line)  # read without a CRLF's CR
        self._bad = 0
        if self.first_seq is None:
            self.first_seq = seq
        self.max_seq = max(self.max_seq, seq)
        self.last_at = (self.path, self.number)
        pending = self._pending_checkpoints
        while pending and pending[0] <= seq:
            if pending.pop(0) == seq:
                self._hold_to_checkpoint(line, seq, self.number)

    # -- the end --

    @property
    def head(self) -> str:
        """The digest of the last record's full bytes, under the algorithm it names."""
        if self.last is None:
            return ZERO_HASH if self.continues is None else self.prev.decode()
        key = self.link_key if self.mode == FIRST_FORMAT else self.key  # plain first format too
        return chain_hash(self.last, None if self.mode == CHAIN_SHA256 else key)

    def finish(self, expected_head: str | None) -> None:
        """Findings only the end can tell: a keyed log ending in plain SHA-256, checkpoints
        the log never reached, a head other than ``expected_head``."""
        self._flush_failed()
        end = self.last_at or (self.path, 0)
        if self.unvouched is not None:
            path, number = self.unvouched
            self.report(
                number,
                "key",
                f"the chain is plain SHA-256 from line {number} on and no HMAC-keyed record "
                "vouches for it: under a key the last record must be HMAC-keyed (is the log "
                "keyed at all? verify it without the key)",
                at=(path, number),
            )
        if self.last is not None and self.last[-1:] == b"\r":  # no next line says it
            chain = chain_of(self.last[:-1])  # what can be checked of it, without the CR
            checked = chain == CHAIN_SHA256 or (chain == CHAIN_HMAC and self.key is not None)
            intact = not checked or is_authentic(self.last[:-1], self.key)
            self.report(
                end[1], "edited", f"line {end[1]} {CRLF}" if intact else NOT_AUTHENTIC, at=end
            )
        elif self.key is not None and self.records and not (self.keyed_link or self.findings):
            self.report(end[1], "key", NOTHING_KEYED, at=end)
        for seq in sorted(set(self.checkpoints) - self.checked):
            missing = findings.missing_checkpoint(seq, self.first_seq, self.max_seq)
            self.report(end[1], "head", missing, at=end)
        head, last, chain = self.head, self.last, None if self.mode == FIRST_FORMAT else self.mode
        heads = [head] if last is None else [d.decode() for d in self._digests(last, chain)]
        if expected_head is not None and expected_head not in heads:
            self.report(
                end[1],
                "head",
                f"the log ends at seq {self.seq} with head {head}, not {expected_head}: "
                "records were cut off at the end, or the last record was changed",
                at=end,
            )

"""The end of a log, read and authenticated before anything is chained onto it.

A writer (and rotate, repair, `head`) never seals what it cannot vouch for: the last record
must carry its own valid digest (HMAC-SHA256 needs the key), link to the record before it and
follow its seq; a keyed writer refuses a tail in the first format or a plain SHA-256 chain,
an unkeyed one an HMAC-keyed chain. docs/audit.md, "What a writer checks", says why.
"""

from __future__ import annotations

import os
from pathlib import Path

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import KeyRequired, NotAnAuditLog, NotAuthentic, not_authentic_finding
from .fields import LINE_MAX
from .fileio import (
    LONGEST_READ,
    count_newlines,
    first_line,
    may_be_a_cut_file,
    only_zeros,
    read_back,
    read_range,
    rfind_newline,
)
from .record import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    LINE_START,
    ZERO_HASH,
    chain_hash,
    chain_of,
    is_authentic,
    not_a_cut_record,
    parse_record,
    prev_of,
    seq_of,
)


@frozen
class Tail:
    """What a writer knows about the file's end: enough to chain the next record."""

    dev: int
    ino: int
    size: int
    ctime_ns: int
    head: str
    seq: int

    def describes(self, st: os.stat_result) -> bool:
        """True while the file is as this tail saw it (same file, size and change time)."""
        return (self.dev, self.ino, self.size, self.ctime_ns) == identity(st)


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """The file ``st`` describes, its size and its last change: what a `Tail` holds of it."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns)


LONGEST_KEPT = 4 * LINE_MAX
"""The longest line a writer's `scan_tail` keeps: no record is longer than `LINE_MAX`. A
record of rds_guard 0.1.0, which did not cut records, may be: `rotate`, `repair` and `head`
read a last line up to `LONGEST_MAINTAINED`."""

LONGEST_MAINTAINED = 16 << 20
"""The longest last line `rotate`, `repair` and `head` read: the scan may hold about six times
this (its blocks, their join, the two lines), so a file ending in junk lines costs a command
run from cron no more than 100 MiB."""


@frozen
class TailScan:
    """The end of the file as read from disk: its last complete line, the line before that,
    and the bytes after the last newline (a torn write)."""

    complete_end: int
    last_line: bytes | None
    last_start: int
    before: bytes | None
    before_start: int
    torn_bytes: int
    longest: int
    """The longest line the scan kept (`scan_tail`'s ``longest``): a last line read as
    ``b""`` that is longer is not known to be damaged, only too long to be read."""

    @property
    def last_too_long(self) -> bool:
        """Whether the last line was not read for its length alone."""
        return self.complete_end - 1 - self.last_start > self.longest


def scan_tail(fd: int, size: int, longest: int = LONGEST_KEPT) -> TailScan:
    """Read the last complete line of ``fd`` (``size`` bytes long) and the line before it.

    Backwards from the end, keeping the blocks from the one holding the last newline on: one
    read when both lines lie in the file's last block, as records do (a writer does this each
    time another writer has written). No more than twice ``longest`` bytes before the last
    newline are kept: a line longer than ``longest``, or one that starts before them (after
    such a line), is read as ``b""``, no record (a line of gigabytes, held whole, would take
    the guarded process's memory).
    """
    newlines: list[int] = []  # the offsets of the file's last three newlines, the last first
    blocks: list[bytes] = []  # the blocks read from the one holding the last newline, last first
    base = size  # where the earliest of those blocks starts
    for start, data in read_back(fd, size):
        found = len(data)
        while len(newlines) < 3 and (found := data.rfind(b"\n", 0, found)) >= 0:
            newlines.append(start + found)
        if newlines and len(newlines) < 3 and newlines[0] - start > 2 * longest:
            while len(newlines) < 3 and newlines[-1] >= 0:  # none kept from here
                newlines.append(rfind_newline(fd, min(start, newlines[-1]), block=1 << 20))
            newlines = [at for at in newlines if at >= 0]
            break
        if newlines:
            blocks.append(data)
            base = start
        if len(newlines) == 3:
            break
    if not newlines:
        return TailScan(0, None, 0, None, 0, size, longest)
    kept = b"".join(reversed(blocks))
    # The newlines that end the last line, the line before it and the one before that (-1:
    # the file starts there).
    ends_last, ends_before, ends_earlier = (*newlines, -1, -1)[:3]

    def line(begins: int, ends: int) -> bytes:
        if begins < base or ends - begins > longest:
            return b""
        return kept[begins - base : ends - base]

    last = line(ends_before + 1, ends_last)
    before = None if ends_before < 0 else line(ends_earlier + 1, ends_before)
    return TailScan(
        ends_last + 1,
        last,
        ends_before + 1,
        before,
        ends_earlier + 1,
        size - ends_last - 1,
        longest,
    )


@frozen
class Use:
    """Who chains onto the tail, and what it may accept under a key.

    ``seal_first_format``: a keyed caller may chain onto a record in the first format (after
    checking its last link); ``upgrade``: a keyed caller may chain onto a plain SHA-256 chain.
    """

    action: str
    seal_first_format: bool = False
    upgrade: bool = False
    longest: int = LONGEST_KEPT
    """The longest last line it reads (`scan_tail`)."""


WRITE = Use("appending a record")
ROTATE = Use("rotate", seal_first_format=True, upgrade=True, longest=LONGEST_MAINTAINED)
REPAIR = Use("repair", seal_first_format=True, longest=LONGEST_MAINTAINED)
HEAD = Use("taking its head", seal_first_format=True, upgrade=True, longest=LONGEST_MAINTAINED)


@frozen
class Vouched:
    """The record a caller may chain onto: its line (None: the log holds none), seq and the
    algorithm it names (None: the first format, or no record)."""

    line: bytes | None
    seq: int
    chain: str | None

    def head(self, hmac_key: bytes | None) -> str:
        """The digest of the record's full bytes under ``hmac_key``: the next ``prev``."""
        return ZERO_HASH if self.line is None else chain_hash(self.line, hmac_key)

    def own_head(self, hmac_key: bytes | None) -> str:
        """The digest of the record's full bytes under the algorithm it names: its head."""
        key = None if self.chain == CHAIN_SHA256 else hmac_key
        return self.head(key)


def _check_unterminated_start(path: Path, fd: int, scan: TailScan) -> None:
    """`NotAnAuditLog` for a file holding bytes and no newline that do not start as every
    record does (`LINE_START`), nor are all zeros: a token, a key, any file a policy names by
    mistake. A writer drops an unterminated tail as a first record cut short and writes its
    `repaired` record over it, which would destroy the file (and store its digest)."""
    if not scan.torn_bytes:
        return
    if may_be_a_cut_file(fd, scan.torn_bytes):
        return
    raise NotAnAuditLog(path, not_a_cut_record(scan.torn_bytes))


def authenticate(path: Path, fd: int, scan: TailScan, hmac_key: bytes | None, use: Use) -> Vouched:
    """Check the tail ``scan`` read from ``fd`` before ``use`` chains onto it.

    Raises `AuditError` naming the file and line (damage, a record that is not authentic, an
    algorithm ``use`` may not continue) or `KeyRequired`.
    """
    last = scan.last_line
    if last is None:
        _check_unterminated_start(path, fd, scan)
        return Vouched(None, 0, None)
    record = parse_record(last)
    if record is not None and last[-1:] == b"\r":
        number = _number(fd, scan)
        raise AuditError(
            f"{path}:{number}: line {number} ends with a carriage return: the log's line endings "
            "were converted to CRLF (a text-mode copy or editor); convert them back to LF, and "
            f"rds-guard audit verify {path} says whether anything else changed",
            path=str(path),
        )
    if record is None and scan.last_too_long and _starts_as_a_record(fd, scan):
        raise _too_long(path, fd, scan, use)
    if record is None:
        number = _number(fd, scan)
        if number == 1 or parse_record(first_line(fd)) is None:  # a policy given by mistake
            which = "its only line" if number == 1 else f"nor is its last, line {number}"
            raise NotAnAuditLog(
                path,
                f"{which}: no writer or rotate takes it, and rds-guard audit repair moves"
                f" every line aside only with --force; if it is a log damaged at both ends,"
                f" rds-guard audit verify {path} says where",
            )
        length = scan.complete_end - 1 - scan.last_start
        advice = f"run rds-guard audit repair {path}"
        long_junk = scan.last_too_long and length > LONGEST_READ
        if long_junk and not only_zeros(fd, scan.last_start, scan.complete_end - 1):
            # repair may stop on it too (zeros, a crash's, it moves aside)
            advice += (
                f" (should it say the line, {length:,} bytes, is longer than it reads, cut the"
                f" line out by hand: it starts at byte {scan.last_start:,})"
            )
        raise AuditError(
            f"{path}:{number}: line {number} is not an audit record: the log is damaged; {advice}",
            path=str(path),
        )
    seq = int(str(record["seq"]))
    chain = chain_of(last)
    keyed = hmac_key is not None
    before, adjacent = _before(path, fd, scan)
    below = None if before is None else chain_of(before)
    # A log's records only ever move to a newer form (first format, plain SHA-256,
    # HMAC-SHA256: rotate upgrades), so a last record in an older form than the one before
    # it was written by someone else: `verify` calls it ``edited`` or ``key``.
    if chain is None and below is not None:
        raise _not_authentic(path, fd, scan, _FIRST_AFTER_SEALED, use, keyed=keyed)
    if chain == CHAIN_SHA256 and below == CHAIN_HMAC:
        if not keyed:  # a keyed log: its writers hold the key
            raise KeyRequired(path, _number(fd, scan), use.action)
        raise _not_authentic(path, fd, scan, _DOWNGRADE, use, keyed=keyed)
    if chain is None:
        _check_first_format(path, fd, scan, hmac_key, use)
        return Vouched(last, seq, None)
    if chain == CHAIN_HMAC and hmac_key is None:
        raise KeyRequired(path, _number(fd, scan), use.action)
    if chain == CHAIN_SHA256 and keyed and not use.upgrade:
        raise _other_algorithm(path, _number(fd, scan), use)
    if not is_authentic(last, hmac_key):
        why = _WHY_NOT.get(chain, "it names no known chain")
        raise _not_authentic(path, fd, scan, why, use, keyed=keyed)
    link_key = hmac_key if chain == CHAIN_HMAC else None
    why = _unlinked(last, record, before, link_key, adjacent=adjacent)
    if why:
        raise _not_authentic(path, fd, scan, why, use, keyed=keyed, unlinked=True)
    return Vouched(last, seq, chain)


_FIRST_AFTER_SEALED = "a record in the first format (no digest of its own) after sealed records"
_DOWNGRADE = "a plain SHA-256 record after HMAC-keyed ones: a downgrade"


def _before(path: Path, fd: int, scan: TailScan) -> tuple[bytes | None, bool]:
    """The record before the last one (None: none), and whether it is the line just before
    (damaged lines may lie between them: `_record_before`)."""
    before = scan.before
    if before is not None and seq_of(before) is None:
        return _record_before(path, fd, scan.before_start)
    return before, True


_WHY_NOT = {
    CHAIN_SHA256: "its SHA-256 digest does not match its bytes",
    CHAIN_HMAC: "its HMAC-SHA256 digest does not match its bytes under the given key",
}


def _unlinked(
    last: bytes,
    record: dict[str, object],
    before: bytes | None,
    link_key: bytes | None,
    *,
    adjacent: bool = True,
) -> str:
    """Why ``last`` does not follow ``before``, the record before it (``""`` when it does).

    ``adjacent`` False: damaged lines lie between them (verify's finding, not the writer's),
    so no link can hold: ``last`` must come after ``before`` (a record copied back behind
    junk would take the head back); with no record before the damage, nothing is held.
    """
    if before is None:
        if not adjacent:  # only damage before it: verify's finding, not the writer's
            return ""
        if record.get("event") == "rotated" or (record["seq"] == 1 and record["prev"] == ZERO_HASH):
            return ""
        return "it is the first line, yet neither seq 1 after 64 zeros nor a rotated record"
    before_seq = seq_of(before)
    assert before_seq is not None
    if not adjacent:
        if isinstance(record["seq"], int) and record["seq"] > before_seq:
            return ""
        return (
            f"its seq {record['seq']} does not come after seq {before_seq}, the last record"
            " before the damaged lines before it (a record copied back?)"
        )
    if prev_of(last) != chain_hash(before, link_key).encode():
        return "its prev does not link to the line before it"
    if record["seq"] != before_seq + 1:
        return f"its seq {record['seq']} does not follow seq {before_seq} of the line before it"
    return ""


_LOOK_BACK = 1 << 20
"""How far back past damaged lines a writer looks for the record before them."""


def _record_before(path: Path, fd: int, end: int) -> tuple[bytes | None, bool]:
    """The nearest line before offset ``end`` (where a line starts) that is a record, and
    False (it is not the line just before). None when the file holds none before ``end``;
    damage reaching further back than `_LOOK_BACK` bytes is an `AuditError`'s matter: the
    writer cannot vouch for what follows it."""
    start = max(0, end - _LOOK_BACK)
    lines = read_range(fd, start, end).split(b"\n")[:-1]  # end is where a line starts
    whole = lines if start == 0 else lines[1:]  # the first may be cut
    for line in reversed(whole):
        if seq_of(line) is not None:
            return line, False
    if start == 0:
        return None, False
    raise AuditError(
        f"{path}: more than {_LOOK_BACK} bytes of damaged lines before the last record: what "
        f"it follows cannot be told; run rds-guard audit verify {path}, then repair",
        path=str(path),
    )


def _check_first_format(
    path: Path, fd: int, scan: TailScan, hmac_key: bytes | None, use: Use
) -> None:
    """A last record in the first format: a keyed writer cannot authenticate it (rotate and
    repair may seal it); otherwise its last link must hold with the caller's algorithm."""
    if hmac_key is not None and not use.seal_first_format:
        number = _number(fd, scan)
        raise AuditError(
            f"{path}:{number}: line {number} is in the first record format (no digest of its "
            "own): a writer holding the HMAC key cannot authenticate it, so it writes nothing; "
            f"run rds-guard audit rotate {path} --key-env VAR to continue the chain in the new "
            "format",
            path=str(path),
        )
    before = scan.before
    if before is None or seq_of(before) is None:
        if hmac_key is not None:  # its link is to zeros, or to nothing the key can check
            raise _first_format_unlinked(path, _number(fd, scan), use)
        return
    if prev_of(scan.last_line or b"") == chain_hash(before, hmac_key).encode():
        return
    if hmac_key is None:
        hint = "edited, or written with an HMAC key? (give --key-env)"
    else:
        hint = "is it keyed with another key, or not keyed at all?"
    raise AuditError(
        f"{path}: the last two records do not chain with "
        f"{'plain SHA-256' if hmac_key is None else 'HMAC-SHA256 under the given key'}: {hint}; "
        f"run rds-guard audit verify {path}{_KEY_OPTION if hmac_key else ''} first",
        path=str(path),
    )


def _first_format_unlinked(path: Path, number: int, use: Use) -> AuditError:
    return AuditError(
        f"{path}:{number}: line {number} is in the first record format and no record before "
        "it links to it: nothing in the file can be checked with the HMAC key (anyone can "
        f"write such a line), so {use.action} does not vouch for it; verify it against a "
        f"checkpoint saved elsewhere, then run rds-guard audit rotate {path} without the key, "
        "and again with it",
        path=str(path),
    )


def _other_algorithm(path: Path, number: int, use: Use) -> AuditError:
    return AuditError(
        f"{path}:{number}: the log's chain is plain SHA-256 (line {number} says sha256) and "
        f"an HMAC key was given: {use.action} never adds a record in another algorithm; to "
        f"continue the chain keyed, run rds-guard audit rotate {path} --key-env VAR (or give "
        "no key)",
        path=str(path),
    )


_KEY_OPTION = " --key-env VAR"
"""What the advice of a message to a caller holding a key adds to a command (verify and
repair without it say a key is needed)."""


def _not_authentic(
    path: Path, fd: int, scan: TailScan, why: str, use: Use, *, keyed: bool, unlinked: bool = False
) -> NotAuthentic:
    number = _number(fd, scan)
    key = _KEY_OPTION if keyed else ""
    finding = not_authentic_finding(number, why, unlinked=unlinked)
    return NotAuthentic(
        f"{path}:{number}: {finding}; {use.action}: nothing was written; "
        f"run rds-guard audit verify {path}{key} (rds-guard audit repair --force {path}{key} "
        "moves it aside" + (", with the key the log was written with)" if keyed else ")"),
        path=str(path),
        line=number,
        why=why,
        unlinked=unlinked,
    )


def _starts_as_a_record(fd: int, scan: TailScan) -> bool:
    """Whether the last line starts as every record's line does (`LINE_START`)."""
    return read_range(fd, scan.last_start, scan.last_start + len(LINE_START)) == LINE_START


def _too_long(path: Path, fd: int, scan: TailScan, use: Use) -> AuditError:
    """The last line starts as a record does and is longer than ``use`` reads: a record of
    rds_guard 0.1.0, which did not cut records (a blocked call's megabyte identifier), or
    junk after such a start; `rotate` reads it whole and starts a file chained onto it, or
    says it is no record."""
    number = _number(fd, scan)
    length = scan.complete_end - 1 - scan.last_start
    if length <= LONGEST_MAINTAINED and use.longest < LONGEST_MAINTAINED:
        advice = (
            f"run rds-guard audit rotate {path}: it reads the line whole, and the next records"
            " go to a new file that chains onto it (or it says why the line is no record)"
        )
    else:
        advice = f"no command chains onto it: cut it out by hand (rds-guard audit verify {path})"
    return AuditError(
        f"{path}:{number}: line {number} is {length:,} bytes, longer than {use.action} reads"
        f" ({use.longest:,}; no record is longer than {LINE_MAX:,} bytes, but rds_guard 0.1.0"
        f" did not cut records); {advice}",
        path=str(path),
    )


def _number(fd: int, scan: TailScan) -> int:
    """The 1-based number of the last complete line (counted only for an error message)."""
    return count_newlines(fd, scan.last_start) + 1

"""``verify --ledger``: every stream of the ledger walked as `verify` walks a file (the same
`verify_lines` over the stored lines, page by page), its items held to their lines, the forks
recorded in it reported, and, with the checkpoints' `History`, every checkpointed head held
to what the ledger holds now. The reasons are `verify`'s plus ``fork``, ``missing-stream``,
``checkpoint`` and ``duplicate-stream``; what each means is in docs/ledger.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rds_guard.core.frozen import frozen

from ..errors import KEY_HINT, KeyRequired, NotAnAuditLog
from ..findings import jump
from ..record import seq_of, stream_id
from ..verify import MAX_FINDINGS, verify_lines
from .checkpoint_body import ForkEntry
from .continuity import keyless_problems, missing_said
from .history import History
from .items import (
    fork_problems,
    full_sha256,
    id_of,
    is_stream_of,
    item_problems,
    line_of,
    number,
    stray,
    text,
)
from .table import UNLISTED, LedgerTable

Progress = Callable[[int, int | None], None]
"""Told ``(records read, records in all)`` as the walk goes (the total None when unknown)."""


@frozen
class LedgerFinding:
    """One bad item: its seq in its stream (``line``), the reason, and a detail that starts
    with the stream (or the checkpoint object); for a checkpoint, ``line`` is its number."""

    line: int
    reason: str
    detail: str
    stream: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"

    def as_dict(self) -> dict[str, object]:
        """Plain JSON values."""
        return dataclasses.asdict(self)


@frozen
class StreamSummary:
    """One stream as walked: its records, its last seq and the digest of that line."""

    stream: str
    records: int
    seq: int
    head: str
    ok: bool


@frozen
class LedgerVerifyResult:
    """The outcome of `verify_ledger`."""

    ok: bool
    streams: tuple[StreamSummary, ...]
    findings: tuple[LedgerFinding, ...]
    more: int = 0
    checkpoints: int = 0
    forks: int = 0
    newest_checkpoint: str = ""
    """When the newest checkpoint read was written (its ``time``; empty: none). Nothing else
    says that checkpoints stopped, or that the newest were deleted once their retention
    ended and the records after them rewritten: hold it to the checkpoints' schedule."""
    checkpointed: bool = False
    """Whether the ledger was held to its checkpoints (False: none were read, and ``ok``
    says nothing of records deleted from a stream's end, or of a stream deleted whole)."""

    @property
    def records(self) -> int:
        """Records walked in all."""
        return sum(stream.records for stream in self.streams)

    def lines(self) -> list[str]:
        """``ok: ...`` and one line per stream, or one ``line N: REASON: detail`` per finding."""
        if not self.ok:
            more = [f"... and {self.more} more bad lines"] if self.more else []
            return [str(finding) for finding in self.findings] + more
        checked = "" if self.checkpointed else " (no checkpoints checked)"
        if self.checkpoints:
            checked = f", {self.checkpoints} checkpoints, the newest of {self.newest_checkpoint}"
        return [
            f"ok: {len(self.streams)} streams, {self.records} records{checked}",
            *(f"  {s.stream}: {s.records} records, head {s.head}" for s in self.streams),
        ]

    def as_dict(self) -> dict[str, object]:
        """Plain JSON values (for ``--json``)."""
        return {
            "ok": self.ok,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "forks": self.forks,
            "newest_checkpoint": self.newest_checkpoint or None,
            "checkpointed": self.checkpointed,
            "streams": [dataclasses.asdict(stream) for stream in self.streams],
            "findings": [finding.as_dict() for finding in self.findings],
            "more": self.more,
        }


@dataclass
class _Findings:
    """Up to ``cap`` findings, those the checkpoints back first: a ``checkpoint`` finding, or
    one of a stream a checkpoint held. Anyone who can write the table can add streams that
    sort ahead of the others; in the order of the walk, their findings alone filled the cap
    and hid an edit below a checkpointed head behind "... and N more"."""

    cap: int
    pinned: set[str]
    first: list[LedgerFinding] = field(default_factory=list)
    rest: list[LedgerFinding] = field(default_factory=list)
    dropped: int = 0

    def add(self, finding: LedgerFinding) -> None:
        backed = finding.reason == "checkpoint" or finding.stream in self.pinned
        kept = self.first if backed else self.rest
        if len(kept) < self.cap:
            kept.append(finding)
        else:
            self.dropped += 1

    @property
    def kept(self) -> list[LedgerFinding]:
        """The findings reported, the checkpoints' first."""
        return [*self.first, *self.rest][: self.cap]

    @property
    def more(self) -> int:
        """The findings left out."""
        return self.dropped + max(0, len(self.first) + len(self.rest) - self.cap)


def verify_ledger(
    table: LedgerTable,
    *,
    stream: str | None = None,
    hmac_key: bytes | None = None,
    history: History | None = None,
    max_findings: int = MAX_FINDINGS,
    progress: Progress | None = None,
    scan: bool = False,
) -> LedgerVerifyResult:
    """Walk every stream of ``table`` (``stream`` only, when given) and report every bad item.

    ``history``: the checkpoints (`read_history`); their findings are reported, and every
    head they hold must still be in the ledger; a stream they list that the ledger lacks is
    ``missing-stream``. ``scan``: walk the streams no marker lists too
    (`LedgerTable.streams_scanned`), each ``unlisted-stream`` (or, once a checkpoint held
    it, ``checkpoint``). A stream that is HMAC-keyed while no key is given is a ``key``
    finding, the others walked as ever (a writer of the table can make a stream claim a key:
    it stops no check of the others); raises `KeyRequired` when it is all there is to say,
    every stream walked keyed and nothing else found (the key was left out).
    """
    heads = history.heads if history is not None else {}
    findings = _Findings(max_findings, {name for name, held in heads.items() if held})
    # the index is read once: for the names to walk, and to find what it no longer lists
    # (with a scan, after it); a stream a checkpoint held is not unlisted-stream: `_hidden`
    # says what became of it
    listed: set[str] = set()
    unlisted: set[str] = set()
    if scan and stream is None:
        listed, unlisted = table.streams_scanned()
        unlisted -= set(heads)
    elif stream is None or history is not None:
        listed = set(table.streams())
    names = {stream} if stream is not None else listed | set(heads) | unlisted
    total = _total(table, names) if progress is not None else None
    counter = [0]

    def tick() -> None:
        counter[0] += 1
        if progress is not None and counter[0] % 1000 == 0:
            progress(counter[0], total)

    keyed: list[KeyRequired] = []
    summaries = [
        _verify_stream(table, name, hmac_key, heads.get(name, {}), findings, tick, keyed)
        for name in sorted(names)
    ]
    if stream is None:
        for finding in _one_log_twice(summaries):
            findings.add(finding)
    for summary in (summary for summary in summaries if summary.stream in unlisted):
        detail = f"{summary.stream}: {UNLISTED}"
        findings.add(LedgerFinding(summary.seq, "unlisted-stream", detail, summary.stream))
    forks = list(table.forks(stream))
    for item in forks:
        for finding in _fork_findings(item):
            findings.add(finding)
    if history is not None:
        walked = {summary.stream for summary in summaries if summary.records}
        for finding in _hidden(history, walked, listed, forks, stream):
            findings.add(finding)
        for problem in history.findings:
            where = problem.detail.split(": ", 1)[0]
            findings.add(LedgerFinding(problem.number, "checkpoint", problem.detail, where))
    if progress is not None:
        progress(counter[0], total)
    if keyed and len(keyed) == len(summaries) == len(findings.kept) + findings.more:
        raise keyed[0]  # a key finding per stream and nothing else: the key was left out
    return LedgerVerifyResult(
        ok=not findings.kept and not findings.more,
        streams=tuple(summaries),
        findings=tuple(findings.kept),
        more=findings.more,
        checkpoints=0 if history is None else len(history.checkpoints),
        forks=len(forks),
        newest_checkpoint=history.checkpoints[-1].time if history and history.checkpoints else "",
        checkpointed=history is not None,
    )


def _total(table: LedgerTable, names: set[str]) -> int:
    total = 0
    for name in names:
        head = table.head(name)
        total += 0 if head is None else number(head, "seq") or 0
    return total


def _verify_stream(
    table: LedgerTable,
    stream: str,
    key: bytes | None,
    checkpointed: dict[int, tuple[str, int]],
    findings: _Findings,
    tick: Callable[[], None],
    keyed: list[KeyRequired],
) -> StreamSummary:
    seqs: dict[int, int] = {}  # item number -> seq, where they differ
    gaps: dict[int, int] = {}  # a seq the items jump to -> the first seq missing before it
    extra: list[LedgerFinding] = []
    last, items = [0], [0]
    walked_heads: set[int] = set()

    def lines() -> Iterator[bytes]:
        index = 0
        for item in table.stream_items(stream):
            seq = number(item, "seq")
            if seq == 0:  # the stream's marker
                continue
            if seq is None or seq < 0:  # no record's item: said as what it is, not walked
                problem = f"{stream}: {stray(item, last[0])}"
                extra.append(LedgerFinding(last[0], "edited", problem, stream))
                tick()
                continue
            index = items[0] = index + 1
            line = line_of(item) or b""
            if seq != index:
                seqs[index] = seq
            if seq in checkpointed:
                walked_heads.add(seq)
            if seq > last[0] + 1:
                gaps[seq] = last[0] + 1
            last[0] = seq
            extra.extend(_item_findings(stream, seq, line, item, checkpointed))
            tick()
            yield line

    walking = lines()
    try:
        result = verify_lines(walking, hmac_key=key, max_findings=findings.cap)
    except KeyRequired as exc:
        needed = KeyRequired(stream, seqs.get(exc.line, exc.line), "verify --ledger")
        keyed.append(needed)
        detail = (
            f"{stream}: HMAC-keyed (seq {needed.line} says hmac-sha256) and no key was given: "
            f"not checked; {KEY_HINT}"
        )
        extra.append(LedgerFinding(needed.line, "key", detail, stream))
        for _ in walking:  # what needs no key is checked on every item all the same
            pass
        extra.extend(_unkeyed(table, stream, gaps, checkpointed))
        result = None
    except NotAnAuditLog as exc:
        extra.append(LedgerFinding(last[0], "edited", f"{stream}: {exc.what}", stream))
        result, items[0] = None, 0
    records = items[0] if result is None else result.records
    if result is not None and not records:
        extra.append(_missing(stream, checkpointed, marked=table.get(stream, 0) is not None))
    first = seqs.get(1, 1)  # the first item's seq
    if records and first > 1:
        # a stream is named after its seq 1 and shipped from there: its start was deleted
        extra.append(
            LedgerFinding(
                first,
                "removed",
                f"{stream}: the stream starts at seq {first}: every record before it, the "
                "first one (which names the stream) included, is not in the ledger: "
                + missing_said(1, first - 1, checkpointed),
                stream,
            )
        )
    for size, (_, checkpoint) in sorted(checkpointed.items()):
        if not records or size in walked_heads:
            continue
        where = f"ends at seq {last[0]}" if size > last[0] else f"holds no item at seq {size}"
        extra.append(
            LedgerFinding(
                size,
                "checkpoint",
                f"{stream}: {where}, and checkpoint {checkpoint} saw it at seq {size}: "
                "records were deleted since",
                stream,
            )
        )
    walked = [
        LedgerFinding(seq, f.reason, f"{stream}: {f.detail}{missing}", stream)
        for f in ([] if result is None else result.findings)
        for seq in [seqs.get(f.line, f.line)]
        for missing in [
            f": {missing_said(gaps[seq], seq - 1, checkpointed)}"
            if f.reason == "removed" and seq in gaps
            else ""
        ]
    ]
    for finding in sorted([*walked, *extra], key=lambda f: f.line):
        findings.add(finding)
    if result is None:
        return StreamSummary(stream, records, last[0], "", False)
    findings.dropped += result.more
    ok = not walked and not extra and not result.more
    return StreamSummary(stream, records, result.seq, result.head, ok)


def _unkeyed(
    table: LedgerTable, stream: str, gaps: dict[int, int], checkpointed: dict[int, tuple[str, int]]
) -> Iterator[LedgerFinding]:
    """What a keyed stream walked without its key shows all the same (its items read again):
    ``edited`` for a record wrong without the key (`keyless_problems`), ``removed`` for a seq
    it lacks at or below a size a checkpoint signed (one past it may be a put in flight, left
    to its walk with the key; its start: `_verify_stream`)."""
    for seq, problem in keyless_problems(table.stream_items(stream)):
        yield LedgerFinding(seq, "edited", f"{stream}: {problem}", stream)
    size = max(checkpointed, default=0)
    for seq, first in sorted(gaps.items()):
        if 1 < first <= size:
            yield LedgerFinding(
                seq,
                "removed",
                f"{stream}: {jump(first - 1, seq)}: {missing_said(first, seq - 1, checkpointed)}",
                stream,
            )


def _one_log_twice(summaries: list[StreamSummary]) -> Iterator[LedgerFinding]:
    """``duplicate-stream`` for each stream whose id (its first record) another stream of the
    ledger has too: one log under two accounts or regions (its records copied by a writer of
    another account who can read them, the log file copied to a host of another account, or
    the account of its shipping credentials, or the ledger's region, changed while it was
    shipped); `query` then lists its records under each."""
    by_id: dict[str, list[str]] = {}
    for summary in summaries:
        if summary.records:
            by_id.setdefault(id_of(summary.stream), []).append(summary.stream)
    for streams in by_id.values():
        for name in streams[1:]:
            others = ", ".join(other for other in streams if other != name)
            yield LedgerFinding(
                1,
                "duplicate-stream",
                f"{name}: its first record is also the first of {others}: one log under two"
                " accounts or regions (its records copied from the other, the log file copied"
                " to a host of another account, or its shipping account or the ledger's region"
                " changed while it was shipped)",
                name,
            )


def _missing(
    stream: str, checkpointed: dict[int, tuple[str, int]], *, marked: bool
) -> LedgerFinding:
    """A stream the ledger holds no record of (only its marker, a checkpoint, or nothing at
    all: a name given that no host ever shipped under)."""
    if not checkpointed:
        held = "only its marker" if marked else "nor its marker (is the stream's name right?)"
        return LedgerFinding(
            0, "missing-stream", f"{stream}: the ledger holds no record of it, {held}", stream
        )
    size = max(checkpointed)
    return LedgerFinding(
        size,
        "missing-stream",
        f"{stream}: the ledger holds no record of it, and checkpoint {checkpointed[size][1]} "
        f"saw it at seq {size}",
        stream,
    )


def _item_findings(
    stream: str,
    seq: int,
    line: bytes,
    item: dict[str, dict[str, str]],
    checkpointed: dict[int, tuple[str, int]],
) -> Iterator[LedgerFinding]:
    """What the walk of the lines cannot see: an item holding another seq's line, attributes
    its line does not give it (`item_problems`), a first record that is not the stream's, a
    changed checkpointed head."""
    if b"\n" in line:  # the walk takes off a line's newline: as a file's, not an item's
        yield LedgerFinding(
            seq, "edited", f"{stream}: the item at seq {seq} holds a line break", stream
        )
    held = seq_of(line) if line.startswith(b"{") else None
    if held is not None and held != seq:
        yield LedgerFinding(
            seq, "edited", f"{stream}: the item at seq {seq} holds the record of seq {held}", stream
        )
    for problem in item_problems(item, line):
        yield LedgerFinding(seq, "edited", f"{stream}: the item at seq {seq} {problem}", stream)
    if seq == 1 and not is_stream_of(stream, stream_id(line)):
        yield LedgerFinding(
            seq,
            "edited",
            f"{stream}: its first record is not the one the stream is named after (its digest "
            f"starts {stream_id(line)})",
            stream,
        )
    expected = checkpointed.get(seq)
    if expected is not None and full_sha256(line) != expected[0]:
        yield LedgerFinding(
            seq,
            "checkpoint",
            f"{stream}: seq {seq} changed since checkpoint {expected[1]} held it as the "
            f"stream's head (SHA-256 {expected[0]}, now {full_sha256(line)})",
            stream,
        )


def _hidden(
    history: History,
    walked: set[str],
    listed: set[str],
    forks: list[dict[str, dict[str, str]]],
    only: str | None,
) -> Iterator[LedgerFinding]:
    """What the ``kind`` index no longer lists though a checkpoint held it: a stream whose
    marker (its item at seq 0) was overwritten, its records still there (``walked``: a
    stream with none is ``missing-stream``), a fork whose item was overwritten. Someone who
    can write the table did it: without the checkpoints, neither would be found."""
    for name in sorted(walked - listed):
        if history.heads.get(name):
            size = max(history.heads[name])
            yield LedgerFinding(
                size,
                "checkpoint",
                f"{name}: the ledger no longer lists it (its marker, the item at seq 0, was "
                f"overwritten), and checkpoint {history.heads[name][size][1]} held it",
                name,
            )
    present = {ForkEntry.of_item(item) for item in forks}
    for fork, checkpoint in sorted(
        history.forks.items(), key=lambda pair: (pair[0].key, pair[0].seq)
    ):
        if (only is None or fork.stream == only) and fork not in present:
            yield LedgerFinding(
                fork.seq,
                "checkpoint",
                f"{fork.stream}: the fork at seq {fork.seq} that checkpoint {checkpoint} "
                f"held (item {fork.key}, digest {fork.digest}) is no longer in the ledger as "
                "it was: its item was overwritten",
                fork.stream,
            )


def _fork_findings(item: dict[str, dict[str, str]]) -> Iterator[LedgerFinding]:
    """The fork an item records, under the stream its key names (its ``of`` is the item's
    word alone), then how the item differs from the one its line makes (`fork_problems`)."""
    entry = ForkEntry.of_item(item)
    yield LedgerFinding(
        entry.seq,
        "fork",
        f"{entry.stream}: at seq {entry.seq} a log sharing this stream's first record (a cloned"
        f" disk or image?) wrote another record (digest {text(item, 'digest')}; the ledger "
        f"holds {text(item, 'stored')}); found {text(item, 'time')}, its line is in the "
        f"ledger under {entry.key}",
        entry.stream,
    )
    for problem in fork_problems(item):
        detail = f"{entry.stream}: the fork item {entry.key} {problem}"
        yield LedgerFinding(entry.seq, "edited", detail, entry.stream)

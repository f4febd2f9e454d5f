"""Repair of a log file: `repair` moves damage aside and records it (rotation is in
`rotation`).

It runs under the writer's locks through `AuditLog.exclusive` (waiting at most
``lock_timeout`` for them; it reads the log's terminated lines first without them, up to the
first that is not a record, and under them from there on), authenticates the record it chains
onto as a writer does, never rewrites a record and never discards an authentic one unless told
to (``force``); what it does to the file is described in docs/audit.md ("Crashes, damage and
repair").
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rds_guard.core.frozen import frozen
from rds_guard.errors import AuditError

from .errors import KeyRequired, NotAuthentic
from .fileio import (
    Copied,
    Lines,
    copy_to_new_file,
    line_before,
    may_be_a_cut_file,
    os_error,
    read_blocks,
    read_if_possible,
    read_range,
    rfind_newline,
    sha256_range,
)
from .locked import LockedFile
from .record import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    Record,
    StrPath,
    chain_of,
    parse_record,
)
from .tail import REPAIR, Vouched, authenticate, scan_tail
from .torn import joined_records, kept_record
from .writer import DEFAULT_LOCK_TIMEOUT, AuditLog


@frozen
class RepairResult:
    """What ``repair`` did (or, refused or on a dry run, would do): which lines it moved where,
    why, and the ``repaired`` record it wrote."""

    path: Path
    moved_to: Path | None = None
    first_line: int = 0
    lines_moved: int = 0
    bytes_moved: int = 0
    dropped_sha256: str = ""
    record: Record | None = None
    records_moved: int = 0
    """Complete records among the lines moved (only ever non-zero with ``force``)."""
    why: str = ""
    """What the moved part starts with: ``line N is not an audit record``, ``a torn final
    line``, ``line N is not authentic`` or ``line N does not chain onto the records before
    it`` (`NotAuthentic.summary`)."""
    forced: str = ""
    """With ``force``: what was moved that repair would not move otherwise (also in the
    ``repaired`` record's notes)."""
    dry_run: bool = False
    refused: str | None = None
    """Why nothing was done: authentic-looking records would be moved (give ``force``), or
    the last record is not authentic. The command exits 1 on it."""
    kept: int = 0
    """The seq of a last record that lacked only its newline, kept (its newline added, as a
    writer does) rather than moved; 0 when there is none."""

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
        """One line for a person: what was moved (or would be, or why not), or that there was
        nothing to repair."""
        if self.refused is not None:
            return f"refused: {self.refused}; nothing was changed"
        if self.kept:
            return self._describe_kept()
        if not self.lines_moved:
            return f"nothing to repair: every line of {self.path} is a record"
        what = (
            f"{self.lines_text()} of {self.path} ({self.bytes_moved} bytes, sha256 "
            f"{self.dropped_sha256})"
        )
        forced = f"; forced: {self.forced}" if self.forced else ""
        if self.dry_run:
            return (
                f"would move {what} to {self.path.name}.damaged-<time> and append a repaired "
                f"record ({self.why}){forced}; nothing was changed (dry run)"
            )
        appended = (
            "" if self.record is None else f"; appended repaired record seq {self.record['seq']}"
        )
        return f"moved {what} to {self.moved_to}{appended}{forced}"

    def _describe_kept(self) -> str:
        line = f"line {self.first_line} of {self.path} (seq {self.kept}, a whole authentic record"
        if self.dry_run:
            return (
                f"would add the newline missing at the end of {line}) and append a repaired"
                " record; nothing was changed (dry run)"
            )
        seq = "" if self.record is None else f" seq {self.record['seq']}"
        return f"kept {line} that lacked only its newline): added it; appended repaired record{seq}"


def repair(
    path: StrPath,
    *,
    hmac_key: bytes | None = None,
    force: bool = False,
    dry_run: bool = False,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> RepairResult:
    """Move the damage to ``PATH.damaged-<time>`` and append a ``repaired`` record.

    The damage starts at the first complete line that is not a record (else a torn final
    line). When complete records follow it, repair refuses (``RepairResult.refused``) unless
    ``force``: they may be authentic. The record the ``repaired`` one chains onto must be
    authentic, as for a writer; a last record that is not is never taken for damage: repair
    refuses, and ``force`` moves it (and, record by record, any unauthentic one before it)
    aside too, saying so in the ``repaired`` record. ``dry_run``: say what would be done,
    change nothing. Records are never rewritten. Nothing to repair: nothing changes.

    An HMAC-keyed log (its records say ``hmac-sha256``) without ``hmac_key`` is `KeyRequired`;
    a key for a plain SHA-256 log, a first-format tail whose last link does not hold, no
    authentic record left even with ``force``, or a lock held past ``lock_timeout`` is an
    ``AuditError``. Never appends a record in another algorithm than the log's.
    """
    log = AuditLog(path, fsync=True, hmac_key=hmac_key, lock_timeout=lock_timeout)
    early = _survey_unlocked(log.path)
    try:
        with log.exclusive() as locked:
            size = locked.st.st_size
            with locked.reader() as rfd:
                survey = _survey(rfd, size, _resumable(early, rfd, locked.st), path=log.path)
                _check_algorithm(log.path, survey, hmac_key)
                plan = _plan(log.path, rfd, size, survey, hmac_key, force)
                if plan.result.kept:
                    if dry_run:
                        return dataclasses.replace(plan.result, dry_run=True)
                    locked.tail(REPAIR)  # keeps it, as a writer does, with a repaired record
                    return dataclasses.replace(plan.result, record=locked.emitted[-1][0])
                if plan.result.refused is not None or not plan.result.lines_moved:
                    return dataclasses.replace(plan.result, dry_run=dry_run)
                if dry_run:
                    sha256 = sha256_range(rfd, plan.start, size)
                    return dataclasses.replace(plan.result, dry_run=True, dropped_sha256=sha256)
                moved_to, moved = _move_out(log.path, rfd, plan.start, size)
            return _replace_damage(locked, plan, moved_to, moved, hmac_key)
    finally:
        log.close()


@dataclass
class _Survey:
    """One streaming pass over the log: where the damage starts and what follows it."""

    damage: int | None = None
    damage_line: int = 0
    records_after: int = 0
    first_record_after: int = 0
    joined: int = 0
    """Whole records found joined in lines that are no record (`torn.joined_records`)."""
    first_joined: int = 0
    lines: int = 0
    complete_end: int = 0
    torn: int = 0
    chains: dict[str, int] = dataclasses.field(default_factory=dict)
    """Each algorithm the records name, with the first line naming it."""
    file: tuple[int, int] = (0, 0)
    """The surveyed file's device and inode."""
    last_line: bytes | None = None
    """The last complete line surveyed (without its newline): what must still end the lines
    surveyed, at ``complete_end``, for a survey to be resumed."""


def _survey_unlocked(path: Path) -> _Survey | None:
    """The log's lines read without the lock, so that writers are not held for a read of the
    whole log: the lines that end at its last newline when the read starts, and of those up to
    the first that is not a record. A writer changes only what follows the last newline, so
    none changes what is read; what follows is read under the lock. None when the file cannot
    be read (the locked survey says why)."""

    def survey(fd: int, st: os.stat_result) -> _Survey:
        terminated = rfind_newline(fd, st.st_size) + 1
        found = _survey(fd, terminated, until_damage=True, path=path)
        found.file = (st.st_dev, st.st_ino)
        return found

    return read_if_possible(path, survey)


def _resumable(early: _Survey | None, fd: int, st: os.stat_result) -> _Survey | None:
    """``early``, when the locked file still ends the lines it surveyed as it read them: the
    same file, as long, and its last surveyed line, byte for byte, still just before
    ``complete_end``. Writers only append, and change only what follows the last newline;
    a file rotated, cut back or rewritten meanwhile is surveyed again, whole."""
    if early is None or early.file != (st.st_dev, st.st_ino) or st.st_size < early.complete_end:
        return None
    if early.last_line is None:
        return early
    line = early.last_line + b"\n"
    start = early.complete_end - len(line)
    return early if read_range(fd, start, early.complete_end) == line else None


def _survey(
    fd: int,
    size: int,
    survey: _Survey | None = None,
    *,
    until_damage: bool = False,
    path: Path | None = None,
) -> _Survey:
    """Survey the log's lines up to ``size``; from where ``survey`` stopped when given (its
    complete lines), else from the start. ``until_damage``: stop before the first line that
    is not a record."""
    survey = survey or _Survey()
    offset = survey.complete_end
    lines_of = Lines(read_blocks(fd, offset, size, path=path), path=path, start=offset)
    for lines in lines_of:
        for raw in lines:
            record = parse_record(raw)
            if record is None and until_damage:
                survey.complete_end = offset
                return survey
            survey.lines += 1
            if record is None:
                if survey.damage is None:
                    survey.damage, survey.damage_line = offset, survey.lines
                _count_joined(survey, raw, survey.lines)
            else:
                if survey.damage is not None:
                    survey.records_after += 1
                    survey.first_record_after = survey.first_record_after or survey.lines
                chain = chain_of(raw)
                if chain and chain not in survey.chains:
                    survey.chains[chain] = survey.lines
            survey.last_line = raw
            offset += len(raw) + 1
    survey.complete_end, survey.torn = offset, len(lines_of.rest)
    _count_joined(survey, lines_of.rest, survey.lines + 1)
    if survey.damage is not None and parse_record(lines_of.rest) is not None:
        # a whole record after the damage, only its newline missing: it may be authentic too
        survey.records_after += 1
        survey.first_record_after = survey.first_record_after or survey.lines + 1
    return survey


def _count_joined(survey: _Survey, raw: bytes, line: int) -> None:
    """Count the whole records line ``line`` (no record itself) holds one after another."""
    joined = joined_records(raw) if raw else 0
    if joined:
        survey.joined += joined
        survey.first_joined = survey.first_joined or line


def _check_algorithm(path: Path, survey: _Survey, key: bytes | None) -> None:
    """Repair never appends a record in another algorithm than the log's records name."""
    if key is None and CHAIN_HMAC in survey.chains:
        raise KeyRequired(path, survey.chains[CHAIN_HMAC], "repair")
    if key is not None and CHAIN_SHA256 in survey.chains and CHAIN_HMAC not in survey.chains:
        line = survey.chains[CHAIN_SHA256]
        raise AuditError(
            f"{path}:{line}: the log's chain is plain SHA-256 (line {line} says sha256) and an "
            "HMAC key was given: repair never adds a record in another algorithm; repair it "
            f"without a key (rds-guard audit rotate {path} --key-env VAR then goes keyed)",
            path=str(path),
        )


@frozen
class _Plan:
    """Where the part to move starts, the record to chain after, and the result to report."""

    start: int
    vouched: Vouched
    result: RepairResult


def _plan(path: Path, fd: int, size: int, survey: _Survey, key: bytes | None, force: bool) -> _Plan:
    start, first, why = size, survey.lines + 1, ""
    if survey.damage is not None:
        start, first = survey.damage, survey.damage_line
        why = f"line {first} is not an audit record"
    elif survey.torn:
        start, why = survey.complete_end, "a torn final line"
    if not force and (
        (survey.damage == 0 and not survey.records_after) or _only_bytes_no_record(fd, survey)
    ):
        return _refused(path, start, first, survey, _NOT_A_LOG, advice=_NOT_A_LOG_ADVICE)
    moved_too: list[str] = []  # records that may be authentic, moved only with ``force``
    for found in _records_in_the_way(survey, first):
        if not force:
            return _refused(path, start, first, survey, f"{found}: they may be authentic")
        moved_too.append(f"{found} and were moved with it")
    unauthentic: list[str] = []  # the records found not authentic, last one first
    while True:
        scan = scan_tail(fd, start, REPAIR.longest)
        try:
            vouched = authenticate(path, fd, scan, key, REPAIR)
            break
        except NotAuthentic as exc:
            if not force:
                return _refused(path, scan.last_start, exc.line, survey, exc.finding)
            if scan.last_start == 0:
                raise AuditError(
                    f"{path}: no record of it is authentic{' under the given key' if key else ''}"
                    " (a wrong key?): repair --force would move every line; nothing was moved",
                    path=str(path),
                ) from exc
            start, first, why = scan.last_start, exc.line, exc.summary
            unauthentic.append(f"{exc.finding}, and was moved")
    if survey.damage is None and survey.torn and not unauthentic:
        kept = kept_record(fd, start, size, vouched, key)
        if kept is not None:
            return _Plan(start, vouched, RepairResult(path, first_line=first, kept=kept.seq))
    forced = [*reversed(unauthentic), *moved_too]
    result = RepairResult(
        path,
        first_line=first,
        lines_moved=survey.lines - first + 1 + (1 if survey.torn else 0) if start < size else 0,
        bytes_moved=size - start,
        records_moved=survey.records_after + survey.joined + len(unauthentic),
        why=why,
        forced="; ".join(forced),
    )
    return _Plan(start, vouched, result)


def _records_in_the_way(survey: _Survey, first: int) -> Iterator[str]:
    """What the part to move from line ``first`` holds that may be authentic: complete records
    after the damage, whole records joined on lines that are no record."""
    if survey.records_after:
        yield (
            f"{survey.records_after} complete record(s) follow the damage at line {first} "
            f"(the first at line {survey.first_record_after})"
        )
    if survey.joined:
        yield (
            f"{survey.joined} whole record(s) lie one after another on lines that are no "
            f"record (newlines removed, or bytes added; the first on line {survey.first_joined})"
        )


def _only_bytes_no_record(fd: int, survey: _Survey) -> bool:
    """Whether the file holds no line, only bytes that cannot be a first record cut short
    (`fileio.may_be_a_cut_file`): a token or a key named by mistake, not a torn log."""
    if survey.damage is not None or survey.complete_end or not survey.torn:
        return False
    return not may_be_a_cut_file(fd, survey.torn)


_NOT_A_LOG = "no line of it is an audit record"
_NOT_A_LOG_ADVICE = (
    "is it an audit log? a file given by mistake is left as it is; rds-guard audit repair "
    "--force moves every line aside (recorded in the repaired record)"
)


def _refused(
    path: Path, start: int, first: int, survey: _Survey, why: str, advice: str = ""
) -> _Plan:
    last = survey.lines + (1 if survey.torn else 0)
    lines = f"line {first}" if last <= first else f"lines {first}-{last}"
    advice = advice or (
        f"it never discards records that may be authentic: rds-guard audit verify {path} says "
        "what is wrong, and rds-guard audit repair --force moves them aside (recorded in the "
        "repaired record)"
    )
    result = RepairResult(
        path,
        first_line=first,
        lines_moved=last - first + 1,
        why=why,
        refused=f"repair would move {lines} of {path}: {why}; {advice}",
    )
    return _Plan(start, Vouched(None, 0, None), result)


def _move_out(path: Path, fd: int, start: int, end: int) -> tuple[Path, Copied]:
    """Copy bytes ``start:end`` of the log to a new ``PATH.damaged-<time>``, fsynced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        target = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            return target, copy_to_new_file(fd, target, start, end)
        except FileExistsError:
            continue
        except OSError as exc:
            # os.open names the file in its error; a failed read, write or fsync does not.
            action = "cannot create" if exc.filename else "cannot write the damaged lines"
            raise os_error(target, action, exc) from exc
    raise AuditError(f"{path}: no free name for the damaged lines", path=str(path))


def _replace_damage(
    locked: LockedFile, plan: _Plan, moved_to: Path, moved: Copied, key: bytes | None
) -> RepairResult:
    """Put the ``repaired`` record that says where the damage went in its place. When it
    cannot be written the damage stays in the log and its copy is removed: nothing changed."""
    moved_bytes = locked.st.st_size - plan.start
    result = dataclasses.replace(
        plan.result, moved_to=moved_to, lines_moved=moved.lines, dropped_sha256=moved.sha256
    )
    notes = [f"moved {result.lines_text()} ({moved_bytes} bytes) to {moved_to.name}"]
    if result.forced:
        notes.append(f"forced: {result.forced}")
    if plan.vouched.seq == 0 and plan.start == 0 and result.forced:
        notes.append("the log starts anew at seq 1: no authentic record came before the damage")
    fields: dict[str, object] = {
        "dropped_bytes": moved_bytes,
        "dropped_sha256": moved.sha256,
        "notes": notes,
    }
    after = (plan.vouched.head(key), plan.vouched.seq)
    marked = None
    try:
        marked = _mark_last_record(locked, plan.start)
        record = locked.replace_end(plan.start, after, fields)
    except AuditError:
        if marked is not None:
            with contextlib.suppress(AuditError):
                locked.put(*marked)
        with contextlib.suppress(OSError, AuditError), locked.reader() as rfd:
            if sha256_range(rfd, plan.start, locked.st.st_size) == moved.sha256:
                os.unlink(moved_to)  # the log still holds the damage: the copy is not needed
        raise
    return dataclasses.replace(result, record=record)


def _mark_last_record(locked: LockedFile, start: int) -> tuple[int, bytes] | None:
    """Put ``#`` over the first byte of the damage's last complete line when that line is a
    record (records moved with ``force``), synced, before the ``repaired`` record is written.

    A repair stopped between writing that record and cutting the rest then leaves a log whose
    last line is no record, on which writers fail closed until the next repair, and not one
    ending in the records the ``repaired`` record says were moved, which writers would chain
    onto. The copy holds the line as it was. Returns where the byte was and what it was."""
    with locked.reader() as rfd:
        newline = rfind_newline(rfd, locked.st.st_size)
        if newline < start:
            return None
        line = line_before(rfd, newline)
    if parse_record(line) is None:
        return None
    offset = newline - len(line)
    locked.put(offset, b"#")
    return offset, line[:1]

"""The shipper: sends a log's records to the ledger, record for record, and knows where it
stopped.

One run (`Shipper.ship`): take the log's shipping lock; name the stream (account, region,
the first record's digest); compare the local record at the ledger's head (another record
there is a `Fork`, records past the local end are `RemoteAhead`); resume from the lowest
seq not yet acknowledged in order, never from the ledger's head (a crash in the middle of a
batch leaves later records in the ledger and earlier ones not); send the backlog as parallel
conditional puts, batch after batch, acknowledging each batch's longest run from the start.
A put refused because our own record (our digest) is there is an acknowledgement that was
lost; another record there is a fork: shipping stops (`Fork`: the guard's thread logs it at
ERROR, the command prints it) and the refused record is written to the ledger as an item of
its own. Anything else (throttled past botocore's retries, no connection) stops the run: the
records wait in the local log for the next one.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from ...core.logs import LOGGER as logger
from ..lock import take_lock
from ..record import stream_id, utc_now
from .errors import Fork, RemoteAhead, ShipRefused, Unnamed, describe_error
from .items import (
    Item,
    fork_item,
    is_stream_of,
    line_digest,
    line_of,
    marker_item,
    not_its_record,
    number,
    odd_seq,
    stream_key,
    text,
)
from .location import Clients
from .results import ShipResult, warn_damaged
from .series import Cursor, Entry, Junk, Series, batch_items, in_batches
from .state import ShipState, StateFile
from .table import FORK, LedgerTable, Put, stored_digest
from .workers import PutWorkers, done_now

BATCH = 100
"""Records sent per batch (as parallel puts)."""
WORKERS = 16
"""Puts in flight at once."""
RECHECK = 300.0
"""Seconds after which a long-lived shipper holds the ledger to its log in full again (puts
the stream's marker back), though the head is still the record it acknowledged last. A new
shipper always does; so does one whose state another shipper changed, and every run, or
batch after a run's first, with records waiting whose head is not that record."""

Progress = Callable[[int, int], None]
"""Told ``(records done, records to do)`` after each batch."""


class Shipper:
    """Ships one log (``path``, the live file of its series) to ``table``; safe to call from
    several threads and processes (one works at a time, the others wait or skip)."""

    def __init__(
        self,
        path: Path | str,
        table: LedgerTable,
        *,
        workers: int = WORKERS,
        batch: int = BATCH,
    ) -> None:
        self.path = Path(path)
        self.table = table
        self.series = Series(self.path)
        self.state_file = StateFile(self.path)
        self.batch = batch
        self._workers = workers
        self._pool: PutWorkers | None = None
        self._lock = threading.Lock()
        self._trusted: ShipState | None = None  # the state this shipper saved last
        self._acked_line: bytes | None = None  # the line of the record it acknowledges
        self._checked_at = -RECHECK
        self._head_seen: Item | None = None  # the head this run's last full check read
        self._told_damaged: tuple[list[tuple[str, int]], int] = ([], 0)

    @property
    def clients(self) -> Clients:
        """The clients the table is reached through."""
        return self.table.clients

    def close(self, timeout: float | None = None) -> bool:
        """Stop the put workers (a later run starts them again); False, nothing done, when a
        run held the shipper past ``timeout`` seconds (None: wait for it)."""
        taken: list[bool] = []
        try:
            if not take_lock(self._lock, timeout, taken):
                return False
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        finally:
            if taken:
                self._lock.release()
        return True

    def forget_after_fork(self, *, close: bool = True) -> None:
        """In a forked child: drop the parent's put workers (their threads are not in this
        process), its lock and its copy of the state file's descriptor (closed: ``close``)."""
        self._pool = None
        self._lock = threading.Lock()
        self.state_file.forget_after_fork(close=close)

    def ship(
        self,
        *,
        through: int | None = None,
        timeout: float | None = 10.0,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        start: int | None = None,
    ) -> ShipResult:
        """Send every record not yet acknowledged; returns what was done.

        ``through``: the caller needs records up to this seq acknowledged (the run still
        sends everything it can). ``timeout``: seconds to wait for another shipper of the
        same log (0: skip at once, ``busy``). ``stop``: checked between batches. ``start``:
        look for missing records from this seq on, not from the last one acknowledged (a
        record deleted from the middle of the ledger is written again).
        Raises `Fork`, `RemoteAhead` or `Unnamed` (nothing more is sent for the stream); a
        ledger that cannot be reached ends the run with ``error`` set.
        """
        result = ShipResult(self.path)
        deadline = None if timeout is None else time.monotonic() + timeout
        taken: list[bool] = []
        try:
            if not take_lock(self._lock, timeout, taken):
                result.busy = True  # another thread of this process is shipping this log
                return result
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with self.state_file.locked(left) as held:
                if not held:
                    result.busy = True
                    return result
                try:
                    if self._run(result, through, progress, stop, start):
                        self._tell_damaged(result.damaged, result.damaged_count)
                except ShipRefused:  # an AuditError, hence a BotoCoreError: not a lost link
                    raise
                except (BotoCoreError, ClientError) as exc:
                    result.error = describe_error(exc)
        finally:
            if taken:
                self._lock.release()
        return result

    # -- one run -----------------------------------------------------------------------------

    def _run(
        self,
        result: ShipResult,
        through: int | None,
        progress: Progress | None,
        stop: threading.Event | None,
        start: int | None,
    ) -> bool:
        """One run under the lock; True when it read the log to its end (not stopped early by
        an error or ``stop``)."""
        saved, self._head_seen = self.state_file.load(), None
        last = self.series.last()
        if last is None:
            if self.series.starts_with_junk():  # no series to walk: nothing in it is shipped
                result.damaged, result.damaged_count = [(str(self.path), 0)], 1
            return True
        result.last = last[0]
        first = self.series.first_line()
        if (
            saved is not None
            and saved.table == self.table.name
            and (first is None or is_stream_of(saved.stream, stream_id(first)))
        ):
            # as saved for this chain: what waits, should the ledger not answer (naming the
            # stream asks STS for the account first; reading the ledger's head, DynamoDB)
            result.acked = min(saved.acked, result.last)
        stream = self._stream(saved, first)
        result.stream = stream
        state = saved if saved is not None and saved.stream == stream else None
        state = state if state is not None and state.table == self.table.name else None
        result.acked = 0 if state is None else min(state.acked, result.last)
        stale = time.monotonic() - self._checked_at > RECHECK
        if (
            state is None
            or state != self._trusted
            or start is not None
            or stale
            or not self._unchanged(state, last)
            or (last[0] > state.acked and not self._head_is_ours(stream, state))
        ):
            state = self._checked(stream, state, last, start)
        result.acked, result.confirmed = state.acked, True
        total = max(0, result.last - state.acked)
        junk = Junk()
        try:
            while True:  # again from a full check when the head moved under the run
                entries = self.series.entries(state.acked + 1, state.cursor, junk)
                for index, batch in enumerate(in_batches(entries, self.batch)):
                    if index and not self._head_is_ours(stream, state):  # say, a tail deleted
                        last = self.series.last() or last
                        state = self._checked(stream, state, last, None)
                        total += result.acked - state.acked  # put again, or found there
                        junk, result.acked = Junk(), state.acked
                        break
                    state, line = self._send(batch, state, result)
                    self._save(state, line)
                    result.acked = state.acked
                    result.last = max(result.last, batch[-1].seq)
                    if progress is not None:
                        progress(min(total, result.shipped + result.already), total)
                    if result.error is not None:
                        return False
                    stopped = stop is not None and stop.is_set()
                    if stopped and (through is None or state.acked >= through):
                        return False
                else:
                    return True
        finally:
            result.damaged, result.damaged_count = junk.lines, junk.count

    def _checked(
        self, stream: str, state: ShipState | None, last: tuple[int, bytes], start: int | None
    ) -> ShipState:
        """The state to ship from once the ledger is held to the log in full (`_resume`)."""
        begin = self._resume(stream, state, last, start)
        self._checked_at = time.monotonic()
        cursor = state.cursor if state is not None and state.acked == begin - 1 else None
        return ShipState(self.table.name, stream, begin - 1, cursor)

    def _tell_damaged(self, damaged: list[tuple[str, int]], count: int) -> None:
        """Warn of the lines after the series' last record that hold none (`warn_damaged`),
        once for as long as they stay the same (the guard's thread runs again and again over
        them); told only what a run that read the whole log found."""
        if damaged and (damaged, count) != self._told_damaged:
            warn_damaged(self.path, damaged, count)
        self._told_damaged = (list(damaged), count)

    def _unchanged(self, state: ShipState, last: tuple[int, bytes]) -> bool:
        """True while the local log still holds, at the seq this shipper acknowledged last, the
        very line it acknowledged, and does not end below it. A log sealed again over shipped
        records, or authentic records copied behind the writer, is held to the ledger in full
        at once (a fork, the ledger ahead), not after `RECHECK`."""
        if last[0] < state.acked:
            return False
        return state.acked == 0 or (
            self._acked_line is not None
            and self.series.line_at(state.acked, state.cursor) == self._acked_line
        )

    def _head_is_ours(self, stream: str, state: ShipState) -> bool:
        """True while the ledger's newest item of ``stream`` is, byte for byte, the record
        this shipper acknowledged last, or, above it, the head this run's full check read
        (one read, made when something waits). Anything else since (a copy's records put
        above it, an admin's delete of the tail, an edit) is compared in full before a put: a
        batch put in parallel on trust would be stored after a copy's records, or above a
        hole no later run looks below."""
        head, seen = self.table.head(stream), self._head_seen
        if head is not None and seen is not None and (number(seen, "seq") or 0) > state.acked:
            return _same_item(head, seen)  # unchanged since: this run fills the seqs below it
        if head is None or state.acked == 0:
            return head is None and state.acked == 0
        return (
            number(head, "seq") == state.acked
            and self._acked_line is not None
            and stored_digest(head) == line_digest(self._acked_line)
            and line_of(head) == self._acked_line
        )

    def _stream(self, saved: ShipState | None, first: bytes | None) -> str:
        """The stream's name: from the series' first record (``first``), else from the saved
        state."""
        if first is not None:
            return stream_key(self.clients.account(), self.clients.region, first)
        if saved is not None and saved.table == self.table.name:
            return saved.stream
        raise Unnamed(
            f"{self.path}: the first record of its series (seq 1) is not here (an archive "
            "removed?) and no shipping state names its stream: it cannot be shipped; ship "
            "the series while its first file is still there",
            path=str(self.path),
        )

    def _resume(
        self, stream: str, state: ShipState | None, last: tuple[int, bytes], start: int | None
    ) -> int:
        """Compare our record at the ledger's head, then the seq to resume from: the lowest
        one the ledger lacks (from ``start``, else from the saved state on, else from 1)."""
        first = self.series.first_line()
        if first is not None:
            self._mark(stream, first)
        head = self._head_seen = self.table.head(stream)
        odd = None if head is None else odd_seq(head)
        if odd is not None:  # taken for seq 0, every run would put the whole log again
            raise ShipRefused(
                f"{self.path}: the ledger's newest item of stream {stream} {odd}; nothing was "
                "shipped (rds-guard audit verify --ledger reports it)",
                path=str(self.path),
                stream=stream,
            )
        head_seq = 0 if head is None else number(head, "seq") or 0
        if head is not None:
            self._compare(stream, head, head_seq, state, last)
        begin = 1 if state is None else min(state.acked, head_seq) + 1
        if start is not None:  # past the log's end: from its last record, which is checked
            begin = max(1, min(start, last[0]))
        cursor = state.cursor if state is not None else None
        return self._first_missing(stream, begin, head_seq, cursor)

    def _mark(self, stream: str, first: bytes) -> None:
        """Put the stream's marker, which lists it for `verify --ledger` and the checkpoints,
        or put it back: overwritten, the stream would drop out of both unseen."""
        replaced = self.table.put_listed(marker_item(stream, first, utc_now()), "first")
        if replaced is not None:
            logger.warning(
                "%s: the marker of stream %s (its item at seq 0, which lists the stream for "
                "verify --ledger and the checkpoints) held something else; put back. Someone "
                "who can write the table overwrote it",
                self.path,
                stream,
            )

    def _compare(
        self,
        stream: str,
        head: dict[str, dict[str, str]],
        head_seq: int,
        state: ShipState | None,
        last: tuple[int, bytes],
    ) -> None:
        last_seq, last_line = last
        if head_seq > last_seq and (misplaced := not_its_record(head, head_seq)) is not None:
            raise ShipRefused(
                f"{self.path}: the ledger's newest item of stream {stream}, at seq {head_seq}, "
                f"{misplaced}: no shipper wrote it there (someone who can write the table did;"
                " verify --ledger reports it); nothing was shipped",
                path=str(self.path),
                stream=stream,
            )
        if head_seq > last_seq:
            theirs = self.table.get(stream, last_seq)
            if theirs is not None:
                self._held_to(stream, last_seq, last_line, theirs)
            raise RemoteAhead(
                f"{self.path}: the ledger holds stream {stream} up to seq {head_seq}, and the "
                f"local log ends at seq {last_seq} with the record the ledger holds there: "
                "the local file was cut short, restored from an older copy, or had older "
                "records copied to its end; nothing was shipped (a record written here now "
                "would fork the stream: move this log aside so that a new one starts a new "
                "stream)",
                path=str(self.path),
                stream=stream,
            )
        ours = self.series.line_at(head_seq, state.cursor if state is not None else None)
        if ours is not None:
            self._held_to(stream, head_seq, ours, head)

    def _held_to(
        self, stream: str, seq: int, ours: bytes, theirs: dict[str, dict[str, str]]
    ) -> None:
        """Our record against the ledger's at ``seq``: another digest is a fork; the same
        digest on other bytes is an item edited in the ledger (a warning: verify reports it,
        and our record is the original)."""
        if stored_digest(theirs) != line_digest(ours):
            self._forked(stream, seq, ours, theirs)
        if line_of(theirs) != ours:
            logger.warning(
                "%s: the ledger's item at seq %d of stream %s carries our record's digest on "
                "other bytes: it was edited in the ledger (rds-guard audit verify --ledger "
                "reports it; the original is this log's line %d)",
                self.path,
                seq,
                stream,
                seq,
            )

    def _first_missing(self, stream: str, begin: int, head_seq: int, cursor: Cursor | None) -> int:
        """The lowest seq from ``begin`` the ledger lacks, up to the head (reads the items'
        digests only). Each item passed over is held to our record at its seq: another
        digest is a fork (a run that stored a later record but not these, and another log's
        records put there since), as at the head; one below the series' first record (an
        archive removed once shipped) is passed over as it is."""
        expected = begin
        if begin > head_seq:
            return begin
        files = self.series.files()
        removed = files[0].first_seq if files else 1  # below: archives removed once shipped
        ours = self.series.entries(begin, cursor)
        entry = next(ours, None)
        for item in self.table.records(stream, begin, digests_only=True):
            seq = number(item, "seq") or 0
            if seq != expected or seq > head_seq or entry is None:
                break
            if entry.seq != seq and seq >= removed:
                break  # the local log lacks it: shipping from here says what is wrong
            if entry.seq == seq:
                if stored_digest(item) != line_digest(entry.line):
                    self._forked(stream, seq, entry.line, item)
                entry = next(ours, None)
            expected += 1
        return expected

    def _send(
        self, batch: list[Entry], state: ShipState, result: ShipResult
    ) -> tuple[ShipState, bytes | None]:
        """Put a batch in parallel; acknowledge its longest run of stored records from the
        start (the state, and the line of the last record acknowledged in this batch). A fork
        raises `Fork` (after the state is saved); an error sets ``error``."""
        futures = self._put_all(batch_items(self.path, state.stream, batch))
        acked, cursor = state.acked, state.cursor
        # a batch that acknowledges nothing (its first put failed) keeps the line known
        line = self._acked_line if state == self._trusted else None
        for entry, future in zip(batch, futures, strict=True):
            try:
                put: Put = future.result()
            except (BotoCoreError, ClientError) as exc:
                result.error = result.error or f"seq {entry.seq}: {describe_error(exc)}"
                _cancel(futures)  # a put not begun would hold a `required` call through its
                continue  # own retries: the run ends here
            except concurrent.futures.CancelledError:
                continue
            if result.error is not None:
                continue  # stored after a failed one: found there on the next run
            if put.stored is not None:
                if put.outcome == FORK:  # shipping stops: no put of the batch not begun
                    _cancel(futures)
                    self._save(ShipState(state.table, state.stream, acked, cursor), line)
                self._held_to(state.stream, entry.seq, entry.line, put.stored)
            if entry.seq != acked + 1 and (acked + 1, entry.seq - 1) not in result.missing:
                result.missing.append((acked + 1, entry.seq - 1))
                logger.warning(
                    "%s: the local log has no record with seq %d (the next is %d): shipped "
                    "as it is, verify will report it",
                    self.path,
                    acked + 1,
                    entry.seq,
                )
            if put.outcome == "stored":
                result.shipped += 1
            else:
                result.already += 1
            acked, cursor, line = entry.seq, entry.cursor, entry.line
        return ShipState(state.table, state.stream, acked, cursor), line

    def _forked(
        self, stream: str, seq: int, ours: bytes, theirs: dict[str, dict[str, str]]
    ) -> None:
        """Record the fork in the ledger, raise `Fork`."""
        stored = text(theirs, "digest") or "?"
        try:
            replaced = self.table.put_listed(
                fork_item(stream, seq, ours, stored, utc_now()), "of", "digest"
            )
            written = "; the refused record is in the ledger as a fork item"
            if replaced is not None:
                written += " (it replaced an item someone had put at its key)"
        except (BotoCoreError, ClientError) as exc:
            written = f"; it could not be written to the ledger ({describe_error(exc)})"
        raise Fork.at(str(self.path), stream, seq, stored, line_digest(ours), written)

    def _save(self, state: ShipState, line: bytes | None) -> None:
        self.state_file.save(state)
        self._trusted, self._acked_line = state, line

    def _put_all(self, items: list[Item]) -> list[concurrent.futures.Future[Put]]:
        """Put ``items`` in parallel, ``workers`` at a time (`PutWorkers`: they never hold
        the process's exit); one by one here where no thread may be started (the guard's
        last run as the interpreter exits; a process forked where no at-fork hook ran)."""
        try:
            if self._pool is None:
                self._pool = PutWorkers(self._workers, "rds-guard-ship")
            return [self._pool.submit(self.table.put, item) for item in items]
        except RuntimeError:  # no thread may be started (`PutWorkers.submit`)
            return [done_now(self.table.put, item) for item in items]


def _same_item(one: Item, other: Item) -> bool:
    """Whether two items are one record at one seq, byte for byte."""
    return all(one.get(name) == other.get(name) for name in ("seq", "digest", "line"))


def _cancel(futures: list[concurrent.futures.Future[Put]]) -> None:
    """The puts of ``futures`` not begun are not made (the run ends)."""
    for future in futures:
        future.cancel()


__all__ = ["BATCH", "WORKERS", "Cursor", "ShipResult", "Shipper"]

"""The guard's side of the ledger: `ShippingLog`, an `AuditLog` whose file is the spool.

Every record is written to the local file first (fsynced: the write-ahead log) and shipped by
a background thread (``mode = "ship"``): a ledger that cannot be reached only makes records
wait. With ``mode = "required"`` the ``requested`` (and ``presigned``) record of a call must
be acknowledged by the ledger before the call goes on: if it cannot be, a local ``failed``
record says so and the call fails with `AuditError`, nothing sent; an outcome that cannot be
shipped at once stays local and pending, and the thread ships it later.

Imported only when a policy has ``[audit.ledger]``: a guard without a ledger loads none of
this and starts no thread.
"""

from __future__ import annotations

import atexit
import math
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

from botocore.exceptions import BotoCoreError, ClientError

from rds_guard.core.logs import LOGGER as logger
from rds_guard.core.policy import LedgerPolicy
from rds_guard.errors import AuditError
from rds_guard.forks import after_fork_in_child, forked_unseen

from ..record import Record, StrPath, parse_time
from ..writer import DEFAULT_LOCK_TIMEOUT, AuditLog
from .checkpoints import CheckpointOutcome, CheckpointStore, write_checkpoint
from .errors import LedgerUnavailable, ShipRefused, describe_error
from .location import Clients, location_of, parse_s3
from .results import ShipResult
from .shipper import Shipper
from .table import LedgerTable

WRITE_AHEAD = frozenset({"requested", "presigned"})
"""The events a call waits for: in ``required`` mode the ledger must hold them first."""
INTERVAL = 2.0
"""Seconds the thread waits for a new record before looking anyway."""
LONGEST_PAUSE = 300.0
"""The longest pause between attempts while the ledger cannot be reached."""
CHECKPOINT_EVERY = 3600.0
"""Seconds between the checkpoints a shipper writes, when the policy names ``checkpoints``
and ``kms_key`` (it skips its turn when another one wrote a checkpoint within that time)."""
CHECKPOINT_SPREAD = 600.0
"""Each shipper waits a random part of these seconds past `CHECKPOINT_EVERY` before it writes
(its ``checkpoint_delay``): a fleet's guards then do not all read the table and sign at the
same moment; the first one writes, and the others find its checkpoint fresh."""
CLOCK_SKEW = 300.0
"""Seconds a checkpoint's time may be ahead of this host's clock. One dated further ahead was
written by a host whose clock runs fast: waiting for it to turn an hour old would leave the
fleet without checkpoints until then, so the next one is due at once."""
CLOSE_WAIT = 3.0
"""Seconds `ShippingLog.close` (and the exit of the process) waits for the thread to ship
what is left."""

_LIVE: weakref.WeakSet[ShippingLog] = weakref.WeakSet()


class ShippingLog(AuditLog):
    """An audit log shipped to the fleet ledger as it is written (see the module's text).

    ``ledger``: the policy's ``[audit.ledger]``; ``clients``: how to reach it (default: a
    new botocore session in the ledger's region); ``checkpoint_delay``: the seconds past
    `CHECKPOINT_EVERY` this shipper waits before it writes a checkpoint (default: a random
    part of `CHECKPOINT_SPREAD`). The other arguments are `AuditLog`'s.
    """

    def __init__(
        self,
        path: StrPath,
        *,
        ledger: LedgerPolicy,
        clients: Clients | None = None,
        fsync: bool = True,
        hmac_key: bytes | None = None,
        policy_sha256: str = "",
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
        checkpoint_delay: float | None = None,
    ) -> None:
        super().__init__(
            path,
            fsync=fsync,
            hmac_key=hmac_key,
            policy_sha256=policy_sha256,
            lock_timeout=lock_timeout,
        )
        self.ledger = ledger
        self.clients = clients if clients is not None else Clients(location_of(ledger).region)
        self.table = LedgerTable(self.clients, ledger.table)
        self.shipper = Shipper(self.path, self.table)
        self.refused: ShipRefused | None = None
        """Set once the stream was refused (a fork, the ledger ahead): nothing more is
        shipped from this process, and in required mode every call fails."""
        self.checkpoint_delay = (
            random.uniform(0.0, CHECKPOINT_SPREAD) if checkpoint_delay is None else checkpoint_delay
        )
        """Seconds past `CHECKPOINT_EVERY` this shipper waits before it writes a checkpoint."""
        self._checkpoint_tried = -CHECKPOINT_EVERY
        self._store: CheckpointStore | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._give_up = threading.Event()  # set by `close` past CLOSE_WAIT: between batches
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"ShippingLog({str(self.path)!r}, {self.ledger.mode} to {self.ledger.table})"

    # -- the ledger at install -----------------------------------------------------------------

    def probe(self) -> None:
        """Check that the ledger can be reached (the account, the table); an `AuditError`
        saying why when it cannot."""
        try:
            self.clients.account()
            exists = self.table.exists()
        except (BotoCoreError, ClientError) as exc:
            raise AuditError(
                f"cannot reach the ledger (table {self.table.name}): {describe_error(exc)}",
                path=str(self.path),
            ) from exc
        if not exists:
            raise AuditError(
                f"the ledger's table {self.table.name} does not exist in {self.clients.region} "
                "(rds-guard ledger init creates it)",
                path=str(self.path),
            )

    # -- writing -------------------------------------------------------------------------------

    def write(self, event: str, **fields: object) -> Record:
        """`AuditLog.write`, then shipping: in ``required`` mode a ``requested`` or
        ``presigned`` record is acknowledged by the ledger before this returns (else a local
        ``failed`` record and `AuditError`); every other record is shipped in the
        background."""
        record = super().write(event, **fields)
        if self.ledger.mode == "required":
            self._ship_now(event, record, fields)
        self._start()
        self._wake.set()
        return record

    def _ship_now(self, event: str, record: Record, fields: Mapping[str, object]) -> None:
        seq = int(str(record["seq"]))
        waits = event in WRITE_AHEAD
        problem: str | None = None
        if self.refused is not None:
            problem = self.refused.detail
        else:
            try:
                result = self.shipper.ship(through=seq, timeout=self.lock_timeout if waits else 0.0)
            except ShipRefused as exc:
                self._refuse(exc)
                problem = exc.detail
            except AuditError as exc:  # the shipping state cannot be used: the ledger waits
                problem = exc.detail
            else:
                if result.busy and not waits:
                    return  # the thread is shipping: it takes this record along
                if result.acked < seq or not result.confirmed:
                    problem = result.error or (
                        "a shipper held the log past lock_timeout (this process's shipping"
                        " thread waiting on the ledger, or another process)"
                        if result.busy
                        else "not acknowledged"
                    )
        if problem is None:
            return
        if not waits:
            logger.warning(
                "%s: the %s record (seq %d) is not in the ledger yet (%s); it waits in the "
                "local log",
                self.shipper.path,
                event,
                seq,
                problem,
            )
            return
        notes = [
            *cast(list[str], record["notes"]),  # the caller's notes, as the record holds them
            f"not sent: the ledger did not acknowledge the {event} record (seq {seq}): {problem}",
        ]
        failed = {**fields, "error": {"code": "LedgerUnavailable", "message": problem}}
        failed["notes"] = notes
        super().write("failed", **failed)
        raise LedgerUnavailable(
            f"{self.path}: the ledger ({self.table.name}) did not acknowledge the {event} "
            f"record (seq {seq}), so the call was not sent ([audit.ledger] mode = "
            f'"required"): {problem}',
            path=str(self.path),
        )

    # -- the background thread -----------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if forked_unseen():  # a thread started here may wait for ever, and its starter
            _say_threadless(self)
            return
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            # each thread its own: the events `close` set for a thread it stopped, or gave up
            # on, are the ones that thread checks, whatever a write starts meanwhile (a wake
            # shared with the next thread could be cleared by it before the first saw it)
            events = threading.Event(), threading.Event(), threading.Event()
            self._wake, self._stop, self._give_up = events
            self._thread = threading.Thread(
                target=_run,
                args=(weakref.ref(self), *events),
                name="rds-guard-ledger",
                daemon=True,
            )
            self._thread.start()

    def start(self) -> None:
        """Start the shipping thread (it ships any backlog the log holds)."""
        self._start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread, after it shipped what it could within `CLOSE_WAIT` seconds (then
        it stops after the batch under way: what is left waits in the file for the next
        run), then close the file and let go of the ledger's clients (a later write opens it,
        makes them and starts the thread again). `CLOSE_WAIT` seconds at most in all."""
        self._lock_after_any_fork()  # a thread a fork left behind is not waited for
        deadline = time.monotonic() + CLOSE_WAIT
        with self._thread_lock:  # a thread a write starts meanwhile is the next close's
            thread, wake, stop, give_up = self._thread, self._wake, self._stop, self._give_up
            self._thread = None
        if thread is not None:
            stop.set()
            wake.set()
            thread.join(CLOSE_WAIT)
            give_up.set()
        # a thread given up on holds the shipper for its batch's puts: it closes it itself
        if (thread is None or not thread.is_alive()) and self.shipper.close(
            max(0.0, deadline - time.monotonic())
        ):
            self._release_if_idle()
        super().close()

    def _release_if_idle(self) -> None:
        """Let go of the ledger's clients while no thread is to ship (one given up on may
        still run: it makes them again if it needs them, and lets go of them as it ends)."""
        with self._thread_lock:
            if self._thread is None:
                self.clients.release()

    def _forget_after_fork(self, *, close: bool = True) -> None:
        """In a forked child: the parent's shipping thread is not there, and its locks, put
        workers and connections are the parent's. The child starts its own at its next write.
        The log's own part goes last: it tells the child's other threads it is all done."""
        self._thread = None
        self._thread_lock = threading.Lock()
        self._wake, self._stop, self._give_up = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.shipper.forget_after_fork(close=close)
        self.clients.forget_after_fork()
        super()._forget_after_fork(close=close)

    def ship_once(
        self, timeout: float | None = 0.0, stop: threading.Event | None = None
    ) -> ShipResult | None:
        """One shipping run (what the thread does each time it wakes; ``stop``: checked
        between batches); None once refused."""
        if self.refused is not None:
            return None
        try:
            result = self.shipper.ship(timeout=timeout, stop=stop)
        except ShipRefused as exc:
            self._refuse(exc)
            return None
        return result

    def _refuse(self, refused: ShipRefused) -> None:
        """Stop shipping for good (a fork, the ledger ahead of the file): log it at ERROR."""
        if self.refused is None:
            logger.error("%s", refused.detail)
        self.refused = refused

    def checkpoint_if_due(self) -> CheckpointOutcome | None:
        """When the policy names ``checkpoints`` and ``kms_key``: the next signed checkpoint,
        once the newest one (whoever wrote it) is `CHECKPOINT_EVERY` plus this shipper's
        ``checkpoint_delay`` seconds old, or dated more than `CLOCK_SKEW` seconds ahead of
        this host's clock, or not signed with the key (its time is then no one's word: one
        put by a writer of the bucket must not silence the guards). Looked for again when it
        turns that old (else at most every `CHECKPOINT_EVERY` seconds); its findings are
        logged at ERROR. None when not due.

        Each look asks KMS to verify the newest checkpoint once, and not again for one this
        shipper found signed or wrote (`CheckpointStore.newest`)."""
        if self.ledger.checkpoints is None or self.ledger.kms_key is None:
            return None
        now = time.monotonic()
        if now - self._checkpoint_tried < CHECKPOINT_EVERY:
            return None
        self._checkpoint_tried = now
        if self._store is None:
            location = parse_s3(self.ledger.checkpoints)
            self._store = CheckpointStore(self.clients, location, self.ledger.kms_key)
        newest = self._store.newest(self._store.key_arn(), self.table.name)
        signed = None if newest is None or newest.problem else newest.top.checkpoint
        age = math.inf if signed is None else _age(signed.time)
        due = CHECKPOINT_EVERY + self.checkpoint_delay
        if -CLOCK_SKEW <= age < due:
            # look again when the newest turns old enough, not an hour from now; counted
            # from when its age was taken, not from before the reads (they take a while)
            aged_at = time.monotonic()
            self._checkpoint_tried = aged_at - CHECKPOINT_EVERY + due - max(0.0, age)
            return None
        if signed is not None and age < 0:
            logger.warning(
                "checkpoint %d is dated %s, %.0f s ahead of this host's clock: writing the next",
                signed.number,
                signed.time,
                -age,
            )
        outcome = write_checkpoint(self.table, self._store, attempts=1, newest=newest)
        for finding in outcome.findings:
            logger.error("checkpoint %s: %s", outcome.key, finding)
        return outcome


_told_threadless = 0
"""The process `_say_threadless` last spoke in."""


def _say_threadless(log: ShippingLog) -> None:
    """Warn, once per process, that a process forked where no at-fork hook ran ships with no
    thread of its own (`forks.forked_unseen`)."""
    global _told_threadless
    if _told_threadless == os.getpid():
        return
    _told_threadless = os.getpid()
    logger.warning(
        "%s: this process (pid %d) was forked where no at-fork hook ran (uWSGI without"
        " py-call-osafterfork or lazy-apps), where a thread started may wait for ever: it"
        " starts no shipping thread. In required mode each call ships its records itself;"
        " in ship mode they wait in the local log for another process's shipping thread"
        " (the one that installed the guard before forking) or rds-guard audit ship",
        log.shipper.path,
        os.getpid(),
    )


def _age(stamp: str) -> float:
    """Seconds since a record-style UTC time (``...Z``); a time that cannot be read is old."""
    then = parse_time(stamp)
    return math.inf if then is None else (datetime.now(UTC) - then).total_seconds()


def _run(
    ref: weakref.ref[ShippingLog],
    wake: threading.Event,
    stop: threading.Event,
    give_up: threading.Event,
) -> None:
    """The thread: ship, then wait for a new record (``wake``, or `INTERVAL`); while the
    ledger cannot be reached, wait longer each time (up to `LONGEST_PAUSE`). Once ``stop`` is
    set (by `ShippingLog.close`), one last run ships what is left, waiting up to `CLOSE_WAIT`
    for a run under way in another thread; once ``give_up`` is set (by `ShippingLog.close`,
    past `CLOSE_WAIT`), the run under way stops after its batch and the thread ends."""
    pause = INTERVAL
    while True:
        log = ref()
        if log is None:
            return
        wake.clear()
        last_run = stop.is_set()
        try:
            result = log.ship_once(timeout=CLOSE_WAIT if last_run else 0.0, stop=give_up)
        except AuditError as exc:  # the shipping state cannot be used: said, retried
            logger.warning("%s: shipping to the ledger failed: %s", log.shipper.path, exc.detail)
            result = None
        except Exception:  # the thread must live on: a bug here is logged, not fatal
            logger.exception("%s: shipping to the ledger failed", log.shipper.path)
            result = None
        if last_run or give_up.is_set() or log.refused is not None:
            if result is not None and (result.busy or result.pending):
                logger.warning(
                    "%s: shipping stopped with the log closed (%s); what is not shipped waits"
                    " in the local log",
                    log.shipper.path,
                    "another shipper held it" if result.busy else result.error or "given up",
                )
            if last_run or give_up.is_set():  # `close` may have left the put workers to it
                log.shipper.close()  # (waits for a thread given up on to end its batch)
                log._release_if_idle()
            return
        if result is not None and result.error is None:
            try:
                log.checkpoint_if_due()
            except Exception as exc:  # a checkpoint is a bonus: shipping goes on
                logger.warning(
                    "%s: could not write a checkpoint: %s",
                    log.shipper.path,
                    describe_error(exc),
                )
        failed = result is None or result.error is not None
        if failed and result is not None:
            logger.warning(
                "%s: the ledger cannot be reached (%s); %d record(s) wait in the local log",
                log.shipper.path,
                result.error,
                result.pending,
            )
        pause = min(pause * 2, LONGEST_PAUSE) if failed else INTERVAL
        del log, result
        (stop if failed else wake).wait(pause)


def _after_fork_in_child() -> None:
    for log in list(_LIVE):
        log._forget_after_fork()


after_fork_in_child(_after_fork_in_child)


@atexit.register
def _ship_before_exit() -> None:
    """Stop every shipping thread, then wait for them all: `CLOSE_WAIT` seconds in all."""
    threads = []
    for log in list(_LIVE):
        log._lock_after_any_fork()  # a thread a fork left behind is not waited for
        with log._thread_lock:
            thread, wake, stop = log._thread, log._wake, log._stop
        if thread is not None:
            stop.set()
            wake.set()
            threads.append(thread)
    deadline = time.monotonic() + CLOSE_WAIT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def open_shipping_log(
    path: StrPath,
    ledger: LedgerPolicy,
    *,
    fsync: bool = True,
    hmac_key: bytes | None = None,
    policy_sha256: str = "",
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    clients: Clients | None = None,
) -> ShippingLog:
    """The guard's audit log when the policy has a ledger: checked to reach it (a ledger that
    cannot be reached is a warning on logger ``rds_guard`` in ``ship`` mode, an `AuditError`
    in ``required`` mode), its shipping thread started."""
    log = ShippingLog(
        path,
        ledger=ledger,
        clients=clients,
        fsync=fsync,
        hmac_key=hmac_key,
        policy_sha256=policy_sha256,
        lock_timeout=lock_timeout,
    )
    try:
        log.probe()
    except AuditError as exc:
        if ledger.mode == "required":
            raise
        logger.warning("%s; records wait in the local log %s", exc.detail, log.shipper.path)
    log.start()
    return log

"""The lock: never waited on for ever (``lock_timeout``), nothing extra when nobody holds it,
never left taken by a signal handler's exception, and the holder named from /proc/locks. The
stopped holder of another process is in test_attacks.py."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from audit_helpers import (
    assert_flock_free,
    call_with_timeout,
    interrupted_once,
    make_log,
    records_of,
)
from aws import audit_records, guarded_session, make_cluster
from policies import AUDITED, write_policy
from servers import MotoServer

from rds_guard import audit
from rds_guard.audit import lock
from rds_guard.audit.lock import holder_pids
from rds_guard.errors import AuditError


def test_another_thread_holding_the_lock_is_an_audit_error(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.2)
    log.write("requested")
    before = log_path.read_bytes()
    log._lock.acquire()  # as if another thread hung mid-write
    try:
        with pytest.raises(AuditError, match="another thread of this process") as caught:
            log.write("requested")
        assert str(log_path) in str(caught.value)
        with pytest.raises(AuditError, match=r"0\.2s"), log.exclusive():
            pass
    finally:
        log._lock.release()
    assert log_path.read_bytes() == before
    log.write("requested")
    log.close()


def test_the_uncontended_path_takes_the_lock_once_and_never_sleeps(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested")
    calls: list[int] = []
    real_flock = fcntl.flock

    def counting(fd: int, operation: int) -> None:
        calls.append(operation)
        real_flock(fd, operation)

    def no_sleep(seconds: float) -> None:
        raise AssertionError("slept on an uncontended lock")

    monkeypatch.setattr(fcntl, "flock", counting)
    monkeypatch.setattr(time, "sleep", no_sleep)
    log.write("requested")
    monkeypatch.undo()
    log.close()
    assert calls == [fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_UN]


def _hold_then_release(path: Path, seconds: float) -> threading.Thread:
    """Hold the file's flock on a descriptor of our own for ``seconds`` (then release it)."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def release() -> None:
        time.sleep(seconds)
        os.close(fd)

    releaser = threading.Thread(target=release)
    releaser.start()
    return releaser


@pytest.mark.parametrize("timeout", [5.0, None], ids=["polled", "for-ever"])
def test_a_lock_released_in_time_is_taken(log_path: Path, timeout: float | None) -> None:
    make_log(log_path, 1)
    releaser = _hold_then_release(log_path, 0.3)
    started = time.monotonic()
    with audit.AuditLog(log_path, fsync=False, lock_timeout=timeout) as log:
        log.write("requested")
    assert time.monotonic() - started >= 0.25
    releaser.join()
    assert audit.verify([log_path]).records == 2


def test_a_lock_held_past_the_timeout_names_this_process(log_path: Path) -> None:
    make_log(log_path, 1)
    releaser = _hold_then_release(log_path, 1.0)
    try:
        with pytest.raises(AuditError) as caught:
            audit.AuditLog(log_path, fsync=False, lock_timeout=0.1).write("requested")
    finally:
        releaser.join()
    message = str(caught.value)
    assert "more than 0.1s" in message and "nothing was written" in message
    if lock.PROC_LOCKS.exists():
        assert f"held by pid {os.getpid()}" in message


def test_holder_pids_reads_proc_locks(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"")
    st = os.stat(target)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    locks = tmp_path / "locks"
    locks.write_text(
        f"1: FLOCK  ADVISORY  WRITE 4242 {dev} 0 EOF\n"
        f"1: -> FLOCK  ADVISORY  WRITE 5151 {dev} 0 EOF\n"
        "2: POSIX  ADVISORY  WRITE 6161 00:01:1 0 EOF\n"
        f"3: FLOCK  ADVISORY  WRITE 0 {dev} 0 EOF\n"
    )
    assert holder_pids(st, locks) == [4242]
    assert holder_pids(st, tmp_path / "missing") == []


def _interrupted_as_taken(
    taker: Callable[..., None] = lock.thread_lock_within,
) -> contextlib.AbstractContextManager[list[str]]:
    """A KeyboardInterrupt raised as ``taker`` (the function that takes one of the writer's
    locks) returns, once: where a signal's pending handler runs the moment the lock is taken.
    Yields what it raised at (`interrupted_once`)."""
    code = taker.__code__
    return interrupted_once(lambda frame, event: event == "return" and frame.f_code is code)


def _write(log: audit.AuditLog) -> None:
    log.write("requested")


def _maintain(log: audit.AuditLog) -> None:
    with log.exclusive():
        pass


@pytest.mark.parametrize("use", [_write, _maintain], ids=["write", "exclusive"])
def test_a_signal_as_the_lock_is_taken_fails_that_use_alone(
    log_path: Path, use: Callable[[audit.AuditLog], None]
) -> None:
    """A KeyboardInterrupt (any signal handler's exception) the moment this process's lock on
    the log is taken leaves the lock free: the next record is written at once, and `close`
    (what a guard's uninstall calls) returns; before, the lock stayed taken for good, every
    later record failed after ``lock_timeout``, and close waited for ever."""
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.5)
    log.write("requested")
    with _interrupted_as_taken() as raised, pytest.raises(KeyboardInterrupt):
        use(log)
    assert raised == ["thread_lock_within"]
    assert not log._lock.locked()
    log.write("requested")
    call_with_timeout(log.close, 30)  # a hang, not a speed: close returns at once
    assert [record["seq"] for record in records_of(log_path)] == [1, 2]


@pytest.mark.parametrize("use", [_write, _maintain], ids=["write", "exclusive"])
@pytest.mark.parametrize(
    "taker",
    [lock.flock_within, audit.AuditLog._acquire],
    ids=["as-flock_within-returns", "as-_acquire-returns"],
)
def test_a_signal_as_the_file_is_locked_leaves_it_to_the_other_processes(
    log_path: Path, use: Callable[[audit.AuditLog], None], taker: Callable[..., None]
) -> None:
    """A KeyboardInterrupt the moment the writer took the file's ``flock``, or as the function
    that takes it returns, lets it go: another process's writer locks the file at once
    (before, the lock stayed with this process's descriptor until its next record, and the
    others' records failed after ``lock_timeout``); this writer's next record is written too."""
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.5)
    log.write("requested")
    with _interrupted_as_taken(taker) as raised, pytest.raises(KeyboardInterrupt):
        use(log)
    assert raised == [taker.__name__]
    assert_flock_free(log_path)
    log.write("requested")
    log.close()
    assert [record["seq"] for record in records_of(log_path)] == [1, 2]


def test_a_signal_as_the_requested_record_is_locked_sends_nothing_and_leaves_the_guard_whole(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Through a guard: a KeyboardInterrupt as the ``requested`` record's lock is taken reaches
    the caller and the create is never sent (counted at moto's server); the same call made
    again is sent once and recorded, and `uninstall` returns. Before, that second call was
    refused (`AuditError`, nothing sent) and uninstall waited for ever."""
    session, guard = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    moto_server.reset_counts()

    def create() -> None:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-daily-20261129",
            Tags=[{"Key": "team", "Value": "core"}],
        )

    with _interrupted_as_taken() as raised, pytest.raises(KeyboardInterrupt):
        create()
    assert raised == ["thread_lock_within"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    create()
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    call_with_timeout(guard.uninstall, 30)
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events == [
        ("requested", "orders-daily-20261129"),
        ("created", "orders-daily-20261129"),
    ]


def _interrupted_twice(first: Callable[..., Any], second: Callable[..., Any]) -> Callable[[], None]:
    """KeyboardInterrupts raised as ``first`` is entered, then as ``second`` is, while the
    first is being handled (as signals' handlers run at a function's entry): the first by a
    trace function, the second by a profile function (each is removed once it raises, so one
    cannot stand in for both); returns the function that removes them."""
    previous = sys.gettrace(), sys.getprofile()  # coverage's trace, under make test

    def interrupt(code: Any) -> Callable[[FrameType, str, object], Any]:
        def hook(frame: FrameType, event: str, arg: object) -> Any:
            if event == "call" and frame.f_code is code:
                raise KeyboardInterrupt(f"a signal, as {code.co_name} is entered")
            return None

        return hook

    sys.settrace(interrupt(first.__code__))
    sys.setprofile(interrupt(second.__code__))

    def stop() -> None:
        sys.settrace(previous[0])
        sys.setprofile(previous[1])

    return stop


@pytest.mark.parametrize("use", ["write", "held_if_free"])
def test_a_second_signal_as_the_descriptor_is_dropped_leaves_the_file_unlocked(
    log_path: Path, use: str
) -> None:
    """Two interrupts: the first with the file's ``flock`` taken (as the writer checks the
    path still names the file), the second as the handling of the first drops the descriptor:
    the lock was let go before, by a C call alone; another process's writer locks the file at
    once and this one writes on. Before, the second came before anything let the lock go, and
    the lock stayed until this process's next record."""
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.5)
    log.write("requested")
    stop = _interrupted_twice(audit.AuditLog._path_names, audit.AuditLog._drop_fd)
    try:
        with pytest.raises(KeyboardInterrupt, match="_drop_fd"):
            if use == "write":
                log.write("requested")
            else:
                with log.held_if_free():
                    pass
    finally:
        stop()
    assert_flock_free(log_path)
    assert not log._lock.locked()
    log.write("requested")
    log.close()
    assert [record["seq"] for record in records_of(log_path)] == [1, 2]


def test_a_close_asked_while_another_closes_is_not_left_pending(log_path: Path) -> None:
    """A `close` called while another one holds the log to close it (here from within it, as
    its descriptor is dropped: the lock taken, so the second only asks) is done by the first
    as it lets go, and not left pending: before, the request stayed, and the next record,
    whenever it came, closed the file it had just written (a reopen and a re-read of the
    tail for the record after)."""
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested")
    previous = sys.gettrace()
    drop = audit.AuditLog._drop_fd.__code__
    asked: list[bool] = []

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if event == "call" and frame.f_code is drop and not asked:
            asked.append(True)
            log.close()  # the log's lock is held: this close asks and returns
        return None

    sys.settrace(tracer)
    try:
        log.close()
    finally:
        sys.settrace(previous)
    assert asked and not log._closing and log._fd is None
    log.write("requested")
    assert log._fd is not None  # the record after keeps its file open
    log.close()


def test_uninstall_does_not_wait_for_a_call_whose_record_waits_for_another_process(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Through a guard (docs/failures.md): a guarded call whose ``requested`` record waits for
    the log's ``flock``, held by another open file of it as another process's writer would,
    does not hold up `uninstall`; once the lock is let go the call goes on, sent once and
    recorded before and after, and its thread closes the log as it lets go of it. Before,
    uninstall waited for the call, as long as the other process held the log."""
    policy = AUDITED.replace("fsync = false", "fsync = false\nlock_timeout = 30")
    session, guard = guarded_session(write_policy(tmp_path, policy), on=moto_server)
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    log_path = tmp_path / "audit.jsonl"
    log_path.touch()
    holder = os.open(log_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    moto_server.reset_counts()
    outcome: list[object] = []

    def create() -> None:
        outcome.append(
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders",
                DBClusterSnapshotIdentifier="orders-daily-20261129",
                Tags=[{"Key": "team", "Value": "core"}],
            )
        )

    thread = threading.Thread(target=create)
    thread.start()
    try:
        assert guard.audit is not None
        while not guard.audit._lock.locked():  # the record waits for the file's lock
            time.sleep(0.001)
        call_with_timeout(guard.uninstall, 10)  # a hang: before, as long as the other held it
        assert thread.is_alive() and moto_server.count("CreateDBClusterSnapshot") == 0
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
        thread.join(60)
    assert outcome and moto_server.count("CreateDBClusterSnapshot") == 1
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events == [
        ("requested", "orders-daily-20261129"),
        ("created", "orders-daily-20261129"),
    ]
    assert guard.audit._fd is None

"""The writer: records logged, the tail, many writers (threads, processes, forks), crash safety,
and a file system that fails a write."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import pytest
from audit_helpers import (
    UnhookedWorker,
    append_torn_line,
    assert_whole,
    call_with_timeout,
    flock_free,
    interrupted_once,
    lines_of,
    make_log,
    markers,
    records_of,
    run_python,
    subprocess_env,
    unhooked_fork,
    wait_child,
    wait_for_lines,
    write_lines,
    write_records,
)

from rds_guard import audit
from rds_guard.audit import tail, writer
from rds_guard.audit.torn import KEEP_LIMIT
from rds_guard.errors import AuditError

# --- logging and the tail -----------------------------------------------------------------


def test_records_are_logged_at_info(log_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rds_guard.audit")
    make_log(log_path, 3)
    messages = [r.getMessage() for r in caplog.records if r.name == "rds_guard.audit"]
    assert [m.encode() for m in messages] == lines_of(log_path)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "rds_guard.audit")


def test_seq_continues_across_writers_and_reopening(log_path: Path) -> None:
    make_log(log_path, 2)
    make_log(log_path, 3)
    first = audit.AuditLog(log_path, fsync=False)
    second = audit.AuditLog(log_path, fsync=False)
    first.write("requested")
    second.write("requested")
    first.write("requested")
    first.close()
    second.close()
    assert [r["seq"] for r in records_of(log_path)] == list(range(1, 9))
    assert audit.verify([log_path]).ok


def test_tail_is_read_only_when_another_writer_changed_the_file(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[int] = []
    real_scan = tail.scan_tail

    def counting(fd: int, size: int, longest: int = 0) -> tail.TailScan:
        scans.append(size)
        return real_scan(fd, size, longest)

    monkeypatch.setattr(writer, "scan_tail", counting)
    first = audit.AuditLog(log_path, fsync=False)
    second = audit.AuditLog(log_path, fsync=False)
    for _ in range(3):
        first.write("requested")
    assert len(scans) == 1
    second.write("requested")
    assert len(scans) == 2
    first.write("requested")
    assert len(scans) == 3
    first.write("requested")
    first.write("requested")
    assert len(scans) == 3
    first.close()
    second.close()
    assert audit.verify([log_path]).records == 7


def test_exclusive_lends_the_locked_file_and_logs_its_records_after_the_locks(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rds_guard.audit")
    make_log(log_path, 2)
    caplog.clear()
    log = audit.AuditLog(log_path, fsync=False)
    with log.exclusive() as locked:
        assert log._lock.locked()
        other = os.open(log_path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
        appended = locked.append(locked.tail(), "requested", {"notes": ["inside"]})
        assert not caplog.records  # not while the locks are held
    assert not log._lock.locked()
    assert [r.getMessage().encode() for r in caplog.records] == lines_of(log_path)[-1:]
    assert (appended["seq"], appended["notes"]) == (3, ["inside"])
    log.write("requested")
    log.close()
    assert audit.verify([log_path]).records == 4


# --- many writers -------------------------------------------------------------------------


def _write_from_threads(log: audit.AuditLog, threads: int, each: int) -> bool:
    """``threads`` threads that start together and each write ``each`` records (notes
    ``t<n>:<i>``); whether they all ended."""
    start = threading.Barrier(threads)

    def worker(name: str) -> None:
        start.wait(10)
        for i in range(each):
            log.write("requested", notes=[f"{name}:{i}"])

    running = [threading.Thread(target=worker, args=(f"t{n}",)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(60)
    return not any(thread.is_alive() for thread in running)


def test_eight_threads_share_one_log(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    assert _write_from_threads(log, 8, 150)
    log.close()
    assert_whole([log_path], markers([f"t{n}" for n in range(8)], 150))


def test_threads_with_their_own_log_objects(log_path: Path) -> None:
    threads = [
        threading.Thread(target=write_records, args=(str(log_path), f"o{n}", 100)) for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert_whole([log_path], markers([f"o{n}" for n in range(6)], 100))


def test_spawned_processes_share_one_log(log_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=write_records, args=(str(log_path), f"p{n}", 150)) for n in range(4)
    ]
    for process in processes:
        process.start()
    write_records(str(log_path), "main", 150)
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    assert_whole([log_path], markers(["main", *(f"p{n}" for n in range(4))], 150))


def test_spawned_processes_with_hmac_and_fsync(log_path: Path) -> None:
    key = b"k3y"
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=write_records, args=(str(log_path), f"h{n}", 40, key, True))
        for n in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    assert_whole([log_path], markers([f"h{n}" for n in range(3)], 40), hmac_key=key)


def _fork_writer(log: audit.AuditLog, name: str, count: int) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            for i in range(count):
                log.write("requested", notes=[f"{name}:{i}"])
            code = 0
        finally:
            os._exit(code)
    return pid


def test_children_forked_after_the_parent_opened_the_log(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["parent:opened"])
    children = [_fork_writer(log, f"f{n}", 150) for n in range(4)]
    for i in range(150):
        log.write("requested", notes=[f"parent:{i}"])
    assert [wait_child(pid) for pid in children] == [0] * 4
    log.close()
    expected = markers(["parent", *(f"f{n}" for n in range(4))], 150) | {"parent:opened"}
    assert_whole([log_path], expected)


def test_forked_child_takes_the_flock_on_its_own_descriptor(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["parent:0"])
    assert log._fd is not None
    fcntl.flock(log._fd, fcntl.LOCK_EX)  # the parent holds the file lock...
    try:
        child = _fork_writer(log, "child", 1)
        time.sleep(0.5)
        # ...so a child that reused the inherited descriptor would already have written.
        assert len(lines_of(log_path)) == 1
    finally:
        fcntl.flock(log._fd, fcntl.LOCK_UN)
    assert wait_child(child) == 0
    log.close()
    assert_whole([log_path], {"parent:0", "child:0"})


def test_fork_while_another_thread_holds_the_lock_does_not_deadlock(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["parent:0"])
    log._lock.acquire()  # as if another thread were mid-write when the fork happened
    try:
        child = _fork_writer(log, "child", 3)
        assert wait_child(child, timeout=20) == 0
    finally:
        log._lock.release()
    log.write("requested", notes=["parent:1"])
    log.close()
    assert_whole([log_path], {"parent:0", "parent:1", "child:0", "child:1", "child:2"})


def test_a_fork_no_at_fork_hook_saw_writes_as_the_child(log_path: Path) -> None:
    """uWSGI forks its workers as C code does, and Python's at-fork hooks run only with
    ``py-call-osafterfork``: every worker's records said the parent's pid, their call ids
    repeated the parent's (one id on four calls), and a thread lock the parent held at the
    fork stopped every write of the child for ``lock_timeout``. The child finds the fork at
    its next write: its own pid, fresh call ids, locks of its own."""
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", call=audit.new_call_id(), notes=["parent:0"])
    log._lock.acquire()  # another thread of the parent mid-write at the fork
    try:
        child = unhooked_fork()
        if child == 0:
            code = 1
            try:
                for i in range(2):
                    log.write("requested", call=audit.new_call_id(), notes=[f"child:{i}"])
                log.close()
                code = 0
            finally:
                os._exit(code)
    finally:
        log._lock.release()
    assert wait_child(child, timeout=20) == 0
    log.write("requested", call=audit.new_call_id(), notes=["parent:1"])
    log.close()
    records = {str(r["notes"][0]): r for r in records_of(log_path)}  # type: ignore[index]
    assert {note: r["pid"] for note, r in records.items()} == {
        "parent:0": os.getpid(),
        "child:0": child,
        "child:1": child,
        "parent:1": os.getpid(),
    }
    assert len({r["call"] for r in records.values()}) == 4
    assert audit.verify([log_path]).ok


def test_a_parent_gone_holding_the_lock_after_a_fork_no_hook_saw_holds_no_one_off(
    log_path: Path,
) -> None:
    """A ``flock`` belongs to the open file, which a child forked without the at-fork hooks
    shares with its parent through its copy of the descriptor. The parent goes while it
    holds the lock (killed mid-write: its descriptor closed, never unlocked); the child,
    finding the fork at its next write, kept its copy open, so the lock was never released:
    the child and every other writer waited out ``lock_timeout``, for as long as the child
    lived. It closes its copy now (still the parent's: the same file, appending), and both
    write."""
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=2)
    log.write("requested", notes=["parent:0"])
    child = UnhookedWorker(lambda: log.write("requested", notes=["child:0"]))
    try:
        assert log._fd is not None
        fcntl.flock(log._fd, fcntl.LOCK_EX)
        log._drop_fd(close=True)  # what a kill does to the parent's descriptor
        assert child.go() == bytes([0]), "the child waited out the lock"
        with audit.AuditLog(log_path, fsync=False, lock_timeout=2) as other:
            other.write("requested", notes=["other:0"])
    finally:
        child.end()
    assert_whole([log_path], {"parent:0", "child:0", "other:0"})


def test_a_child_forked_without_the_hooks_leaves_another_file_under_the_logs_number(
    log_path: Path, tmp_path: Path
) -> None:
    """The child closed the descriptor it got, and its number went to another file it opened
    for appending: finding the fork, the log leaves that file open (it closes only the
    parent's descriptor, still on the log)."""
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["parent:0"])
    other = tmp_path / "other.log"
    child = unhooked_fork()
    if child == 0:
        code = 1
        try:
            assert log._fd is not None
            os.close(log._fd)
            reused = os.open(other, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if reused == log._fd:
                log.write("requested", notes=["child:0"])
                os.write(reused, b"still open\n")
                code = 0
            else:
                code = 3  # another number: nothing shown
        finally:
            os._exit(code)
    assert wait_child(child, timeout=20) == 0
    log.close()
    assert other.read_bytes() == b"still open\n"
    assert_whole([log_path], {"parent:0", "child:0"})


def test_threads_of_a_child_forked_without_the_hooks_find_the_fork_once(log_path: Path) -> None:
    """Threads of a child forked without the at-fork hooks (uWSGI's workers with
    ``--threads``) that each find the fork at once: each made new locks of its own, so two
    could write at one time, and a thread that saw the new pid went on before the parent's
    descriptor was dropped. The fork is acted on once, all done before any thread goes on
    (the child's reset is made slow here to hold the others at it), and their records
    chain."""
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["parent:0"])
    parents = log._fd
    child = unhooked_fork()
    if child == 0:
        code = 1
        try:
            resets: list[int | None] = []
            forget = audit.AuditLog._forget_after_fork

            def slow_forget(self: audit.AuditLog, *, close: bool = True) -> None:
                resets.append(self._fd)
                time.sleep(0.05)
                forget(self, close=close)

            audit.AuditLog._forget_after_fork = slow_forget  # type: ignore[method-assign]
            wrote = _write_from_threads(log, 4, 50)
            own = log._fd_pid == os.getpid()  # its own descriptor (the number may be the same)
            code = 0 if wrote and resets == [parents] and own else 2
        finally:
            os._exit(code)
    assert wait_child(child, timeout=60) == 0
    log.close()
    assert_whole([log_path], markers([f"t{n}" for n in range(4)], 50) | {"parent:0"})


def test_descriptor_of_another_pid_is_not_used(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["a:0"])
    inherited = log._fd
    assert inherited is not None
    log._pid = -1  # as after a fork that bypassed the at-fork hook
    log.write("requested", notes=["a:1"])
    assert log._fd is not None and log._fd != inherited
    os.fstat(inherited)  # left open: closing it could close an unrelated file
    os.close(inherited)
    log.close()
    assert_whole([log_path], {"a:0", "a:1"})


def test_a_record_written_by_an_exit_handler_goes_to_the_log_and_nowhere_else(
    log_path: Path, tmp_path: Path
) -> None:
    """A program's exit handler registered before the log's first record runs after the
    interpreter's own exit hooks: the log's descriptor was closed by them while the log kept
    its number. The record failed (`cannot lock: Bad file descriptor`), or, when the handler
    had opened a file of its own (given that number), the writer closed the program's file
    and the program's data went into the log. The log's descriptor stays open until the
    process ends."""
    other = tmp_path / "program.txt"
    code = f"""
import atexit, os
from rds_guard.audit import AuditLog
state = {{}}
def last():
    mine = os.open({str(other)!r}, os.O_CREAT | os.O_WRONLY)
    state["log"].write("requested", notes=["at-exit"])
    os.write(mine, b"PROGRAM DATA\\n")
    os.close(mine)
atexit.register(last)
state["log"] = AuditLog({str(log_path)!r}, fsync=False)
state["log"].write("requested", notes=["first"])
"""
    result = run_python(code)
    assert (result.returncode, result.stderr) == (0, "")
    assert other.read_bytes() == b"PROGRAM DATA\n"
    assert_whole([log_path], {"first", "at-exit"})


# --- crash safety -------------------------------------------------------------------------


def test_writer_killed_mid_stream_then_a_torn_tail_is_repaired(log_path: Path) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import audit_helpers; audit_helpers.write_forever({str(log_path)!r})",
        ],
        env=subprocess_env(),
    )
    try:
        wait_for_lines(log_path, 300)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    before = log_path.read_bytes()
    complete = before[: before.rfind(b"\n") + 1]
    result = audit.verify([log_path])
    assert result.ok or result.reason == "torn", result.summary()
    # A kill between two writes leaves whole lines; tear the tail as a crash mid-write would.
    append_torn_line(log_path)
    torn = log_path.read_bytes()[len(complete) :]
    assert torn and b"\n" not in torn
    assert audit.verify([log_path]).reason == "torn"

    with audit.AuditLog(log_path, fsync=False) as log:
        written = log.write("requested", notes=["after:0"])

    data = log_path.read_bytes()
    assert data.startswith(complete)
    repaired, after = (json.loads(line) for line in data[len(complete) :].splitlines())
    assert repaired["event"] == "repaired"
    assert repaired["dropped_bytes"] == len(torn)
    assert repaired["dropped_sha256"] == hashlib.sha256(torn).hexdigest()
    assert repaired["prev"] == hashlib.sha256(complete.splitlines()[-1]).hexdigest()
    assert after == written
    records = records_of(log_path)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert audit.verify([log_path]).ok


def test_a_log_that_is_only_a_torn_line(log_path: Path) -> None:
    log_path.write_bytes(b'{"prev":"00')
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    repaired, requested = records_of(log_path)
    assert (repaired["seq"], repaired["prev"], repaired["dropped_bytes"]) == (1, "0" * 64, 11)
    assert requested["seq"] == 2
    assert audit.verify([log_path]).ok


@pytest.mark.parametrize(
    "content",
    [
        b"ghp_SECRETTOKEN1234",
        b"A" * (2 * 1024 * 1024),
        b'{"token":"x"',
        b'{"prev":1',
        b"\0" * 64 + b"IMPORTANT DATA" * 10,
        b"\0" * 70_000 + b"x",
    ],
    ids=[
        "a token",
        "2 MiB of text",
        "other JSON",
        "prev not a string",
        "zeros then text",
        "zeros past a block then text",
    ],
)
def test_a_file_with_no_newline_that_is_no_record_is_not_written_over(
    log_path: Path, content: bytes
) -> None:
    """A policy naming a file that is no log (a token, any file holding no newline): its
    bytes were taken for a first record cut short, dropped, and the file overwritten by a
    `repaired` record carrying their SHA-256. Torn bytes are a record cut short only when
    they start as every record does; these are `NotAnAuditLog`, and the file is untouched."""
    log_path.write_bytes(content)
    with (
        audit.AuditLog(log_path, fsync=False) as log,
        pytest.raises(audit.NotAnAuditLog) as refused,
    ):
        log.write("requested")
    assert "do not start as a record does" in str(refused.value)
    assert log_path.read_bytes() == content


def test_a_first_record_left_as_zeros_by_a_crash_is_repaired(log_path: Path) -> None:
    """A file system may leave a crashed first write as zeros (XFS; ext4 without
    data=ordered): a record lost, repaired as a torn line, not a file that is no log."""
    log_path.write_bytes(b"\0" * 300)
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    repaired, requested = records_of(log_path)
    assert (repaired["event"], repaired["dropped_bytes"], requested["seq"]) == ("repaired", 300, 2)
    assert audit.verify([log_path]).ok


def test_a_torn_line_longer_than_its_repaired_record(log_path: Path) -> None:
    """The `repaired` record is written where the torn bytes start, then the rest of them is
    cut."""
    make_log(log_path, 2)
    whole = log_path.read_bytes()
    torn = b'{"prev":"' + b"7" * 5000
    with log_path.open("ab") as stream:
        stream.write(torn)
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert log_path.read_bytes().startswith(whole)
    repaired, _ = records_of(log_path)[2:]
    assert (repaired["dropped_bytes"], repaired["dropped_sha256"]) == (
        len(torn),
        hashlib.sha256(torn).hexdigest(),
    )
    assert len(lines_of(log_path)) == 4  # the torn bytes' rest is cut: no line left over
    assert audit.verify([log_path]).ok


@pytest.mark.parametrize("change", ["appended", "cut"])
def test_nothing_is_written_over_a_torn_line_when_the_log_changed_meanwhile(
    log_path: Path, change: str
) -> None:
    """The log changed without its lock (not by a writer of this library) after its torn
    line was measured: bytes appended past it are not the writer's to cover or cut, and a
    line written where the torn bytes started, past the end of a log cut short meanwhile,
    would follow a run of zeros the file system puts in the gap, a line no reader can read
    in the middle of the log for good (seen under a truncating process). Nothing is written
    (`ChangedWhileLocked`, on which a writer takes the lock again and reads the end anew),
    and the file is left as the other process made it."""
    from rds_guard.audit import fileio, torn
    from rds_guard.audit.errors import ChangedWhileLocked

    make_log(log_path, 1)
    start = log_path.stat().st_size
    cut = b'{"prev":"' + b"7" * 500
    with log_path.open("ab") as stream:
        stream.write(cut)
    measured = torn.Torn(start, len(cut), hashlib.sha256(cut).hexdigest())
    if change == "appended":
        with log_path.open("ab") as stream:
            stream.write(b"appended meanwhile")
    else:
        os.truncate(log_path, start - 10)
    before = log_path.read_bytes()
    fd = os.open(log_path, fileio.OVERWRITE_FLAGS)
    try:
        with pytest.raises(ChangedWhileLocked, match="changed while locked"):
            torn.overwrite(log_path, fd, measured, b'{"line":1}\n', fsync=False)
    finally:
        os.close(fd)
    assert log_path.read_bytes() == before
    assert b"\0" not in before


@pytest.mark.parametrize("hmac_key", [None, b"k" * 32], ids=["sha256", "hmac"])
def test_a_whole_record_missing_only_its_newline_is_kept(
    log_path: Path, hmac_key: bytes | None
) -> None:
    """A write cut off at its very end (or a cut of one byte) leaves an authentic record that
    follows the one before it: the next writer adds the newline and keeps it (its call would
    else look pending), and a `repaired` record that dropped nothing says so."""
    make_log(log_path, 3, hmac_key)
    whole = lines_of(log_path)
    os.truncate(log_path, log_path.stat().st_size - 1)

    with audit.AuditLog(log_path, fsync=False, hmac_key=hmac_key) as log:
        log.write("requested", notes=["after"])

    lines = lines_of(log_path)
    assert lines[:3] == whole
    repaired, after = (json.loads(line) for line in lines[3:])
    assert (repaired["event"], repaired["seq"], after["seq"]) == ("repaired", 4, 5)
    assert repaired["prev"] == audit.chain_hash(whole[-1], hmac_key)
    assert (repaired["dropped_bytes"], repaired["dropped_sha256"]) == (
        0,
        hashlib.sha256().hexdigest(),
    )
    assert "kept seq 3" in repaired["notes"][0]
    assert audit.verify([log_path], hmac_key=hmac_key).ok


def _copy_of_the_first(lines: list[bytes]) -> bytes:
    return lines[0]


def _edited(lines: list[bytes]) -> bytes:
    return lines[-1].replace(b'"m:2"', b'"m:9"')


@pytest.mark.parametrize("unterminated", [_copy_of_the_first, _edited], ids=["copy", "edited"])
def test_an_unterminated_record_that_does_not_follow_is_dropped_as_torn(
    log_path: Path, unterminated: Callable[[list[bytes]], bytes]
) -> None:
    """Only the record that follows the last one is kept: an authentic record out of place,
    or an edited one, after the last newline is a torn line like any other."""
    make_log(log_path, 3)
    whole = lines_of(log_path)
    tail = unterminated(whole)
    with log_path.open("ab") as stream:
        stream.write(tail)

    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")

    repaired = records_of(log_path)[3]
    assert (repaired["event"], repaired["dropped_bytes"]) == ("repaired", len(tail))
    assert lines_of(log_path)[:3] == whole
    assert audit.verify([log_path]).ok


def _three_joined(lines: list[bytes]) -> list[bytes]:
    return [*lines[:-3], b"".join(lines[-3:])]


def _junk_before_the_last(lines: list[bytes]) -> list[bytes]:
    return [*lines[:-1], b"x" + lines[-1]]


def _junk_after_the_last(lines: list[bytes]) -> list[bytes]:
    return [*lines[:-1], lines[-1] + b"x"]


def _joined_past_the_read_limit(lines: list[bytes]) -> list[bytes]:
    return [*lines[:-3], b"".join(lines[-3:]) + b"x" * (KEEP_LIMIT + 1)]


@pytest.mark.parametrize(
    "damage",
    [_three_joined, _junk_before_the_last, _junk_after_the_last, _joined_past_the_read_limit],
    ids=["three-joined", "junk-before", "junk-after", "past-the-read-limit"],
)
@pytest.mark.parametrize("hmac_key", [None, b"k" * 32], ids=["sha256", "hmac"])
def test_records_joined_after_the_last_newline_are_never_dropped_as_a_torn_line(
    log_path: Path, hmac_key: bytes | None, damage: Callable[[list[bytes]], list[bytes]]
) -> None:
    """The last records' newlines removed (or bytes put before or after the last one) leave
    whole records after the last newline: no write cut off leaves that (it leaves part of one
    record). The next writer dropped them as "a torn final line of N bytes", and `verify`
    then passed with the records gone. It fails closed as on any damage, changing nothing."""
    make_log(log_path, 6, hmac_key)
    write_lines(log_path, damage(lines_of(log_path)), final_newline=False)
    before = log_path.read_bytes()

    with audit.AuditLog(log_path, fsync=False, hmac_key=hmac_key) as log:
        for _ in range(2):  # the second from what the first found
            with pytest.raises(AuditError, match=r"record\(s\) one after another") as caught:
                log.write("requested")
    assert log_path.read_bytes() == before
    joined = 1 if damage in (_junk_before_the_last, _junk_after_the_last) else 3
    line = 6 if joined == 1 else 4
    assert caught.value.detail.startswith(
        f"{log_path}:{line}: the bytes after its last newline hold {joined} whole record(s)"
    )


def test_records_after_a_megabyte_of_junk_past_the_last_newline_are_not_dropped(
    log_path: Path,
) -> None:
    """Only the first `KEEP_LIMIT` bytes of a long torn tail were read: junk that long, then
    whole records, was dropped as "a torn final line" and `verify` passed with the records
    gone. Past those bytes no write leaves anything but zeros: the writer fails closed."""
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(
        log_path, [*lines[:-3], b"x" * (KEEP_LIMIT + 1) + b"".join(lines[-3:])], final_newline=False
    )
    before = log_path.read_bytes()
    with (
        audit.AuditLog(log_path, fsync=False) as log,
        pytest.raises(AuditError, match="which no write cut off leaves") as caught,
    ):
        log.write("requested")
    size = KEEP_LIMIT + 1 + sum(len(line) for line in lines[-3:])
    assert f"newline are {size} bytes, not zeros past the first {KEEP_LIMIT}" in (
        caught.value.detail
    )
    assert log_path.read_bytes() == before


@pytest.mark.parametrize(
    "tail",
    [
        lambda line: line + b"\0" * 100,
        lambda line: line[:50] + b"\0" * (KEEP_LIMIT + 10),
        lambda line: b"\0" * (KEEP_LIMIT + 10),
    ],
    ids=["a-record-then-zeros", "part-then-zeros-past-the-limit", "zeros-past-the-limit"],
)
def test_what_a_crash_leaves_with_zeros_is_still_a_torn_line(
    log_path: Path, tail: Callable[[bytes], bytes]
) -> None:
    """A file system may leave zeros where a crash lost the end of a write (its newline, or
    more): a record, or part of one, followed by zeros, however many, is a torn line as
    before, dropped and recorded."""
    make_log(log_path, 3)
    whole = lines_of(log_path)
    with log_path.open("ab") as stream:
        stream.write(tail(whole[-1].replace(b'"m:2"', b'"m:3"')))
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert records_of(log_path)[3]["event"] == "repaired"
    assert audit.verify([log_path]).ok


def test_part_of_one_record_after_the_last_newline_is_still_a_torn_line(log_path: Path) -> None:
    """What a write cut off leaves (the start of its record, however long) is dropped and
    recorded as before: only whole records are held back."""
    make_log(log_path, 3)
    whole = lines_of(log_path)
    with log_path.open("ab") as stream:
        stream.write(whole[-1][:-1])
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert records_of(log_path)[3]["event"] == "repaired"
    assert audit.verify([log_path]).ok


def test_every_writer_sees_a_torn_tail_as_the_others_left_it(log_path: Path) -> None:
    make_log(log_path, 3)
    first = audit.AuditLog(log_path, fsync=False)
    first.write("requested", notes=["x"])
    append_torn_line(log_path)
    second = audit.AuditLog(log_path, fsync=False)
    second.write("requested", notes=["y"])
    first.write("requested", notes=["z"])  # its cached tail is stale: it must reread
    first.close()
    second.close()
    events = [r["event"] for r in records_of(log_path)]
    assert events == ["requested"] * 4 + ["repaired"] + ["requested"] * 2
    assert audit.verify([log_path]).ok


def test_damaged_last_line_fails_every_write_until_repaired(log_path: Path) -> None:
    make_log(log_path, 3)
    with log_path.open("ab") as stream:
        stream.write(b"this is not a record\n")
    damaged = log_path.read_bytes()
    log = audit.AuditLog(log_path, fsync=False)
    for _ in range(2):
        with pytest.raises(AuditError) as caught:
            log.write("requested")
        message = str(caught.value)
        assert str(log_path) in message
        assert "line 4" in message
        assert f"rds-guard audit repair {log_path}" in message
    assert log_path.read_bytes() == damaged  # fail closed: nothing written, nothing changed

    result = audit.repair(log_path)
    assert result.repaired and result.first_line == 4 and result.lines_moved == 1
    assert result.moved_to is not None
    assert result.moved_to.read_bytes() == b"this is not a record\n"
    assert result.moved_to.name.startswith("audit.jsonl.damaged-")
    log.write("requested", notes=["after"])
    log.close()
    records = records_of(log_path)
    assert [r["event"] for r in records] == ["requested"] * 3 + ["repaired", "requested"]
    assert records[3]["dropped_bytes"] == len(b"this is not a record\n")
    assert records[3]["dropped_sha256"] == hashlib.sha256(b"this is not a record\n").hexdigest()
    assert audit.verify([log_path]).ok


@pytest.mark.parametrize(
    "line",
    [b"[1, 2]", b'{"prev": "abc", "seq": 1}', b'{"prev":"' + b"0" * 64 + b'","seq":"1"}', b""],
)
def test_what_is_not_a_record(log_path: Path, line: bytes) -> None:
    make_log(log_path, 1)
    with log_path.open("ab") as stream:
        stream.write(line + b"\n")
    with pytest.raises(AuditError, match="line 2 is not an audit record"):
        audit.AuditLog(log_path, fsync=False).write("requested")


# --- a write that fails -------------------------------------------------------------------


def test_a_file_size_limit_is_an_audit_error_and_leaves_no_torn_line(log_path: Path) -> None:
    code = f"""
import resource, signal
from rds_guard import audit, errors
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
log = audit.AuditLog({str(log_path)!r})
for _ in range(3):
    log.write("requested")
size = log.path.stat().st_size
for room in (100, 0):  # part of a record fits, then nothing does
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, resource.RLIM_INFINITY))
    try:
        log.write("requested")
    except errors.AuditError as exc:
        print(exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
print(size)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    first, second, size = result.stdout.splitlines()
    assert "short write" in first and "the partial line was removed" in first
    assert str(log_path) in second and "file too large" in second
    assert log_path.stat().st_size == int(size)
    result_verify = audit.verify([log_path])
    assert (result_verify.ok, result_verify.records) == (True, 3)


def _private_mount_available() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _private_mount_available(),
    reason="needs root and a private mount namespace (unshare -m) to mount a small tmpfs",
)


def _in_tmpfs(mount_point: Path, size: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with a fresh tmpfs of ``size`` at ``mount_point``, in its own namespace."""
    mount_point.mkdir()
    shell = (
        f'mount -t tmpfs -o size={size} tmpfs {mount_point} && exec "{sys.executable}" -c "$SCRIPT"'
    )
    env = subprocess_env()
    env["SCRIPT"] = script
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@needs_mount
def test_a_full_disk_is_an_audit_error_and_leaves_no_torn_line(tmp_path: Path) -> None:
    mount_point = tmp_path / "small"
    script = f"""
import json, os
from rds_guard import audit, errors
path = {str(mount_point / "audit.jsonl")!r}
log = audit.AuditLog(path)
log.write("requested", notes=["x" * 300])
filler = os.open({str(mount_point / "filler")!r}, os.O_WRONLY | os.O_CREAT)
try:
    while os.write(filler, b"f" * 4096):
        pass
except OSError:
    pass
errors_seen = []
for _ in range(40):
    try:
        log.write("requested", notes=["x" * 300])
    except errors.AuditError as exc:
        errors_seen.append(str(exc))
        break
data = open(path, "rb").read()
print(json.dumps({{"errors": errors_seen, "verify": audit.verify([path]).summary(),
                  "ends_with_newline": data.endswith(b"\\n"), "lines": data.count(b"\\n")}}))
"""
    result = _in_tmpfs(mount_point, "64k", script)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["errors"]) == 1
    assert "audit.jsonl" in report["errors"][0]
    assert "short write" in report["errors"][0] or "no space left" in report["errors"][0]
    assert report["ends_with_newline"]
    assert report["verify"].startswith(f"ok: {report['lines']} records")


@needs_mount
def test_a_read_only_file_system_is_an_audit_error(tmp_path: Path) -> None:
    mount_point = tmp_path / "ro"
    script = f"""
import subprocess
from rds_guard import audit, errors
path = {str(mount_point / "audit.jsonl")!r}
audit.AuditLog(path).write("requested")
subprocess.run(["mount", "-o", "remount,ro", {str(mount_point)!r}], check=True)
for target in (path, {str(mount_point / "new.jsonl")!r}):
    try:
        audit.AuditLog(target).write("requested")
    except errors.AuditError as exc:
        print(exc)
"""
    result = _in_tmpfs(mount_point, "1m", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all("read-only file system" in line for line in lines)
    assert "audit.jsonl" in lines[0] and "new.jsonl" in lines[1]


def _failing(
    monkeypatch: pytest.MonkeyPatch,
    log: audit.AuditLog,
    name: str,
    fake: Callable[..., object],
) -> None:
    """Make ``os.<name>`` misbehave for the log's own descriptor only."""
    real = getattr(os, name)

    def patched(fd: int, *args: object) -> object:
        if fd == log._fd:
            return fake(real, fd, *args)
        return real(fd, *args)

    monkeypatch.setattr(os, name, patched)


def test_a_short_write_is_truncated_back(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["a"])
    before = log_path.read_bytes()

    def half(real: Callable[[int, bytes], int], fd: int, data: bytes) -> int:
        return real(fd, data[: len(data) // 2])

    _failing(monkeypatch, log, "write", half)
    with pytest.raises(AuditError, match="short write"):
        log.write("requested", notes=["b"])
    assert log_path.read_bytes() == before
    monkeypatch.undo()
    log.write("requested", notes=["c"])
    log.close()
    assert_whole([log_path], {"a", "c"})


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failed_write_or_fsync_leaves_no_record(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    log = audit.AuditLog(log_path, fsync=True)
    log.write("requested", notes=["a"])
    before = log_path.read_bytes()

    def fail(real: Callable[..., object], fd: int, *args: bytes) -> None:
        if args:
            real(fd, args[0][:10])  # a partial write before the failure
        raise OSError(code, os.strerror(code))

    _failing(monkeypatch, log, "write" if code == errno.ENOSPC else "fsync", fail)
    with pytest.raises(AuditError) as caught:
        log.write("requested", notes=["b"])
    assert str(log_path) in str(caught.value)
    if code == errno.ENOSPC:
        assert "no space left on device" in str(caught.value)
    assert log_path.read_bytes() == before
    monkeypatch.undo()
    log.write("requested", notes=["c"])
    log.close()
    assert_whole([log_path], {"a", "c"})


def test_a_failing_path_check_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the path cannot be checked after the lock is taken, the AuditError does not leave the
    file locked for every other writer."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False)
    log.write("blocked", call="a")
    real_lstat = os.lstat

    def denied(target: object, *args: object, **kwargs: object) -> os.stat_result:
        if Path(str(target)) == path:
            raise OSError(errno.EACCES, "Permission denied")
        return real_lstat(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "lstat", denied)
    with pytest.raises(AuditError, match="cannot stat: permission denied"):
        log.write("blocked", call="b")
    monkeypatch.setattr(os, "lstat", real_lstat)
    other = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the lock was kept
    finally:
        os.close(other)
    log.write("blocked", call="c")
    assert [r["call"] for r in audit.read_records(path)] == ["a", "c"]
    log.close()


def test_held_if_free_holds_the_locks_from_its_check_through_the_block(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`AuditLog.held_if_free` (where the async guard writes on its loop only when it yields
    True): False, opening and making nothing, before the log is open in this process; True
    once it is and nobody holds it, and then no other open file of the log (another process's
    writer) can take its ``flock`` until the block ends: the records written in it are
    written under the locks the check took, logged as the block ends, which leaves neither
    lock taken. False while another open file holds the ``flock``, while another thread holds
    the log's thread lock, once the file was replaced (rotated: the new one may be held) and
    after `close`. Before, the check let both locks go, and a lock taken before the write
    that followed was waited for where the write ran (the loop: every task stopped)."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.2)
    with log.held_if_free() as held:
        assert not held and not path.exists()
    log.write("requested")
    caplog.set_level(logging.INFO, logger="rds_guard.audit")
    with log.held_if_free() as held:
        assert held and not flock_free(path)
        log.write("created", call="a")
        log.write("created", call="b")
        assert not flock_free(path)
        assert not caplog.records  # logged once the locks are let go
    assert [r.audit_record["call"] for r in caplog.records] == ["a", "b"]  # type: ignore[attr-defined]
    assert flock_free(path) and not log._lock.locked()
    other = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with log.held_if_free() as held:
            assert not held
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
    with log._lock, log.held_if_free() as held:
        assert not held
    log.write("requested")
    assert [record["seq"] for record in records_of(path)] == [1, 2, 3, 4]
    path.rename(tmp_path / "archive.jsonl")
    path.touch()
    with log.held_if_free() as held:
        assert not held
    log.close()
    with log.held_if_free() as held:
        assert not held and log._fd is None


def test_a_record_written_in_another_thread_during_a_held_block_waits_for_it(
    tmp_path: Path,
) -> None:
    """The block holds the log for its own thread alone: another thread's record waits for
    its end (and is written, chained after the block's), never written under locks another
    thread holds."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=5)
    log.write("requested", call="first")
    done = threading.Event()
    with log.held_if_free() as held:
        assert held
        thread = threading.Thread(target=lambda: (log.write("created", call="other"), done.set()))
        thread.start()
        assert not done.wait(0.2)
        log.write("created", call="held")
    thread.join(5)
    assert done.is_set()
    assert [record["call"] for record in records_of(path)] == ["first", "held", "other"]
    assert audit.verify([path]).ok


def test_a_block_that_finds_the_log_held_leaves_the_holders_block_alone(
    tmp_path: Path,
) -> None:
    """Another thread's `held_if_free` while this one is in its block (two event loops in
    two threads sharing a guard) yields False and ends nothing of this one's: its records are
    still written under the locks it holds. Before, the other thread's block, holding
    nothing, cleared this one's, whose next record then waited for the lock its own thread
    held, for ``lock_timeout``, and was lost."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.5)
    log.write("requested", call="first")
    found: list[bool] = []

    def other_loop() -> None:
        with log.held_if_free() as held:
            found.append(held)

    with log.held_if_free() as held:
        assert held
        thread = threading.Thread(target=other_loop)
        thread.start()
        thread.join(5)
        log.write("created", call="held")
    assert found == [False]
    assert [record["call"] for record in records_of(path)] == ["first", "held"]


def test_a_held_block_that_raises_lets_both_locks_go_and_logs_its_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The step run in a held block raises (a call blocked after its record): both locks are
    let go (another open file takes the ``flock`` at once, the thread lock is free) and the
    record written before the raise is in the file and logged."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.2)
    log.write("requested", call="first")
    caplog.set_level(logging.INFO, logger="rds_guard.audit")
    with pytest.raises(RuntimeError, match="blocked"), log.held_if_free() as held:
        assert held
        log.write("blocked", call="held")
        raise RuntimeError("blocked")
    assert flock_free(path) and not log._lock.locked()
    assert [r.audit_record["call"] for r in caplog.records] == ["held"]  # type: ignore[attr-defined]
    assert [record["call"] for record in records_of(path)] == ["first", "held"]


def test_a_record_written_from_its_own_thread_mid_record_in_a_held_block_breaks_no_chain(
    tmp_path: Path,
) -> None:
    """A record written from the block's own thread while the block writes one (a signal
    handler's, run at a function's entry once the end of the file is read) does not take the
    block's locks: it waits for them as any other writer and fails after ``lock_timeout``,
    and the block's record is chained as read. Taking them, it would have been appended
    after the end the block's record was chained onto: the chain broken in the file."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.2)
    log.write("requested", call="first")
    append = audit.AuditLog._append_record.__code__
    nested: list[str] = []
    previous = sys.gettrace()

    def tracer(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is append and not nested:
            nested.append("tried")
            try:
                log.write("requested", call="nested")
                nested.append("written")
            except AuditError:
                nested.append("waited")
        return None

    with log.held_if_free() as held:
        assert held
        sys.settrace(tracer)
        try:
            log.write("created", call="held")
        finally:
            sys.settrace(previous)
    assert nested == ["tried", "waited"]
    assert [record["call"] for record in records_of(path)] == ["first", "held"]
    assert audit.verify([path]).ok


def test_a_signal_as_a_held_block_ends_leaves_both_locks_free(tmp_path: Path) -> None:
    """A KeyboardInterrupt (any signal handler's exception) at the entry of the first
    function of the audit package the block's end calls leaves both locks free: the file is
    unlocked by C calls alone, its descriptor kept as the ``flock`` was taken, and the thread
    lock released whatever the unlock raises. Before, that function was the look-up of the
    descriptor, in the one ``finally`` with the release: the thread lock (and the ``flock``)
    was held for good, and every later record of the process waited ``lock_timeout`` and
    failed, nothing sent."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.5)
    log.write("requested", call="first")
    block = audit.AuditLog.held_if_free.__wrapped__.__code__  # type: ignore[attr-defined]
    package = str(Path(audit.__file__).parent)
    ended: list[bool] = []

    def at_the_end(frame: FrameType, event: str) -> bool:
        ours = frame.f_code.co_filename.startswith(package) and frame.f_code is not block
        return bool(ended) and event == "call" and ours

    with (
        pytest.raises(KeyboardInterrupt),
        interrupted_once(at_the_end) as where,
        log.held_if_free() as held,
    ):
        assert held
        log.write("created", call="held")
        ended.append(True)
    assert where and flock_free(path) and not log._lock.locked()
    log.write("requested", call="after")
    assert [record["call"] for record in records_of(path)] == ["first", "held", "after"]


def test_a_held_block_whose_descriptor_was_closed_unlocks_no_other_file(tmp_path: Path) -> None:
    """The log's descriptor closed inside the block (as a writer does that finds the log
    replaced) and its number given to another file, locked by its owner: the block's end
    lets go of the log's lock only, never that file's (it unlocked the number it had locked,
    another file's by then)."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.2)
    log.write("requested", call="first")
    other_path = tmp_path / "other"
    other_path.touch()
    with log.held_if_free() as held:
        assert held
        number = log._fd
        log._drop_fd(close=True)
        other = os.open(other_path, os.O_RDONLY)
        assert other == number  # the lowest free number: the one just closed
        fcntl.flock(other, fcntl.LOCK_EX)
    try:
        assert not flock_free(other_path)  # its owner's lock stands
        assert not log._lock.locked()
    finally:
        os.close(other)


def _after_the_record() -> Callable[[FrameType, str], bool]:
    """For `interrupted_once`: the entry of the first function of rds_guard's audit package
    called once the record is appended (as a signal's handler runs at a function's entry)."""
    written: list[bool] = []
    package = str(Path(audit.__file__).parent)
    append = audit.AuditLog._append_record.__code__

    def when(frame: FrameType, event: str) -> bool:
        if frame.f_code is append:
            written.extend([True] if event == "return" else [])
            return False
        return bool(written) and event == "call" and frame.f_code.co_filename.startswith(package)

    return when


@pytest.mark.parametrize("closing", [False, True], ids=["write", "write-as-close-is-asked"])
def test_a_signal_as_a_record_lets_go_of_the_log_leaves_both_locks_free(
    tmp_path: Path, closing: bool
) -> None:
    """A KeyboardInterrupt (any signal handler's exception) at the entry of the first function
    the writer calls once its record is appended leaves both locks free, and loses no close:
    the writer unlocks the file and releases its thread lock by C calls alone, with no
    function's entry between, where a handler could run, and the record's thread closes the
    file afterwards. With ``closing``, `close` was called while the record waited for another
    open file's ``flock``: the interrupt comes as that thread goes to close the file, which
    the next record then does. Before, it came as the file's ``flock`` was to be let go (still
    held by this process) or as the thread lock was to be released (held for good)."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=30)
    log.write("requested")
    other = os.open(path, os.O_RDONLY)
    if closing:
        fcntl.flock(other, fcntl.LOCK_EX)
    caught: list[BaseException] = []
    raised: list[str] = []

    def write() -> None:
        with interrupted_once(_after_the_record()) as where:
            try:
                log.write("requested")
            except KeyboardInterrupt as exc:
                caught.append(exc)
        raised.extend(where)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        if closing:
            while not log._lock.locked():
                time.sleep(0.001)
            call_with_timeout(log.close, 10)
            fcntl.flock(other, fcntl.LOCK_UN)
        thread.join(30)
        assert caught and raised == (["_close_file"] if closing else ["_emit"])
        assert not log._lock.locked()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the file's lock is free too
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
    assert log._fd is not None  # the close the interrupt stopped is still asked for
    log.write("requested")
    assert log._fd is None if closing else log._fd is not None
    log.close()
    assert [record["seq"] for record in records_of(path)] == [1, 2, 3]


@pytest.mark.parametrize("holder", ["write", "exclusive"])
def test_close_does_not_wait_for_a_record_held_up_and_the_holder_closes_the_file(
    tmp_path: Path, holder: str
) -> None:
    """`close` (what uninstall calls) while another thread holds the log, waiting for another
    process's lock (another open file's ``flock`` stands for it) to write a record or to
    maintain it: close returns at once, the record is written once the lock is let go, and
    that thread closes the file as it lets go of the log; a later record opens it again.
    Before, close waited for the thread, as long as the other process held the log."""
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, fsync=False, lock_timeout=30)
    log.write("requested")
    other = os.open(path, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)

    def hold() -> None:
        if holder == "write":
            log.write("requested")
        else:
            with log.exclusive():
                pass

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        while not log._lock.locked():
            time.sleep(0.001)
        call_with_timeout(log.close, 10)  # a hang: before, it waited as long as the other
        assert thread.is_alive()
    finally:
        os.close(other)
        thread.join(30)
    assert log._fd is None
    log.write("requested")
    assert log._fd is not None
    log.close()
    assert log._fd is None
    seqs = [record["seq"] for record in records_of(path)]
    assert seqs == ([1, 2, 3] if holder == "write" else [1, 2])

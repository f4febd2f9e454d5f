"""The audit log: format, chain, concurrency, crash safety, refusals, maintenance."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import itertools
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audit_helpers import (
    assert_whole,
    call_with_timeout,
    lines_of,
    make_log,
    markers,
    records_of,
    run_python,
    subprocess_env,
    synthetic_log,
    wait_child,
    wait_for_lines,
    write_lines,
    write_records,
)

from rds_guard import audit
from rds_guard.audit import writer
from rds_guard.errors import AuditError, Violation

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
PREFIX = re.compile(rb'\{"prev":"[0-9a-f]{64}","seq":[1-9][0-9]*,')


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


# --- the record ---------------------------------------------------------------------------


def test_contract_constants() -> None:
    assert audit.RECORD_FIELDS == (
        "prev",
        "seq",
        "time",
        "event",
        "call",
        "service",
        "operation",
        "region",
        "snapshot",
        "source",
        "arn",
        "tags",
        "injected",
        "inherited",
        "violations",
        "error",
        "request_id",
        "policy",
        "pid",
        "host",
        "notes",
    )
    assert {
        "blocked",
        "requested",
        "created",
        "failed",
        "unknown",
        "tagged",
        "untagged",
        "shared",
        "unshared",
        "deleted",
        "repaired",
        "rotated",
    } == audit.EVENTS


def test_record_has_every_field_in_order_with_defaults(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False, policy_sha256="ab" * 32)
    returned = log.write("blocked", operation="CreateDBSnapshot")
    log.close()
    [line] = lines_of(log_path)
    record = json.loads(line)
    assert list(record) == list(audit.RECORD_FIELDS)
    assert record == returned
    assert record["prev"] == audit.ZERO_HASH
    assert record["seq"] == 1
    assert TIME.fullmatch(record["time"])
    assert record["event"] == "blocked"
    assert record["operation"] == "CreateDBSnapshot"
    assert record["policy"] == "ab" * 32
    assert record["pid"] == os.getpid()
    assert record["host"] == socket.gethostname()
    for name in ("call", "service", "region", "snapshot", "source", "arn", "error", "request_id"):
        assert record[name] is None, name
    for name in ("injected", "inherited", "violations", "notes"):
        assert record[name] == [], name
    assert record["tags"] == {}


def test_time_is_utc_now_with_microseconds(log_path: Path) -> None:
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("requested")
    after = datetime.now(UTC)
    written = datetime.strptime(str(record["time"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= written <= after


def test_every_line_starts_with_prev_at_a_fixed_offset(log_path: Path) -> None:
    make_log(log_path, 12, tags={"k": "v"})
    for seq, line in enumerate(lines_of(log_path), start=1):
        assert PREFIX.match(line)
        assert line[:9] == b'{"prev":"'
        assert line[73:81] == b'","seq":'
        assert line[81:].startswith(b"%d," % seq)


def test_fields_are_normalised(log_path: Path) -> None:
    violation = Violation("tags.required", "Tags.team", None, "team is required")
    as_dict = {"rule": "identifier.pattern", "field": "X", "value": "v", "message": "m"}
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write(
            "failed",
            call="c1",
            snapshot="Orders-Manual-1",
            tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}],
            injected=("env",),
            violations=[violation, as_dict],
            error={"code": "SnapshotQuotaExceeded", "message": "too many"},
            notes=["n"],
        )
    assert record["snapshot"] == "orders-manual-1"
    assert record["tags"] == {"team": "a", "env": "prod"}
    assert record["injected"] == ["env"]
    assert record["violations"] == [violation.as_dict(), as_dict]
    assert record["error"] == {"code": "SnapshotQuotaExceeded", "message": "too many"}
    assert json.loads(lines_of(log_path)[0]) == record


def test_untagged_records_list_removed_keys_with_null(log_path: Path) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("untagged", tags={"team": None, "env": None})
    assert json.loads(lines_of(log_path)[0])["tags"] == {"team": None, "env": None}


def test_extra_fields_come_after_the_standard_ones(log_path: Path) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("repaired", dropped_bytes=5, dropped_sha256="0" * 64, rotated_from="x")
    record = json.loads(lines_of(log_path)[0])
    assert list(record) == [*audit.RECORD_FIELDS, "dropped_bytes", "dropped_sha256", "rotated_from"]
    assert record["dropped_bytes"] == 5


@pytest.mark.parametrize(
    "field",
    ["PreSignedUrl", "aws_secret_access_key", "Signature", "credentials", "prev", "seq", "pid"],
)
def test_only_known_fields_are_taken(log_path: Path, field: str) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    with pytest.raises(TypeError, match=field):
        log.write("requested", **{field: "secret"})
    log.close()
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_unknown_event_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError, match="bogus"):
        audit.AuditLog(log_path).write("bogus")
    assert not log_path.exists()


NASTY = [
    "line\nbreak",
    "carriage\rreturn",
    "sep\u2028arator\u2029",
    "lone \ud800 surrogate \udfff",
    'quote " and \\ backslash',
    "nul \x00 and \x1b[31m escape",
    "emoji \U0001f600 and accents é",
    '{"prev":"' + "0" * 64,
]


@pytest.mark.parametrize("value", NASTY)
def test_one_record_is_one_line_whatever_the_values(log_path: Path, value: str) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("tagged", tags={value: value}, snapshot=value, notes=[value])
        log.write("tagged", tags={"plain": "x"})
    data = log_path.read_bytes()
    assert data.count(b"\n") == 2
    assert data.isascii()
    first = json.loads(data.split(b"\n")[0])
    assert first["tags"] == {value: value}
    assert first["notes"] == [value]
    assert audit.verify([log_path]).ok


def test_file_is_created_0600(log_path: Path) -> None:
    old = os.umask(0)
    try:
        make_log(log_path, 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_records_are_logged_at_info(log_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rds_guard.audit")
    make_log(log_path, 3)
    messages = [r.getMessage() for r in caplog.records if r.name == "rds_guard.audit"]
    assert [m.encode() for m in messages] == lines_of(log_path)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "rds_guard.audit")


def test_new_call_id_is_unique_hex() -> None:
    ids = {audit.new_call_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_requested_and_outcome_share_the_call_id(log_path: Path) -> None:
    call = audit.new_call_id()
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested", call=call, snapshot="s1")
        log.write("created", call=call, snapshot="s1", request_id="r-1")
    requested, created = records_of(log_path)
    assert requested["call"] == created["call"] == call
    assert (requested["event"], created["event"]) == ("requested", "created")


# --- the chain ----------------------------------------------------------------------------


def test_chain_is_sha256_of_the_previous_line(log_path: Path) -> None:
    head = make_log(log_path, 5)
    lines = lines_of(log_path)
    assert json.loads(lines[0])["prev"] == "0" * 64
    for before, line in itertools.pairwise(lines):
        assert json.loads(line)["prev"] == hashlib.sha256(before).hexdigest()
    assert head == hashlib.sha256(lines[-1]).hexdigest()
    result = audit.verify([log_path])
    assert (result.ok, result.records, result.head) == (True, 5, head)


def test_chain_is_hmac_sha256_with_a_key(log_path: Path) -> None:
    key = "clé secrète".encode()
    make_log(log_path, 5, hmac_key=key)
    lines = lines_of(log_path)
    for before, line in itertools.pairwise(lines):
        expected = hmac.new(key, before, hashlib.sha256).hexdigest()
        assert json.loads(line)["prev"] == expected
    assert audit.verify([log_path], hmac_key=key).ok


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
    real_scan = writer._scan_tail

    def counting(fd: int, size: int) -> writer._TailScan:
        scans.append(size)
        return real_scan(fd, size)

    monkeypatch.setattr(writer, "_scan_tail", counting)
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


# --- many writers -------------------------------------------------------------------------


def test_eight_threads_share_one_log(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)

    def worker(name: str) -> None:
        for i in range(150):
            log.write("requested", notes=[f"{name}:{i}"])

    threads = [threading.Thread(target=worker, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
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


def test_descriptor_of_another_pid_is_not_used(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    log.write("requested", notes=["a:0"])
    inherited = log._fd
    assert inherited is not None
    log._fd_pid = -1  # as after a fork that bypassed the at-fork hook
    log.write("requested", notes=["a:1"])
    assert log._fd is not None and log._fd != inherited
    os.fstat(inherited)  # left open: closing it could close an unrelated file
    os.close(inherited)
    log.close()
    assert_whole([log_path], {"a:0", "a:1"})


# --- crash safety -------------------------------------------------------------------------


def _appended_torn_line(path: Path) -> bytes:
    """Cut the last record in half as a crash mid-write would; returns the torn bytes."""
    lines = lines_of(path)
    torn = lines[-1][: len(lines[-1]) // 2]
    with path.open("ab") as stream:
        stream.write(torn)
    return torn


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
    _appended_torn_line(log_path)
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


def test_every_writer_sees_a_torn_tail_as_the_others_left_it(log_path: Path) -> None:
    make_log(log_path, 3)
    first = audit.AuditLog(log_path, fsync=False)
    first.write("requested", notes=["x"])
    _appended_torn_line(log_path)
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


def test_repair_moves_everything_from_the_first_bad_line_on(log_path: Path) -> None:
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", *lines[3:]])
    kept = b"".join(line + b"\n" for line in lines[:3])
    moved = b"".join(line + b"\n" for line in [b"garbage", *lines[3:]])
    result = audit.repair(log_path)
    assert (result.first_line, result.lines_moved, result.bytes_moved) == (4, 4, len(moved))
    assert result.moved_to is not None and result.moved_to.read_bytes() == moved
    assert "lines 4-7" in result.describe()
    data = log_path.read_bytes()
    assert data.startswith(kept)
    record = json.loads(data[len(kept) :])
    assert record["event"] == "repaired" and record["seq"] == 4
    assert record["dropped_sha256"] == hashlib.sha256(moved).hexdigest()
    assert result.moved_to.name in record["notes"][0]
    assert audit.verify([log_path]).ok


def test_repair_with_nothing_to_repair_changes_nothing(log_path: Path) -> None:
    make_log(log_path, 3)
    before = log_path.read_bytes()
    result = audit.repair(log_path)
    assert not result.repaired
    assert "nothing to repair" in result.describe()
    assert log_path.read_bytes() == before
    assert list(log_path.parent.iterdir()) == [log_path]


def test_repair_moves_a_torn_tail_aside(log_path: Path) -> None:
    make_log(log_path, 2)
    torn = _appended_torn_line(log_path)
    result = audit.repair(log_path)
    assert result.moved_to is not None and result.moved_to.read_bytes() == torn
    assert result.lines_moved == 1
    assert audit.verify([log_path]).ok


def test_repair_refuses_a_key_that_does_not_match_the_log(log_path: Path) -> None:
    make_log(log_path, 3, hmac_key=b"right")
    with log_path.open("ab") as stream:
        stream.write(b"garbage\n")
    before = log_path.read_bytes()
    with pytest.raises(AuditError, match="HMAC"):
        audit.repair(log_path)
    with pytest.raises(AuditError, match="another key"):
        audit.repair(log_path, hmac_key=b"wrong")
    assert log_path.read_bytes() == before
    assert audit.repair(log_path, hmac_key=b"right").repaired
    assert audit.verify([log_path], hmac_key=b"right").ok


# --- refusals -----------------------------------------------------------------------------


def _refused(path: Path) -> str:
    log = audit.AuditLog(path, fsync=False)
    with pytest.raises(AuditError) as caught:
        call_with_timeout(lambda: log.write("requested"))
    message = str(caught.value)
    assert str(path) in message
    assert caught.value.path == str(path)
    return message


def test_a_symlink_at_the_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real.jsonl"
    make_log(target, 1)
    before = target.read_bytes()
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    assert "symbolic link" in _refused(link)
    assert target.read_bytes() == before


def test_a_dangling_symlink_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    assert "symbolic link" in _refused(link)
    assert not (tmp_path / "elsewhere.jsonl").exists()


def test_a_fifo_without_reader_is_refused_not_waited_on(log_path: Path) -> None:
    os.mkfifo(log_path)
    assert "FIFO" in _refused(log_path)


def test_a_fifo_with_a_reader_is_refused_not_written(log_path: Path) -> None:
    os.mkfifo(log_path)
    reader = os.open(log_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert "a FIFO is at the path" in _refused(log_path)
        assert os.read(reader, 100) == b""  # end of file: nothing went into the pipe
    finally:
        os.close(reader)


def test_a_directory_at_the_path_is_refused(log_path: Path) -> None:
    log_path.mkdir()
    assert "directory" in _refused(log_path)


def test_a_socket_at_the_path_is_refused(tmp_path: Path) -> None:
    path = Path(tempfile.mkdtemp(prefix="rg")) / "s"  # AF_UNIX paths must be short
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert "socket" in _refused(path)
    finally:
        server.close()
        shutil.rmtree(path.parent)


def test_a_device_at_the_path_is_refused(log_path: Path) -> None:
    try:
        os.mknod(log_path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert "character device" in _refused(log_path)


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    assert "directory does not exist" in _refused(tmp_path / "nope" / "audit.jsonl")


_NOBODY = 65534


def _write_as_unprivileged(path: Path) -> str:
    """Try one write from a forked child that dropped root (root ignores permission bits).

    Returns the child's AuditError message. Without root the child just keeps its user.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(_NOBODY)
                os.setuid(_NOBODY)
            try:
                audit.AuditLog(path).write("requested")
            except AuditError as exc:
                os.write(write_end, str(exc).encode())
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    assert wait_child(pid) == 0, "the write did not raise AuditError"
    with os.fdopen(read_end, "rb") as stream:
        return stream.read().decode()


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="rds-guard-audit-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_a_read_only_directory_is_refused(public_dir: Path) -> None:
    locked = public_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    path = locked / "audit.jsonl"
    message = _write_as_unprivileged(path)
    assert str(path) in message and "permission denied" in message
    assert not path.exists()


def test_a_file_without_write_permission_is_refused(public_dir: Path) -> None:
    path = public_dir / "audit.jsonl"
    make_log(path, 1)
    path.chmod(0o444)
    message = _write_as_unprivileged(path)
    assert str(path) in message and "permission denied" in message
    assert len(lines_of(path)) == 1


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


def _failing_on_the_log_file(
    monkeypatch: pytest.MonkeyPatch, path: Path, name: str, after: int, skip_fd: int | None = None
) -> list[str]:
    """Make ``os.<name>`` fail with EIO on any descriptor of the log's file after ``after`` calls.

    Reading the log's end goes through a second descriptor; ``skip_fd`` is left alone. Returns
    the list that the names of the readers that saw the failure are added to (the callers of
    ``fileio.read_blocks``, the one function that calls ``os.pread``).
    """
    real, real_fstat = getattr(os, name), os.fstat
    ino = path.stat().st_ino
    calls, failed_in = itertools.count(), []

    def patched(fd: int, *args: object) -> object:
        if fd != skip_fd and real_fstat(fd).st_ino == ino and next(calls) >= after:
            failed_in.append(traceback.extract_stack(limit=3)[0].name)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd, *args)

    monkeypatch.setattr(os, name, patched)
    return failed_in


_TAIL_SHAPES = {
    "whole": b"",
    "torn": b'{"prev":"' + b"0" * 40,
    "damaged": b"not a record\n",
}


@pytest.mark.parametrize("shape", sorted(_TAIL_SHAPES))
def test_an_io_error_reading_the_log_is_an_audit_error(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    make_log(log_path, 3)
    content = log_path.read_bytes() + _TAIL_SHAPES[shape]
    failed_in: set[str] = set()
    for after in range(8):  # fail the first read, then the second, ...: every read in turn
        log_path.write_bytes(content)
        log = audit.AuditLog(log_path, fsync=False)
        failed = _failing_on_the_log_file(monkeypatch, log_path, "pread", after)
        outcome = None
        try:
            log.write("requested", notes=["x"])
        except AuditError as exc:
            outcome = str(exc)
        finally:
            monkeypatch.undo()
            log.close()
        if failed:
            assert outcome is not None
            assert f"{log_path}: cannot read: Input/output error" in outcome
            assert log_path.read_bytes() == content
        elif shape == "damaged":
            assert outcome is not None and "is not an audit record" in outcome
        else:
            assert outcome is None
        failed_in.update(failed)
    expected = {"whole": "read_range", "torn": "sha256_range", "damaged": "count_newlines"}[shape]
    assert {"read_range", expected} <= failed_in
    if shape != "damaged":  # the lock was released and nothing is left half done
        audit.AuditLog(log_path, fsync=False).write("requested", notes=["y"])
        assert audit.verify([log_path]).ok


def test_an_io_error_on_fstat_of_the_reading_descriptor_is_an_audit_error(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 2)
    for after, action in [(0, "cannot open for reading"), (1, "cannot read")]:
        log = audit.AuditLog(log_path, fsync=False)
        log._own_fd()
        _failing_on_the_log_file(monkeypatch, log_path, "fstat", after, skip_fd=log._fd)
        with pytest.raises(AuditError, match=re.escape(f"{log_path}: {action}: Input/output")):
            log.write("requested")
        monkeypatch.undo()
        log.close()


def test_a_nul_in_the_path_is_an_audit_error(tmp_path: Path) -> None:
    path = tmp_path / "audit\0.jsonl"
    with pytest.raises(AuditError, match="cannot open for appending: embedded null byte") as caught:
        audit.AuditLog(path).write("requested")
    assert caught.value.path == str(path)
    for maintain in (audit.rotate, audit.repair):
        with pytest.raises(AuditError, match="embedded null byte"):
            maintain(path)
    assert list(tmp_path.iterdir()) == []


# --- rotation -----------------------------------------------------------------------------


def test_rotate_starts_a_new_file_that_continues_the_chain(log_path: Path) -> None:
    old_head = make_log(log_path, 5)
    writer = audit.AuditLog(log_path, fsync=False)
    writer.write("requested", notes=["m:5"])  # opened before the rotation
    old_head = hashlib.sha256(lines_of(log_path)[-1]).hexdigest()
    archive = audit.rotate(log_path)
    assert archive == log_path.with_name("audit.jsonl.1-6")
    assert len(lines_of(archive)) == 6
    [rotated] = records_of(log_path)
    assert rotated["event"] == "rotated"
    assert rotated["prev"] == old_head
    assert rotated["seq"] == 7
    assert rotated["rotated_from"] == "audit.jsonl.1-6"
    assert list(rotated)[-1] == "rotated_from"
    writer.write("requested", notes=["m:6"])  # must follow the path to the new file
    writer.close()
    assert len(lines_of(archive)) == 6
    assert_whole([archive, log_path], markers(["m"], 7))
    alone = audit.verify([log_path])
    assert alone.ok and alone.records == 2 and alone.continues == "audit.jsonl.1-6"
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl", "audit.jsonl.1-6"]


def test_rotate_twice_then_verify_the_series(log_path: Path) -> None:
    make_log(log_path, 3)
    first = audit.rotate(log_path)
    make_log(log_path, 2)
    second = audit.rotate(log_path)
    assert (first.name, second.name) == ("audit.jsonl.1-3", "audit.jsonl.4-6")
    result = audit.verify([first, second, log_path])
    assert result.ok and result.records == 7
    wrong_order = audit.verify([second, first, log_path])
    assert (wrong_order.reason, wrong_order.line) == ("reordered", 1)
    gap = audit.verify([first, log_path])
    assert gap.reason == "removed" and gap.path == log_path


def test_rotate_with_a_key(log_path: Path) -> None:
    make_log(log_path, 5, hmac_key=b"k")
    with pytest.raises(AuditError, match="HMAC"):
        audit.rotate(log_path)
    archive = audit.rotate(log_path, hmac_key=b"k")
    make_log(log_path, 2, hmac_key=b"k")
    assert audit.verify([archive, log_path], hmac_key=b"k").ok
    assert audit.verify([archive, log_path]).reason == "key"


def test_rotate_refuses_an_empty_log_and_a_taken_name(log_path: Path) -> None:
    log_path.touch()
    with pytest.raises(AuditError, match="nothing to rotate"):
        audit.rotate(log_path)
    make_log(log_path, 2)
    taken = log_path.with_name("audit.jsonl.1-2")
    taken.write_bytes(b"keep me")
    before = log_path.read_bytes()
    with pytest.raises(AuditError, match="already exists"):
        audit.rotate(log_path)
    assert taken.read_bytes() == b"keep me"
    assert log_path.read_bytes() == before
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl", "audit.jsonl.1-2"]


def _no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "link", refuse)


def test_rotate_without_hard_links_never_leaves_the_path_missing(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 4)
    before = log_path.read_bytes()
    _no_hard_links(monkeypatch)
    path_there: list[bool] = []
    writers: list[threading.Thread] = []
    real_rename, real_replace = os.rename, os.replace

    def rename(src: str | Path, dst: str | Path) -> None:
        path_there.append(os.path.lexists(log_path))
        real_rename(src, dst)
        path_there.append(os.path.lexists(log_path))

    def replace(src: str | Path, dst: str | Path) -> None:
        path_there.append(os.path.lexists(log_path))
        if Path(dst) == log_path:
            # A writer that comes just before the new file takes the path: it must wait for
            # the rotation and then write to the new file, not to a file the replace removes.
            writer = threading.Thread(target=write_records, args=(str(log_path), "w", 1))
            writer.start()
            writer.join(0.5)
            writers.append(writer)
        real_replace(src, dst)
        path_there.append(os.path.lexists(log_path))

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    archive = audit.rotate(log_path)
    [writer] = writers
    writer.join(10)
    assert not writer.is_alive()
    monkeypatch.undo()
    assert_whole([archive, log_path], {f"m:{i}" for i in range(4)} | {"w:0"})
    assert path_there and all(path_there)
    assert archive.read_bytes() == before
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert [r["event"] for r in records_of(log_path)] == ["rotated", "requested"]


def test_rotate_without_hard_links_keeps_a_taken_name_and_cleans_up(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 2)
    before = log_path.read_bytes()
    taken = log_path.with_name("audit.jsonl.1-2")
    taken.write_bytes(b"keep me")
    _no_hard_links(monkeypatch)
    with pytest.raises(AuditError, match="already exists"):
        audit.rotate(log_path)
    assert taken.read_bytes() == b"keep me"
    taken.unlink()
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(taken.name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(AuditError, match="cannot rotate: no space left on device"):
        audit.rotate(log_path)
    monkeypatch.undo()
    assert log_path.read_bytes() == before
    assert [p.name for p in log_path.parent.iterdir()] == ["audit.jsonl"]
    assert audit.rotate(log_path) == taken
    assert taken.read_bytes() == before


def test_rotate_while_processes_write(log_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=write_records, args=(str(log_path), f"r{n}", 200, None, False, 0.002)
        )
        for n in range(3)
    ]
    for process in processes:
        process.start()
    archives = []
    for _ in range(2):
        wait_for_lines(log_path, 100)
        archives.append(audit.rotate(log_path))
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    archives.sort(key=lambda p: int(p.name.rsplit(".", 1)[1].split("-")[0]))
    records = assert_whole([*archives, log_path], markers([f"r{n}" for n in range(3)], 200))
    assert [r["event"] for r in records].count("rotated") == 2


# --- reading ------------------------------------------------------------------------------


def test_read_records_reports_lines_that_are_not_records(log_path: Path) -> None:
    make_log(log_path, 2)
    lines = lines_of(log_path)
    write_lines(log_path, [lines[0], b"oops", lines[1], b'{"prev'], final_newline=False)
    with pytest.raises(AuditError, match=r"audit.jsonl:2: line 2 is not an audit record"):
        list(audit.read_records(log_path))
    bad: list[audit.LogLine] = []
    records = list(audit.read_records(log_path, on_bad_line=bad.append))
    assert [r["seq"] for r in records] == [1, 2]
    assert [(b.number, b.raw, b.complete) for b in bad] == [
        (2, b"oops", True),
        (4, b'{"prev', False),
    ]


def test_read_records_skips_a_torn_final_line_by_default(log_path: Path) -> None:
    make_log(log_path, 2)
    _appended_torn_line(log_path)
    assert [r["seq"] for r in audit.read_records(log_path)] == [1, 2]


# --- verification -------------------------------------------------------------------------


@pytest.fixture
def ten(log_path: Path) -> list[bytes]:
    make_log(log_path, 10)
    return lines_of(log_path)


def _verify(
    path: Path, *, hmac_key: bytes | None = None, head: str | None = None
) -> audit.VerifyResult:
    return audit.verify([path], hmac_key=hmac_key, head=head)


def test_verify_ok(log_path: Path, ten: list[bytes]) -> None:
    result = _verify(log_path)
    assert result.summary() == f"ok: 10 records, head {hashlib.sha256(ten[-1]).hexdigest()}"


def test_verify_an_empty_log(log_path: Path) -> None:
    log_path.touch()
    assert _verify(log_path).summary() == f"ok: 0 records, head {'0' * 64}"


def test_verify_a_flipped_byte(log_path: Path, ten: list[bytes]) -> None:
    ten[4] = ten[4].replace(b'"event":"requested"', b'"event":"requesteD"')
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 5)
    assert result.summary().startswith("line 5: edited: ")


def test_verify_an_edited_prev(log_path: Path, ten: list[bytes]) -> None:
    ten[6] = ten[6][:9] + b"f" * 64 + ten[6][73:]
    write_lines(log_path, ten)
    assert (_verify(log_path).reason, _verify(log_path).line) == ("edited", 7)


def test_verify_an_edited_seq(log_path: Path, ten: list[bytes]) -> None:
    ten[3] = ten[3].replace(b'"seq":4,', b'"seq":9,')
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 4)
    assert "seq was changed" in str(result.detail)


def test_verify_a_deleted_line(log_path: Path, ten: list[bytes]) -> None:
    del ten[5]
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("removed", 6)
    assert "seq jumps from 5 to 7" in str(result.detail)


def test_verify_a_deleted_first_line(log_path: Path, ten: list[bytes]) -> None:
    write_lines(log_path, ten[1:])
    assert (_verify(log_path).reason, _verify(log_path).line) == ("removed", 1)


def test_verify_swapped_lines(log_path: Path, ten: list[bytes]) -> None:
    ten[2], ten[3] = ten[3], ten[2]
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("reordered", 3)


def test_verify_a_duplicated_line(log_path: Path, ten: list[bytes]) -> None:
    ten.insert(4, ten[3])
    write_lines(log_path, ten)
    assert (_verify(log_path).reason, _verify(log_path).line) == ("reordered", 5)


def test_verify_a_line_cut_mid_way(log_path: Path, ten: list[bytes]) -> None:
    data = log_path.read_bytes()
    log_path.write_bytes(data[: len(data) - 40])
    result = _verify(log_path)
    assert (result.reason, result.line) == ("torn", 10)


def test_verify_a_cut_at_a_line_boundary_needs_the_head(log_path: Path, ten: list[bytes]) -> None:
    head = hashlib.sha256(ten[-1]).hexdigest()
    write_lines(log_path, ten[:8])
    assert _verify(log_path).ok
    assert _verify(log_path, head=head.upper()).reason == "head"
    assert _verify(log_path, head=head).line == 8
    write_lines(log_path, ten)
    assert _verify(log_path, head=head).ok


def test_verify_an_edited_last_record_needs_the_head(log_path: Path, ten: list[bytes]) -> None:
    head = hashlib.sha256(ten[-1]).hexdigest()
    ten[-1] = ten[-1].replace(b'"event":"requested"', b'"event":"created"')
    write_lines(log_path, ten)
    assert _verify(log_path).ok
    assert _verify(log_path, head=head).reason == "head"


def test_verify_a_line_that_is_not_a_record(log_path: Path, ten: list[bytes]) -> None:
    ten.insert(3, b"hello")
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 4)
    assert "not an audit record" in str(result.detail)


@pytest.mark.parametrize("rest", [b"this is not json", b'"x":}', b"}}"])
def test_verify_a_last_line_that_is_not_a_record(
    log_path: Path, ten: list[bytes], rest: bytes
) -> None:
    head = hashlib.sha256(ten[-1]).hexdigest()
    with log_path.open("ab") as stream:
        stream.write(b'{"prev":"%s","seq":11,%s\n' % (head.encode(), rest))
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 11)
    assert result.detail == f"{log_path}: not an audit record"
    assert (result.records, result.head) == (10, head)
    with pytest.raises(AuditError, match="line 11 is not an audit record"):
        audit.AuditLog(log_path, fsync=False).write("requested")  # writers agree


def _relink(lines: list[bytes], index: int) -> None:
    """Rechain every line after ``lines[index]``, whatever that line now holds."""
    for at in range(index, len(lines) - 1):
        digest = hashlib.sha256(lines[at]).hexdigest().encode()
        lines[at + 1] = b'{"prev":"' + digest + lines[at + 1][73:]


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda line: line[:-1] + b",this is not json", "not an audit record"),
        (lambda line: b"XXXXXXXXX" + line[9:], "not an audit record"),
        (lambda line: line + b" ", "does not end with }"),
    ],
    ids=["not-json", "prefix", "trailing-space"],
)
def test_verify_a_line_in_the_middle_without_a_records_envelope(
    log_path: Path, ten: list[bytes], edit: Callable[[bytes], bytes], detail: str
) -> None:
    ten[4] = edit(ten[4])
    _relink(ten, 4)  # the next line vouches for it: only its shape gives it away
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line, result.records) == ("edited", 5, 4)
    assert detail in str(result.detail)


def test_verify_checks_the_last_line_of_every_file(log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    make_log(log_path, 2)
    old, new = lines_of(archive), lines_of(log_path)
    old[-1] = old[-1][:73] + b'","seq":3,"x":}'  # links and follows, yet not JSON
    chain = [*old, *new]
    _relink(chain, len(old) - 1)
    write_lines(archive, chain[: len(old)])
    write_lines(log_path, chain[len(old) :])
    result = audit.verify([archive, log_path])
    assert (result.reason, result.line, result.path) == ("edited", 3, archive)
    assert result.detail == f"{archive}: not an audit record"


def test_verify_a_keyed_log_without_the_key(log_path: Path) -> None:
    make_log(log_path, 6, hmac_key=b"k")
    result = _verify(log_path)
    assert (result.reason, result.line) == ("key", 2)
    assert "--key-env" in str(result.detail)


def test_verify_a_plain_log_with_a_key(log_path: Path, ten: list[bytes]) -> None:
    result = _verify(log_path, hmac_key=b"k")
    assert (result.reason, result.line) == ("key", 2)
    assert "plain SHA-256" in str(result.detail)


def test_verify_with_the_wrong_key(log_path: Path) -> None:
    make_log(log_path, 6, hmac_key=b"right")
    assert _verify(log_path, hmac_key=b"right").ok
    assert _verify(log_path, hmac_key=b"wrong").reason == "key"


def test_verify_an_edit_in_a_keyed_log(log_path: Path) -> None:
    make_log(log_path, 8, hmac_key=b"k")
    lines = lines_of(log_path)
    lines[2] = lines[2].replace(b'"notes":["m:2"]', b'"notes":["m:X"]')
    write_lines(log_path, lines)
    result = _verify(log_path, hmac_key=b"k")
    assert (result.reason, result.line) == ("edited", 3)


def test_verify_reports_the_file_of_the_bad_line(log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    make_log(log_path, 3)
    lines = lines_of(archive)
    lines[2] = lines[2].replace(b"m:2", b"m:Z")  # the archive's last line
    write_lines(archive, lines)
    result = audit.verify([archive, log_path])
    assert (result.reason, result.line, result.path) == ("edited", 3, archive)
    assert str(archive) in result.summary()


def test_verify_rejects_a_malformed_head(log_path: Path, ten: list[bytes]) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        _verify(log_path, head="abc")


def test_verify_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        audit.verify([tmp_path / "missing.jsonl"])


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    return path, synthetic_log(path, 150_000)


def test_verify_streams_in_flat_memory(big_log: tuple[Path, str]) -> None:
    path, head = big_log
    assert path.stat().st_size > 60_000_000
    tracemalloc.start()
    try:
        result = audit.verify([path], head=head)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.records == 150_000
    assert peak < 12_000_000


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

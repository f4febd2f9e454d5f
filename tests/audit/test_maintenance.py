"""Maintenance: repair moves damage aside and records it; rotate starts a new file that
continues the chain."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import (
    append_torn_line,
    assert_whole,
    lines_of,
    make_log,
    markers,
    records_of,
    subprocess_env,
    wait_for_lines,
    write_lines,
    write_records,
)

from rds_guard import audit
from rds_guard.audit import maintenance
from rds_guard.audit.fileio import CHUNK
from rds_guard.errors import AuditError

# --- repair -------------------------------------------------------------------------------


def _damaged_log(path: Path, records: int, hmac_key: bytes | None = None) -> bytes:
    """A log of ``records`` records and a line of garbage after them; returns its bytes."""
    make_log(path, records, hmac_key=hmac_key)
    with path.open("ab") as stream:
        stream.write(b"garbage\n")
    return path.read_bytes()


def _unchanged(path: Path, before: bytes) -> None:
    """The log holds what it held, and nothing was made beside it."""
    assert path.read_bytes() == before
    assert list(path.parent.iterdir()) == [path]


def test_repair_refuses_to_move_records_that_follow_the_damage(log_path: Path) -> None:
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", *lines[3:]])
    before = log_path.read_bytes()
    result = audit.repair(log_path)
    assert result.refused is not None and not result.repaired
    assert (result.first_line, result.lines_moved) == (4, 4)
    assert "3 complete record(s) follow the damage at line 4 (the first at line 5)" in (
        result.refused
    )
    assert result.describe().startswith(f"refused: repair would move lines 4-7 of {log_path}")
    assert "--force" in result.describe()
    _unchanged(log_path, before)


def test_repair_refuses_to_move_a_record_after_the_damage_that_lacks_only_its_newline(
    log_path: Path,
) -> None:
    """The record after a damaged line is whole but for its newline (a write cut between the
    two): it may be authentic as much as one with its newline, and repair moved it without
    --force, taking it for a torn tail."""
    make_log(log_path, 5)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", lines[4]], final_newline=False)
    before = log_path.read_bytes()
    result = audit.repair(log_path)
    assert result.refused is not None
    assert "1 complete record(s) follow the damage at line 4 (the first at line 5)" in (
        result.refused
    )
    _unchanged(log_path, before)
    assert audit.repair(log_path, force=True).records_moved == 1


@pytest.mark.parametrize("final_newline", [True, False], ids=["line", "torn"])
def test_repair_refuses_to_move_records_joined_onto_one_line(
    log_path: Path, final_newline: bool
) -> None:
    """The last three records' newlines removed: the line they make is no record, and
    repair moved it (its `repaired` record saying only "moved line 4 (N bytes)"), after
    which `verify` passed with the three records gone from the log. They may be authentic:
    repair refuses, and ``force`` moves them, saying how many."""
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"".join(lines[3:])], final_newline=final_newline)
    before = log_path.read_bytes()
    result = audit.repair(log_path)
    assert result.refused is not None and not result.repaired
    assert (
        "3 whole record(s) lie one after another on lines that are no record (newlines "
        "removed, or bytes added; the first on line 4): they may be authentic"
    ) in result.refused
    _unchanged(log_path, before)
    forced = audit.repair(log_path, force=True)
    assert (forced.repaired, forced.records_moved) == (True, 3)
    assert "3 whole record(s) lie one after another" in forced.forced
    assert "3 whole record(s)" in records_of(log_path)[-1]["notes"][-1]


def test_repair_still_moves_a_line_of_garbage_and_a_torn_part_of_a_record(log_path: Path) -> None:
    """Only whole records are held back: a line of garbage, then the start of a record cut
    off, are moved as before."""
    make_log(log_path, 4)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", lines[3][:40]], final_newline=False)
    result = audit.repair(log_path)
    assert result.refused is None and result.repaired
    assert result.records_moved == 0 and not result.forced


def test_repair_with_force_moves_everything_from_the_first_bad_line_on(log_path: Path) -> None:
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", *lines[3:]])
    kept = b"".join(line + b"\n" for line in lines[:3])
    moved = b"".join(line + b"\n" for line in [b"garbage", *lines[3:]])
    result = audit.repair(log_path, force=True)
    assert (result.first_line, result.lines_moved, result.bytes_moved) == (4, 4, len(moved))
    assert result.records_moved == 3
    assert result.moved_to is not None and result.moved_to.read_bytes() == moved
    assert "lines 4-7" in result.describe() and "forced: 3 complete record(s)" in result.describe()
    data = log_path.read_bytes()
    assert data.startswith(kept)
    record = json.loads(data[len(kept) :])
    assert record["event"] == "repaired" and record["seq"] == 4
    assert record["dropped_sha256"] == hashlib.sha256(moved).hexdigest()
    assert result.moved_to.name in record["notes"][0]
    assert record["notes"][1].startswith("forced: 3 complete record(s) follow the damage")
    assert len(record["notes"]) == 2  # it chains onto line 3
    assert audit.verify([log_path]).ok


def test_repair_with_force_of_a_damaged_first_line_says_the_log_starts_anew(
    log_path: Path,
) -> None:
    """Damage at line 1 with authentic records after it: with ``force`` every line moves
    (the records chain onto the damaged line, and nothing authentic comes before it), and
    the `repaired` record starts the chain again at seq 1. Its notes say so: the file alone
    verifies (one record), and before, only the lines moved told a reader it had restarted."""
    make_log(log_path, 6)
    lines = lines_of(log_path)
    write_lines(log_path, [b"garbage", *lines[1:]])
    result = audit.repair(log_path, force=True)
    assert (result.first_line, result.lines_moved, result.records_moved) == (1, 6, 5)
    (record,) = records_of(log_path)
    assert (record["event"], record["seq"], record["prev"]) == ("repaired", 1, "0" * 64)
    assert record["notes"][2] == (
        "the log starts anew at seq 1: no authentic record came before the damage"
    )


def test_repair_of_a_last_record_that_does_not_link_says_what_broke(log_path: Path) -> None:
    """A record removed before the last one: the last's own digest holds, its link does not.
    repair refuses and ``force`` moves it, each saying a line before it was edited, removed
    or added: the record itself was not edited, and was called "not authentic"."""
    make_log(log_path, 5)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], lines[4]])  # seq 4 removed
    refused = audit.repair(log_path).refused
    said = (
        "line 4 does not chain onto the records before it: a line before it edited, removed "
        "or added (its prev does not link to the line before it)"
    )
    assert refused is not None and said in refused and "not authentic" not in refused
    forced = audit.repair(log_path, force=True)
    assert forced.repaired and forced.why == "line 4 does not chain onto the records before it"
    notes = records_of(log_path)[-1]["notes"]
    assert f"forced: {said}, and was moved" in notes
    assert not any("not authentic" in note for note in notes)


def test_repair_dry_run_says_what_it_would_move_and_changes_nothing(log_path: Path) -> None:
    before = _damaged_log(log_path, 3)
    result = audit.repair(log_path, dry_run=True)
    assert result.dry_run and not result.repaired and result.refused is None
    assert (result.first_line, result.lines_moved, result.bytes_moved) == (4, 1, 8)
    assert result.dropped_sha256 == hashlib.sha256(b"garbage\n").hexdigest()
    assert result.describe().startswith(f"would move line 4 of {log_path} (8 bytes")
    assert "nothing was changed" in result.describe()
    _unchanged(log_path, before)


@pytest.mark.parametrize("dry_run", [False, True])
def test_repair_with_nothing_to_repair_changes_nothing(log_path: Path, dry_run: bool) -> None:
    """Its result says whether it was a dry run, as every other result does."""
    make_log(log_path, 3)
    before = log_path.read_bytes()
    result = audit.repair(log_path, dry_run=dry_run)
    assert not result.repaired and result.dry_run is dry_run
    assert "nothing to repair" in result.describe()
    _unchanged(log_path, before)


def _once(act: Callable[[], None], real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, after running ``act`` on the first call (not on calls ``act`` makes)."""
    state = {"done": False}

    def patched(*args: Any) -> Any:
        if not state["done"]:
            state["done"] = True
            act()
        return real(*args)

    return patched


@pytest.mark.parametrize("dry_run", [False, True])
def test_repair_reads_the_log_without_holding_writers_back(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    make_log(log_path, 6)
    written = []

    def another_writer() -> None:  # while repair reads the log: must not wait for its lock
        with audit.AuditLog(log_path, fsync=False, lock_timeout=0.2) as log:
            written.append(log.write("requested", call=audit.new_call_id()))

    monkeypatch.setattr(os, "pread", _once(another_writer, os.pread))
    result = audit.repair(log_path, dry_run=dry_run)
    assert written and written[0]["seq"] == 7
    assert not result.repaired and result.refused is None
    assert result.first_line == 8  # the record appended meanwhile was read too
    assert audit.verify([log_path]).ok


def test_repair_never_takes_a_torn_tail_a_writer_replaces_while_it_reads_for_damage(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash left zero bytes after the last newline, across the first block repair reads;
    right after repair's first read, a guarded call's writer puts its records in their place.
    Repair must not take the mix of the two versions it could read for damage, and move the
    writer's records aside: the writer repaired the tail, and there is nothing left to do."""
    make_log(log_path, 1)
    with audit.AuditLog(log_path, fsync=False) as log:
        while log_path.stat().st_size < CHUNK - 1500:
            log.write("requested", call=audit.new_call_id(), notes=["m"])
    with log_path.open("ab") as stream:
        stream.write(b"\0" * 4096)  # across the block boundary, no newline
    written = []

    def another_writer() -> None:
        with audit.AuditLog(log_path, fsync=False) as log:  # past the block boundary again
            written.append(log.write("requested", call=audit.new_call_id())["seq"])
            while log_path.stat().st_size <= CHUNK:
                written.append(log.write("requested", call=audit.new_call_id())["seq"])

    real = os.pread
    state = {"first": True}

    def pread(fd: int, length: int, offset: int) -> bytes:
        data = real(fd, length, offset)
        if state["first"]:  # after repair's first read
            state["first"] = False
            another_writer()
        return data

    monkeypatch.setattr(os, "pread", pread)
    result = audit.repair(log_path)
    monkeypatch.setattr(os, "pread", real)
    assert written and result.refused is None and not result.repaired
    kept = {record["seq"] for record in records_of(log_path)}
    assert set(written) <= kept
    assert audit.verify([log_path]).ok


def test_repair_reads_under_the_lock_only_what_it_had_not_read(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A healthy log of a megabyte: the whole read happens before the lock; under it, repair
    reads the log's end (to authenticate the record a repaired one would chain onto), not the
    log again."""
    make_log(log_path, 1)
    with audit.AuditLog(log_path, fsync=False) as log:
        while log_path.stat().st_size < CHUNK:
            log.write("requested", call=audit.new_call_id(), notes=["m"])
    read = {"before": 0, "under": 0}
    locked = {"now": False}
    real_pread, real_flock = os.pread, fcntl.flock

    def pread(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        read["under" if locked["now"] else "before"] += len(data)
        return data

    def flock(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        locked["now"] = not operation & fcntl.LOCK_UN

    monkeypatch.setattr(os, "pread", pread)
    monkeypatch.setattr(fcntl, "flock", flock)
    result = audit.repair(log_path, dry_run=True)
    assert not result.repaired and result.refused is None
    assert read["before"] >= CHUNK and read["under"] < CHUNK // 16


def test_repair_reads_again_a_log_rewritten_before_it_locks(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 6)
    lines = lines_of(log_path)
    # Same file, longer than before, but its lines are not the ones read without the lock.
    rewritten = [*lines[:3], b"x" * 4000, *lines[3:5]]
    monkeypatch.setattr(
        fcntl, "flock", _once(lambda: write_lines(log_path, rewritten), fcntl.flock)
    )
    result = audit.repair(log_path)
    assert result.refused is not None and not result.repaired
    assert (result.first_line, result.lines_moved) == (4, 3)
    assert "2 complete record(s) follow the damage at line 4" in result.refused
    assert lines_of(log_path) == rewritten


def test_repair_reads_again_a_log_rotated_before_it_locks(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 3)

    def rotate_and_write() -> None:
        audit.rotate(log_path)
        make_log(log_path, 6)  # the new file outgrows the old one

    monkeypatch.setattr(fcntl, "flock", _once(rotate_and_write, fcntl.flock))
    result = audit.repair(log_path)
    assert not result.repaired and result.refused is None
    assert result.first_line == 8  # the new file's rotated record and six more
    assert audit.verify([log_path]).ok


def test_repair_leaves_a_file_that_holds_no_record_as_it_is(log_path: Path) -> None:
    """An audit path given by mistake (the policy file, say) is not emptied into .damaged."""
    log_path.write_bytes(b'version = 1\nmode = "enforce"\n[tags]\nrequired = ["team"]\n')
    before = log_path.read_bytes()
    for dry_run in (False, True):
        result = audit.repair(log_path, dry_run=dry_run)
        assert result.refused is not None and not result.repaired
        assert result.dry_run is dry_run
        assert (result.first_line, result.lines_moved) == (1, 4)
        assert "no line of it is an audit record; is it an audit log?" in result.refused
        _unchanged(log_path, before)
    forced = audit.repair(log_path, force=True)
    assert forced.moved_to is not None and forced.moved_to.read_bytes() == before
    assert [record["event"] for record in records_of(log_path)] == ["repaired"]


@pytest.mark.parametrize(
    "content",
    [b"SECRETTOKEN", b"\xff\xfe\x00bin", b"\0" * 64 + b"IMPORTANT DATA"],
    ids=["token", "binary", "zeros then text"],
)
def test_repair_leaves_bytes_with_no_newline_that_cannot_be_a_record_as_they_are(
    log_path: Path, content: bytes
) -> None:
    """A token or a key at the audit path holds no newline: not a first record cut short (it
    does not start as one), so repair leaves it, as writers do (it moved the bytes aside and
    made the file a log)."""
    log_path.write_bytes(content)
    for dry_run in (False, True):
        result = audit.repair(log_path, dry_run=dry_run)
        assert result.refused is not None and not result.repaired
        assert "no line of it is an audit record; is it an audit log?" in result.refused
        _unchanged(log_path, content)
    assert list(log_path.parent.glob("*.damaged-*")) == []


def test_repair_takes_zeros_with_no_newline_for_a_first_record_lost(log_path: Path) -> None:
    """A crashed first write a file system left as zeros is a torn line, repaired."""
    log_path.write_bytes(b"\0" * 40)
    result = audit.repair(log_path)
    assert result.moved_to is not None and result.moved_to.read_bytes() == b"\0" * 40
    assert [record["event"] for record in records_of(log_path)] == ["repaired"]


def test_repair_moves_a_torn_tail_aside(log_path: Path) -> None:
    make_log(log_path, 2)
    torn = append_torn_line(log_path)
    result = audit.repair(log_path)
    assert result.moved_to is not None and result.moved_to.read_bytes() == torn
    assert result.lines_moved == 1
    assert audit.verify([log_path]).ok


@pytest.mark.parametrize("key", [None, b"k"], ids=["sha256", "hmac"])
def test_repair_keeps_a_last_record_that_lacks_only_its_newline(
    log_path: Path, key: bytes | None
) -> None:
    """As a writer does (and as verify says it will): the record is authentic, so it stays in
    the chain, its newline added, with a repaired record that dropped nothing."""
    make_log(log_path, 3, hmac_key=key)
    whole = log_path.read_bytes()
    log_path.write_bytes(whole[:-1])
    dry = audit.repair(log_path, hmac_key=key, dry_run=True)
    assert (dry.kept, dry.repaired, dry.lines_moved) == (3, False, 0)
    assert dry.describe() == (
        f"would add the newline missing at the end of line 3 of {log_path} (seq 3, a whole"
        " authentic record) and append a repaired record; nothing was changed (dry run)"
    )
    assert log_path.read_bytes() == whole[:-1]
    result = audit.repair(log_path, hmac_key=key)
    assert (result.kept, result.moved_to, result.lines_moved) == (3, None, 0)
    assert result.record is not None and result.record["dropped_bytes"] == 0
    assert result.describe() == (
        f"kept line 3 of {log_path} (seq 3, a whole authentic record that lacked only its"
        " newline): added it; appended repaired record seq 4"
    )
    assert log_path.read_bytes().startswith(whole)
    assert [r["seq"] for r in records_of(log_path)] == [1, 2, 3, 4]
    assert list(log_path.parent.iterdir()) == [log_path]
    assert audit.verify(log_path, hmac_key=key).ok
    again = audit.repair(log_path, hmac_key=key)
    assert again.describe().startswith("nothing to repair")


_KILLED_BEFORE_CUT = """
import os, signal, sys
from rds_guard import audit
os.ftruncate = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
audit.repair(sys.argv[1], force=True)
"""


def test_repair_killed_before_it_cuts_leaves_no_moved_record_to_chain_onto(
    log_path: Path,
) -> None:
    """``--force`` moves records that follow the damage. Killed once its record is written
    over the damage's start but before the rest is cut, the records left after it must not
    take writers: the log fails closed until the next repair, which moves them in turn."""
    make_log(log_path, 7)
    lines = lines_of(log_path)
    before = lines[:3]
    write_lines(log_path, [*before, b"garbage", *lines[3:]])  # records after the damage
    whole = log_path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_CUT, str(log_path)],
        env=subprocess_env(),
        timeout=60,
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    [copy] = log_path.parent.glob("audit.jsonl.damaged-*")
    assert whole.endswith(copy.read_bytes())
    with pytest.raises(AuditError), audit.AuditLog(log_path) as log:
        log.write("requested")
    assert audit.repair(log_path).refused is not None
    again = audit.repair(log_path, force=True)
    assert again.record is not None
    events = [r["event"] for r in records_of(log_path)]
    assert lines_of(log_path)[:3] == before and events == ["requested"] * 3 + ["repaired"] * 2
    assert audit.verify(log_path).ok


def test_repair_refuses_a_key_that_does_not_match_the_log(log_path: Path) -> None:
    before = _damaged_log(log_path, 3, hmac_key=b"right")
    with pytest.raises(audit.KeyRequired, match="HMAC-keyed"):
        audit.repair(log_path)
    wrong = audit.repair(log_path, hmac_key=b"wrong")
    assert wrong.refused is not None and "another key" in wrong.refused
    with pytest.raises(AuditError, match="no record of it is authentic under the given key"):
        audit.repair(log_path, hmac_key=b"wrong", force=True)
    plain = make_log(log_path.with_name("plain.jsonl"), 2)
    assert plain
    with pytest.raises(AuditError, match="plain SHA-256"):
        audit.repair(log_path.with_name("plain.jsonl"), hmac_key=b"right")
    assert log_path.read_bytes() == before
    assert audit.repair(log_path, hmac_key=b"right").repaired
    assert audit.verify([log_path], hmac_key=b"right").ok


def test_repair_after_a_single_record(log_path: Path) -> None:
    _damaged_log(log_path, 1)
    result = audit.repair(log_path)
    assert (result.first_line, result.lines_moved) == (2, 1)
    assert [r["event"] for r in records_of(log_path)] == ["requested", "repaired"]
    assert audit.verify([log_path]).ok


class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _FrozenClock:
        return cls(2026, 11, 29, 21, 37, 11, tzinfo=tz)


_DAMAGED_NAME = "audit.jsonl.damaged-20261129T213711Z"  # the name repair picks at that time


def test_repair_takes_the_next_free_name_for_the_damaged_lines(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "datetime", _FrozenClock)
    _damaged_log(log_path, 2)
    damaged = log_path.with_name(_DAMAGED_NAME)
    damaged.write_bytes(b"an earlier repair\n")
    result = audit.repair(log_path)
    assert result.moved_to == log_path.with_name(f"{_DAMAGED_NAME}-1")
    assert result.moved_to.read_bytes() == b"garbage\n"
    assert damaged.read_bytes() == b"an earlier repair\n"


def test_repair_with_no_free_name_changes_nothing(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "datetime", _FrozenClock)
    before = _damaged_log(log_path, 2)
    for attempt in range(100):
        log_path.with_name(_DAMAGED_NAME + (f"-{attempt}" if attempt else "")).touch()
    with pytest.raises(AuditError, match="no free name for the damaged lines"):
        audit.repair(log_path)
    assert log_path.read_bytes() == before


@pytest.mark.parametrize("step", ["create", "write"])
def test_repair_that_cannot_move_the_damage_changes_nothing(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    before = _damaged_log(log_path, 2)
    real_open, real_write = os.open, os.write

    def denied(path: str | Path, *args: int) -> int:
        if ".damaged-" in str(path):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args)

    def full_disk(fd: int, data: bytes) -> int:
        if ".damaged-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if step == "create":
        monkeypatch.setattr(os, "open", denied)
        expected = "cannot create: permission denied"
    else:
        monkeypatch.setattr(os, "write", full_disk)
        expected = "cannot write the damaged lines: no space left on device"
    with pytest.raises(AuditError, match=expected) as caught:
        audit.repair(log_path)
    monkeypatch.undo()
    assert ".damaged-" in str(caught.value.path)
    assert log_path.read_bytes() == before
    assert [p.name for p in log_path.parent.iterdir()] == ["audit.jsonl"]


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
    assert list(rotated)[-3:] == ["rotated_from", "chain", "digest"]
    writer.write("requested", notes=["m:6"])  # must follow the path to the new file
    writer.close()
    assert len(lines_of(archive)) == 6
    assert_whole([archive, log_path], markers(["m"], 7))
    alone = audit.verify([log_path])
    assert alone.ok and alone.records == 2 and alone.continues == "audit.jsonl.1-6"
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl", "audit.jsonl.1-6"]


@pytest.mark.parametrize(
    ("mode", "kept"),
    [(0o640, 0o640), (0o6777, 0o666)],
    ids=["a group's reader", "execute and setuid bits"],
)
def test_rotate_keeps_the_logs_read_and_write_permissions(
    log_path: Path, mode: int, kept: int
) -> None:
    """The new log has the old one's permissions (0640 for a group's log shipper), not the
    0600 of a new file, and the writers write it. Whoever owns the log may set any bit on it:
    a rotation (by another user, who may not give the new file away) must not make a setuid,
    executable file of its own that they can write. Only the read and write bits go over."""
    make_log(log_path, 2)
    log_path.chmod(mode)
    audit.rotate(log_path)
    assert stat.S_IMODE(log_path.stat().st_mode) == kept
    audit.AuditLog(log_path).write("requested", call="after")
    assert audit.verify([log_path]).ok


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a file to another user")
def test_rotate_run_as_root_keeps_the_writers_owner() -> None:
    """Rotation by root (a cron job) of a log an application writes as another user: the
    new log is the application's, not root's, and that user's next write lands in it (it
    was refused: every guarded call failed closed until someone mended the owner)."""
    folder = Path(tempfile.mkdtemp(prefix="rds-guard-rotate-", dir="/tmp"))  # nobody reaches
    try:
        folder.chmod(0o777)
        log_path = folder / "audit.jsonl"
        make_log(log_path, 2)
        os.chown(log_path, 65534, 65534)
        audit.rotate(log_path)
        st = log_path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)
        write = (
            "import os, sys; from rds_guard import audit; log = audit.AuditLog(sys.argv[1]);"
            " os.setgid(65534); os.setuid(65534); log.write('requested', call='as-nobody')"
        )
        # through a shell, so that the test run's coverage does not follow it (it could not
        # write its data as nobody)
        done = subprocess.run(
            ["sh", "-c", '"$0" -c "$1" "$2"; exit $?', sys.executable, write, str(log_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert [r["call"] for r in records_of(log_path)][-1] == "as-nobody"
    finally:
        shutil.rmtree(folder)


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
    before = log_path.read_bytes()
    with pytest.raises(audit.KeyRequired, match="HMAC"):
        audit.rotate(log_path)
    with pytest.raises(AuditError, match="not authentic"):
        audit.rotate(log_path, hmac_key=b"wrong")
    assert log_path.read_bytes() == before
    archive = audit.rotate(log_path, hmac_key=b"k")
    make_log(log_path, 2, hmac_key=b"k")
    assert audit.verify([archive, log_path], hmac_key=b"k").ok
    with pytest.raises(audit.KeyRequired):
        audit.verify([archive, log_path])


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


def test_rotate_refuses_another_file_put_at_the_path_as_it_archives(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who can write the log's directory moves the log away and puts a file of
    their own at its path the moment rotate gives the log its archive name (by the path): the
    archive would have been their file, never authenticated, and the `rotated` record would
    have named it. The name is checked to be the locked file's: refused, the archive name
    taken back, the real log left whole where it was moved."""
    make_log(log_path, 4)
    real = log_path.read_bytes()
    moved = log_path.with_name("hidden.jsonl")
    link = os.link

    def swapped_first(source: Any, target: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(os, "link", link)
        os.rename(log_path, moved)
        log_path.write_bytes(real.splitlines(keepends=True)[0])
        link(source, target, **kwargs)

    monkeypatch.setattr(os, "link", swapped_first)
    with pytest.raises(AuditError, match="another file was put at the path"):
        audit.rotate(log_path)
    assert moved.read_bytes() == real and audit.verify([moved]).ok
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl", "hidden.jsonl"]


@pytest.mark.parametrize(
    "content", [b"\0" * 64 + b"IMPORTANT DATA" * 10, b"SECRETTOKEN"], ids=["zeros", "token"]
)
def test_rotate_refuses_bytes_with_no_newline_that_cannot_be_a_record(
    log_path: Path, content: bytes
) -> None:
    """Zeros a crash left of a first write are a record lost; zeros followed by other bytes
    are not (they were archived as a torn line, only their digest kept): no log, untouched."""
    log_path.write_bytes(content)
    with pytest.raises(audit.NotAnAuditLog, match="hold no newline"):
        audit.rotate(log_path)
    assert log_path.read_bytes() == content
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl"]


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


@pytest.mark.parametrize("step", ["link", "replace"])
def test_rotate_that_fails_leaves_the_log_as_it_was(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    make_log(log_path, 3)
    before = log_path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(AuditError, match="cannot rotate: Input/output error"):
        audit.rotate(log_path)
    monkeypatch.undo()
    assert log_path.read_bytes() == before
    assert [p.name for p in log_path.parent.iterdir()] == ["audit.jsonl"]
    assert audit.rotate(log_path).name == "audit.jsonl.1-3"


def test_repair_that_cannot_write_its_record_keeps_the_damage_in_the_log(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _damaged_log(log_path, 3)
    real_write, real_pwrite = os.write, os.pwrite

    def full_log(fd: int, data: bytes, *offset: int) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") == str(log_path) and b'"repaired"' in bytes(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, *offset) if offset else real_write(fd, data)

    monkeypatch.setattr(os, "write", full_log)
    monkeypatch.setattr(os, "pwrite", full_log)
    with pytest.raises(AuditError, match="no space left on device"):
        audit.repair(log_path)
    monkeypatch.undo()
    # The damage is still in the log (its copy removed), so nothing was cut off unrecorded: a
    # repair that can write its record moves it and says so.
    _unchanged(log_path, before)
    result = audit.repair(log_path)
    assert result.record is not None and result.record["event"] == "repaired"
    assert audit.verify(log_path).ok


_KILLED_BEFORE_REPLACE = """
import errno, os, signal, sys
from pathlib import Path
from rds_guard import audit
path = Path(sys.argv[1])
real_replace = os.replace
def replace(src, dst):
    if Path(dst) == path:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
def no_link(*args, **kwargs):
    raise OSError(errno.EPERM, "no hard links here")
os.replace = replace
if sys.argv[2] == "copy":
    os.link = no_link
audit.rotate(path)
"""


@pytest.mark.parametrize("keeps", ["link", "copy"])
def test_rotate_killed_before_its_replace_leaves_a_name_the_next_rotate_removes(
    log_path: Path, keeps: str
) -> None:
    make_log(log_path, 3)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_REPLACE, str(log_path), keeps],
        env=subprocess_env(),
        timeout=60,
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    stopped = log_path.with_name("audit.jsonl.1-3")
    assert stopped.read_bytes() == log_path.read_bytes()
    make_log(log_path, 2)  # the log lives on, its records chained where the rotate stopped
    assert audit.verify(log_path).ok
    if keeps == "link":  # the stopped name grows with the log: verify says why, not "reordered"
        assert stopped.read_bytes() == log_path.read_bytes()
        with pytest.raises(AuditError, match=r"are one file .* the next rds-guard audit rotate"):
            audit.verify([stopped, log_path])
    archive = audit.rotate(log_path)
    assert archive.name == "audit.jsonl.1-5"
    assert sorted(p.name for p in log_path.parent.iterdir()) == [
        "audit.jsonl",
        "audit.jsonl.1-5",
    ]
    assert audit.verify([archive, log_path]).ok


def test_a_killed_rotate_of_a_log_whose_first_line_is_no_record_is_cleared_too(
    log_path: Path,
) -> None:
    """Its archive name takes the last seq for the first (no first record to read), so it
    changes with every write: the link is found by what it is, not by its name."""
    make_log(log_path, 3)
    write_lines(log_path, [b"not a record", *lines_of(log_path)])
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_REPLACE, str(log_path), "link"],
        env=subprocess_env(),
        timeout=60,
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    make_log(log_path, 2)
    archive = audit.rotate(log_path)
    assert archive.name == "audit.jsonl.5-5"
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl", archive.name]


def test_rotate_removes_only_the_names_a_stopped_rotate_leaves(log_path: Path) -> None:
    make_log(log_path, 3)
    kept = {
        ".audit.jsonl.rotating-notours": lines_of(log_path)[0] + b"\n",
        ".audit.jsonl.rotating-" + "0" * 32: b"a file of someone else's\n",
        "audit.jsonl.1-\u00b2": log_path.read_bytes()[:10],
        "audit.jsonl.1-2.bak": log_path.read_bytes()[:10],
    }
    for name, data in kept.items():
        log_path.with_name(name).write_bytes(data)
    audit.rotate(log_path)
    assert {name for name in kept if log_path.with_name(name).exists()} == set(kept)


def test_rotate_keeps_an_archive_name_that_is_not_the_log(log_path: Path) -> None:
    make_log(log_path, 3)
    other = log_path.with_name("audit.jsonl.1-2")
    other.write_bytes(b"".join(line + b"\n" for line in lines_of(log_path)[:1]) + b"x")
    same_start = log_path.with_name("audit.jsonl.1-9")
    same_start.write_bytes(log_path.read_bytes()[:10])  # the log's first bytes: a stopped copy
    audit.rotate(log_path)
    assert other.exists() and not same_start.exists()


def test_rotate_interrupted_at_its_replace_keeps_the_log_under_one_name(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 3)
    before = log_path.read_bytes()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audit.rotate(log_path)
    monkeypatch.undo()
    assert log_path.read_bytes() == before
    assert [p.name for p in log_path.parent.iterdir()] == ["audit.jsonl"]


def test_a_file_that_is_no_log_is_named_so_by_rotate_and_writers(log_path: Path) -> None:
    """A policy given by mistake: not "damaged, run repair" (repair refuses it too)."""
    text = b'version = 1\nmode = "enforce"\n'
    log_path.write_bytes(text)
    with pytest.raises(audit.NotAnAuditLog, match="is not an audit log"):
        audit.rotate(log_path)
    with (
        pytest.raises(audit.NotAnAuditLog, match="nor is its last, line 2"),
        audit.AuditLog(log_path) as log,
    ):
        log.write("requested")
    assert log_path.read_bytes() == text


def test_repair_that_cannot_mark_the_moved_records_changes_nothing(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 5)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"garbage", *lines[3:]])
    before = log_path.read_bytes()
    real_pwrite = os.pwrite

    def failing(fd: int, data: bytes, offset: int) -> int:
        if bytes(data) == b"#":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", failing)
    with pytest.raises(AuditError, match="Input/output error"):
        audit.repair(log_path, force=True)
    monkeypatch.undo()
    _unchanged(log_path, before)

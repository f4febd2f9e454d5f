"""Edges of what verify, the tail check and a writer hold: a damaged line, a torn record, the
first record, a changed seq in either algorithm, a chain no algorithm names."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audit_helpers import (
    call_with_timeout,
    first_format_line,
    first_format_log,
    lines_of,
    make_log,
    records_of,
    relink,
    reseal,
    write_lines,
    writer_refuses,
)
from cli_helpers import command, script_env

from rds_guard import audit
from rds_guard.audit import settled

KEY = b"the audit key"


# --- walk.py ---------------------------------------------------------------------------------


def test_records_removed_behind_a_damaged_line_are_still_reported(log_path: Path) -> None:
    """One damaged line stands for at most one record: records removed after it are
    ``removed``, not hidden behind what looks like a crash's damage (which repair moves)."""
    make_log(log_path, 10, hmac_key=KEY)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:4], b"junk", *lines[8:]])  # seq 5 damaged, 6-8 removed
    result = audit.verify([log_path], hmac_key=KEY)
    assert [(f.line, f.reason) for f in result.findings] == [(5, "edited"), (6, "removed")]
    assert "seq jumps from 4 to 9" in result.findings[1].detail


def test_two_keyed_records_edited_in_a_row_are_each_edited_not_a_wrong_key(
    log_path: Path,
) -> None:
    """docs/audit.md: a wrong key is three HMAC records or more failing in a row; fewer, as
    in one guarded call's two records, are each ``edited``."""
    make_log(log_path, 5, hmac_key=KEY)
    lines = lines_of(log_path)
    for at in (2, 3):
        lines[at] = lines[at].replace(b'"event":"requested"', b'"event":"created"')
    write_lines(log_path, lines)
    result = audit.verify([log_path], hmac_key=KEY)
    assert [(f.line, f.reason) for f in result.findings] == [(3, "edited"), (4, "edited")]
    assert all("not authentic" in f.detail for f in result.findings)


def test_a_first_record_must_follow_64_zeros(log_path: Path) -> None:
    """A first line of seq 1 whose prev is not 64 zeros (and no ``rotated`` record) is
    ``edited`` to verify, and refused by a writer; so is a seq other than 1 after zeros."""
    make_log(log_path, 1)
    (line,) = lines_of(log_path)
    moved = reseal(line.replace(audit.ZERO_HASH.encode(), b"f" * 64, 1))
    write_lines(log_path, [moved])
    result = audit.verify([log_path])
    assert [(f.line, f.reason) for f in result.findings] == [(1, "edited")]
    assert "the first record's prev is not 000" in result.findings[0].detail
    writer_refuses(log_path, "neither seq 1 after 64 zeros nor a rotated record")
    write_lines(log_path, [reseal(line.replace(b'"seq":1,', b'"seq":7,', 1))])
    writer_refuses(log_path, "neither seq 1 after 64 zeros nor a rotated record")


def test_a_sealed_last_line_that_is_no_record_is_edited(log_path: Path) -> None:
    """The fast path checks a line's envelope and digest, not its JSON: a last line sealed
    again with a key given twice (a JSON reader reads the last one) is no record, as the
    writer, which refuses to chain onto it, reads it."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    lines[-1] = reseal(
        lines[-1].replace(b'"event":"requested"', b'"event":"requested","event":"created"')
    )
    write_lines(log_path, lines)
    result = audit.verify([log_path])
    assert [(f.line, f.reason, f.detail) for f in result.findings] == [
        (3, "edited", f"{log_path}: not an audit record")
    ]
    writer_refuses(log_path, "line 3 is not an audit record")


def test_a_chain_naming_no_known_algorithm_is_said_so(log_path: Path) -> None:
    make_log(log_path, 3)
    lines = lines_of(log_path)
    lines[1] = reseal(lines[1].replace(b'"chain":"sha256"', b'"chain":"sha512"'))
    write_lines(log_path, lines)
    result = audit.verify([log_path])
    assert (result.line, result.reason) == (2, "edited")
    assert str(result.detail).endswith("its chain names no known algorithm")


def test_a_checkpoint_on_the_first_line_the_fast_path_takes(
    log_path: Path,
) -> None:
    """Line 1 is looked at closely, the fast path takes the lines after it: a checkpoint on
    seq 2 holds (and one that differs is caught) like any other."""
    make_log(log_path, 10)
    lines = lines_of(log_path)
    second = (2, audit.chain_hash(lines[1]))
    assert audit.verify([log_path], checkpoints=[second]).ok
    wrong = (2, audit.chain_hash(lines[2]))
    result = audit.verify([log_path], checkpoints=[wrong])
    assert [(f.line, f.reason) for f in result.findings] == [(2, "head")]
    assert "the record with seq 2 has digest" in result.findings[0].detail


def test_verify_under_a_key_gives_a_plain_logs_head_as_head_does(log_path: Path) -> None:
    """The head is the digest of the last record under the algorithm it names: plain
    SHA-256 for a plain record, whether or not a key was given."""
    make_log(log_path, 3)
    result = audit.verify([log_path], hmac_key=KEY)
    assert result.head == hashlib.sha256(lines_of(log_path)[-1]).hexdigest()
    assert result.checkpoint == audit.head(log_path, hmac_key=KEY)


def test_a_torn_record_after_a_damaged_line_is_not_counted_as_kept(log_path: Path) -> None:
    """The writer keeps a whole record missing only its newline when it follows the last
    record; after a damaged line it refuses the log, so verify does not say it keeps it."""
    make_log(log_path, 4)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:3], b"junk"])
    log_path.write_bytes(log_path.read_bytes() + lines[3])  # no newline
    result = audit.verify([log_path])
    assert [(f.line, f.reason) for f in result.findings] == [(4, "edited"), (5, "torn")]
    assert "next writer keeps it" not in result.findings[1].detail
    assert result.records == 3


# --- fastpath.py -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "keyed"])
def test_a_seq_changed_and_sealed_again_is_caught_in_either_algorithm(
    log_path: Path, key: bytes | None
) -> None:
    """The fast path holds seq in a keyed chain as in a plain one: a record whose seq was
    changed, sealed again and linked on (what a key holder can do) is ``edited``."""
    make_log(log_path, 8, hmac_key=key)
    lines = lines_of(log_path)
    lines[3] = reseal(lines[3].replace(b'"seq":4,', b'"seq":40,'), key)
    relink(lines, 3, key)
    write_lines(log_path, lines)
    result = audit.verify([log_path], hmac_key=key)
    assert not result.ok
    assert (result.line, result.reason) == (4, "edited")
    assert "seq was changed" in str(result.detail)


def test_a_first_format_line_that_is_no_json_object_is_edited(log_path: Path) -> None:
    """A first-format line with bytes after its closing brace is no record, even when the
    next line links to it."""
    first_format_log(log_path, 3)
    lines = lines_of(log_path)
    lines[1] += b"x"
    lines[2] = first_format_line(audit.chain_hash(lines[1]), 3)
    write_lines(log_path, lines)
    result = audit.verify([log_path])
    assert [(f.line, f.reason) for f in result.findings] == [(2, "edited")]
    assert "not an audit record" in result.findings[0].detail


# --- tail.py -------------------------------------------------------------------------------


def test_the_last_record_copied_behind_a_damaged_line_iswriter_refuses(log_path: Path) -> None:
    """docs/audit.md: past damage, the last record's seq must come *after* that of the last
    record before the damage: a copy of that record itself does not."""
    make_log(log_path, 5, hmac_key=KEY)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines, b"junk", lines[-1]])
    writer_refuses(log_path, "its seq 5 does not come after seq 5", KEY)


# --- torn.py -------------------------------------------------------------------------------


def _plain_record(after: bytes, seq: int, prev: str | None = None) -> bytes:
    """A ``created`` record sealed with plain SHA-256 (no key needed) after ``after``."""
    record = json.loads(after)
    record.update(
        prev=audit.chain_hash(after) if prev is None else prev,
        seq=seq,
        event="created",
        snapshot="evil",
        chain="sha256",
    )
    return reseal(json.dumps(record, separators=(",", ":")).encode())


def test_a_torn_plain_record_is_not_kept_by_a_keyed_writer(log_path: Path) -> None:
    """Someone without the key cuts the last keyed record off and leaves, without a newline,
    a plain SHA-256 record in its place, linked with the prev the cut record held (an HMAC
    digest anyone can read). A keyed writer never keeps a record in another algorithm: it
    drops the bytes as a write cut off and records it, and `head` does not stand on them."""
    make_log(log_path, 5, hmac_key=KEY)
    lines = lines_of(log_path)
    cut = json.loads(lines[4])
    forged = _plain_record(lines[3], 5, prev=cut["prev"])
    write_lines(log_path, lines[:4])
    log_path.write_bytes(log_path.read_bytes() + forged)
    assert audit.head(log_path, hmac_key=KEY).seq == 4
    with audit.AuditLog(log_path, fsync=False, hmac_key=KEY) as log:
        log.write("requested")
    assert audit.verify([log_path], hmac_key=KEY).ok
    assert [r["snapshot"] for r in records_of(log_path)].count("evil") == 0


@pytest.mark.parametrize("broken", ["seq", "prev"])
def test_a_torn_record_that_does_not_follow_is_not_kept(log_path: Path, broken: str) -> None:
    """A whole record missing its newline is kept only when it is the one that follows: its
    seq next and its prev linking to the last record."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    if broken == "seq":
        torn = _plain_record(lines[2], 7)
    else:
        torn = _plain_record(lines[2], 4, prev="f" * 64)
    log_path.write_bytes(log_path.read_bytes() + torn)
    assert audit.head(log_path).seq == 3
    result = audit.verify([log_path])
    assert [(f.line, f.reason) for f in result.findings] == [(4, "torn")]
    assert "a write was cut off" in result.findings[0].detail
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert audit.verify([log_path]).ok
    assert [r["snapshot"] for r in records_of(log_path)].count("evil") == 0


# --- record.py -------------------------------------------------------------------------------


def test_a_line_naming_hmac_is_not_authentic_without_the_key() -> None:
    """Sealed with plain SHA-256 yet naming hmac-sha256 (anyone can write it): not authentic
    without a key, as is_authentic promises, nor under one."""
    signed = b'{"prev":"' + b"0" * 64 + b'","seq":1,"event":"created","chain":"hmac-sha256"'
    line = signed + b',"digest":"' + hashlib.sha256(signed).hexdigest().encode() + b'"}'
    assert audit.chain_of(line) == audit.CHAIN_HMAC
    assert not audit.is_authentic(line)
    assert not audit.is_authentic(line, KEY)


def test_a_record_has_a_positive_seq() -> None:
    assert audit.parse_record(b'{"prev":"%s","seq":0}' % (b"0" * 64)) is None
    assert audit.parse_record(b'{"prev":"%s","seq":1}' % (b"0" * 64)) is not None


def test_own_digest_is_64_lowercase_hex_digits(log_path: Path) -> None:
    make_log(log_path, 1)
    (line,) = lines_of(log_path)
    digest = audit.own_digest(line)
    assert digest is not None
    upper = line.replace(digest.encode(), digest.upper().encode())
    assert audit.own_digest(upper) is None
    assert audit.chain_of(upper) is None


# --- a live log: a write in flight at its end ------------------------------------------------


@contextlib.contextmanager
def a_write_in_flight(path: Path) -> Iterator[Callable[[], None]]:
    """A log of four records and the fifth being written as a writer writes it: under the
    file's exclusive ``flock``, half of its line in the file (as a reader may see a write
    Linux is copying in). Yields what ends the write (the rest of the line, the lock let go)."""
    make_log(path, 5)
    lines = lines_of(path)
    write_lines(path, lines[:4])
    fifth = lines[4] + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, fifth[: len(fifth) // 2])

    def end() -> None:
        os.write(fd, fifth[len(fifth) // 2 :])
        fcntl.flock(fd, fcntl.LOCK_UN)

    try:
        yield end
    finally:
        os.close(fd)


def wait_until_read(path: Path, pid: int, open_before: int, timeout: float = 30) -> None:
    """Wait until process ``pid`` has ``path`` open once more than ``open_before`` times
    (Linux's ``/proc/PID/fd``), then half a second: time to read the file to its end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _open_on(path, pid) > open_before:
            time.sleep(0.5)
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not open {path} within {timeout}s")


def _open_on(path: Path, pid: int) -> int:
    found = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            found += os.readlink(fd) == str(path)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("reader", ["verify", "read_records", "cli"])
def test_a_record_being_written_at_the_end_of_a_live_log_is_no_torn_line(
    log_path: Path, reader: str
) -> None:
    """A reader at the end of a live log saw the start of a record being written, and
    reported it ``torn`` (exit 1, on a log that verifies once the write ends) or left it out.
    A reader waits to share the lock, then reads the end again: the record whole."""
    outcome: list[object] = []

    def read() -> None:
        if reader == "verify":
            outcome.append(audit.verify([log_path]))
        elif reader == "read_records":
            outcome.append(len(list(audit.read_records(log_path))))

    with a_write_in_flight(log_path) as end:
        if reader == "cli":
            process = subprocess.Popen(
                [*command(), "audit", "verify", str(log_path)],
                env=script_env(log_path.parent),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        else:
            worker = threading.Thread(target=read, daemon=True)
            worker.start()
        if reader == "cli":
            wait_until_read(log_path, process.pid, 0)
            assert process.poll() is None  # it waits for the write to end
        else:
            wait_until_read(log_path, os.getpid(), 1)
            assert worker.is_alive()
        end()
        if reader == "cli":
            out, err = process.communicate(timeout=60)
            assert (process.returncode, err) == (0, "")
            assert out.startswith("ok: 5 records")
            return
        worker.join(30)
    if reader == "verify":
        (result,) = outcome
        assert isinstance(result, audit.VerifyResult)
        assert (result.ok, result.records, result.findings) == (True, 5, ())
    else:
        assert outcome == [5]


def test_a_write_that_holds_the_lock_longer_than_a_reader_waits_is_read_as_it_stands(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock held past the reader's wait (a writer stopped mid-write): the end is read as it
    was, ``torn``, and the reader never hangs."""
    monkeypatch.setattr(settled, "SETTLE_WAIT", 0.2)
    with a_write_in_flight(log_path):
        result = call_with_timeout(lambda: audit.verify([log_path]))
    assert isinstance(result, audit.VerifyResult)
    assert [(f.line, f.reason) for f in result.findings] == [(5, "torn")]


def test_a_torn_line_repaired_while_a_reader_waits_is_read_as_it_was(log_path: Path) -> None:
    """A reader reads to a torn last line (a crash's) and waits to share the lock while a
    writer, holding it, writes a record over the torn bytes: the reader took the bytes
    after its end from the new record, spliced onto the torn ones, and called a line that
    never was ``edited``. The end is read as it was: ``torn``, and the log verifies after."""
    make_log(log_path, 5)
    lines = lines_of(log_path)
    write_lines(log_path, lines[:4])
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b'{"prev":"' + b"0" * 40)  # torn: no record's bytes
        outcome: list[audit.VerifyResult] = []
        worker = threading.Thread(target=lambda: outcome.append(audit.verify([log_path])))
        worker.start()
        wait_until_read(log_path, os.getpid(), 1)
        os.truncate(log_path, len(b"\n".join(lines[:4])) + 1)  # the repair, under the lock
        os.write(fd, lines[4] + b"\n")
        fcntl.flock(fd, fcntl.LOCK_UN)
        worker.join(30)
    finally:
        os.close(fd)
    (result,) = outcome
    assert [(f.line, f.reason) for f in result.findings] == [(5, "torn")]
    assert audit.verify([log_path]).ok

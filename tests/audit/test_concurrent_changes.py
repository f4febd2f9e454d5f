"""The log changed by a process that takes no lock while writers run: renamed (a log rotator
of its own, logrotate's ``create``), removed, or cut, between a writer's check that the path
names the file it locked and its read of the file's end. A writer then takes the lock again
on what the path names (`ChangedWhileLocked`), as it does when the file was replaced before
it locked: no record is refused for it, none is lost, and nothing is written where the file
no longer is. Real processes and real renames; the timeouts only detect hangs."""

from __future__ import annotations

import fcntl
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import pytest
from audit_helpers import (
    assert_flock_free,
    call_with_timeout,
    interrupted_once,
    make_log,
    records_of,
    subprocess_env,
)

from rds_guard import audit
from rds_guard.audit import locked
from rds_guard.audit.errors import ChangedWhileLocked

# Two logs of one file, written in turn: each finds the other's record at the end, so every
# write reads the file's end again through the path, the window a rename or removal meets.
WRITER = """
import json, sys, time
from rds_guard import audit
from rds_guard.errors import AuditError
path, seconds, result = sys.argv[1], float(sys.argv[2]), sys.argv[3]
logs = [audit.AuditLog(path, fsync=False) for _ in range(2)]
written, refused, end = [], [], time.monotonic() + seconds
while time.monotonic() < end:
    for log in logs:
        marker = f"w:{len(written) + len(refused)}"
        try:
            log.write("requested", notes=[marker])
            written.append(marker)
        except AuditError as exc:
            refused.append(str(exc))
with open(result, "w") as stream:
    json.dump({"written": written, "refused": refused}, stream)
"""


@pytest.mark.parametrize("change", ["rename", "remove"])
def test_a_log_renamed_or_removed_while_writers_write_refuses_no_record(
    tmp_path: Path, change: str
) -> None:
    """Before, about one rename or removal in sixteen landing between the check and the read
    failed that record with "cannot open for reading: the directory does not exist" (the
    call not sent, or an outcome lost). Now none is refused; each renamed file is a whole
    chain of its own, and every record written is in one of them, once."""
    path = tmp_path / "audit.jsonl"
    make_log(path, 1)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "2.5", str(tmp_path / "result.json")],
        env=subprocess_env(),
    )
    moved: list[Path] = []
    try:
        while writer.poll() is None:
            time.sleep(0.004)
            try:
                if change == "rename":
                    moved.append(path.rename(tmp_path / f"audit.{len(moved)}.jsonl"))
                else:
                    path.unlink()
                    moved.append(path)
            except FileNotFoundError:  # the writer has not made the next one yet
                pass
    finally:
        writer.kill()
    assert writer.wait(timeout=60) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert len(moved) > 100  # the changes met the writes
    assert result["refused"] == []
    assert len(result["written"]) > 100
    if change == "rename":
        pieces = [*moved, path] if path.exists() else moved
        for piece in pieces:
            assert audit.verify([piece]).ok, piece
        found = [note for record in records_of(*pieces) for note in record["notes"]]
        assert sorted(note for note in found if note.startswith("w:")) == sorted(result["written"])


def test_a_log_cut_at_a_line_boundary_between_the_lock_and_the_read_is_read_again(
    tmp_path: Path,
) -> None:
    """The file measured as the writer locked it, then cut at a line boundary by a process
    that takes no lock, a torn line's bytes with it, before the writer reads its end: what it
    reads is not the file it measured (it took a torn line of 0 bytes, and wrote its
    `repaired` record where the torn bytes had started, past the file's end, after a run of
    zeros). The read says so, and the write takes the file again as it now is: the record is
    chained onto the last line left, nothing repaired, no zero written."""
    path = tmp_path / "audit.jsonl"
    make_log(path, 3)
    kept = path.stat().st_size
    with path.open("ab") as stream:
        stream.write(b'{"prev":"' + b"7" * 300)  # a torn line, which a writer would repair
    log = audit.AuditLog(path, fsync=False)
    locked: list[tuple[int, os.stat_result]] = []
    fd, st = log._acquire(locked)
    try:
        os.truncate(path, kept - 1)  # within the last record: cut back to the line before it
        os.truncate(path, path.read_bytes().rstrip(b"\n").rfind(b"\n") + 1)
        with pytest.raises(ChangedWhileLocked, match="changed while locked"):
            log._current_tail(fd, st, [])
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
    log.write("requested")
    log.close()
    assert b"\0" not in path.read_bytes()
    assert [(record["seq"], record["event"]) for record in records_of(path)] == [
        (1, "requested"),
        (2, "requested"),
        (3, "requested"),
    ]
    assert audit.verify([path]).ok


# One log writing as fast as it can: each write finds its own record at the end (no read of
# it), so the window between the check of the file and the append is most of every write.
BUSY_WRITER = """
import json, sys, time
from rds_guard import audit
from rds_guard.errors import AuditError
path, seconds, result = sys.argv[1], float(sys.argv[2]), sys.argv[3]
log = audit.AuditLog(path, fsync=False)
written, refused, end = 0, [], time.monotonic() + seconds
while time.monotonic() < end:
    try:
        log.write("requested")
        written += 1
    except AuditError as exc:
        refused.append(str(exc))
with open(result, "w") as stream:
    json.dump({"written": written, "refused": refused[:3], "count": len(refused)}, stream)
"""


def test_a_log_emptied_by_a_copy_then_cut_rotator_while_a_writer_writes_stays_writable(
    tmp_path: Path,
) -> None:
    """A copy-then-cut rotator (logrotate's ``copytruncate``) empties the file without the
    lock while a writer appends. Before, the record appended after the cut stayed the file's
    first line, chained onto a record no longer there and numbered past 1: every writer then
    refused the log, and `repair --force` too, until it was deleted by hand (the first cut
    did it, three runs of three). Now the writer finds its line after a cut, takes it back
    and chains it anew onto what is left: the file starts again at seq 1, every write goes
    on, and the log verifies."""
    path = tmp_path / "audit.jsonl"
    make_log(path, 1)
    result = tmp_path / "result.json"
    writer = subprocess.Popen(
        [sys.executable, "-c", BUSY_WRITER, str(path), "2.0", str(result)],
        env=subprocess_env(),
    )
    cuts = 0
    try:
        while writer.poll() is None:
            time.sleep(0.01)
            os.truncate(path, 0)
            cuts += 1
    finally:
        writer.kill()
    assert writer.wait(timeout=60) == 0
    outcome = json.loads(result.read_text())
    assert cuts > 50
    assert (outcome["count"], outcome["refused"]) == (0, [])
    assert outcome["written"] > 1000
    audit.AuditLog(path, fsync=False).write("requested")
    assert audit.verify([path]).ok
    assert records_of(path)[0]["seq"] == 1


@pytest.mark.parametrize("step", range(1, 8))
def test_a_signal_anywhere_in_the_retry_after_a_rename_leaves_the_lock_free(
    tmp_path: Path, step: int
) -> None:
    """The log renamed (as another process would) between the writer's check of the path and
    its read of the end, then a KeyboardInterrupt (any signal handler's exception) at each
    line in turn of the retry that follows (but the one ending the suppression): letting the
    flock go, taking it again on the new file, reading its end, appending. Wherever it
    lands, no flock is left held on either file, the thread lock is free, and the next write
    goes at once."""
    path = tmp_path / "audit.jsonl"
    archive = tmp_path / "audit.old.jsonl"
    make_log(path, 1)
    log = audit.AuditLog(path, fsync=False, lock_timeout=0.5)
    read_end, retry = audit.AuditLog._current_tail.__code__, locked.locked_append.__code__
    source, first = inspect.getsourcelines(locked.locked_append)
    # Not the line of the `with` that suppresses ChangedWhileLocked: an exception a trace
    # function raises there, as the `with` ends, stays CPython 3.11's handled exception for
    # the thread (every later exception chains onto it), which no signal handler does.
    suppressing = first + next(i for i, text in enumerate(source) if "suppress(" in text)
    lines: list[int] = []

    def when(frame: FrameType, event: str) -> bool:
        if event == "call" and frame.f_code is read_end and not archive.exists():
            path.rename(archive)  # after the check that the path names the file locked
        elif (
            event == "line"
            and frame.f_code is retry
            and archive.exists()
            and frame.f_lineno != suppressing
        ):
            lines.append(frame.f_lineno)
            return len(lines) == step
        return False

    with interrupted_once(when) as raised, pytest.raises(KeyboardInterrupt):
        log.write("requested")
    assert raised == ["locked_append"]
    assert not log._lock.locked()
    for locked_file in (archive, path):
        if locked_file.exists():
            assert_flock_free(locked_file)
    call_with_timeout(lambda: log.write("requested"), timeout=10)
    log.close()
    assert audit.verify([path]).ok

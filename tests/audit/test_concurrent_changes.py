"""The log changed by a process that takes no lock while writers run: renamed (a log rotator
of its own, logrotate's ``create``), removed, or cut, between a writer's check that the path
names the file it locked and its read of the file's end. A writer then takes the lock again
on what the path names (`ChangedWhileLocked`), as it does when the file was replaced before
it locked: no record is refused for it, none is lost, and nothing is written where the file
no longer is. Real processes and real renames; the timeouts only detect hangs."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audit_helpers import make_log, records_of, subprocess_env

from rds_guard import audit
from rds_guard.audit.errors import ChangedWhileLocked
from rds_guard.audit.locked import locked_tail

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
        locked.clear()
        emitted: list[tuple[dict[str, object], str]] = []
        fd, tail = locked_tail(log, locked, emitted)
        assert (tail.seq, emitted) == (2, [])
    finally:
        if locked:
            fcntl.flock(locked[0][0], fcntl.LOCK_UN)
        log.close()
    log.write("requested")
    assert b"\0" not in path.read_bytes()
    assert [record["seq"] for record in records_of(path)] == [1, 2, 3]
    assert audit.verify([path]).ok

"""Reading a log: every record in order, and the lines that are not records."""

from __future__ import annotations

import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import append_torn_line, lines_of, make_log, write_lines
from cli_helpers import run_main

from rds_guard import audit
from rds_guard.core.files import NotRegularFile
from rds_guard.errors import AuditError

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
    append_torn_line(log_path)
    assert [r["seq"] for r in audit.read_records(log_path)] == [1, 2]


def test_a_last_record_lacking_only_its_newline_is_read(log_path: Path) -> None:
    """A write cut just before its newline leaves the whole record, which the next writer
    keeps (docs/audit.md): readers (reconcile, query) read it, rather than leave its call
    looking pending until the next write. A line that does not follow the one before it is
    no such record, and is skipped as torn."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    write_lines(log_path, lines, final_newline=False)
    assert [r["seq"] for r in audit.read_records(log_path)] == [1, 2, 3]
    write_lines(log_path, [lines[0], lines[2]], final_newline=False)
    assert [r["seq"] for r in audit.read_records(log_path)] == [1]
    write_lines(log_path, [lines[1]], final_newline=False)
    assert [r["seq"] for r in audit.read_records(log_path)] == [2]  # an archive's first


@pytest.mark.parametrize(
    ("layout", "line"),
    [
        pytest.param(lambda lines: [lines[0], lines[1] + lines[2]], 2, id="two joined at the end"),
        pytest.param(lambda lines: [b"\r".join(lines) + b"\r"], 1, id="carriage returns only"),
        pytest.param(lambda lines: [b"".join(lines)], 1, id="no newline at all"),
    ],
)
def test_whole_records_joined_after_the_last_newline_are_never_skipped_as_torn(
    log_path: Path, layout: Callable[[list[bytes]], list[bytes]], line: int
) -> None:
    """Records whose newlines were removed (or made carriage returns) after the last newline
    are no write cut off (a writer refuses them): a reader that skipped them as torn answered
    for a log without them (reconcile: no call pending, exit 0). An error naming the line;
    ``on_bad_line`` gets it, as any line that is no record."""
    make_log(log_path, 3)
    write_lines(log_path, layout(lines_of(log_path)), final_newline=False)
    with pytest.raises(AuditError, match=rf"audit.jsonl:{line}: .* whole record\(s\)"):
        list(audit.read_records(log_path))
    bad: list[audit.LogLine] = []
    records = list(audit.read_records(log_path, on_bad_line=bad.append))
    assert [r["seq"] for r in records] == [1] * (line - 1)
    assert [(b.number, b.complete) for b in bad] == [(line, False)]


def test_a_final_line_longer_than_any_write_leaves_is_never_skipped_as_torn(
    log_path: Path,
) -> None:
    """Past its first MiB, a final line with no newline that is not all zeros is more than
    any write leaves, even cut off (a writer refuses it): an error naming the line, not
    skipped as torn. Zeros past it are what a crash may leave: skipped."""
    make_log(log_path, 2)
    with log_path.open("ab") as log:
        log.write(b"x" * (audit.fileio.CHUNK + 10))
    with pytest.raises(AuditError, match=r"audit.jsonl:3: .* not zeros past its first"):
        list(audit.read_records(log_path))
    make_log(log_path.with_name("zeros.jsonl"), 2)
    with log_path.with_name("zeros.jsonl").open("ab") as log:
        log.write(b'{"prev' + b"\0" * (audit.fileio.CHUNK + 10))
    assert [r["seq"] for r in audit.read_records(log_path.with_name("zeros.jsonl"))] == [1, 2]


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda path: audit.verify(path), id="verify"),
        pytest.param(lambda path: list(audit.iter_lines(path)), id="iter_lines"),
    ],
)
def test_a_fifo_at_the_path_is_refused_never_waited_on(
    tmp_path: Path, read: Callable[[Path], object]
) -> None:
    """Someone who can write the log's directory puts a FIFO with no writer at its path: the
    reader is refused at once (opening it for reading would otherwise wait for a writer)."""
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            read(fifo)
        except BaseException as exc:  # handed to the test below
            outcome.append(exc)

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(timeout=30)  # a hang detector only
    assert not reader.is_alive(), "the reader waited on the FIFO"
    assert len(outcome) == 1 and isinstance(outcome[0], NotRegularFile)
    assert "a FIFO is at the path" in str(outcome[0])


@pytest.mark.parametrize(
    "content",
    [b"SECRETTOKEN", b"\xff\xfe\x00bin", b"\0" * 64 + b"IMPORTANT DATA"],
    ids=["token", "binary", "zeros then text"],
)
def test_bytes_with_no_newline_that_cannot_be_a_record_are_no_log(
    log_path: Path, content: bytes
) -> None:
    """Not a torn first record (skipped, no records): a file that is no log, as verify and the
    writers say, so that reconcile does not report on it as an empty log."""
    log_path.write_bytes(content)
    with pytest.raises(audit.NotAnAuditLog, match="hold no newline"):
        list(audit.read_records(log_path))


def test_a_first_record_cut_short_is_still_skipped(log_path: Path) -> None:
    log_path.write_bytes(b'{"prev":"00')
    assert list(audit.read_records(log_path)) == []
    log_path.write_bytes(b"\0" * 12)
    assert list(audit.read_records(log_path)) == []


def _with_a_hole(path: Path, size: int, after: bytes = b"\n") -> int:
    """Append a line of ``size`` zero bytes (a hole: nothing written) then ``after``; returns
    where the line starts."""
    start = path.stat().st_size
    with open(path, "ab") as file:
        file.truncate(start + size)
        file.seek(0, os.SEEK_END)
        file.write(after)
    return start


@pytest.mark.parametrize("after", [b"\n", b""], ids=["complete", "torn"])
def test_a_line_longer_than_any_reader_reads_is_an_error_not_a_memory_hog(
    log_path: Path, after: bytes
) -> None:
    """A line of 80 MiB (a hole, another process's junk): readers held it whole and joined
    it, a gigabyte line three gigabytes of the reader's memory (the shipping thread's, in a
    guarded process). Past `LONGEST_READ` it is an `AuditError` naming the file and where
    the line starts, read no further."""
    make_log(log_path, 2)
    start = _with_a_hole(log_path, 80 << 20, after)
    tracemalloc.start()
    try:
        with pytest.raises(AuditError) as refused:
            list(audit.iter_lines(log_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"{log_path}: the line at byte {start} is longer than any record" in str(refused.value)
    assert peak < 72 << 20, peak


def test_verify_reports_a_record_with_a_long_tail_appended(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text appended to a whole record's line until it is longer than any reader reads: the
    line is `edited`: its first bytes, a whole record, are never taken for the record."""
    make_log(log_path, 3)
    lines = log_path.read_bytes().split(b"\n")
    with open(log_path, "wb") as file:
        file.write(lines[0] + b"\n" + lines[1])
        for _ in range(70):
            file.write(b"x" * (1 << 20))
        file.write(b"\n" + b"\n".join(lines[2:]))
    run = run_main(capsys, "audit", "verify", str(log_path))
    assert (run.code, run.err) == (1, ""), run.err
    assert "line 2: edited: " in run.out and "a line of 73,400,8" in run.out
    assert "ok:" not in run.out


@pytest.mark.parametrize("after", [b"\n", b""], ids=["complete", "torn"])
def test_verify_reports_a_line_too_long_to_read_and_goes_on(
    log_path: Path, capsys: pytest.CaptureFixture[str], after: bytes
) -> None:
    """`rds-guard audit verify` of such a log: the line is a finding (exit 1, as any damage
    to a log: whoever can append to a line cannot make tampering look like bad usage),
    passed over without being held, and the lines after it are read; `audit repair`: one
    line naming it, exit 2, and the log left as it is."""
    make_log(log_path, 2)
    start = _with_a_hole(log_path, 80 << 20, after)
    if after:
        with open(log_path, "ab") as file:
            file.write(b"not a record\n")
    before = log_path.stat()
    tracemalloc.start()
    try:
        run = run_main(capsys, "audit", "verify", str(log_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (run.code, run.err) == (1, ""), run.err
    if after:
        assert "line 3: edited: " in run.out
        assert "a line of 83,886,080 bytes, longer than any record (not read)" in run.out
        assert "line 4: edited: " in run.out and "not an audit record" in run.out
    else:
        assert "line 3: torn: " in run.out and "(83886080 bytes)" in run.out
    assert "ok:" not in run.out
    assert peak < 72 << 20, peak
    for words in (["repair", "--dry-run"], ["repair"]):
        run = run_main(capsys, "audit", *words, str(log_path))
        assert (run.code, run.out) == (2, ""), words
        assert f"the line at byte {start} is longer than any record" in run.err, words
    assert (log_path.stat().st_size, log_path.stat().st_mtime_ns) == (
        before.st_size,
        before.st_mtime_ns,
    )

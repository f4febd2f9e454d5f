"""The file: created 0600, anything but a regular file refused (never waited on), an OS error
an AuditError naming the file, and the readers every part of the log is built on."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import re
import shutil
import socket
import stat
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import call_with_timeout, lines_of, make_log, wait_child

from rds_guard import audit
from rds_guard.audit import fileio
from rds_guard.errors import AuditError

# --- the file -----------------------------------------------------------------------------


def test_file_is_created_0600(log_path: Path) -> None:
    old = os.umask(0)
    try:
        make_log(log_path, 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


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


def test_a_nul_in_the_path_is_an_audit_error(tmp_path: Path) -> None:
    path = tmp_path / "audit\0.jsonl"
    # Python's own words: "embedded null byte" up to 3.12, "embedded null character" since
    nul = "embedded null (byte|character)"
    with pytest.raises(AuditError, match=f"cannot open for appending: (open: )?{nul}") as caught:
        audit.AuditLog(path).write("requested")
    assert caught.value.path == str(path)
    for maintain in (audit.rotate, audit.repair):
        with pytest.raises(AuditError, match=nul):
            maintain(path)
    assert list(tmp_path.iterdir()) == []


# --- an I/O error reading the log ---------------------------------------------------------


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
    expected = {"whole": "read_range", "torn": "read_range", "damaged": "count_newlines"}[shape]
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


# --- reading byte ranges: one primitive and the readers built on it ------------------------


@pytest.fixture
def digits(tmp_path: Path) -> Iterator[int]:
    """A descriptor reading a file of 25 bytes: ``0123456789`` twice, each with a newline,
    then ``abc`` with none."""
    path = tmp_path / "digits"
    path.write_bytes(b"0123456789\n0123456789\nabc")
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


def test_read_blocks_reads_a_range_in_blocks_and_stops_at_the_end_of_the_file(
    digits: int,
) -> None:
    assert list(fileio.read_blocks(digits, 3, 14, block=4)) == [b"3456", b"789\n", b"012"]
    assert b"".join(fileio.read_blocks(digits, block=7)) == b"0123456789\n0123456789\nabc"
    assert list(fileio.read_blocks(digits, 20, 1000)) == [b"9\nabc"]
    assert list(fileio.read_blocks(digits, 5, 5)) == []
    assert list(fileio.read_blocks(digits, 100)) == []


def test_the_readers_built_on_read_blocks(digits: int) -> None:
    assert fileio.read_range(digits, 11, 21) == b"0123456789"
    assert fileio.sha256_range(digits, 0, 11) == hashlib.sha256(b"0123456789\n").hexdigest()
    assert fileio.sha256_range(digits, 25, 25) == hashlib.sha256(b"").hexdigest()
    assert [fileio.count_newlines(digits, end) for end in (10, 11, 22, 25)] == [0, 1, 2, 2]
    assert [fileio.rfind_newline(digits, end) for end in (25, 21, 10)] == [21, 10, -1]
    assert fileio.line_before(digits, 21) == b"0123456789"
    assert fileio.line_before(digits, 10) == b"0123456789"
    assert fileio.first_line(digits) == b"0123456789"


def test_rfind_newline_and_first_line_read_past_one_block(tmp_path: Path) -> None:
    long_line = b"x" * (3 * fileio.TAIL_BLOCK + 5)
    path = tmp_path / "long"
    path.write_bytes(b"first\n" + long_line)
    fd = os.open(path, os.O_RDONLY)
    try:
        size = path.stat().st_size
        assert fileio.rfind_newline(fd, size) == 5
        assert fileio.line_before(fd, size) == long_line  # no newline there: up to the end
    finally:
        os.close(fd)
    path.write_bytes(long_line)  # a first line with no newline at all: the whole file
    fd = os.open(path, os.O_RDONLY)
    try:
        assert fileio.first_line(fd) == long_line
    finally:
        os.close(fd)


def test_lines_splits_blocks_and_keeps_what_follows_the_last_newline() -> None:
    lines = fileio.Lines([b"ab\ncd", b"e\n", b"", b"\nf"])
    assert list(lines) == [[b"ab"], [b"cde"], [], [b""]]
    assert lines.rest == b"f"
    whole = fileio.Lines([b"a\nb\n"])
    assert list(whole) == [[b"a", b"b"]]
    assert whole.rest == b""


def test_copy_to_new_file_copies_a_range_fsynced_and_counts_its_lines(
    digits: int, tmp_path: Path
) -> None:
    target = tmp_path / "copy"
    copied = fileio.copy_to_new_file(digits, target, 11)
    assert target.read_bytes() == b"0123456789\nabc"
    assert copied == fileio.Copied(2, hashlib.sha256(b"0123456789\nabc").hexdigest())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert fileio.copy_to_new_file(digits, tmp_path / "lines", 0, 22).lines == 2
    assert fileio.copy_to_new_file(digits, tmp_path / "empty", 5, 5).lines == 0


def test_copy_to_new_file_never_replaces_a_file_and_leaves_none_when_it_fails(
    digits: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / "taken"
    taken.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        fileio.copy_to_new_file(digits, taken)
    assert taken.read_bytes() == b"keep me"

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fileio.copy_to_new_file(digits, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits", "taken"]


def test_lines_puts_a_line_longer_than_a_block_together_once() -> None:
    """A line spread over many blocks (bytes with no newline, written by anyone who can write
    the file) costs verify, show and repair time in proportion to its length, not to its
    square: 100,000 blocks of 100 bytes would otherwise copy some 500 GB."""
    blocks = [b"x" * 100] * 100_000 + [b"\nafter\n"]
    lines = fileio.Lines(blocks)
    batches = call_with_timeout(lambda: list(lines), timeout=30)
    assert batches == [[]] * 100_000 + [[b"x" * 10_000_000, b"after"]]
    assert lines.rest == b""
    torn = fileio.Lines([b"y" * 100] * 1000)
    assert list(torn) == [[]] * 1000 and torn.rest == b"y" * 100_000


@pytest.mark.parametrize(
    ("layout", "zeros"),
    [
        ([("hole", 8 << 20)], True),
        ([("zeros", 100), ("hole", 8 << 20), ("zeros", 100)], True),
        ([("hole", 8 << 20), ("data", 1)], False),
        ([("zeros", 70_000), ("data", 1), ("hole", 1 << 20)], False),
        ([], True),
    ],
    ids=["a hole", "zeros around a hole", "data after a hole", "data after zeros", "empty"],
)
def test_only_zeros_reads_past_holes_to_the_first_other_byte(
    tmp_path: Path, layout: list[tuple[str, int]], zeros: bool
) -> None:
    """Zeros written, holes of a sparse file (skipped where the file system tells them), and
    one other byte anywhere: only then is the answer False."""
    path = tmp_path / "f"
    with path.open("wb") as stream:
        for kind, size in layout:
            if kind == "hole":
                stream.seek(size, os.SEEK_CUR)
            else:
                stream.write((b"x" if kind == "data" else b"\0") * size)
        stream.truncate()
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        assert fileio.only_zeros(fd, 0, size) is zeros
        assert fileio.may_be_a_cut_file(fd, size) is zeros
    finally:
        os.close(fd)


def test_only_zeros_skips_the_holes_of_a_sparse_file(tmp_path: Path) -> None:
    """A terabyte of hole with a byte after it: found without reading the hole (which would
    take minutes; the timeout only detects that)."""
    path = tmp_path / "sparse"
    with path.open("wb") as stream:
        stream.seek(1 << 40)
        stream.write(b"x")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        assert call_with_timeout(lambda: fileio.only_zeros(fd, 0, size), 60) is False
        assert call_with_timeout(lambda: fileio.only_zeros(fd, 0, size - 1), 60) is True
    finally:
        os.close(fd)

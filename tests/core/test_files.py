"""core/files.py: why no file could be created in a directory (the audit log's, at install and
in `rds-guard check`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rds_guard.core import files
from rds_guard.core.files import directory_problem


def test_a_writable_directory_has_no_problem(tmp_path: Path) -> None:
    assert directory_problem(tmp_path) is None
    assert directory_problem(str(tmp_path)) is None


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "logs" / "audit"
    assert directory_problem(missing) == f"the directory {missing} does not exist"


def test_a_path_through_a_file_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    through = tmp_path / "file" / "logs"
    assert directory_problem(through) == (
        f"the directory {through} does not exist (a part of the path is a file)"
    )


def test_a_file_where_the_directory_should_be_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("x")
    assert directory_problem(tmp_path / "logs") == (
        f"{tmp_path / 'logs'} is a regular file, not a directory"
    )


def test_a_fifo_where_the_directory_should_be_is_named_as_such(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "logs")
    assert directory_problem(tmp_path / "logs") == f"{tmp_path / 'logs'} is a FIFO, not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any directory")
def test_a_directory_without_write_permission_is_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert directory_problem(locked) == (
            f"the directory {locked} is not writable (permission denied)"
        )
    finally:
        locked.chmod(0o700)


def test_a_directory_that_access_refuses_is_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What access(2) says, for the ids a file would be created with (also as root)."""
    monkeypatch.setattr(files.os, "access", lambda *args, **kwargs: False)
    assert directory_problem(tmp_path) == (
        f"the directory {tmp_path} is not writable (permission denied)"
    )


def test_a_directory_on_a_read_only_file_system_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(files.os, "access", lambda *args, **kwargs: False)
    monkeypatch.setattr(files.os, "statvfs", lambda path: ReadOnly())
    assert directory_problem(tmp_path) == (
        f"the directory {tmp_path} is on a read-only file system"
    )


def test_a_directory_that_cannot_be_examined_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: str) -> os.stat_result:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "stat", refuse)
    assert directory_problem(tmp_path) == (
        f"the directory {tmp_path} cannot be examined: Permission denied"
    )

"""Reading a log: every record in order, and the lines that are not records."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_helpers import append_torn_line, lines_of, make_log, write_lines

from rds_guard import audit
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

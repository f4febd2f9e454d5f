"""``rds-guard audit show``: the table (columns as wide as what they show, up to a cap), the
outcome column, filters, JSON lines, several files as one log, and lines that are not records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from audit_helpers import lines_of, make_log, write_lines
from cli_helpers import assert_one_error_line, run_main

from rds_guard import audit


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    result = run_main(capsys, *argv)
    return result.code, result.out, result.err


@pytest.fixture
def varied_log(log_path: Path) -> Path:
    with audit.AuditLog(log_path, fsync=False) as log:
        call = audit.new_call_id()
        log.write(
            "requested",
            call=call,
            operation="CreateDBClusterSnapshot",
            snapshot="orders-manual-1",
            tags={"team": "payments", "env": "prod"},
        )
        log.write(
            "failed",
            call=call,
            operation="CreateDBClusterSnapshot",
            snapshot="orders-manual-1",
            error={"code": "SnapshotQuotaExceeded", "message": "no"},
        )
        log.write(
            "blocked",
            operation="CreateDBSnapshot",
            snapshot="bad_name",
            violations=[{"rule": "identifier.aws", "field": "X", "value": "v", "message": "m"}],
        )
        log.write("untagged", operation="RemoveTagsFromResource", tags={"team": None})
        log.write("tagged", operation="AddTagsToResource", tags={"evil\nkey": "a\u2028b"})
    return log_path


def test_show_table(capsys: pytest.CaptureFixture[str], varied_log: Path) -> None:
    code, out, err = run(capsys, "audit", "show", str(varied_log))
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["TIME", "EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS"]
    assert len(rows) == 5
    requested, failed, blocked, untagged, tagged = rows
    assert requested.split()[1:] == [
        "requested",
        "CreateDBClusterSnapshot",
        "orders-manual-1",
        "-",
        "team=payments,",
        "env=prod",
    ]
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z ", requested)
    assert failed.split()[1:5] == [
        "failed",
        "CreateDBClusterSnapshot",
        "orders-manual-1",
        "SnapshotQuotaExceeded",
    ]
    assert blocked.split()[1:5] == ["blocked", "CreateDBSnapshot", "bad_name", "identifier.aws"]
    assert untagged.split()[-1] == "-team"
    assert tagged.endswith("evil\\nkey=a\\u2028b")


def test_show_filters(capsys: pytest.CaptureFixture[str], varied_log: Path) -> None:
    code, out, _ = run(capsys, "audit", "show", str(varied_log), "--snapshot", "ORDERS-MANUAL-1")
    assert code == 0
    assert [row.split()[1] for row in out.splitlines()[1:]] == ["requested", "failed"]
    code, out, _ = run(capsys, "audit", "show", str(varied_log), "--event", "blocked")
    assert [row.split()[1] for row in out.splitlines()[1:]] == ["blocked"]
    assert_one_error_line(
        run_main(capsys, "audit", "show", str(varied_log), "--event", "no"), "--event"
    )


def test_show_json(capsys: pytest.CaptureFixture[str], varied_log: Path) -> None:
    code, out, err = run(capsys, "audit", "show", str(varied_log), "--json", "--event", "failed")
    assert (code, err) == (0, "")
    assert out.encode().splitlines() == [lines_of(varied_log)[1]]
    code, out, _ = run(capsys, "audit", "show", str(varied_log), "--json")
    assert [json.loads(line) for line in out.splitlines()] == list(audit.read_records(varied_log))


def test_show_reports_lines_that_are_not_records(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 2)
    lines = lines_of(log_path)
    write_lines(
        log_path, [lines[0], b"not json at all", lines[1], b'{"prev":"ab'], final_newline=False
    )
    code, out, err = run(capsys, "audit", "show", str(log_path))
    assert (code, err) == (1, "")
    rows = out.splitlines()[1:]
    assert len(rows) == 4
    assert rows[1] == "line 2: not a record: not json at all"
    assert rows[3] == "line 4: torn: 11 bytes with no newline"
    code, out, err = run(capsys, "audit", "show", str(log_path), "--json")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err.splitlines() == [
        "line 2: not a record: not json at all",
        "line 4: torn: 11 bytes with no newline",
    ]


def test_show_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    assert_one_error_line(run_main(capsys, "audit", "show", missing), "nope.jsonl: no such file")

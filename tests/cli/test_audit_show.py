"""``rds-guard audit show``: the table (columns as wide as what they show, up to a cap), the
outcome column, filters, JSON lines, several files as one log, and lines that are not records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from audit_helpers import lines_of, make_log, reseal, write_lines
from cli_helpers import assert_one_error_line, run_main

from rds_guard import audit


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
    code, out, err = run_main(capsys, "audit", "show", str(varied_log))
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
    code, out, _ = run_main(
        capsys, "audit", "show", str(varied_log), "--snapshot", "ORDERS-MANUAL-1"
    )
    assert code == 0
    assert [row.split()[1] for row in out.splitlines()[1:]] == ["requested", "failed"]
    code, out, _ = run_main(capsys, "audit", "show", str(varied_log), "--event", "blocked")
    assert [row.split()[1] for row in out.splitlines()[1:]] == ["blocked"]
    assert_one_error_line(
        run_main(capsys, "audit", "show", str(varied_log), "--event", "no"), "--event"
    )


def test_show_json(capsys: pytest.CaptureFixture[str], varied_log: Path) -> None:
    code, out, err = run_main(
        capsys, "audit", "show", str(varied_log), "--json", "--event", "failed"
    )
    assert (code, err) == (0, "")
    assert out.encode().splitlines() == [lines_of(varied_log)[1]]
    code, out, _ = run_main(capsys, "audit", "show", str(varied_log), "--json")
    assert [json.loads(line) for line in out.splitlines()] == list(audit.read_records(varied_log))


def test_show_reports_lines_that_are_not_records(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 2)
    lines = lines_of(log_path)
    write_lines(
        log_path, [lines[0], b"not json at all", lines[1], b'{"prev":"ab'], final_newline=False
    )
    code, out, err = run_main(capsys, "audit", "show", str(log_path))
    assert (code, err) == (1, "")
    rows = out.splitlines()[1:]
    assert len(rows) == 4
    assert rows[1] == "line 2: not a record: not json at all"
    assert rows[3] == "line 4: torn: 11 bytes with no newline"
    code, out, err = run_main(capsys, "audit", "show", str(log_path), "--json")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err.splitlines() == [
        "line 2: not a record: not json at all",
        "line 4: torn: 11 bytes with no newline",
    ]


def test_show_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    assert_one_error_line(run_main(capsys, "audit", "show", missing), "nope.jsonl: no such file")


# --- columns and the outcome column ---------------------------------------------------------

LONG_NAME = "orders-" + "x" * 70 + "-manual-20261129"  # an instance snapshot: up to 255
MANY_RULES = ["identifier.pattern", "tags.required", "tags.allowed", "tags.pattern"]


def columns(row: str, header: str) -> list[str]:
    """A table row cut where the header's titles start."""
    starts = [
        header.index(title) for title in ("EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS")
    ]
    bounds = zip([0, *starts], [*starts, len(row)], strict=True)
    return [row[start:end].rstrip() for start, end in bounds]


def test_columns_fit_what_is_shown_and_stay_aligned(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested", operation="CreateDBSnapshot", snapshot="db-1", tags={"a": "b"})
        log.write(
            "blocked",
            operation="CreateDBSnapshot",
            snapshot=LONG_NAME,
            violations=[
                {"rule": r, "field": "f", "value": "v", "message": "m"} for r in MANY_RULES
            ],
            tags={"team": "core"},
        )
    code, out, err = run_main(capsys, "audit", "show", str(log_path))
    assert (code, err) == (0, "")
    header, short, long = out.splitlines()
    assert header.split() == ["TIME", "EVENT", "OPERATION", "SNAPSHOT", "OUTCOME", "TAGS"]
    # as wide as the widest cell: "requested" and "CreateDBSnapshot", not a fixed 32
    assert header.index("OPERATION") - header.index("EVENT") == len("requested") + 2
    assert header.index("SNAPSHOT") - header.index("OPERATION") == len("CreateDBSnapshot") + 2
    # a snapshot name over the cap (63) is cut, marked with …; the rules fit in 48
    assert header.index("OUTCOME") - header.index("SNAPSHOT") == 63 + 2
    assert columns(long, header)[1:] == [
        "blocked",
        "CreateDBSnapshot",
        LONG_NAME[:62] + "…",
        "identifier.pattern,tags.required,tags.allowed,t…",
        "team=core",
    ]
    assert columns(short, header)[1:] == ["requested", "CreateDBSnapshot", "db-1", "-", "a=b"]


def test_the_outcome_column_says_what_each_event_did(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("presigned", operation="CopyDBSnapshot", expires="2026-11-29T23:00:00Z")
        log.write("shared", operation="ModifyDBSnapshotAttribute", notes=["added: 111122223333"])
        log.write("exported", operation="StartExportTask", notes=["bucket: b", "kms key: k"])
        log.write(
            "repaired",
            dropped_bytes=5,
            dropped_sha256="0" * 64,
            notes=["moved line 4 (5 bytes) to audit.jsonl.damaged-x"],
        )
        log.write("repaired", dropped_bytes=7, dropped_sha256="0" * 64)
        log.write(
            "failed", operation="CopyDBSnapshot", error={"code": "AccessDenied", "message": ""}
        )
        log.write("created", operation="CreateDBSnapshot", snapshot="db-1")
    code, out, err = run_main(capsys, "audit", "show", str(log_path))
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert [columns(row, header)[4] for row in rows] == [
        "expires 2026-11-29T23:00:00Z",
        "added: 111122223333",
        "bucket: b; kms key: k",
        "moved line 4 (5 bytes) to audit.jsonl.damaged-x",
        "dropped 7 bytes",
        "AccessDenied",
        "-",
    ]


def test_a_rotated_log_continues_its_archive(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 2)
    archive = audit.rotate(log_path)
    code, out, err = run_main(capsys, "audit", "show", str(log_path))
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert columns(row, header)[1] == "rotated"
    assert columns(row, header)[4] == f"continues {Path(archive).name}"


# --- several files ----------------------------------------------------------------------------


def test_several_files_are_shown_as_one_log_oldest_first(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 3, snapshot="orders-manual-1")
    archive = audit.rotate(log_path)
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("deleted", operation="DeleteDBSnapshot", snapshot="orders-manual-1")
    code, out, err = run_main(capsys, "audit", "show", str(archive), str(log_path))
    assert (code, err) == (0, "")
    assert [row.split()[1] for row in out.splitlines()[1:]] == [
        "requested", "requested", "requested", "rotated", "deleted",
    ]  # fmt: skip
    code, out, _ = run_main(
        capsys,
        "audit",
        "show",
        str(archive),
        str(log_path),
        "--json",
        "--snapshot",
        "ORDERS-MANUAL-1",
    )
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3, 5]


def test_a_bad_line_of_several_files_names_its_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    make_log(first, 1)
    make_log(second, 1)
    write_lines(second, [*lines_of(second), b"not json"])
    code, out, err = run_main(capsys, "audit", "show", str(first), str(second))
    assert (code, err) == (1, "")
    assert out.splitlines()[-1] == f"{second}: line 2: not a record: not json"
    code, _, err = run_main(capsys, "audit", "show", str(first), str(second), "--json")
    assert (code, err) == (1, f"{second}: line 2: not a record: not json\n")
    missing = run_main(capsys, "audit", "show", str(first), str(tmp_path / "c.jsonl"))
    assert_one_error_line(missing, "c.jsonl: no such file")


def test_a_bad_line_names_its_file_in_one_escaped_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file name holding a terminal escape and a newline (a globbed series in a folder
    others can write to) is shown escaped: one line, nothing for the terminal to obey."""
    first, second = tmp_path / "a.jsonl", tmp_path / "ev\x1b[31mil\nX.jsonl"
    make_log(first, 1)
    make_log(second, 1)
    write_lines(second, [*lines_of(second), b"junk"])
    code, out, _ = run_main(capsys, "audit", "show", str(first), str(second))
    assert code == 1 and "\x1b" not in out
    assert out.splitlines()[-1] == f"{tmp_path}/ev\\x1b[31mil\\nX.jsonl: line 2: not a record: junk"


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        ((b'"event":"requested"', b'"event":"requested","x":NaN'), "NaN"),
        ((b'"event":"requested"', b'"event":"requested","x":1e999'), "a number JSON cannot hold"),
        ((b'"event":"requested"', b'"event":"requested","event":"deleted"'), "a key twice"),
    ],
)
def test_a_line_no_writer_writes_is_no_record_shown(
    capsys: pytest.CaptureFixture[str], log_path: Path, edit: tuple[bytes, bytes], what: str
) -> None:
    """A resealed line with a NaN or an infinite number (which --json would print as no JSON
    document may hold them) or a key given twice (verify reads the first, a JSON reader the
    last) is not a record: show reports it and prints valid JSON for the others."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    lines[1] = reseal(lines[1].replace(*edit))
    write_lines(log_path, lines)
    code, out, err = run_main(capsys, "audit", "show", str(log_path), "--json")
    assert code == 1, what
    assert [json.loads(line, parse_constant=_refused)["seq"] for line in out.splitlines()] == [1, 3]
    assert err.startswith("line 2: not a record: "), what


def _refused(name: str) -> object:
    raise AssertionError(f"{name} printed")

"""``rds-guard audit verify|rotate|repair``, and the audit command itself: output, exit codes,
errors (``audit show``: test_audit_show.py)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from audit_helpers import lines_of, make_log, subprocess_env, write_lines
from cli_helpers import assert_one_error_line, run_main

from rds_guard import audit, cli
from rds_guard.errors import AuditError

OK_LINE = re.compile(r"ok: (\d+) records, head ([0-9a-f]{64})")


# --- verify -------------------------------------------------------------------------------


def test_verify_ok(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    head = make_log(log_path, 4)
    code, out, err = run_main(capsys, "audit", "verify", str(log_path))
    assert (code, err) == (0, "")
    assert out == f"ok: 4 records, head {head}\n"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("flip", ["line 3: edited: "]),
        ("delete", ["line 3: removed: "]),
        ("swap", ["line 3: reordered: ", "line 4: reordered: "]),
        ("cut", ["line 6: torn: "]),
    ],
)
def test_verify_finds_tampering(
    capsys: pytest.CaptureFixture[str], log_path: Path, tamper: str, expected: list[str]
) -> None:
    """Each bad line is reported, one a line (a swap breaks two)."""
    make_log(log_path, 6)
    lines = lines_of(log_path)
    if tamper == "flip":
        lines[2] = lines[2].replace(b'"m:2"', b'"m:X"')
    elif tamper == "delete":
        del lines[2]
    elif tamper == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    write_lines(log_path, lines)
    if tamper == "cut":
        log_path.write_bytes(log_path.read_bytes()[:-20])
    code, out, err = run_main(capsys, "audit", "verify", str(log_path))
    assert (code, err) == (1, "")
    found = out.splitlines()
    assert len(found) == len(expected)
    for line, start in zip(found, expected, strict=True):
        assert line.startswith(start) and str(log_path) in line


def test_verify_a_last_line_that_is_not_a_record(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    head = make_log(log_path, 2)
    with log_path.open("ab") as stream:
        stream.write(b'{"prev":"%s","seq":3,this is not json\n' % head.encode())
    code, out, err = run_main(capsys, "audit", "verify", str(log_path))
    assert (code, err) == (1, "")
    assert out == f"line 3: edited: {log_path}: not an audit record\n"
    code, out, err = run_main(capsys, "audit", "show", str(log_path))
    assert code == 1 and "line 3: not a record" in out  # show and verify agree


def test_verify_with_head(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    head = make_log(log_path, 5)
    write_lines(log_path, lines_of(log_path)[:4])  # cut at a line boundary
    code, out, _ = run_main(capsys, "audit", "verify", str(log_path))
    assert code == 0
    code, out, _ = run_main(capsys, "audit", "verify", str(log_path), "--head", head)
    assert code == 1
    assert out.startswith("line 4: head: ")
    assert head in out


def test_verify_with_a_key(
    capsys: pytest.CaptureFixture[str], log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = make_log(log_path, 5, hmac_key="sécret".encode())
    monkeypatch.setenv("AUDIT_KEY", "sécret")
    code, out, _ = run_main(capsys, "audit", "verify", str(log_path), "--key-env", "AUDIT_KEY")
    assert (code, out) == (0, f"ok: 5 records, head {head}\n")
    assert_one_error_line(run_main(capsys, "audit", "verify", str(log_path)), "keyed", "--key-env")


def test_verify_key_env_unset_or_empty(
    capsys: pytest.CaptureFixture[str], log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 2)
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--key-env", "NO_SUCH_KEY"),
        "NO_SUCH_KEY",
        "not set",
    )
    monkeypatch.setenv("EMPTY_KEY", "")
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--key-env", "EMPTY_KEY"),
        "EMPTY_KEY",
        "empty",
    )


def test_verify_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(missing)), str(missing), "no such file"
    )


def test_verify_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_error_line(run_main(capsys, "audit", "verify", str(tmp_path)), "not a regular file")


def test_verify_a_malformed_head(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    make_log(log_path, 1)
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--head", "xyz"),
        "--head",
        "64 hex digits",
    )


def test_verify_a_rotated_series(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    head = make_log(log_path, 2)
    code, out, _ = run_main(capsys, "audit", "verify", str(archive), str(log_path))
    assert (code, out) == (0, f"ok: 6 records, head {head}\n")

    code, out, _ = run_main(capsys, "audit", "verify", str(log_path))
    first, note = out.splitlines()
    assert code == 0
    assert first == f"ok: 3 records, head {head}"
    assert "continues audit.jsonl.1-3" in note

    code, out, _ = run_main(capsys, "audit", "verify", str(log_path), str(archive))
    assert code == 1
    assert out.startswith("line 1: reordered: ")


@pytest.mark.parametrize("action", ["verify", "show", "head"])
def test_verify_show_and_head_refuse_one_file_under_two_names(
    capsys: pytest.CaptureFixture[str], log_path: Path, action: str
) -> None:
    """Its records would be read, or shown, twice; ``head`` names the same series as
    ``verify`` takes, so it refuses what ``verify`` would."""
    make_log(log_path, 3)
    link = log_path.with_name("audit.jsonl.1-3")
    link.hardlink_to(log_path)
    assert_one_error_line(
        run_main(capsys, "audit", action, str(link), str(log_path)), "are one file"
    )
    assert_one_error_line(
        run_main(capsys, "audit", action, str(log_path), str(log_path)), "are one file"
    )


def test_repair_keeps_a_last_record_without_its_newline(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 2)
    log_path.write_bytes(log_path.read_bytes()[:-1])
    code, out, err = run_main(capsys, "audit", "repair", str(log_path), "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert (answer["kept"], answer["repaired"], answer["lines_moved"]) == (2, False, 0)
    assert [r["seq"] for r in audit.read_records(log_path)] == [1, 2, 3]


def test_verify_as_a_real_process(log_path: Path) -> None:
    head = make_log(log_path, 3)
    command = [sys.executable, "-m", "rds_guard", "audit", "verify", str(log_path)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=subprocess_env(), check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"ok: 3 records, head {head}\n", "")
    log_path.write_bytes(log_path.read_bytes()[:-1])
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=subprocess_env(), check=False
    )
    assert done.returncode == 1
    assert done.stdout.startswith("line 3: torn: ")
    missing = subprocess.run(
        [*command[:-1], str(log_path) + ".nope"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert (missing.returncode, missing.stdout) == (2, "")
    assert len(missing.stderr.splitlines()) == 1 and "Traceback" not in missing.stderr


# --- rotate and repair --------------------------------------------------------------------


def test_rotate(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    make_log(log_path, 4)
    old_head = hashlib.sha256(lines_of(log_path)[-1]).hexdigest()
    code, out, err = run_main(capsys, "audit", "rotate", str(log_path))
    assert (code, err) == (0, "")
    archive = log_path.with_name("audit.jsonl.1-4")
    assert str(archive) in out
    [rotated] = audit.read_records(log_path)
    assert (rotated["event"], rotated["prev"], rotated["seq"]) == ("rotated", old_head, 5)
    code, out, _ = run_main(capsys, "audit", "verify", str(archive), str(log_path))
    assert code == 0 and OK_LINE.fullmatch(out.strip())


def test_file_names_that_do_not_print_are_escaped_in_reports_and_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A log named with a newline and a right-to-left override: rotate, repair and an error
    about it each print one terminal line, the name escaped, as verify does."""
    log_path = tmp_path / "evil\nname\u202e.jsonl"
    make_log(log_path, 2)
    shown = "evil\\nname\\u202e.jsonl"
    for words in (["audit", "rotate"], ["audit", "repair"]):
        code, out, err = run_main(capsys, *words, str(log_path))
        assert (code, err) == (0, "")
        assert shown in out and out.isascii() and out.count("\n") == 1, out
    # an error is one line whatever it quotes: its line breaks are spaces, the rest escaped
    line = assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path) + "x"),
        "evil name\\u202e.jsonlx: no such file",
    )
    assert line.isascii()


def test_rotate_an_empty_or_missing_log(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    assert_one_error_line(run_main(capsys, "audit", "rotate", str(log_path)), "no such file")
    log_path.touch()
    code, out, err = run_main(capsys, "audit", "rotate", str(log_path))
    assert (code, err) == (0, "")
    assert out.startswith("nothing to rotate")
    assert list(log_path.parent.iterdir()) == [log_path]


def test_rotate_with_the_wrong_key_is_refused(
    capsys: pytest.CaptureFixture[str], log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 3, hmac_key=b"right")
    before = log_path.read_bytes()
    monkeypatch.setenv("K", "wrong")
    assert_one_error_line(
        run_main(capsys, "audit", "rotate", str(log_path), "--key-env", "K"), str(log_path), "HMAC"
    )
    assert log_path.read_bytes() == before
    monkeypatch.setenv("K", "right")
    code, _, _ = run_main(capsys, "audit", "rotate", str(log_path), "--key-env", "K")
    assert code == 0
    code, out, _ = run_main(
        capsys, "audit", "verify", str(log_path) + ".1-3", str(log_path), "--key-env", "K"
    )
    assert code == 0 and out.startswith("ok: 4 records")


def test_repair(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    make_log(log_path, 3)
    with log_path.open("ab") as stream:
        stream.write(b"oops\n")
    with pytest.raises(AuditError):
        audit.AuditLog(log_path).write("requested")
    code, out, err = run_main(capsys, "audit", "repair", str(log_path))
    assert (code, err) == (0, "")
    [damaged] = log_path.parent.glob("audit.jsonl.damaged-*")
    assert damaged.read_bytes() == b"oops\n"
    assert out.startswith(f"moved line 4 of {log_path} (5 bytes")
    assert str(damaged) in out
    code, out, _ = run_main(capsys, "audit", "repair", str(log_path))
    assert (code, out) == (0, f"nothing to repair: every line of {log_path} is a record\n")
    code, out, _ = run_main(capsys, "audit", "repair", str(log_path), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["dry_run"] is True
    audit.AuditLog(log_path).write("requested")
    code, out, _ = run_main(capsys, "audit", "verify", str(log_path))
    assert code == 0 and out.startswith("ok: 5 records")


# --- the command itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["audit", "--help"],
        ["audit", "verify", "--help"],
        ["audit", "show", "--help"],
        ["audit", "rotate", "--help"],
        ["audit", "repair", "--help"],
    ],
)
def test_help_has_an_example(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_main(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.startswith("usage: rds-guard")
    example = out.split("example:", 1)[1]
    assert "rds-guard " in example


@pytest.mark.parametrize("argv", [[], ["audit"], ["audit", "bogus"], ["audit", "verify"]])
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err and err


def test_main_reads_sys_argv(
    capsys: pytest.CaptureFixture[str], log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = make_log(log_path, 1)
    monkeypatch.setattr(sys, "argv", ["rds-guard", "audit", "verify", str(log_path)])
    assert cli.main() == 0
    assert capsys.readouterr().out == f"ok: 1 records, head {head}\n"


def test_audit_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    make_log(real, 2)
    link = tmp_path / "audit.jsonl"
    link.symlink_to(real)
    for action in ("repair", "rotate"):
        assert_one_error_line(
            run_main(capsys, "audit", action, str(link)), str(link), "symbolic link"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl", "real.jsonl"]


def test_a_symbolic_link_is_read_through_by_readers_and_refused_by_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """docs/audit.md: ``head`` (whose checkpoint vouches for the file at the path) refuses a
    link there, as writers do; ``verify`` and ``show`` read through it."""
    real = tmp_path / "real.jsonl"
    digest = make_log(real, 2)
    link = tmp_path / "audit.jsonl"
    link.symlink_to(real)
    assert_one_error_line(run_main(capsys, "audit", "head", str(link)), str(link), "symbolic link")
    verified = run_main(capsys, "audit", "verify", str(link))
    assert (verified.code, verified.out) == (0, f"ok: 2 records, head {digest}\n")
    shown = run_main(capsys, "audit", "show", str(link), "--json")
    assert shown.code == 0 and len(shown.out.splitlines()) == 2


def test_verify_max_findings_sets_how_many_are_listed(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    """``--max-findings N`` lists up to N findings and counts the rest (the default 100 can
    hide a finding behind others); not a whole number from 1: a usage error."""
    make_log(log_path, 8)
    lines = lines_of(log_path)
    write_lines(log_path, [line.replace(b'"requested"', b'"blocked"') for line in lines])
    every = run_main(capsys, "audit", "verify", str(log_path))
    assert every.code == 1 and len(every.out.splitlines()) == 8
    few = run_main(capsys, "audit", "verify", str(log_path), "--max-findings", "3")
    assert few.code == 1
    assert few.out.splitlines()[3:] == ["... and 5 more bad lines"]
    document = run_main(
        capsys, "audit", "verify", str(log_path), "--max-findings", "3", "--json"
    ).json()
    assert (len(document["findings"]), document["more"]) == (3, 5)
    for bad in ("0", "-1", "x", "３"):
        assert_one_error_line(
            run_main(capsys, "audit", "verify", str(log_path), "--max-findings", bad),
            "expected a whole number from 1",
        )

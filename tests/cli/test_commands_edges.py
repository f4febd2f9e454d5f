"""Corners of the commands: what they share (the progress line, the library's warnings, the
key options, the argument types, the error line of an OSError, a broken pipe, the streams put
back), what ``check`` says of an empty key variable, no account to share with, whole numbers
and a variable several templates read, and what ``eval`` takes and says at its edges."""

from __future__ import annotations

import argparse
import errno
import http.server
import io
import json
import logging
import sys
import threading
from pathlib import Path

import pytest
from audit_helpers import make_log
from cli_helpers import Clock, Terminal, assert_one_error_line, run_main
from ledger_helpers import reach_moto, write_log
from policies import LEDGER, write_policy
from servers import MotoServer

from rds_guard.cli import check
from rds_guard.cli.common import MOST_DAYS, Progress, days, endpoint_url, library_warnings


def test_progress_clears_its_line_once_however_often_it_is_closed() -> None:
    """Closing twice (by hand, then leaving the block) clears the line once: the second close
    writes nothing."""
    stream, clock = Terminal(), Clock()
    with Progress(stream=stream, interval=1.0, clock=clock) as progress:
        progress.show("1 page")
        progress.close()
    assert stream.getvalue() == "\r1 page\x1b[K\r\x1b[K"


def test_a_library_warning_of_several_lines_is_one_stderr_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A warning whose message holds line breaks is still one ``rds-guard: warning:`` line."""
    with library_warnings():
        logging.getLogger("rds_guard.test").warning("first part\nsecond part\r\nthird")
    err = capsys.readouterr().err
    assert err == "rds-guard: warning: first part second part third\n"


def test_an_unset_key_variable_is_named_with_the_option_that_named_it(
    capsys: pytest.CaptureFixture[str],
    log_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The error line says which option led to the unset variable: ``--key-env VAR``, or
    ``--policy P`` whose ``audit.hmac_key_env`` names it."""
    make_log(log_path, 2)
    monkeypatch.delenv("RGT_NO_SUCH_KEY", raising=False)
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--key-env", "RGT_NO_SUCH_KEY"),
        "--key-env RGT_NO_SUCH_KEY",
        "not set",
    )
    policy = write_policy(
        tmp_path / "p",
        'version = 1\n[audit]\npath = "audit.jsonl"\nhmac_key_env = "RGT_NO_SUCH_KEY"\n',
    )
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--policy", str(policy)),
        f"--policy {policy}",
        "RGT_NO_SUCH_KEY",
        "not set",
    )


def test_check_takes_an_empty_key_variable_as_not_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key variable set to the empty string holds no key: check still exits 0 with its
    summary, saying install would fail, as for an unset one."""
    path = write_policy(
        tmp_path, 'version = 1\n[audit]\npath = "audit.jsonl"\nhmac_key_env = "RGT_KEY"\n'
    )
    make_log(tmp_path / "audit.jsonl", 2, hmac_key=b"k3y")
    monkeypatch.setenv("RGT_KEY", "")
    result = run_main(capsys, "check", str(path))
    assert (result.code, result.err) == (0, "")
    assert "  hmac: HMAC-SHA256, key in $RGT_KEY (NOT SET here: install would fail)\n" in (
        result.out
    )
    document = run_main(capsys, "check", str(path), "--json").json()
    assert document["audit"]["hmac_key_set"] is False


def test_check_says_an_empty_list_or_value_in_words_not_as_a_blank(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``accounts = []``, ``services = []``, ``s3_buckets = []`` and an empty string among
    allowed values, defaults and hold tags are said in words or as ``""``, never left as
    an empty value; the public sharing the policy allows is not contradicted by the line
    about accounts."""
    path = write_policy(
        tmp_path,
        "version = 1\nservices = []\n[sharing]\npublic = true\naccounts = []\n[export]\n"
        's3_buckets = []\n[tags.allowed]\nenv = ["", "*"]\n[tags.defaults]\ne = ""\n'
        '[tags.patterns]\nticket = ""\n[deletion]\nhold_tags = { legal = "" }\n'
        "[audit]\nenabled = false\n",
    )
    result = run_main(capsys, "check", str(path))
    assert result.code == 0
    lines = result.out.splitlines()
    for expected in (
        "services: none (rds, docdb, neptune left out, but judged all the same: the three"
        " APIs share one endpoint)",
        "  public: allowed",
        "  accounts: none (no snapshot may be shared with one)",
        "  s3_buckets: none (every export is export.bucket)",
        '    env: "" | *',
        '    e = ""',
        '    legal = ""',
        '    ticket: ""',
    ):
        assert expected in lines, expected
    assert run_main(capsys, "check", str(path), "--json").json()["sharing"]["accounts"] == []


WHOLE_NUMBERS = """\
version = 1

[tags.defaults]
owner = "{env:RGT_OWNER}"
contact = "{env:RGT_OWNER}@example.com"

[deletion]
minimum_age_days = 30

[audit]
enabled = false
"""


def test_check_shows_whole_numbers_as_whole_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole number of days is ``30`` in the summary and in the JSON, never ``30.0``."""
    monkeypatch.delenv("RGT_OWNER", raising=False)
    path = write_policy(tmp_path, WHOLE_NUMBERS)
    text = run_main(capsys, "check", str(path)).out
    assert (
        "  minimum_age_days: 30 (a younger snapshot may not be deleted: deletion.too_young)\n"
        in text
    )
    raw = run_main(capsys, "check", str(path), "--json").out
    assert '"minimum_age_days": 30,' in raw
    assert json.loads(raw)["deletion"]["minimum_age_days"] == 30


def test_check_lists_each_variable_once_and_whether_it_is_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable two templates read is one line of the summary; unset, it is false in the
    JSON's environment."""
    monkeypatch.delenv("RGT_OWNER", raising=False)
    path = write_policy(tmp_path, WHOLE_NUMBERS)
    lines = run_main(capsys, "check", str(path)).out.splitlines()
    assert lines[lines.index("environment:") :] == [
        "environment:",
        "  RGT_OWNER: not set here (template.env at call time)",
    ]
    document = run_main(capsys, "check", str(path), "--json").json()
    assert document["environment"] == {"RGT_OWNER": False}
    monkeypatch.setenv("RGT_OWNER", "ops")
    assert run_main(capsys, "check", str(path), "--json").json()["environment"] == {
        "RGT_OWNER": True
    }


def test_a_number_of_days_runs_from_one_to_a_hundred_years() -> None:
    """1 and 36,500 days are both taken; one day more or less is refused."""
    assert (days("1"), days(str(MOST_DAYS))) == (1, 36500)
    for text in ("0", str(MOST_DAYS + 1)):
        with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 36,500"):
            days(text)


def test_an_https_endpoint_is_taken() -> None:
    """``--endpoint-url`` takes https:// as it takes http://."""
    assert endpoint_url("https://127.0.0.1:5000") == "https://127.0.0.1:5000"
    assert endpoint_url("http://localhost") == "http://localhost"


@pytest.mark.parametrize("blank", [" ", "\t", "  "])
def test_a_region_of_blanks_is_named_an_empty_region(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, blank: str
) -> None:
    """``--region`` holding only blanks is the empty region's error, not "not a region's
    name"."""
    policy = write_policy(tmp_path, "version = 1\n[audit]\nenabled = false\n")
    run = run_main(capsys, "eval", "--policy", str(policy), "CreateDBSnapshot", "--region", blank)
    assert_one_error_line(run, "argument --region: an empty region")


def test_a_path_that_is_a_directory_is_named_before_anything_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A directory given where a log file goes is ``PATH: not a regular file``, the path
    named, for each command that reads logs."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for words in (["audit", "verify"], ["audit", "head"], ["reconcile", "--audit"]):
        assert_one_error_line(
            run_main(capsys, *words, str(folder)), f"{folder}: not a regular file"
        )


def test_a_symbolic_link_loop_is_named_as_one_not_as_a_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A path that is a loop of symbolic links exists as a name: each command that reads
    logs says the system's reason, as ``check`` does for a policy, not "no such file"."""
    (tmp_path / "l1").symlink_to("l2")
    (tmp_path / "l2").symlink_to("l1")
    loop = tmp_path / "l1"
    for words in (["audit", "verify"], ["audit", "head"], ["reconcile", "--audit"]):
        line = assert_one_error_line(
            run_main(capsys, *words, str(loop)), f"{loop}: Too many levels of symbolic links"
        )
        assert "no such file" not in line


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="no /proc/self/mem here")
def test_a_log_whose_read_fails_once_open_is_named_in_the_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file that opens and then fails to read, as on a failing disk or mount (here
    /proc/self/mem, whose first page is not mapped: EIO), is named with the system's reason."""
    for words in (["audit", "verify"], ["audit", "show"]):
        assert_one_error_line(run_main(capsys, *words, "/proc/self/mem"), "/proc/self/mem: ")


OPEN_POLICY = """\
version = 1
mode = "warn"

[audit]
enabled = false
"""


@pytest.mark.parametrize("value", ["[111122223333", "111122223333]", "[", "]"])
def test_eval_takes_a_list_item_that_only_starts_or_ends_with_a_bracket(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    """Only a value wrapped in brackets reads as the AWS CLI's JSON list: one that merely
    starts or ends with one is an item like any other."""
    policy = write_policy(tmp_path, OPEN_POLICY)
    run = run_main(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "ModifyDBSnapshotAttribute",
        "--param",
        "DBSnapshotIdentifier=orders-1",
        "--param",
        "AttributeName=restore",
        "--param",
        f"ValuesToAdd={value}",
        "--json",
    )
    assert run.code in (0, 1), run
    assert run.json()["params"]["ValuesToAdd"] == [value]


def test_an_eval_name_of_sixty_characters_is_shown_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A name is cut short only past 60 characters: one of exactly 60 is shown as given."""
    policy = write_policy(tmp_path, OPEN_POLICY)
    name = "Create" + "X" * 54
    assert len(name) == 60
    line = assert_one_error_line(run_main(capsys, "eval", "--policy", str(policy), name))
    assert f"{name} is not an operation rds_guard guards" in line
    assert "characters)" not in line
    longer = assert_one_error_line(run_main(capsys, "eval", "--policy", str(policy), name + "Y"))
    assert f"{name}... (61 characters) is not an operation" in longer


def test_eval_says_no_final_snapshot_only_of_a_delete_that_could_make_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """In warn mode a create that names no snapshot (and has no generate template) is
    recorded as requested, then created: "no final snapshot is made" is said only of a
    database's delete."""
    policy = write_policy(tmp_path, OPEN_POLICY)
    run = run_main(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "CreateDBSnapshot",
        "--param",
        "DBInstanceIdentifier=orders",
    )
    assert run.code == 1, run
    assert (
        "record: requested, with its violations, then created if the service accepts it\n"
        in run.out
    )
    assert "final snapshot" not in run.out
    delete = run_main(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "DeleteDBInstance",
        "--param",
        "DBInstanceIdentifier=orders",
        "--param",
        "SkipFinalSnapshot=true",
    )
    assert "(no final snapshot is made)" in delete.out


def test_eval_takes_an_empty_configured_region_as_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AWS_DEFAULT_REGION=`` (set, but empty) configures no region: a policy without
    ``{region}`` is judged, one with it asks for --region; neither calls it a bad region."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    plain = write_policy(tmp_path, "version = 1\n[audit]\nenabled = false\n", name="plain.toml")
    words = ["eval", "--policy", str(plain), "CreateDBSnapshot"]
    run = run_main(capsys, *words, "--param", "DBSnapshotIdentifier=o-1")
    assert (run.code, run.err) == (0, ""), run
    regional = write_policy(
        tmp_path,
        'version = 1\n[tags.defaults]\nwhere = "{region}"\n[audit]\nenabled = false\n',
        name="regional.toml",
    )
    words[2] = str(regional)
    assert_one_error_line(
        run_main(capsys, *words, "--param", "DBSnapshotIdentifier=o-1"),
        "no region is configured: pass --region R",
    )


def test_eval_reads_no_instance_that_has_no_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``BackupRetentionPeriod=0`` with an empty instance identifier: the guard has no
    instance to read, so nothing is listed as not judged for want of reading it."""
    policy = write_policy(
        tmp_path, 'version = 1\n[deletion]\nautomated_backups = "keep"\n[audit]\nenabled = false\n'
    )
    words = ["eval", "--policy", str(policy), "ModifyDBInstance", "--param"]
    named = run_main(
        capsys, *words, "DBInstanceIdentifier=db", "--param", "BackupRetentionPeriod=0"
    )
    assert "not judged: the instance" in named.out
    empty = run_main(capsys, *words, "DBInstanceIdentifier=", "--param", "BackupRetentionPeriod=0")
    assert empty.code == 1, empty
    assert "not judged" not in empty.out


def test_a_file_a_command_cannot_open_is_named_in_its_error_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError that names its file is one line giving the file and the system's reason."""

    def run(args: object) -> int:
        raise OSError(errno.EACCES, "Permission denied", "/var/log/rds-guard/audit.jsonl")

    monkeypatch.setattr(check, "run", run)
    result = run_main(capsys, "check")
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "rds-guard: error: /var/log/rds-guard/audit.jsonl: Permission denied\n",
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"<html><body>a portal</body></html>"), (500, b"<!doctype html>\n<html lang=en>")],
    ids=["200", "500"],
)
def test_reconcile_against_an_endpoint_that_answers_no_listing_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, status: int, body: bytes
) -> None:
    """An endpoint that answers a page, not the service's XML (a captive portal, a proxy's
    error page): one line saying the listing cannot be read, not an unexpected error."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    make_log(tmp_path / "audit.jsonl", 1)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_MAX_ATTEMPTS", "1")
            env.setenv("AWS_ACCESS_KEY_ID", "testing")
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            result = run_main(
                capsys, "reconcile", "--audit", str(tmp_path / "audit.jsonl"),
                "--endpoint-url", url, "--region", "us-east-1",
            )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert_one_error_line(result, "the service's listing cannot be read")


def test_a_reader_gone_while_a_command_writes_elsewhere_is_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken pipe met by the command itself (its output not a descriptor the command
    writes through) cuts it short, its verdict unknown: exit 1, nothing said."""

    def run(args: object) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(check, "run", run)
    result = run_main(capsys, "check")
    assert (result.code, result.out, result.err) == (1, "", "")


def test_a_command_line_given_up_with_a_message_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the command line ending with a SystemExit that carries a message, not a
    number, is bad usage (exit 2), never success."""

    def given_up(*args: object, **kwargs: object) -> object:
        raise SystemExit("cannot read the command line")

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", given_up)
    assert run_main(capsys, "check").code == 2


def test_the_streams_are_left_as_they_were_after_a_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``main`` escapes what the streams cannot encode only while the command runs: after,
    their error handlers are the ones they had (a program calling ``main`` keeps its own)."""
    streams = [s for s in (sys.stdout, sys.stderr) if isinstance(s, io.TextIOWrapper)]
    assert streams, "the captured streams are text wrappers"
    before = [s.errors for s in streams]
    assert run_main(capsys, "--version").code == 0
    assert [s.errors for s in streams] == before


def test_a_ledger_table_named_by_the_policy_that_is_not_there_is_said_so(
    moto_server: MotoServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table the policy's [audit.ledger] names (no --ledger given) that is not there: the
    error line says the ledger's table is not there, with no placeholder for an option not
    given."""
    reach_moto(moto_server, monkeypatch, attempts=3)
    policy = write_policy(tmp_path, LEDGER.replace("rds-guard-audit", "no-such-table"))
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    line = assert_one_error_line(
        run_main(capsys, "audit", "query", "--snapshot", "orders-1", "--policy", str(policy)),
        "the ledger's table is not there",
        "ResourceNotFound",
    )
    assert "None" not in line


@pytest.mark.parametrize("action", ["rotate", "repair"])
def test_an_unset_key_variable_is_reported_before_a_missing_log(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    """Where the key is missing and so is the file, the key is named first: fixing the
    path alone would not make the command run."""
    monkeypatch.delenv("RGT_NO_SUCH_KEY", raising=False)
    missing = tmp_path / "missing.jsonl"
    line = assert_one_error_line(
        run_main(capsys, "audit", action, str(missing), "--key-env", "RGT_NO_SUCH_KEY"),
        "--key-env RGT_NO_SUCH_KEY",
    )
    assert "no such file" not in line

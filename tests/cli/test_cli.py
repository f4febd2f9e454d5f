"""The real ``rds-guard`` console script: ``--help`` on every command, and ``eval`` and
``check`` run as a user runs them (the policy found as ``./rds_guard.toml`` too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    REPO,
    assert_one_error_line,
    command,
    run_main,
    run_script,
    script_env,
    services_warning,
)
from policies import EXAMPLE, write_policy

import rds_guard.cli  # noqa: F401  (registers the streams' error handler, rds_guard.escape)
from rds_guard import audit

GOOD = "orders-manual-20261129"

HELP_COMMANDS = [
    [],
    ["check"],
    ["eval"],
    ["reconcile"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "rotate"],
    ["audit", "repair"],
]


@pytest.mark.parametrize("words", HELP_COMMANDS, ids=lambda w: " ".join(w) or "rds-guard")
def test_help_explains_every_command_with_an_example(tmp_path: Path, words: list[str]) -> None:
    result = run_script(*words, "--help", env=script_env(tmp_path))
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"usage: rds-guard {' '.join(words)}".rstrip())
    _, _, examples = result.out.partition("example")
    assert f"rds-guard {' '.join(words)}".rstrip() in examples


def test_real_script_eval_and_check(tmp_path: Path) -> None:
    env = script_env(tmp_path)
    policy = write_policy(tmp_path, EXAMPLE)
    blocked = run_script(
        "eval",
        "--policy",
        str(policy),
        "ModifyDBClusterSnapshotAttribute",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--param",
        "AttributeName=restore",
        "--param",
        "ValuesToAdd=all",
        "--param",
        "ValuesToAdd=444455556666",
        "--json",
        env=env,
    )
    assert (blocked.code, blocked.err) == (1, "")
    assert blocked.json()["params"]["ValuesToAdd"] == ["all", "444455556666"]
    allowed = run_script(
        "eval",
        "DeleteDBCluster",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        "FinalDBSnapshotIdentifier=orders-manual-20261129",
        env=env,
        cwd=tmp_path,  # found as ./rds_guard.toml
    )
    assert allowed.code == 0 and allowed.out.startswith("allowed: rds DeleteDBCluster")
    assert_one_error_line(
        run_script("eval", "--policy", str(policy), "DescribeDBClusters", env=env),
        "not an operation rds_guard guards",
    )
    checked = run_script("check", env={**env, "RDS_GUARD_POLICY": str(policy)})
    assert checked.code == 0 and checked.out.startswith(f"ok: {policy} is a valid policy")
    # a policy naming fewer than all three services loads with a warning: one line on stderr
    partial = write_policy(tmp_path, 'version = 1\nservices = ["rds"]\n', name="partial.toml")
    checked = run_script("check", str(partial), env=env)
    assert (checked.code, checked.err) == (0, services_warning(partial, "docdb, neptune", line=2))
    bad = write_policy(tmp_path, 'version = 1\n[sharing]\naccounts = ["12"]\n', name="bad.toml")
    assert_one_error_line(
        run_script("check", str(bad), env=env), f"{bad}:3: sharing.accounts[0]: '12' is not"
    )


@pytest.mark.parametrize(
    "words",
    [
        ["--version"],
        ["check", str(REPO / "examples" / "rds_guard.toml")],
        ["eval", "--help"],
        # more than stdout's buffer: the pipe is found closed while the command prints
        ["eval", "--policy", str(REPO / "examples" / "rds_guard.toml"), "CreateDBClusterSnapshot",
         "--param", "DBClusterIdentifier=orders", "--tag", "team=" + "x" * 100_000],
    ],
    ids=["version", "check", "help", "huge-output"],
)  # fmt: skip
def test_a_reader_gone_early_changes_no_exit_code_and_says_nothing(
    tmp_path: Path, words: list[str]
) -> None:
    """``rds-guard ... | true``: stdout's reader is gone before anything is written, whether
    the output is still buffered when the command ends or fills the buffer on the way. The
    command runs to its verdict: its exit code is the one it gives when all its output is
    read (0 for a good policy, never 1, which says a finding; 1 for the huge tag refused)."""
    read = subprocess.run(
        [*command(), *words],
        capture_output=True,
        env=script_env(tmp_path),
        text=True,
        timeout=120,
        check=False,
    )
    assert read.stdout and read.returncode == (1 if "--tag" in words else 0)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*command(), *words],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=script_env(tmp_path),  # no PYTHONUNBUFFERED: stdout is buffered, as for a user
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (read.returncode, "")


def test_unbuffered_output_keeps_its_order_with_stderr(tmp_path: Path) -> None:
    """Under ``PYTHONUNBUFFERED`` (``python -u``) stdout is written as it comes, as without
    the CLI's pipe writer: ``audit show`` of a log with a line that is no record says so on
    stderr right after the records before it, each line whole, in ``2>&1``."""
    log = tmp_path / "audit.jsonl"
    writer = audit.AuditLog(log)
    for index in range(8):
        writer.write("requested", call=str(index))
    writer.close()
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join([*lines[:5], b"junk", *lines[5:]]))
    shown = subprocess.run(
        [*command(), "audit", "show", "--json", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=script_env(tmp_path, PYTHONUNBUFFERED="1"),
        text=True,
        timeout=120,
        check=False,
    )
    out = shown.stdout.splitlines()
    assert out[5] == "line 6: not a record: junk", out
    assert all(line.startswith('{"prev":') and line.endswith("}") for line in out[:5] + out[6:])
    assert len(out) == 9


def test_what_the_program_printed_before_the_command_comes_first(tmp_path: Path) -> None:
    """``main()`` called in a program whose stdout holds buffered text: that text comes
    before the command's output, and what the program prints after comes after."""
    program = (
        "import sys\n"
        "print('before')\n"
        "from rds_guard.cli import main\n"
        "code = main(['--version'])\n"
        "print('after', code)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        # errors other than strict: the streams are not reconfigured (which flushes them)
        env=script_env(tmp_path, PYTHONUNBUFFERED=None, PYTHONIOENCODING="utf-8:backslashreplace"),
        text=True,
        timeout=120,
        check=False,
    )
    out = ran.stdout.splitlines()
    assert (out[0], out[-1], len(out)) == ("before", "after 0", 3), ran


@pytest.mark.parametrize(
    "terminal",
    [
        {"PYTHONIOENCODING": "ascii"},
        # no UTF-8 mode: Python's streams take ASCII with surrogateescape, not strict
        {"LANG": "C", "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
    ],
    ids=["ascii", "C locale"],
)
def test_what_the_terminal_cannot_encode_is_escaped_not_an_error(
    tmp_path: Path, terminal: dict[str, str]
) -> None:
    policy = write_policy(tmp_path, 'version = 1\n[tags]\nrequired = ["équipe"]\n')
    result = run_script("check", str(policy), env=script_env(tmp_path, **terminal))
    assert (result.code, result.err) == (0, "")
    assert "required: \\xe9quipe" in result.out


def test_a_file_name_that_is_not_utf8_is_shown_as_its_bytes_in_a_policy_error(
    tmp_path: Path,
) -> None:
    """A policy file whose name holds a byte that is not UTF-8 (Latin-1's é): the error names
    it with that byte written ``\\xe9``, as the terminal escapes are, not as the surrogate
    Python decoded it to (``\\udce9``, a character no file name holds)."""
    name = os.fsdecode(b"caf\xe9.toml")
    write_policy(tmp_path, 'version = 1\nmode = "block"\n', name=name)
    result = run_script("check", name, env=script_env(tmp_path), cwd=tmp_path)
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.startswith("rds-guard: error: caf\\xe9.toml:2: mode: "), result.err
    assert "udce9" not in result.err
    result = run_script("audit", "verify", name, env=script_env(tmp_path), cwd=tmp_path)
    assert result.code == 2, result
    assert result.err.startswith("rds-guard: error: caf\\xe9.toml is not an audit log: "), result


def test_undecodable_argument_bytes_are_written_back_and_other_characters_escaped() -> None:
    """The streams' handler while a command runs: an argument's bytes Python could not decode
    (kept as surrogates) go out as they came, any other character as an escape, each run of
    them answered for itself (Python hands a whole run over at once)."""
    text = "é\udcc3\udca9x€\udcff"
    assert text.encode("ascii", "rds_guard.escape") == b"\\xe9\xc3\xa9x\\u20ac\xff"


@pytest.mark.parametrize(
    "words",
    [
        ["check", "policy.toml", "\x1b[31mRED\nrds-guard: ok: forged"],
        ["eval", "CreateDBSnapshot", "--s=\x1b]0;PWN\x07\nrds-guard: ok: forged"],
    ],
    ids=["unrecognized", "ambiguous"],
)
def test_argparse_errors_quoting_an_argument_are_one_escaped_line(
    capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    """argparse puts the argument itself in some of its messages: its control characters
    and line breaks are escaped, so it can neither drive the terminal nor forge a line."""
    line = assert_one_error_line(run_main(capsys, *words))
    assert "\x1b" not in line and "\x07" not in line and "\\x1b" in line


def test_a_closed_stderr_keeps_errors_off_stdout(tmp_path: Path) -> None:
    """Started with stderr closed (``2>&-``): the error goes nowhere, stdout stays the output."""
    done = _started(
        tmp_path,
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *command(), "check", str(tmp_path / "none.toml")],
        stdout=subprocess.PIPE,
    )
    assert (done.returncode, done.stdout) == (2, "")


@pytest.mark.parametrize("words", [["--version"], ["check", "policy"], ["audit", "head", "log"]])
def test_a_closed_stdout_is_output_lost_not_success(tmp_path: Path, words: list[str]) -> None:
    """Started with stdout closed (``>&-``): what the command prints is lost, so it exits 2
    saying so, rather than 0 having printed nothing (a checkpoint no one will see)."""
    log = tmp_path / "audit.jsonl"
    audit.AuditLog(log, fsync=False).write("requested")
    named = {"policy": str(write_policy(tmp_path, EXAMPLE)), "log": str(log)}
    done = _started(
        tmp_path,
        ["sh", "-c", 'exec "$@" >&-', "sh", *command(), *(named.get(w, w) for w in words)],
        stderr=subprocess.PIPE,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "rds-guard: error: standard output is closed: the output was lost\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_stderr_keeps_the_exit_code_of_the_error(tmp_path: Path) -> None:
    """``2>/dev/full``: the error line cannot be written, and the exit code still says 2."""
    with open("/dev/full", "w") as full:
        done = _started(
            tmp_path,
            [*command(), "check", str(tmp_path / "none.toml")],
            stdout=subprocess.PIPE,
            stderr=full,
        )
    assert (done.returncode, done.stdout) == (2, "")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["audit", "verify", ""], "an empty path"),
        (["audit", "rotate", ""], "an empty path"),
        (["check", ""], "the path is empty"),
        (["reconcile", "--audit", "a.jsonl", "--region", ""], "an empty region"),
        (["eval", "CreateDBSnapshot", "--region", ""], "an empty region"),
    ],
)
def test_an_empty_path_or_region_is_named_as_such(
    capsys: pytest.CaptureFixture[str], words: list[str], expected: str
) -> None:
    code, out, err = run_main(capsys, *words)
    assert (code, out) == (2, "")
    assert expected in err and len(err.splitlines()) == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("words", [["--version"], ["--help"], ["check", "--help"]])
def test_help_or_version_into_a_full_disk_is_an_error(tmp_path: Path, words: list[str]) -> None:
    """argparse ignores a failed write; the command says it and exits 2, not 0."""
    with open("/dev/full", "w") as full:
        done = _started(tmp_path, [*command(), *words], stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr == "rds-guard: error: standard output: No space left on device\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("size", ["short", "long"])
def test_a_commands_output_into_a_full_disk_names_standard_output(
    tmp_path: Path, size: str
) -> None:
    """The error says it is standard output that could not be written (not a file the
    command reads or writes, such as the audit log), whether the output is written at the
    end (short) or while the command runs (longer than the buffer)."""
    policy = write_policy(tmp_path, "version = 1\n")
    words = ["check", "--json", str(policy)]
    if size == "long":  # more than the buffer: written while the command runs
        log = tmp_path / "audit.jsonl"
        with audit.AuditLog(log) as written:
            for _ in range(200):
                written.write("requested", call="c", notes=["x" * 200])
        words = ["audit", "show", str(log)]
    with open("/dev/full", "w") as full:
        done = _started(tmp_path, [*command(), *words], stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr == "rds-guard: error: standard output: No space left on device\n"


def _started(tmp_path: Path, args: list[str], **streams: Any) -> subprocess.CompletedProcess[str]:
    """``args`` run as a process of its own with ``streams`` (stdout, stderr), as text."""
    return subprocess.run(
        args, env=script_env(tmp_path), text=True, timeout=120, check=False, **streams
    )


@pytest.mark.parametrize(
    "words",
    [
        ["audit", "verify", "LOG", "--head", "1" * 64, "--head", "2" * 64],
        ["audit", "show", "LOG", "--event", "created", "--event", "requested"],
        ["audit", "show", "LOG", "--snapshot", "a", "--snapshot=a"],
        ["eval", "CreateDBClusterSnapshot", "--region", "us-east-1", "--region", "us-east-1"],
    ],
    ids=["verify --head", "show --event", "show --snapshot", "eval --region"],
)
def test_an_option_of_one_value_given_twice_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, words: list[str]
) -> None:
    """argparse keeps the last value: a wrong --head before the right one was dropped without
    a word (ok, exit 0). An option that takes one value is refused given twice, even alike."""
    log = tmp_path / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        writer.write("requested")
    args = [str(log) if w == "LOG" else w for w in words]
    option = words[-1].partition("=")[0] if "=" in words[-1] else words[-2]
    assert_one_error_line(run_main(capsys, *args), f"argument {option}: given twice")


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (
            ["audit", "verify", "LOG", "--key-env", ""],
            "argument --key-env: expected an environment variable's name",
        ),
        (
            ["audit", "verify", "LOG", "--key-env", "A-B"],
            "argument --key-env: expected an environment variable's name",
        ),
        (
            ["audit", "query", "--ledger", "dynamodb://table", "--snapshot", ""],
            "argument --snapshot: expected a name, got an empty one",
        ),
    ],
    ids=["empty --key-env", "--key-env no name", "empty --snapshot"],
)
def test_an_option_naming_nothing_is_exit_2_before_anything_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, words: list[str], said: str
) -> None:
    """Not "environment variable  (the audit HMAC key) is not set", nor DynamoDB's own
    ValidationException for an empty key: the option named, and what it takes."""
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    args = [str(log) if w == "LOG" else w for w in words]
    assert_one_error_line(run_main(capsys, *args), said)


def test_the_parsed_arguments_hold_only_the_commands_own() -> None:
    """What the parser keeps to refuse an option given twice is not left in the namespace,
    and a namespace parsed into again takes its options again."""
    from rds_guard.cli import build_parser

    parser = build_parser()
    words = ["audit", "verify", "log.jsonl", "--head", "1" * 64]
    parsed = parser.parse_args(words)
    assert "_options_given" not in vars(parsed)
    assert parser.parse_args(words, namespace=parsed).head == "1" * 64

"""What the commands share (rds_guard/cli/common.py): the progress line of long work."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import botocore.session
import pytest
from cli_helpers import Clock, Terminal, run_main
from hypothesis import given
from hypothesis import strategies as st

from rds_guard.cli.common import Progress, printable
from rds_guard.clients import ClientSettingsError, made_client


def test_progress_is_one_line_redrawn_at_most_every_interval_then_cleared() -> None:
    stream, clock = Terminal(), Clock()
    with Progress(stream=stream, interval=1.0, clock=clock) as progress:
        assert progress.enabled
        progress.show("1 page")
        progress.show("2 pages")  # within the interval: not redrawn
        clock.now = 1.0
        progress.show("3 pages\n(escaped)")
    assert stream.getvalue() == "\r1 page\x1b[K\r3 pages\\n(escaped)\x1b[K\r\x1b[K"


def test_progress_stays_silent_off_a_terminal_or_when_quiet() -> None:
    for stream, quiet in ((io.StringIO(), False), (Terminal(), True)):
        with Progress(stream=stream, quiet=quiet) as progress:
            assert not progress.enabled
            progress.show("1 page")
        assert stream.getvalue() == ""


def test_progress_clears_nothing_it_never_drew() -> None:
    stream = Terminal()
    Progress(stream=stream).close()
    assert stream.getvalue() == ""


@given(st.text())
def test_printable_escapes_exactly_the_unsafe_characters(text: str) -> None:
    """Whatever the text (the ASCII fast path included), each control, format, surrogate,
    private-use, unassigned or line/paragraph separator character is escaped as ``ascii``
    writes it, but for a byte ``surrogateescape`` kept (``\\xe9``, the byte) and a character
    of U+0080 to U+00FF (``\\u0085``, never alike); every other character is kept."""

    def escape(char: str) -> str:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return f"\\x{ord(char) - 0xDC00:02x}"
        return f"\\u{ord(char):04x}" if 0x80 <= ord(char) <= 0xFF else ascii(char)[1:-1]

    expected = "".join(
        escape(char) if unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" else char
        for char in text
    )
    assert printable(text) == expected
    assert printable("a\tb\x1bc\x7f") == "a\\tb\\x1bc\\x7f"
    assert printable("\x85\udc85") == "\\u0085\\x85"


@pytest.mark.parametrize(
    ("command", "url", "said"),
    [
        (["reconcile", "--audit", "log.jsonl"], "http://127.0.0.1:99999", "Port out of range"),
        (["reconcile", "--audit", "log.jsonl"], "127.0.0.1:5000", "expected an http:// or"),
        (["ledger", "init"], "ftp://127.0.0.1", "expected an http:// or"),
        (["ledger", "init"], "http://[::1", "Invalid IPv6 URL"),
    ],
)
def test_an_endpoint_url_botocore_cannot_use_is_bad_usage_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], command: list[str], url: str, said: str
) -> None:
    run = run_main(capsys, *command, "--endpoint-url", url)
    assert (run.code, run.out) == (2, "")
    assert f"argument --endpoint-url: {said}" in run.err and "unexpected" not in run.err


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["reconcile", "--audit", "log.jsonl", "--region", "us-east-1\n"], "argument --region"),
        (["reconcile", "--audit", "log.jsonl", "--region", "us east"], "argument --region"),
        (["audit", "ship", "log.jsonl", "--ledger", "dynamodb://tbl?region=xx%20yy"], "--ledger"),
        (["audit", "ship", "log.jsonl", "--ledger", "dynamodb://tbl?region=a%0a"], "--ledger"),
    ],
)
def test_a_region_that_is_no_regions_name_is_bad_usage(
    capsys: pytest.CaptureFixture[str], command: list[str], said: str
) -> None:
    """botocore's own check lets a region ending in a newline through, and sends it."""
    run = run_main(capsys, *command)
    assert (run.code, run.out) == (2, "")
    assert said in run.err and "region's name" in run.err


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("AWS_DEFAULT_REGION", "us-east-1\n", "not a region's name: 'us-east-1\\n'"),
        ("AWS_ENDPOINT_URL", "junk", "cannot make the rds client: Invalid endpoint: junk"),
        (
            "AWS_MAX_ATTEMPTS",
            "junk",
            "cannot make the rds client: invalid literal for int() with base 10: 'junk' (from"
            " $AWS_MAX_ATTEMPTS)",
        ),
    ],
)
def test_botocore_settings_it_cannot_use_are_one_line_naming_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    said: str,
) -> None:
    """From the environment: one error line saying what is wrong, not "unexpected", and never
    the signed header a newline in the region made http.client quote (access key id and
    signature)."""
    log = tmp_path / "log.jsonl"
    log.write_text("")
    for name, setting in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        variable: value,
    }.items():
        monkeypatch.setenv(name, setting)
    run = run_main(capsys, "reconcile", "--audit", str(log))  # each fails making the client
    assert (run.code, run.out) == (2, "")
    assert said in run.err and "unexpected" not in run.err
    assert "AKIA" not in run.err and "Signature" not in run.err


def test_an_endpoint_urls_password_is_not_echoed_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore quotes an unreachable endpoint's URL whole; the error line does not repeat
    the password it holds (CI logs keep what a command prints)."""
    log = tmp_path / "log.jsonl"
    log.write_text("")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    url = "http://admin:S3CRET@127.0.0.1:1"
    run = run_main(
        capsys, "reconcile", "--audit", str(log), "--region", "us-east-1", "--endpoint-url", url
    )
    assert (run.code, run.out) == (2, "")
    assert "http://[redacted]@127.0.0.1:1" in run.err and "S3CRET" not in run.err


def test_a_session_token_the_http_client_refuses_is_not_echoed_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session token with a trailing CR (a token file with Windows line endings): Python's
    HTTP client refuses the header and quotes its value, with no name before it. The error
    line says so without the token."""
    log = tmp_path / "log.jsonl"
    log.write_text("")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzSECRETTOKEN\r")
    run = run_main(
        capsys,
        *("reconcile", "--audit", str(log), "--region", "us-east-1"),
        *("--endpoint-url", "http://127.0.0.1:1"),
    )
    assert (run.code, run.out) == (2, "")
    assert "Invalid header value [redacted]" in run.err and "SECRETTOKEN" not in run.err


@pytest.mark.parametrize(
    ("command", "url"),
    [
        (["reconcile", "--audit", "log.jsonl"], "http://admin:S3CRET@127.0.0.1:99999"),
        (["reconcile", "--audit", "log.jsonl"], "ftp://admin:S3CRET@127.0.0.1"),
        (["ledger", "init"], "http://admin:S3CRET@"),
        (["ledger", "init"], "http://admin:S3CRET#x@127.0.0.1:1"),  # "port 'S3CRET'"
    ],
)
def test_an_endpoint_url_refused_is_not_echoed_with_its_password(
    capsys: pytest.CaptureFixture[str], command: list[str], url: str
) -> None:
    """argparse prints the error of an ``--endpoint-url`` it refuses as it is: it quoted the
    URL whole, password and all."""
    run = run_main(capsys, *command, "--endpoint-url", url)
    assert (run.code, run.out) == (2, "")
    assert "[redacted]@" in run.err and "S3CRET" not in run.err


def test_an_endpoint_botocore_refuses_is_not_quoted_with_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """botocore's "Invalid endpoint: URL" for ``AWS_ENDPOINT_URL``, quoted in the error of a
    client rds_guard makes (the ledger's, at install: an `AuditError` the application logs)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://admin:S3CRET@ho st")
    with pytest.raises(ClientSettingsError) as refused:
        made_client(botocore.session.Session(), "rds", region_name="us-east-1")
    assert "Invalid endpoint: http://[redacted]@ho st" in str(refused.value)
    assert "S3CRET" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://admin:S3CRET#x@127.0.0.1:1", "http://admin:S3CRET?x@h"])
def test_an_endpoint_botocore_takes_and_cannot_sign_for_is_refused_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """botocore makes a client for a URL whose password holds a raw # or ?, and its signer
    raises a bare ValueError quoting the password's start ("Port could not be cast to integer
    value as 'S3CRET'") at every request: the ledger's install probe raised it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    with pytest.raises(ClientSettingsError) as refused:
        made_client(botocore.session.Session(), "rds", region_name="us-east-1")
    assert "cannot make the rds client: its endpoint URL http://[redacted]@" in str(refused.value)
    assert "S3CRET" not in str(refused.value)


@pytest.mark.parametrize("seq", ["0", "x", "\u00b2", "9" * 5000])
def test_a_ship_from_that_is_no_seq_is_bad_usage(
    capsys: pytest.CaptureFixture[str], seq: str
) -> None:
    run = run_main(capsys, "audit", "ship", "log.jsonl", "--from", seq)
    assert (run.code, run.out) == (2, "")
    assert "argument --from: expected a seq (1, 2, ...)" in run.err

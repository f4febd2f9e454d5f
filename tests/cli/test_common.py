"""What the commands share (rds_guard/cli/common.py): the progress line of long work."""

from __future__ import annotations

import io
import unicodedata

import pytest
from cli_helpers import Clock, Terminal, run_main
from hypothesis import given
from hypothesis import strategies as st

from rds_guard.cli.common import Progress, printable


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
    writes it, and every other character is kept."""
    expected = "".join(
        ascii(char)[1:-1]
        if unicodedata.category(char)[0] == "C" or char in "\u2028\u2029"
        else char
        for char in text
    )
    assert printable(text) == expected
    assert printable("a\tb\x1bc\x7f") == "a\\tb\\x1bc\\x7f"


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


@pytest.mark.parametrize("seq", ["0", "x", "\u00b2", "9" * 5000])
def test_a_ship_from_that_is_no_seq_is_bad_usage(
    capsys: pytest.CaptureFixture[str], seq: str
) -> None:
    run = run_main(capsys, "audit", "ship", "log.jsonl", "--from", seq)
    assert (run.code, run.out) == (2, "")
    assert "argument --from: expected a seq (1, 2, ...)" in run.err

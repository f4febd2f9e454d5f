"""What the commands share (rds_guard/cli/common.py): the progress line of long work."""

from __future__ import annotations

import io

from cli_helpers import Clock, Terminal

from rds_guard.cli.common import Progress


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

"""The words of a progress line counted in records (rds_guard/cli/throughput.py)."""

from __future__ import annotations

import io

from cli_helpers import Clock, Terminal

from rds_guard.cli.common import Progress
from rds_guard.cli.throughput import Throughput, duration


def test_done_of_total_the_rate_and_the_time_left() -> None:
    clock = Clock()
    counts = Throughput(Progress(stream=Terminal()), "ship audit.jsonl", clock=clock)
    clock.now = 2.0
    assert (
        counts.text(2000, 10_000)
        == "ship audit.jsonl: 2,000 of 10,000 records, 1,000 records/s, 8 s left"
    )
    assert counts.text(2000) == "ship audit.jsonl: 2,000 records, 1,000 records/s"
    assert counts.text(2000, fraction=0.25) == (
        "ship audit.jsonl: 2,000 records, 1,000 records/s, 6 s left"
    )


def test_nothing_is_drawn_off_a_terminal() -> None:
    stream = io.StringIO()
    Throughput(Progress(stream=stream), "verify").update(5, 10)
    assert stream.getvalue() == ""


def test_durations() -> None:
    assert [duration(s) for s in (0.2, 42, 600, 9000)] == ["1 s", "42 s", "10 min", "2.5 h"]

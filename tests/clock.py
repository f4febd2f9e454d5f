"""The UTC days a test ran through, for names and tags the code under test makes from
``{utcnow:...}``.

A run of the suite that starts before midnight UTC and ends after it must not expect the day
it was collected on, nor the day a test started on: a test takes :class:`UtcDays` before the
call it checks and expects what the call made for one of the days it ran through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


class UtcDays:
    """The UTC days from this object's making to each question: one, or two across midnight."""

    def __init__(self) -> None:
        self._start = datetime.now(UTC)

    def days(self, fmt: str = "%Y%m%d") -> list[str]:
        """The days so far, oldest first, each formatted with ``fmt``."""
        start, now = self._start, datetime.now(UTC)
        return list(dict.fromkeys([start.strftime(fmt), now.strftime(fmt)]))

    def expect(self, make: Callable[[str], T], actual: object, fmt: str = "%Y%m%d") -> T:
        """What ``make`` gives for the day it gives ``actual`` for, else for the first day: the
        value to compare ``actual`` with, so that a wrong value fails as it would on any day."""
        expected = [make(day) for day in self.days(fmt)]
        return next((value for value in expected if value == actual), expected[0])

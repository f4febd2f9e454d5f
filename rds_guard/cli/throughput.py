"""The words of a progress line for work counted in records: how many are done (of how
many, when known), the rate, and the time left where it can be known, drawn on
`common.Progress` (shown only on a terminal, never with ``--quiet``). Used by ``audit ship``
and ``audit verify`` (of large files and of the ledger).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .common import Progress


class Throughput:
    """Counts for one piece of work (``label``), shown on ``progress``."""

    def __init__(
        self,
        progress: Progress,
        label: str,
        *,
        unit: str = "records",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.progress = progress
        self.label = label
        self.unit = unit
        self._clock = clock
        self._started = clock()

    def update(self, done: int, total: int | None = None, *, fraction: float | None = None) -> None:
        """``done`` of ``total`` (None: unknown) are done; ``fraction`` (0 to 1) says how far
        along the work is when ``total`` is unknown (the bytes of a file read so far)."""
        if self.progress.enabled:
            self.progress.show(self.text(done, total, fraction=fraction))

    def text(self, done: int, total: int | None = None, *, fraction: float | None = None) -> str:
        """``LABEL: DONE[ of TOTAL] UNIT, RATE UNIT/s[, T left]``."""
        elapsed = max(self._clock() - self._started, 1e-9)
        head = f"{self.label}: {done:,}" + (f" of {total:,}" if total else "") + f" {self.unit}"
        parts = [head, f"{done / elapsed:,.0f} {self.unit}/s"]
        if fraction is None and total:
            fraction = done / total
        if fraction is not None and 0 < fraction < 1 and elapsed >= 0.5:
            parts.append(f"{duration(elapsed * (1 - fraction) / fraction)} left")
        return ", ".join(parts)


def duration(seconds: float) -> str:
    """``12 s``, ``4 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"

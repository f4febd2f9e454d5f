"""`ShipResult`: what one run of the shipper did, for a person (`describe`) and for
``--json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...core.logs import LOGGER as logger


@dataclass
class ShipResult:
    """What one run did: records stored now, found stored already (``already``), the seq up
    to which every record is in the ledger (``acked``) and the local log's last (``last``).
    ``error`` says why the run stopped early (the records wait); ``busy`` that another
    shipper held the log; ``missing``, the seqs (first, last) no record of the log's series
    holds, passed over: they cannot reach the ledger; ``damaged``, the lines after the last
    record of the series that hold none (file, byte offset; the first `Junk.KEPT` of them),
    such as a last record made junk, or the live file's first line when it holds none (no
    record of the log is shipped then); ``damaged_count``, how many such lines there are.
    ``confirmed``: ``acked`` was checked this run, against the ledger's answer or the very
    line this shipper last acknowledged; else it is the shipping state as last saved (the
    ledger did not answer), which a log cut short and written again no longer matches."""

    path: Path
    stream: str = ""
    shipped: int = 0
    already: int = 0
    acked: int = 0
    last: int = 0
    error: str | None = None
    busy: bool = False
    missing: list[tuple[int, int]] = field(default_factory=list)
    damaged: list[tuple[str, int]] = field(default_factory=list)
    damaged_count: int = 0
    confirmed: bool = False

    @property
    def pending(self) -> int:
        """Records of the local log not yet acknowledged."""
        return max(0, self.last - self.acked)

    def describe(self) -> str:
        """One line for a person."""
        if self.busy:
            return f"{self.path}: another shipper is at work on it; nothing done"
        done = f"{self.shipped} shipped"
        if self.already:
            done += f", {self.already} already there"
        stream = self.stream or "(its stream not named yet)"
        where = f"{self.path} -> {stream}: {done}; acknowledged through seq {self.acked}"
        if self.error is not None and not self.confirmed and self.acked:
            where += " as last saved (not checked with the ledger)"
        if self.error is not None:
            where += f"; {self.pending} record(s) wait: {self.error}"
        elif self.pending:
            where += f", {self.pending} record(s) wait"
        elif not (self.missing or self.damaged):
            where += ", up to date"
        for first, last in self.missing:
            seqs = f"seq {first}" if first == last else f"seqs {first} to {last}"
            where += (
                f"; {seqs} in no record of the log (a damaged line, or an archive removed"
                " before it was shipped?): not shipped from it (verify --ledger says whether"
                " the ledger holds them)"
            )
        for file, offset in self.damaged[:3]:
            where += f"; the line at byte {offset} of {file} is no record (damaged?): not shipped"
        more = self.damaged_count - min(3, len(self.damaged))
        return where + (f"; {more} more such line(s)" if more > 0 else "")


def warn_damaged(path: Path, damaged: list[tuple[str, int]], count: int) -> None:
    """Warn of the lines after a series' last record that hold none (``damaged``, the first
    of them; ``count`` in all), or of a live file whose first line holds none."""
    file, offset = damaged[0]
    if (file, offset) == (str(path), 0):  # the series cannot be walked
        logger.warning(
            "%s: its first line holds no record (damaged?): nothing of the log is"
            " shipped until it is repaired; verify will report it",
            path,
        )
    else:
        logger.warning(
            "%s: %d line(s) after the log's last record hold no record (the first at"
            " byte %d of %s; damaged?): not shipped, verify will report it",
            path,
            count,
            offset,
            file,
        )

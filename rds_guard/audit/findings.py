"""What a chain walk reports: `Finding`, one bad line, and the wording of the findings that
more than one step of the walk gives (what each reason means is in docs/audit.md, "Verify")."""

from __future__ import annotations

from pathlib import Path

from rds_guard.core.frozen import frozen

CRLF = (
    "ends with a carriage return: the file's line endings were converted to CRLF (a text-mode "
    "copy or editor); without it the chain holds: convert them back to LF and verify again"
)
NOT_AUTHENTIC = (
    "not authentic: its own digest does not match its bytes (edited, or written with another key)"
)


@frozen
class Finding:
    """One bad line: its number in its file (or stream), the reason (one of `REASONS`), and a
    detail that starts with the file's name when there is one."""

    line: int
    reason: str
    detail: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"


NOTHING_KEYED = (
    "no record is HMAC-keyed and no first-format record links to another under the key: "
    "nothing in the log was written with the key (anyone can write such a file)"
)

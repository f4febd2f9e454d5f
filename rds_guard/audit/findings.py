"""What a chain walk reports: `Finding`, one bad line, the wording of the findings that more
than one step of the walk gives, and the checks behind the findings worded here that need
no more of the walk than they are handed (what each reason means is in docs/audit.md,
"Verify")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from rds_guard.core.frozen import frozen

from .record import CHAIN_SHA256, ZERO_HASH, chain_of, is_authentic

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


def hmac_among_plain(
    record: Mapping[str, object],
    seq: int,
    plain_here: bool,
    following: Callable[[], list[bytes]],
) -> bool:
    """Whether ``record``, which says hmac-sha256, is no keyed log's: a plain record of its
    file was walked (``plain_here``), or an authentic SHA-256 one is among the lines ahead;
    not a rotation to a key that follows at ``seq`` (a ledger's stream runs across files: no
    file's start tells one, and without the key its link cannot be checked)."""
    if record.get("event") == "rotated" and record.get("seq") == seq:
        return False
    return plain_here or any(
        chain_of(ahead) == CHAIN_SHA256 and is_authentic(ahead, None) for ahead in following()
    )


HMAC_AMONG_PLAIN = (
    "it says hmac-sha256 among plain records of the same file: a writer never changes its "
    "algorithm within a file, so it was edited or added (no key was given to check it with)"
)


def wrong_key(failed: list[int]) -> str:
    """The detail of ``key`` for the HMAC records in a row, on lines ``failed``, that do not
    authenticate: enough of them to be a wrong key, not edits."""
    return (
        f"lines {failed[0]}-{failed[-1]}: {len(failed)} HMAC-keyed records in a row do not "
        "authenticate under the given key: a wrong key?"
    )


def jump(last: int, seq: int) -> str:
    """The detail of ``removed`` for records missing between seq ``last`` and seq ``seq``."""
    return f"seq jumps from {last} to {seq}: {seq - last - 1} record(s) missing"


def behind(seq: int, last: int, line: int, prev: bytes) -> str:
    """Why a record whose ``seq`` is not past ``last`` (the walk's) is out of place; the
    first line of a file (``line`` 1) that is a first record (``prev`` of 64 zeros) starts a
    chain of its own after the files before it, which the walk says."""
    if seq == 1 and line == 1 and prev == ZERO_HASH.encode():
        return (
            f"seq 1 comes after seq {last}: the file starts a chain of its own (its prev is "
            "64 zeros): a log of its own, given after another (verify each log apart), or "
            "the log was started again"
        )
    return f"seq {seq} comes after seq {last}"


def missing_checkpoint(seq: int, first_seq: int | None, max_seq: int) -> str:
    """Why the checkpoint at ``seq`` could not be held to a record of a walk whose records
    run from ``first_seq`` (None: none) to ``max_seq``."""
    if first_seq is None:
        return f"the log holds no records, so not the checkpoint's seq {seq}"
    if seq > max_seq:
        return (
            f"the log ends at seq {max_seq}, before the checkpoint's seq {seq}: records "
            "were cut off at the end"
        )
    if seq < first_seq:
        return (
            f"the checkpoint's seq {seq} is before the first record walked (seq "
            f"{first_seq}): give the earlier files too"
        )
    return f"no record with the checkpoint's seq {seq} is in place in the log (removed?)"

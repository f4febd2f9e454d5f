"""What a checkpointer without the HMAC key can tell about a stream's new records: each seq
there, each item holding its own record, a chain that never goes down, and for plain SHA-256
records their own digest and their link (docs/ledger.md, "Checkpoints"). `write_checkpoint`
signs a stream's new head only when its records follow on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..record import CHAIN_HMAC, CHAIN_SHA256, chain_of, is_authentic, parse_record, prev_of, seq_of
from .items import full_sha256, item_problems, line_of, number, stray

NOT_SHIPPED_YET = (
    "deleted, or not shipped yet (a put that failed, or was in flight as the stream was read:"
    " its shipper's next run puts it; ship, then look again)"
)
"""What a seq missing from a stream may be: the ledger cannot tell a record deleted from one
a shipper has yet to put (puts go 16 at a time, a later seq may land first)."""


def missing_said(first: int, last: int, checkpointed: dict[int, tuple[str, int]]) -> str:
    """What the seqs ``first`` to ``last`` a stream lacks are: deleted, up to a size a
    checkpoint signed (a size is signed only over every seq up to it, the signed checkpoints
    before it vouching for the seqs below theirs); past it, deleted or not shipped yet,
    which the ledger cannot tell apart."""
    size = max(checkpointed, default=0)
    if first > size:
        return NOT_SHIPPED_YET
    signed = f"checkpoint {checkpointed[size][1]} signed the stream at seq {size}"
    if last <= size:
        return f"deleted ({signed}, over every seq up to it)"
    return f"deleted up to seq {size} ({signed}); from seq {size + 1} on, {NOT_SHIPPED_YET}"


CHAIN_RANKS: dict[str | None, int] = {None: 0, CHAIN_SHA256: 1, CHAIN_HMAC: 2}
"""How far up a stream's chain has come: the first format (no digest of its own), plain
SHA-256, HMAC-SHA256. Writers only go up (``rotate --key-env`` upgrades a plain log); a
record lower than the one before is the way a writer without the key would forge one."""


def record_problem(seq: int, line: bytes, before: bytes | None) -> str | None:
    """What a checkpointer without the key can tell is wrong with the record at ``seq`` after
    ``before`` (None: nothing): not a record, an unknown chain, a downgrade, and for plain
    SHA-256 its own digest and its link."""
    if parse_record(line) is None:
        return f"the item at seq {seq} holds no record (its line is cut short or damaged)"
    chain = chain_of(line)
    if chain == "":
        return f"the record at seq {seq} names no chain rds_guard knows"
    previous = None if before is None else chain_of(before)
    if before is not None and CHAIN_RANKS[chain] < CHAIN_RANKS.get(previous, 0):
        if chain is None:
            return (
                f"the record at seq {seq} is in the first format (no digest of its own) after"
                " a sealed one: a downgrade (edited)"
            )
        return (
            f"the record at seq {seq} is plain SHA-256 after an HMAC-keyed one: a downgrade"
            " (edited, or written without the key)"
        )
    if chain != CHAIN_SHA256:
        return None
    if not is_authentic(line):
        return f"the record at seq {seq} is not authentic (edited)"
    if previous == CHAIN_SHA256 and prev_of(line) != full_sha256(before or b"").encode():
        return f"the record at seq {seq} does not link to the one before"
    return None


def keyless_problems(items: Iterable[dict[str, dict[str, str]]]) -> Iterator[tuple[int, str]]:
    """``(seq, problem)`` for each record of a stream's ``items`` (in seq order) that
    `record_problem` finds wrong without the key, each line taken as the walk takes it (one
    newline off); a link is held only to the seq just before, and only to a record that was
    not wrong itself; a chain lower than one before is a downgrade across a hole too. An item
    holding another seq's record, or a line ending in CR, is left to the item checks."""
    before, expected, rank = None, 0, 0
    for item in items:
        seq = number(item, "seq")
        if seq is None or seq < 1:  # the marker, or an item no record is at (said elsewhere)
            continue
        line = line_of(item) or b""
        line = line[:-1] if line.endswith(b"\n") else line
        held = seq_of(line) if line.startswith(b"{") else None
        if line.endswith(b"\r") or (held is not None and held != seq):
            before, expected = None, seq + 1
            continue
        problem = record_problem(seq, line, before if seq == expected else None)
        chain = CHAIN_RANKS.get(chain_of(line), 0)
        if problem is None and chain < rank:
            problem = f"the record at seq {seq} is of a lower chain than one before it: a downgrade"
        if problem is not None:
            yield seq, problem
        else:
            rank = max(rank, chain)
        before, expected = None if problem else line, seq + 1


def follows_on(
    items: Iterable[dict[str, dict[str, str]]], start: int, end: int, head: bytes
) -> str | None:
    """Why the records ``start..end`` do not follow on from one another (None: they do).

    Keyless: every seq is there, each item's line has its seq, its attributes are its line's
    (`item_problems`: the digest, the index fields), and it is a record
    whose chain does not go down (`record_problem`); a plain SHA-256 record is authentic and
    links to the one before. HMAC-keyed links need the key: `verify` checks them. The record
    walked at ``end`` must be ``head``, the line read as the head (the one signed)."""
    expected, before = start, None
    for item in items:
        seq = number(item, "seq")
        line = line_of(item)
        if seq is None:
            return stray(item, expected - 1)
        if seq > end:
            break
        if seq != expected:
            return f"seq {expected} is missing (the next record is seq {seq}): {NOT_SHIPPED_YET}"
        if line is None or seq_of(line) != seq:
            return f"the item at seq {seq} does not hold the record with that seq"
        problems = item_problems(item, line)
        if problems:
            return f"the item at seq {seq} {problems[0]}"
        problem = record_problem(seq, line, before)
        if problem is not None:
            return problem
        if seq == end and line != head:
            return f"seq {seq} changed while the checkpoint read it"
        before, expected = line, expected + 1
    if expected <= end:
        return (  # the newest item was read as the checkpoint began: shipped, and gone
            f"seq {end}, the stream's newest item as the checkpoint began, is gone: deleted"
            f" since (no item from seq {expected} to seq {end})"
        )
    return None

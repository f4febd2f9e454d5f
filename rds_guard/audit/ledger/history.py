"""The checkpoints' history checked: every checkpoint's signature, its link to the one before,
its number, that it was never deleted nor overwritten (one version, no delete marker, locked
in compliance mode), and that no checkpoint dropped a stream or moved one back.

What it yields for `verify_ledger` is every stream head and every fork any checkpoint held:
the ledger must still hold each of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rds_guard.core.frozen import frozen

from ..record import ZERO_HASH
from .checkpoints import (
    Checkpoint,
    CheckpointStore,
    ForkEntry,
    body_digest,
    name_of,
    parse_body,
)
from .versions import Version, by_number


@frozen
class CheckpointFinding:
    """Something wrong with checkpoint ``number`` (0: with the series as a whole)."""

    number: int
    detail: str


@dataclass
class History:
    """The checkpoints read (oldest first), what is wrong with them, every stream head they
    hold (``heads[stream][size]`` is ``(head, checkpoint number)``) and every fork
    (``forks[fork]`` is the number of the first checkpoint that held it)."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    findings: list[CheckpointFinding] = field(default_factory=list)
    heads: dict[str, dict[int, tuple[str, int]]] = field(default_factory=lambda: defaultdict(dict))
    forks: dict[ForkEntry, int] = field(default_factory=dict)


def read_history(
    store: CheckpointStore, expected_key: str | None = None, table: str | None = None
) -> History:
    """Read and check every checkpoint under the store's prefix.

    ``expected_key``: the ARN every checkpoint must be signed with (the policy's key);
    None: the key of the first checkpoint (trusted on first use), which every later one
    must then use. ``table``: the ledger table every checkpoint must name (None: any). A
    checkpoint of another table, or written to another location, is a finding, and what it
    holds is not this ledger's: none of its heads is held against the ledger. Nor are those
    of one whose signature does not hold: a forger's heads would report deletions that never
    happened. Each signed checkpoint is held to the newest signed one below it.
    """
    history = History()
    found = _by_number(store, history)
    previous: tuple[Checkpoint, bytes, int] | None = None  # with its object's number
    vouched: tuple[Checkpoint, int] | None = None  # the newest signed one, across gaps and junk
    key = expected_key
    expected = 1
    for number in sorted(found):
        if number > expected:  # one finding per gap: a number put far ahead is one gap
            history.findings.append(_gap(store, expected, number - 1))
            previous = None
        expected = number + 1
        where = f"{store.location}{name_of(number)}"
        checkpoint, body, signature = _check_one(store, number, found[number], where, history)
        foreign = None if checkpoint is None else checkpoint.foreign_to(table, str(store.location))
        if foreign is not None:
            history.findings.append(CheckpointFinding(number, f"{where}: {foreign}"))
        if checkpoint is None or foreign is not None:
            previous = None
            continue
        key = key or checkpoint.key
        signed = _check_signature(store, checkpoint, body, signature, key, number, where, history)
        if previous is not None:
            _check_link(previous, checkpoint, number, where, history)
        elif number == 1 and checkpoint.prev != ZERO_HASH:
            history.findings.append(
                CheckpointFinding(number, f"{where}: the first checkpoint links to another")
            )
        if signed:  # a forger's heads and forks vouch for nothing: none is held to the ledger
            if vouched is not None:
                _check_moves(vouched, checkpoint, number, where, history)
            for head in checkpoint.streams:
                history.heads[head.stream].setdefault(head.size, (head.head, number))
            for fork in checkpoint.forks:
                history.forks.setdefault(fork, number)
            vouched = (checkpoint, number)
        history.checkpoints.append(checkpoint)
        previous = (checkpoint, body, number)
    _check_none(store, history)
    return history


def _check_none(store: CheckpointStore, history: History) -> None:
    """None at all is a finding: nothing pins the ledger (a wrong prefix, or none written
    yet), and an answer of ok would read as if something did."""
    if not history.checkpoints and not history.findings:
        history.findings.append(
            CheckpointFinding(
                0,
                f"{store.location}: no checkpoint there, so none pins the ledger (is the"
                " location right? has a checkpoint been written yet?)",
            )
        )


def _gap(store: CheckpointStore, first: int, last: int) -> CheckpointFinding:
    """Checkpoints ``first`` to ``last`` are not there."""
    where = f"{store.location}{name_of(first)}: missing"
    if last > first:
        where += f", and every number up to {last} ({last - first + 1} checkpoints)"
    return CheckpointFinding(first, where)


def _by_number(store: CheckpointStore, history: History) -> dict[int, list[Version]]:
    """The versions of each checkpoint object, the first written first (`versions.by_number`).
    An object named like a checkpoint that is none of the series (checkpoint 0, a number
    spelt with a zero too many) is a finding: no checkpointer writes one, and the first
    checkpoint's key is trusted."""
    listed = store.versions()
    strays = {
        version.key
        for version in listed
        if store.number_of(version.key) is None and store.looks_like_one(version.key)
    }
    for key in sorted(strays):
        history.findings.append(
            CheckpointFinding(
                0,
                f"s3://{store.location.bucket}/{key}: named like a checkpoint but none of the"
                " series (numbered from 1, one name per number): someone who can write the"
                " bucket put it there; it is not read",
            )
        )
    return by_number(listed, store.number_of)


def _check_one(
    store: CheckpointStore,
    number: int,
    versions: list[Version],
    where: str,
    history: History,
) -> tuple[Checkpoint | None, bytes, str]:
    """The checkpoint first written under this number (the version Object Lock keeps), its
    body and signature, with findings for every later version and delete marker."""
    originals = [v for v in versions if not v.delete_marker]
    markers = [v for v in versions if v.delete_marker]
    if markers:
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: deleted ({len(markers)} delete marker(s), the first at "
                f"{markers[0].modified}): the checkpoint was removed from view",
            )
        )
    if len(originals) > 1:
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: written {len(originals)} times (versions "
                f"{', '.join(v.version_id for v in originals)}): it was overwritten after "
                "it was written; the first version is the one checked",
            )
        )
    if not originals:
        history.findings.append(CheckpointFinding(number, f"{where}: no version left"))
        return None, b"", ""
    body, answer = store.read(originals[0].key, originals[0].version_id)
    if answer.get("ObjectLockMode") != "COMPLIANCE":
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: not locked in compliance mode (ObjectLockMode: "
                f"{answer.get('ObjectLockMode') or 'none'}): it could be deleted",
            )
        )
    signature = str(answer.get("Metadata", {}).get("signature", ""))
    try:
        checkpoint = parse_body(body)
    except (ValueError, KeyError, TypeError) as exc:
        history.findings.append(CheckpointFinding(number, f"{where}: not a checkpoint ({exc})"))
        return None, body, signature
    if checkpoint.number != number:
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: its body says it is checkpoint {checkpoint.number} (moved or reordered)",
            )
        )
    return checkpoint, body, signature


def _check_signature(
    store: CheckpointStore,
    checkpoint: Checkpoint,
    body: bytes,
    signature: str,
    key: str,
    number: int,
    where: str,
    history: History,
) -> bool:
    """Whether ``checkpoint`` (the object numbered ``number``, at ``where``) is signed with
    ``key``; a finding when it is not."""
    problem = store.signature_problem(checkpoint, body, signature, key)
    if problem is not None:
        history.findings.append(CheckpointFinding(number, f"{where}: {problem}"))
    return problem is None


def _check_link(
    previous: tuple[Checkpoint, bytes, int],
    checkpoint: Checkpoint,
    number: int,
    where: str,
    history: History,
) -> None:
    """``checkpoint`` (the object numbered ``number``, at ``where``): its ``prev`` against the
    body of the one just before it (``previous``), signed or not: the chain pins the very bytes
    found there."""
    _, before_body, before = previous
    if checkpoint.prev != body_digest(before_body):
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: its prev is not the digest of checkpoint {before} "
                "(the chain of checkpoints is broken: one was replaced or reordered)",
            )
        )


def _check_moves(
    vouched: tuple[Checkpoint, int],
    checkpoint: Checkpoint,
    number: int,
    where: str,
    history: History,
) -> None:
    """``checkpoint`` (the object numbered ``number``, at ``where``) against the newest signed
    one below it (``vouched``, with its object's number; both signed: what a forged one says
    of time, streams and forks is its forger's, and already a finding)."""
    before, before_number = vouched
    if checkpoint.time < before.time:
        history.findings.append(
            CheckpointFinding(
                number,
                f"{where}: its time {checkpoint.time} is before "
                f"checkpoint {before_number}'s ({before.time})",
            )
        )
    kept = set(checkpoint.forks)
    for fork in (fork for fork in before.forks if fork not in kept):
        history.findings.append(
            CheckpointFinding(
                number, f"{where}: drops the fork of stream {fork.stream} at seq {fork.seq}"
            )
        )
    for head in before.streams:
        now = checkpoint.head_of(head.stream)
        if now is None:
            history.findings.append(
                CheckpointFinding(number, f"{where}: drops stream {head.stream}")
            )
        elif now.size < head.size or (now.size == head.size and now.head != head.head):
            history.findings.append(
                CheckpointFinding(
                    number,
                    f"{where}: moves stream {head.stream} back (seq {now.size}, "
                    f"checkpoint {before_number} had seq {head.size})",
                )
            )

"""Signed checkpoints in S3 (Object Lock, compliance mode) with a KMS key (ECC_NIST_P256),
on the moto server: written create-only, chained, never inconsistent with the last one; and
what they catch: a cut tail, a deleted stream, a changed head, a rewrite sealed again, a
forged, reordered, deleted or overwritten checkpoint, and one signed with the right key that
drops a stream or moves one back. moto keeps Object Lock (a locked version cannot be deleted) and
If-None-Match, and signs and verifies with ECC keys; its KMS Verify answers a bad signature
with SignatureValid false where AWS raises KMSInvalidSignatureException (both are read)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import relink, reseal
from aws import count_sent
from botocore.exceptions import ClientError
from ledger_helpers import (
    BUCKET,
    complete_lines,
    delete_item,
    item_at,
    kms_error,
    ledger_findings,
    on_send,
    put_raw,
    s3_error,
    ship,
    stream_of,
    write_log,
)

from rds_guard import audit
from rds_guard.audit.ledger import LedgerTable, S3Location
from rds_guard.audit.ledger.checkpoints import (
    MOST_BYTES,
    ZERO_HASH,
    Checkpoint,
    CheckpointStore,
    StreamHead,
    body_digest,
    name_of,
    parse_body,
    write_checkpoint,
)
from rds_guard.audit.ledger.continuity import NOT_SHIPPED_YET
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.items import full_sha256, line_of, record_item
from rds_guard.audit.ledger.verify import verify_ledger


def _key(number: int) -> str:
    return f"rds-guard/{name_of(number)}"


def _checkpointed(
    table: LedgerTable, store: CheckpointStore, log_path: Path, count: int
) -> Checkpoint:
    """``count`` more records written to the log, shipped, and the next checkpoint written."""
    write_log(log_path, count)
    ship(log_path, table)
    written = write_checkpoint(table, store).checkpoint
    assert written is not None
    return written


def _put(
    store: CheckpointStore, number: int, body: bytes, read: dict[str, Any], **extra: Any
) -> None:
    """``body`` put under checkpoint ``number``'s key with the signature of the object
    ``read`` is: what anyone who can write to the bucket can do."""
    store.clients.s3.put_object(
        Bucket=BUCKET, Key=_key(number), Body=body, Metadata=read["Metadata"], **extra
    )


def _history_findings(store: CheckpointStore) -> list[tuple[int, str]]:
    return [(f.number, f.detail.split(": ", 1)[1]) for f in read_history(store).findings]


def _verify(table: LedgerTable, store: CheckpointStore) -> list[tuple[int, str]]:
    return ledger_findings(table, history=read_history(store))


def test_a_checkpoint_is_signed_chained_and_locked(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    lines = write_log(log_path, 5)
    ship(log_path, table)
    first = write_checkpoint(table, store)
    assert first.checkpoint is not None and not first.findings
    stream = stream_of(table, log_path)
    assert [(h.stream, h.size, h.head) for h in first.checkpoint.streams] == [
        (stream, 5, full_sha256(lines[-1]))
    ]
    assert first.checkpoint.prev == ZERO_HASH
    assert first.checkpoint.key.startswith("arn:aws:kms:us-east-1:123456789012:key/")
    write_log(log_path, 2)
    ship(log_path, table)
    second = write_checkpoint(table, store)
    assert second.checkpoint is not None and second.checkpoint.number == 2
    body, answer = store.read(_key(1))
    assert second.checkpoint.prev == body_digest(body)
    assert answer["ObjectLockMode"] == "COMPLIANCE"
    assert parse_body(body) == first.checkpoint
    history = read_history(store)
    assert not history.findings and len(history.checkpoints) == 2
    assert _verify(table, store) == []


def test_a_locked_checkpoint_cannot_be_deleted(table: LedgerTable, store: CheckpointStore) -> None:
    write_checkpoint(table, store)
    (version,) = store.versions()
    with pytest.raises(ClientError) as refused:
        table.clients.s3.delete_object(Bucket=BUCKET, Key=version.key, VersionId=version.version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_checkpoint_that_is_not_locked_is_caught(
    table: LedgerTable, store: CheckpointStore
) -> None:
    """Checkpoints written to a bucket without Object Lock could be deleted or replaced by
    whoever administers it."""
    table.clients.s3.create_bucket(Bucket="unlocked-checkpoints")
    unlocked = CheckpointStore(
        table.clients, S3Location("unlocked-checkpoints", "rds-guard/"), store.kms_key
    )
    write_checkpoint(table, unlocked)
    assert _history_findings(unlocked) == [
        (1, "not locked in compliance mode (ObjectLockMode: none): it could be deleted")
    ]


def test_a_cut_tail_is_caught_by_the_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    _checkpointed(table, store, log_path, 10)
    stream = stream_of(table, log_path)
    for seq in (9, 10):
        delete_item(table, stream, seq)
    assert _verify(table, store) == [(10, "checkpoint")]
    later = write_checkpoint(table, store)  # never signs the shorter stream
    assert later.checkpoint is not None
    assert later.findings == [
        f"{stream}: ends at seq 8, and a checkpoint saw it at seq 10: records were deleted"
    ]
    assert later.checkpoint.head_of(stream).size == 10  # type: ignore[union-attr]
    ship(log_path, table)  # the shipper puts the tail back
    assert _verify(table, store) == []


def test_a_deleted_start_of_a_checkpointed_stream_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md: an account admin cannot delete anything below a checkpointed head
    undetected. The log was rotated after checkpoint 1 pinned seq 5, and shipped on; the
    admin deletes seq 1 to 5, the stream's first record (which names it) and the pinned head
    among them. What is left is a chain that starts with a `rotated` record, which a file may
    (it continues an archive), a stream may not: it is named after its seq 1 and shipped from
    there."""
    _checkpointed(table, store, log_path, 5)
    stream = stream_of(table, log_path)  # named after seq 1, in the file rotated next
    audit.rotate(log_path)
    write_log(log_path, 2)
    ship(log_path, table)
    for seq in range(1, 6):
        delete_item(table, stream, seq)
    assert _verify(table, store) == [(5, "checkpoint"), (6, "removed")]
    findings = {f.reason: f.detail for f in verify_ledger(table).findings}
    assert findings == {
        "removed": f"{stream}: the stream starts at seq 6: every record before it, the first one"
        f" (which names the stream) included, is not in the ledger: {NOT_SHIPPED_YET}"
    }


def test_a_deleted_checkpointed_head_amid_the_stream_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """The head checkpoint 1 pinned (seq 5) is deleted, the records on each side of it kept:
    `checkpoint`, beside the gap the walk reports."""
    _checkpointed(table, store, log_path, 5)
    write_log(log_path, 2)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    delete_item(table, stream, 5)
    found = verify_ledger(table, history=read_history(store)).findings
    assert (5, "checkpoint") in [(f.line, f.reason) for f in found]
    assert (
        f"{stream}: holds no item at seq 5, and checkpoint 1 saw it at seq 5: records were"
        " deleted since"
    ) in [f.detail for f in found]


def test_a_deleted_stream_is_still_listed_by_the_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    _checkpointed(table, store, log_path, 3)
    stream = stream_of(table, log_path)
    for seq in (0, 1, 2, 3):  # its marker too: the stream is gone from the ledger's list
        delete_item(table, stream, seq)
    assert list(table.streams()) == []
    assert _verify(table, store) == [(3, "missing-stream")]
    outcome = write_checkpoint(table, store)
    assert outcome.findings == [
        f"{stream}: has no record, and a checkpoint saw it at seq 3: records were deleted"
    ]


def test_a_head_changed_after_its_checkpoint_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    _checkpointed(table, store, log_path, 4)
    stream = stream_of(table, log_path)
    line = line_of(item_at(table, stream, 4)) or b""
    put_raw(table, record_item(stream, 4, line.replace(b'"requested"', b'"blocked"')))
    assert sorted(_verify(table, store)) == [(4, "checkpoint"), (4, "edited")]
    assert write_checkpoint(table, store).findings == [
        f"{stream}: seq 4 changed since a checkpoint held it (its head)"
    ]


def test_a_stream_that_did_not_move_is_read_once_and_still_held_to_its_head(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md's cost table: a checkpoint reads "each stream's head". A stream with no
    record since the last checkpoint costs that one read (a Query for its head, beside the
    listings of streams and of forks): no GetItem of the old head, no walk. The head it
    reads is still held to the one pinned: its line, and the digest the item carries."""
    pinned = _checkpointed(table, store, log_path, 4)
    stream = stream_of(table, log_path)
    reads = count_sent(table.clients.dynamodb)
    outcome = write_checkpoint(table, store)
    assert outcome.findings == []
    assert outcome.checkpoint is not None
    assert outcome.checkpoint.streams == pinned.streams
    assert reads.operations == ["Query", "Query", "Query"]
    item = item_at(table, stream, 4)
    item["digest"] = {"S": "0" * 64}
    put_raw(table, item)
    assert write_checkpoint(table, store).findings == [
        f"{stream}: the item at seq 4 carries a digest its line does not have"
    ]


def test_a_rewrite_sealed_again_below_a_checkpoint_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Someone who can write the table rewrites a plain-SHA-256 stream from seq 2 on, every
    record sealed and linked again: a valid chain, its first record untouched. Only the
    checkpoint's head gives it away."""
    lines = write_log(log_path, 4)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    forged = [lines[0], *(line.replace(b'"requested"', b'"blocked"') for line in lines[1:])]
    relink(forged, 0)
    for seq, line in enumerate(forged[1:], start=2):
        put_raw(table, record_item(stream, seq, line))
    assert verify_ledger(table).ok  # without the checkpoints nothing shows it
    assert _verify(table, store) == [(4, "checkpoint")]
    assert write_checkpoint(table, store).findings == [
        f"{stream}: seq 4 changed since a checkpoint held it (its head)"
    ]


def _deleted(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    delete_item(table, stream, 5)


def _edited(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    put_raw(table, record_item(stream, 5, lines[4].replace(b'"requested"', b'"blocked"')))


def _sealed_again(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    put_raw(table, record_item(stream, 5, reseal(lines[4].replace(b'"requested"', b'"blocked"'))))


def _another_digest(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    item = item_at(table, stream, 5)
    item["digest"] = {"S": "0" * 64}
    put_raw(table, item)


def _another_record(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    put_raw(table, record_item(stream, 5, lines[5]))


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        (_deleted, f"seq 5 is missing (the next record is seq 6): {NOT_SHIPPED_YET}"),
        (_edited, "the record at seq 5 is not authentic (edited)"),
        (_sealed_again, "the record at seq 6 does not link to the one before"),
        (_another_digest, "the item at seq 5 carries a digest its line does not have"),
        (_another_record, "the item at seq 5 does not hold the record with that seq"),
    ],
    ids=["deleted", "edited", "sealed-again", "another-digest", "another-record"],
)
def test_new_records_that_do_not_follow_on_are_not_signed(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    change: Callable[[LedgerTable, str, list[bytes]], None],
    finding: str,
) -> None:
    """Above the last checkpoint, what a writer of the table changed is not signed: the
    stream stays where that checkpoint had it."""
    _checkpointed(table, store, log_path, 3)
    lines = write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    change(table, stream, lines)
    outcome = write_checkpoint(table, store)
    assert outcome.findings == [f"{stream}: {finding}"]
    assert outcome.checkpoint is not None and outcome.checkpoint.head_of(stream).size == 3  # type: ignore[union-attr]


def test_a_forged_checkpoint_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Written again over the first (a new version: Object Lock keeps the first): the
    overwrite is a finding, and the forged body's signature does not hold."""
    _checkpointed(table, store, log_path, 3)
    body, answer = store.read(_key(1))
    _put(store, 1, body.replace(b'"size":3', b'"size":2'), answer)
    findings = _history_findings(store)
    assert [n for n, _ in findings] == [1]
    assert "overwritten after it was written" in findings[0][1]
    assert _verify(table, store) == [(1, "checkpoint")]


def test_a_checkpoint_written_by_another_key_is_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    _checkpointed(table, store, log_path, 2)
    table.clients.kms.create_alias(
        AliasName="alias/other",
        TargetKeyId=table.clients.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")[
            "KeyMetadata"
        ]["KeyId"],
    )
    other = CheckpointStore(table.clients, store.location, "alias/other")
    write_checkpoint(table, other)
    findings = _history_findings(store)
    assert [n for n, _ in findings] == [2]
    assert "signed with arn:aws:kms" in findings[0][1]


def test_a_checkpoint_whose_signature_does_not_hold(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A new checkpoint put by hand (the next number, so no overwrite) with a stolen
    signature."""
    _checkpointed(table, store, log_path, 2)
    body, answer = store.read(_key(1))
    fake = json.loads(body)
    fake.update(checkpoint=2, prev=body_digest(body))
    fake_body = json.dumps(fake, separators=(",", ":")).encode() + b"\n"
    _put(store, 2, fake_body, answer, IfNoneMatch="*")
    assert _history_findings(store) == [(2, "its signature does not hold (forged or edited)")]


def test_what_a_checkpoint_without_a_valid_signature_lists_is_held_to_nothing(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A writer of the bucket puts checkpoint 2 with checkpoint 1's signature, listing a
    stream that never existed in place of the real one. Its signature is the finding, and
    the only one: the invented stream was reported `missing-stream` and the real one
    "dropped", deletions that never happened. The genuine checkpoint 3 is still held
    against checkpoint 1, the newest signed one: a stream it moved back is caught."""
    first = _checkpointed(table, store, log_path, 3)
    body, answer = store.read(_key(1))
    invented = dataclasses.replace(
        first.streams[0], stream="123456789012/us-east-1/00000000deadbeef"
    )
    forged = dataclasses.replace(first, number=2, prev=body_digest(body), streams=(invented,))
    _put(store, 2, forged.body(), answer, IfNoneMatch="*")
    assert _history_findings(store) == [(2, "its signature does not hold (forged or edited)")]
    assert _verify(table, store) == [(2, "checkpoint")]
    moved = dataclasses.replace(first.streams[0], size=2)
    third = dataclasses.replace(
        first,
        number=3,
        prev=body_digest(forged.body()),
        streams=(moved,),
    )
    store.put(third)
    assert _history_findings(store) == [
        (2, "its signature does not hold (forged or edited)"),
        (3, f"moves stream {moved.stream} back (seq 2, checkpoint 1 had seq 3)"),
    ]


def test_a_signed_checkpoint_after_junk_is_held_to_the_signed_one_before(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """An object that is no checkpoint put at number 2 broke the comparison: checkpoint 3,
    signed, moving a stream back from where checkpoint 1 held it, went unreported."""
    first = _checkpointed(table, store, log_path, 3)
    _, answer = store.read(_key(1))
    _put(store, 2, b"not a checkpoint", answer, IfNoneMatch="*")
    moved = dataclasses.replace(first.streams[0], size=2)
    store.put(
        dataclasses.replace(
            first, number=3, prev=body_digest(b"not a checkpoint"), streams=(moved,)
        )
    )
    findings = _history_findings(store)
    assert [number for number, _ in findings] == [2, 3]
    assert findings[1] == (3, f"moves stream {moved.stream} back (seq 2, checkpoint 1 had seq 3)")


def test_a_signed_checkpoint_after_a_gap_is_held_to_the_signed_one_before(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """No checkpoint 2 at all (deleted, or never written): checkpoint 3, signed, moving a
    stream back from where checkpoint 1 held it, is held to checkpoint 1 across the gap, as
    across junk (a gap once started the comparison over)."""
    first = _checkpointed(table, store, log_path, 3)
    body, _ = store.read(_key(1))
    moved = dataclasses.replace(first.streams[0], size=2)
    store.put(dataclasses.replace(first, number=3, prev=body_digest(body), streams=(moved,)))
    findings = _history_findings(store)
    assert findings[-1] == (3, f"moves stream {moved.stream} back (seq 2, checkpoint 1 had seq 3)")
    assert [number for number, _ in findings] == [2, 3]


def test_a_checkpoint_is_read_at_the_version_the_listing_named(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Written again between the listing and the read: the read was of the current version,
    whatever it then held; it is of the first one, which the listing named."""
    first = _checkpointed(table, store, log_path, 3)
    numbers, firsts = store.listing()
    body, answer = store.read(_key(1))
    _put(store, 1, body.replace(b'"size":3', b'"size":2'), answer)
    stored = store.stored(numbers[0], firsts)
    assert stored.body == body and stored.checkpoint == first


@pytest.mark.parametrize(
    ("moved", "finding"),
    [
        (lambda head, lines: (), "drops stream {stream}"),
        (
            lambda head, lines: (dataclasses.replace(head, size=2, head=full_sha256(lines[1])),),
            "moves stream {stream} back (seq 2, checkpoint 1 had seq 3)",
        ),
        (
            lambda head, lines: (dataclasses.replace(head, head=full_sha256(lines[1])),),
            "moves stream {stream} back (seq 3, checkpoint 1 had seq 3)",
        ),
    ],
    ids=["dropped", "shorter", "another-head"],
)
def test_a_signed_checkpoint_that_drops_or_moves_back_a_stream_is_caught(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    moved: Callable[[StreamHead, list[bytes]], tuple[StreamHead, ...]],
    finding: str,
) -> None:
    """A holder of kms:Sign writes the next checkpoint, numbered, linked and signed as it
    should be, that forgets a stream or pins it where it stood before."""
    first = _checkpointed(table, store, log_path, 3)
    (head,) = first.streams
    streams = moved(head, complete_lines(log_path))
    forged = dataclasses.replace(first, number=2, prev=body_digest(first.body()), streams=streams)
    assert store.put(forged)
    assert _history_findings(store) == [(2, finding.format(stream=head.stream))]
    assert _verify(table, store) == [(2, "checkpoint")]


def test_reordered_checkpoints_are_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    for _ in range(3):
        _checkpointed(table, store, log_path, 1)
    two, meta_two = store.read(_key(2))
    three, meta_three = store.read(_key(3))
    _put(store, 2, three, meta_three)
    _put(store, 3, two, meta_two)
    findings = _history_findings(store)
    assert sorted(n for n, _ in findings) == [2, 3]  # both overwritten: the originals are read
    assert all("overwritten" in detail for _, detail in findings)


def test_reordered_bodies_under_fresh_numbers_are_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Copies of checkpoints 1 and 2, put as 4 and 3: numbered wrong and linked wrong."""
    for _ in range(2):
        _checkpointed(table, store, log_path, 1)
    one, meta_one = store.read(_key(1))
    two, meta_two = store.read(_key(2))
    _put(store, 3, two, meta_two)
    _put(store, 4, one, meta_one)
    details = [detail for _, detail in _history_findings(store)]
    assert "its body says it is checkpoint 2 (moved or reordered)" in details
    assert "its body says it is checkpoint 1 (moved or reordered)" in details
    assert any("prev is not the digest of checkpoint" in d for d in details)
    # each finding is numbered as the object it is about, not as the body it holds says
    found = [(f.number, f.detail.split(": ", 1)[0]) for f in read_history(store).findings]
    assert len(found) > 4
    assert all(where.endswith(f"checkpoint-{number:010d}.json") for number, where in found)
    # and name the checkpoint they are held against by its object's number: 4 against 3
    of_four = [f.detail for f in read_history(store).findings if f.number == 4]
    assert any("not the digest of checkpoint 3 " in detail for detail in of_four), of_four
    assert not any("checkpoint 2" in detail for detail in of_four), of_four


def test_a_delete_marker_and_a_put_again_are_caught(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Deleting a locked object only hides it behind a delete marker; If-None-Match then lets
    a new body in. Both show in the object's versions, and the first version is checked."""
    _checkpointed(table, store, log_path, 2)
    body, answer = store.read(_key(1))
    table.clients.s3.delete_object(Bucket=BUCKET, Key=_key(1))
    _put(store, 1, body.replace(b'"size":2', b'"size":1'), answer, IfNoneMatch="*")
    details = [detail for _, detail in _history_findings(store)]
    assert any(d.startswith("deleted (1 delete marker(s)") for d in details)
    assert any("written 2 times" in d for d in details)
    assert read_history(store).checkpoints[0].head_of(stream_of(table, log_path)).size == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda body: body.replace(b'"size":3', b'"size":1e999'), "OverflowError"),
        (lambda body: body.replace(b'"checkpoint":1', b'"checkpoint":1e999'), "OverflowError"),
        (lambda body: b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
        # checkpoint 1's own body and spaces JSON reads past: read whole, it parsed
        (lambda body: body + b" " * MOST_BYTES, f"larger than {MOST_BYTES} bytes"),
    ],
    ids=["size", "number", "deep", "larger-than-any-checkpoint"],
)
def test_a_body_python_cannot_hold_is_no_checkpoint_and_the_next_one_follows(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    edit: Callable[[bytes], bytes],
    why: str,
) -> None:
    """Someone who can write to the bucket puts the next number, create-only as the bucket
    policy allows, with a number as big as JSON writes it (``1e999``), arrays nested past
    Python's recursion limit, or more bytes than any checkpoint holds: locked in compliance
    mode, it stays. It is a `checkpoint` finding like any body that is not a checkpoint (it
    stopped verify and every later checkpoint with an `OverflowError` or `RecursionError`),
    and checkpoints go on above it."""
    _checkpointed(table, store, log_path, 3)
    body, answer = store.read(_key(1))
    _put(store, 2, edit(body), answer, IfNoneMatch="*")
    [(number, detail)] = _history_findings(store)
    assert number == 2 and detail.startswith(f"not a checkpoint ({why}")
    assert (2, "checkpoint") in _verify(table, store)
    after = write_checkpoint(table, store).checkpoint
    assert after is not None and after.number == 3


def test_no_more_of_an_object_than_any_checkpoint_is_read(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Whoever can write the bucket can put an object of any size under a checkpoint's
    name: every reader (verify, the checkpointer, each guard's shipping thread) read it
    whole into memory. No more than one byte past `MOST_BYTES` is read."""
    _checkpointed(table, store, log_path, 3)
    body, answer = store.read(_key(1))
    _put(store, 2, body + b" " * (2 * MOST_BYTES), answer, IfNoneMatch="*")
    read, _ = store.read(_key(2))
    assert len(read) == MOST_BYTES + 1 and read.startswith(body)


def test_a_checkpoint_larger_than_a_reader_reads_is_not_written(
    table: LedgerTable, store: CheckpointStore
) -> None:
    """The checkpointer refuses to sign and store a body no reader would read whole."""
    first = write_checkpoint(table, store).checkpoint
    assert first is not None
    huge = dataclasses.replace(
        first, number=2, prev=body_digest(first.body()), findings=("x" * MOST_BYTES,)
    )
    with pytest.raises(ValueError, match=f"more than the {MOST_BYTES} a checkpoint may hold"):
        store.put(huge)
    assert store.listing()[0] == [1]


def test_a_missing_number_is_caught(table: LedgerTable, store: CheckpointStore) -> None:
    """A locked checkpoint cannot be deleted before its retention ends; a number skipped (or
    one gone after its retention) shows as a gap."""
    first = write_checkpoint(table, store).checkpoint
    assert first is not None
    skipping = dataclasses.replace(first, number=3, prev=body_digest(first.body()))
    assert store.put(skipping)
    assert _history_findings(store) == [(2, "missing")]


def test_a_number_far_ahead_is_one_gap_and_the_next_checkpoint_follows_it(
    table: LedgerTable, store: CheckpointStore
) -> None:
    """Checkpoint 9999999999 put by a holder of kms:Sign (the last ten-digit number): the gap
    below it is one finding, not ten billion, and the next checkpoint, 10000000000 (eleven
    digits), is listed and written on top of it. A number spelled with a zero too many names
    no checkpoint."""
    first = write_checkpoint(table, store).checkpoint
    assert first is not None
    far = dataclasses.replace(first, number=9_999_999_999, prev=body_digest(first.body()))
    assert store.put(far)
    assert _history_findings(store) == [
        (2, "missing, and every number up to 9999999998 (9999999997 checkpoints)")
    ]
    after = write_checkpoint(table, store).checkpoint
    assert after is not None and after.number == 10_000_000_000
    assert store.location.key(name_of(after.number)).endswith("checkpoint-10000000000.json")
    assert sorted(store.numbers()) == [1, 9_999_999_999, 10_000_000_000]  # S3 lists by name
    assert [c.number for c in read_history(store).checkpoints] == [1, 9_999_999_999, after.number]
    padded = store.location.key("checkpoint-00000000001.json")
    table.clients.s3.put_object(Bucket=BUCKET, Key=padded, Body=first.body())
    assert store.number_of(padded) is None
    assert sorted(store.numbers()) == [1, 9_999_999_999, 10_000_000_000]


def test_two_writers_racing_for_a_number(table: LedgerTable, store: CheckpointStore) -> None:
    """The other writer takes number 2 between our read and our put: If-None-Match refuses
    ours, and we write number 3 on top of theirs."""
    write_checkpoint(table, store)
    raced = {"done": False}

    def other_writer_first(request: Any, **_: Any) -> None:
        if not raced["done"]:
            raced["done"] = True
            write_checkpoint(table, CheckpointStore(table.clients, store.location, store.kms_key))
        return None

    on_send(table.clients.s3, "PutObject", other_writer_first)
    outcome = write_checkpoint(table, store)
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 3
    assert read_history(store).findings == []


def test_a_409_conflict_is_a_taken_number(table: LedgerTable, store: CheckpointStore) -> None:
    conflicts = {"left": 1}

    def conflict(request: Any, **_: Any) -> Any:
        if conflicts["left"]:
            conflicts["left"] -= 1
            return s3_error("ConditionalRequestConflict", 409)
        return None

    on_send(table.clients.s3, "PutObject", conflict)
    outcome = write_checkpoint(table, store)
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 1


@pytest.mark.parametrize(
    ("code", "forged"),
    [("KMSInvalidSignatureException", True), ("DisabledException", False)],
)
def test_only_a_signature_kms_refuses_is_taken_for_a_forgery(
    table: LedgerTable, store: CheckpointStore, log_path: Path, code: str, forged: bool
) -> None:
    """KMS Verify refusing the signature (what AWS answers a bad one with) makes the newest
    checkpoint untrusted; any other error of KMS (a key disabled, access denied: moto
    verifies with a disabled key all the same) says nothing of the signature: it is raised,
    never taken for a forgery that would hold the streams to an older checkpoint."""
    _checkpointed(table, store, log_path, 3)
    new = CheckpointStore(table.clients, store.location, store.kms_key)
    arn = new.key_arn()
    remove = on_send(new.clients.kms, "Verify", lambda **_: kms_error(code))
    try:
        if forged:
            newest = new.newest(arn, table.name)
            assert newest is not None and newest.base is None
            assert newest.problem is not None and "signature does not hold" in newest.problem
        else:
            with pytest.raises(ClientError) as caught:
                new.newest(arn, table.name)
            assert caught.value.response["Error"]["Code"] == code
    finally:
        remove()

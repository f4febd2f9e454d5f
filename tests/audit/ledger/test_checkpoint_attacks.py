"""Signed checkpoints against what docs/ledger.md says they withstand: HMAC-keyed streams
(the checkpointer holds no key), one stream found inconsistent while the rest of the fleet
moves on, a checkpoint that reads streams while the shipper (or someone covering their
tracks) writes to them, and the guards' own hourly checkpoint. Against the moto server;
every race is interleaved at a chosen request with botocore's before-send event."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import relink, reseal
from aws import count_sent
from ledger_helpers import (
    BUCKET,
    KEY_ALIAS,
    REGION,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    item_seq,
    ledger_findings,
    ledger_table,
    on_send,
    put_raw,
    run_before,
    ship,
    stored_seqs,
    stream_of,
    wait_until,
    write_log,
)

from rds_guard import audit
from rds_guard.audit import ZERO_HASH
from rds_guard.audit.ledger import Clients, LedgerTable, S3Location, ShipRefused
from rds_guard.audit.ledger.checkpoints import (
    ALGORITHM,
    Checkpoint,
    CheckpointOutcome,
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
from rds_guard.audit.ledger.spool import (
    CHECKPOINT_EVERY,
    CHECKPOINT_SPREAD,
    CLOCK_SKEW,
    ShippingLog,
)
from rds_guard.audit.ledger.verify import verify_ledger
from rds_guard.audit.ledger.versions import Original
from rds_guard.audit.record import build_record, is_authentic, seal
from rds_guard.core.policy import LedgerPolicy

KEY = b"the fleet's audit key"


def _head(outcome: CheckpointOutcome, stream: str) -> StreamHead | None:
    assert outcome.checkpoint is not None
    return outcome.checkpoint.head_of(stream)


def _verify(
    table: LedgerTable, store: CheckpointStore, hmac_key: bytes | None = None
) -> list[tuple[int, str]]:
    return sorted(ledger_findings(table, hmac_key=hmac_key, history=read_history(store)))


def _edited(line: bytes) -> bytes:
    """The record's event changed in place: what a writer without the key can do to it."""
    return line.replace(b'"requested"', b'"blocked"')


def _checkpointer(
    table: LedgerTable, store: CheckpointStore
) -> tuple[LedgerTable, CheckpointStore]:
    """The table and bucket as the checkpointer reaches them: clients of its own, so that a
    hook on its requests never sees the shipper's."""
    clients = Clients(REGION)
    return LedgerTable(clients, table.name), CheckpointStore(clients, store.location, store.kms_key)


# --- HMAC-keyed streams ---------------------------------------------------------------------


def test_a_keyed_stream_is_checkpointed_at_its_head_lines_sha256(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md: "`size` is a stream's last seq, `head` the SHA-256 of that record's
    full line (keyless: the checkpointer holds no HMAC key; for a plain chain it is the head
    `audit head` prints)." and "A keyed stream needs the key".

    A keyed log is shipped and checkpointed twice: each head is the plain SHA-256 of the
    line (not the HMAC that `audit head` prints with the key), and verify with the key holds
    the ledger to both checkpoints; without the key it refuses to judge the stream."""
    write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    first = write_checkpoint(table, store)
    lines = complete_lines(log_path)
    assert first.findings == []
    assert _head(first, stream) == StreamHead(stream, 4, full_sha256(lines[-1]))
    assert full_sha256(lines[-1]) != audit.head(log_path, hmac_key=KEY).digest
    write_log(log_path, 3, hmac_key=KEY)
    ship(log_path, table)
    second = write_checkpoint(table, store)
    lines = complete_lines(log_path)
    assert second.findings == []
    assert _head(second, stream) == StreamHead(stream, 7, full_sha256(lines[-1]))
    result = verify_ledger(table, hmac_key=KEY, history=read_history(store))
    assert result.ok and result.checkpoints == 2 and result.records == 7
    with pytest.raises(audit.KeyRequired):
        verify_ledger(table, history=read_history(store))


def test_a_stream_claiming_a_key_stops_no_check_of_the_others(
    table: LedgerTable, store: CheckpointStore, log_path: Path, tmp_path: Path
) -> None:
    """docs/ledger.md: a writer "cannot do undetected: change anything below a checkpointed
    head". A writer of the table adds a stream whose record says ``hmac-sha256`` (no key
    needed to write that) to a plain fleet and edits a checkpointed stream: without a key
    (the fleet has none), the run reported only that a key was needed (`KeyRequired`, exit
    2), the edit and the checkpoint's finding with it. Now the keyed stream is a ``key``
    finding and the others are held as ever; a run where every stream is keyed and nothing
    else is found still raises `KeyRequired` (the key was left out)."""
    lines = write_log(log_path, 4)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    put_raw(table, record_item(stream, 4, _edited(lines[3])))
    claimed = tmp_path / "claimed.jsonl"
    write_log(claimed, 1, hmac_key=b"a key nobody in the fleet holds")
    ship(claimed, table)
    result = verify_ledger(table, history=read_history(store))
    assert not result.ok
    by_stream = {(f.stream, f.line, f.reason) for f in result.findings}
    assert by_stream == {
        (stream, 4, "edited"),
        (stream, 4, "checkpoint"),
        (stream_of(table, claimed), 1, "key"),
    }
    [keyed] = [f for f in result.findings if f.reason == "key"]
    assert "no key was given: not checked" in keyed.detail
    with pytest.raises(audit.KeyRequired):
        verify_ledger(table, stream=stream_of(table, claimed))


def test_a_hole_a_checkpoint_saw_filled_is_said_deleted_not_unshipped(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A seq a stream lacks may be one its shipper has yet to put (docs/ledger.md, Limits),
    but not below a checkpointed size: the checkpointer signs a size only over every seq up
    to it. A record deleted there, or the stream's start, is said deleted, naming the
    checkpoint; shipping again puts nothing back. Above it, the hole may be unshipped."""
    write_log(log_path, 6)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    delete_item(table, stream, 3)
    assert ship(log_path, table).shipped == 0
    [hole] = verify_ledger(table, history=read_history(store)).findings
    assert (hole.line, hole.reason) == (4, "removed")
    assert hole.detail.endswith(f"1 record(s) missing: {SIGNED_6}")
    delete_item(table, stream, 1)
    delete_item(table, stream, 2)
    start = [f for f in verify_ledger(table, history=read_history(store)).findings if f.line == 4]
    assert {f.reason for f in start} == {"removed"}
    assert {f.detail.rsplit(": ", 1)[1] for f in start} == {SIGNED_6}
    write_log(log_path, 3)
    ship(log_path, table)
    delete_item(table, stream, 8)
    later = [f for f in verify_ledger(table, history=read_history(store)).findings if f.line == 9]
    assert [f.detail.endswith(NOT_SHIPPED_YET) for f in later] == [True]


SIGNED_6 = "deleted (checkpoint 1 signed the stream at seq 6, over every seq up to it)"


def test_a_hole_across_a_checkpointed_size_is_deleted_up_to_it_and_unknown_past_it(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Seq 6 deleted below a checkpoint of size 6 while seq 7 and 8 are in flight (their puts
    failed) and 9 and 10 landed: one jump from 5 to 9, deleted up to 6 and unknown past it."""
    write_log(log_path, 6)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    write_log(log_path, 4)
    ship(log_path, table)
    for seq in (6, 7, 8):
        delete_item(table, stream, seq)
    head, hole = verify_ledger(table, history=read_history(store)).findings
    assert (head.line, head.reason, hole.line, hole.reason) == (6, "checkpoint", 9, "removed")
    assert hole.detail.endswith(
        "3 record(s) missing: deleted up to seq 6 (checkpoint 1 signed the stream at seq 6);"
        f" from seq 7 on, {NOT_SHIPPED_YET}"
    )


def _plain_then_keyed(
    table: LedgerTable, store: CheckpointStore, log_path: Path, keyed: int
) -> str:
    """Six plain records, ``rotate --key-env``, ``keyed`` keyed ones, shipped as one stream
    and checkpointed: the stream."""
    write_log(log_path, 6)
    ship(log_path, table)
    archive = audit.rotate(log_path, hmac_key=KEY)
    write_log(log_path, keyed, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    return stream_of(table, archive)


def test_an_honest_plain_log_upgraded_to_a_key_is_still_the_keys_usage_error(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Control for the keyless checks of a keyed stream: a plain log rotated to a keyed one,
    shipped and checkpointed, with a put of its newest record not made yet (a hole past the
    signed size), holds nothing wrong without the key: the run is the key's usage error, as
    for a stream keyed from the start, and with the key it is ok."""
    stream = _plain_then_keyed(table, store, log_path, 3)
    write_log(log_path, 2, hmac_key=KEY)
    ship(log_path, table)
    delete_item(table, stream, 11)  # the last put but one, still in flight
    with pytest.raises(audit.KeyRequired):
        verify_ledger(table, history=read_history(store))
    put_raw(table, record_item(stream, 11, complete_lines(log_path)[-2]))
    assert verify_ledger(table, hmac_key=KEY, history=read_history(store)).ok


def test_a_plain_part_of_a_keyed_stream_walked_without_its_key_is_still_checked(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A plain log upgraded to a keyed one (``rotate --key-env``) ships as one stream; a
    record of its plain part edited in the table is ``edited`` without the key too (its own
    digest needs none), not hidden behind the key's usage error, and told once (the record
    after it is not held to the edited one)."""
    stream = _plain_then_keyed(table, store, log_path, 2)
    put_raw(table, record_item(stream, 3, _edited(line_of(item_at(table, stream, 3)) or b"")))
    assert sorted(ledger_findings(table, history=read_history(store))) == [
        (3, "edited"),
        (7, "key"),
    ]
    assert _verify(table, store, KEY) == [(3, "edited")]


def test_a_keyed_stream_walked_without_its_key_blames_no_record_that_is_whole(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Without the key: two items of the plain part holding each other's record are told by
    the item checks, not the record after them (its link is to neither); a record past a
    hole that goes down from HMAC to plain SHA-256 (resealed: its own digest holds) is a
    downgrade all the same, a finding, not the key's usage error; a line break left at an
    item's end is the item's, no first-format record."""
    stream = _plain_then_keyed(table, store, log_path, 4)
    third, fourth = (line_of(item_at(table, stream, seq)) or b"" for seq in (3, 4))
    put_raw(table, record_item(stream, 3, fourth))
    put_raw(table, record_item(stream, 4, third))
    swapped = ledger_findings(table, history=read_history(store))
    assert {line for line, _ in swapped} == {3, 4, 7}
    put_raw(table, record_item(stream, 3, third))
    put_raw(table, record_item(stream, 4, fourth))
    delete_item(table, stream, 10)
    keyed = line_of(item_at(table, stream, 11)) or b""
    forged = reseal(keyed.replace(b'"chain":"hmac-sha256"', b'"chain":"sha256"'))
    put_raw(table, record_item(stream, 11, forged))
    downgraded = sorted(ledger_findings(table, history=read_history(store)))
    assert (11, "edited") in downgraded and (7, "key") in downgraded
    item = item_at(table, stream, 5)
    item["line"]["S"] += "\n"
    put_raw(table, item)
    assert (5, "edited") in ledger_findings(table, history=read_history(store))
    assert not [
        f
        for f in verify_ledger(table, history=read_history(store)).findings
        if "first format" in f.detail
    ]


def test_a_keyed_stream_walked_without_its_key_is_still_held_to_its_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Without the key a keyed stream's links are not checked (a ``key`` finding), but what
    needs no key is: records deleted below what a checkpoint saw are ``checkpoint``, as with
    the key."""
    write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    for seq in (3, 4):
        delete_item(table, stream, seq)
    keyless = sorted(ledger_findings(table, history=read_history(store)))
    assert keyless == [(1, "key"), (4, "checkpoint")]
    assert _verify(table, store, KEY) == [(4, "checkpoint")]
    # a record deleted from its middle: no key is needed to see it is gone below the size
    # a checkpoint signed; a hole past it may be a put in flight, left to the walk with the key
    write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    delete_item(table, stream, 5)
    write_log(log_path, 2, hmac_key=KEY)
    ship(log_path, table)
    delete_item(table, stream, 9)
    keyless = sorted(ledger_findings(table, history=read_history(store)))
    assert keyless == [(1, "key"), (6, "removed")]  # its deleted tail was shipped again
    assert (10, "removed") in _verify(table, store, KEY)


def test_streams_made_to_sort_first_hide_no_finding_the_checkpoints_back(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A writer of the table adds more marker-only streams than the report holds, under an
    account id that sorts ahead of the fleet's, and edits a checkpointed head: in the order
    of the walk their ``missing-stream`` findings filled all 100 places and the edit was
    "... and N more". The findings the checkpoints back are reported first; the rest are
    counted, and a larger cap lists them all."""
    lines = write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    put_raw(table, record_item(stream, 3, _edited(lines[2])))
    for number in range(110):
        decoy = f"000000000001/{REGION}/{number:016x}"
        put_raw(table, {"stream": {"S": decoy}, "seq": {"N": "0"}, "kind": {"S": "stream"}})
    result = verify_ledger(table, history=read_history(store))
    assert len(result.findings) == 100 and result.more == 12
    assert [(f.stream, f.line, f.reason) for f in result.findings[:2]] == [
        (stream, 3, "edited"),
        (stream, 3, "checkpoint"),
    ]
    assert {f.reason for f in result.findings[2:]} == {"missing-stream"}
    every = verify_ledger(table, history=read_history(store), max_findings=1000)
    assert len(every.findings) == 112 and every.more == 0


def test_a_keyed_rewrite_below_a_checkpoint_is_caught_by_the_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md, Guarantees: a writer "with the key, rewrite its account's streams
    *above the last checkpoint* consistently", and cannot "change anything below a
    checkpointed head (`checkpoint`)".

    A holder of the key rewrites a checkpointed keyed stream from seq 2 on, every record
    sealed and linked again with the key: a chain verify with the key accepts. Held to the
    checkpoint it is `checkpoint`, and the next checkpoint keeps the stream where it was."""
    lines = write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    forged = [lines[0], *(_edited(line) for line in lines[1:])]
    relink(forged, 0, KEY)
    for seq, line in enumerate(forged[1:], start=2):
        put_raw(table, record_item(stream, seq, line))
    assert verify_ledger(table, hmac_key=KEY).ok
    assert _verify(table, store, KEY) == [(4, "checkpoint")]
    later = write_checkpoint(table, store)
    assert later.findings == [f"{stream}: seq 4 changed since a checkpoint held it (its head)"]
    assert _head(later, stream) == StreamHead(stream, 4, full_sha256(lines[3]))


def test_a_plain_record_after_keyed_ones_is_a_downgrade_the_checkpointer_refuses(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md, Checkpoints: "for plain SHA-256 records their own digest and their
    link"; docs/audit.md: a plain SHA-256 record after HMAC-keyed ones is a downgrade (`key`).

    A writer without the key adds seq 5 to a keyed stream as a plain SHA-256 record, sealed
    and linked to seq 4 as a plain chain would be: authentic on its own. The checkpointer,
    keyless, still refuses it and keeps the stream at seq 4; verify with the key reports
    `key`."""
    lines = write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    record = build_record(
        "requested", {"snapshot": "orders-daily-20261130"}, full_sha256(lines[3]), 5, "0" * 64
    )
    plain, _ = seal(record)
    assert is_authentic(plain)
    put_raw(table, record_item(stream, 5, plain))
    outcome = write_checkpoint(table, store)
    assert outcome.findings == [
        f"{stream}: the record at seq 5 is plain SHA-256 after an HMAC-keyed one: a downgrade"
        " (edited, or written without the key)"
    ]
    assert _head(outcome, stream) == StreamHead(stream, 4, full_sha256(lines[3]))
    assert (5, "key") in _verify(table, store, KEY)


def _first_format(after: bytes) -> bytes:
    """A record in the first format (no digest of its own) linked after ``after``."""
    record = {"prev": full_sha256(after), "seq": 5, "time": "2026-11-30T00:00:00.000000Z"}
    return json.dumps({**record, "event": "requested"}, separators=(",", ":")).encode()


def _unknown_chain(after: bytes) -> bytes:
    """A sealed record whose ``chain`` names an algorithm rds_guard does not know."""
    record = build_record("requested", {}, full_sha256(after), 5, "0" * 64, chain="sha512")
    return seal(record)[0]


def _cut_short(after: bytes) -> bytes:
    """The start of a sealed record, its ``prev`` and ``seq`` whole: no record."""
    return _unknown_chain(after)[:120]


@pytest.mark.parametrize(
    ("forged", "finding"),
    [
        (
            _first_format,
            "the record at seq 5 is in the first format (no digest of its own) after a sealed"
            " one: a downgrade (edited)",
        ),
        (_unknown_chain, "the record at seq 5 names no chain rds_guard knows"),
        (
            _cut_short,
            "the item at seq 5 holds no record (its line is cut short or damaged)",
        ),
    ],
    ids=["first-format", "unknown-chain", "cut-short"],
)
def test_a_keyless_forgery_after_keyed_records_is_refused_in_every_form(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    forged: Callable[[bytes], bytes],
    finding: str,
) -> None:
    """The downgrade above in the other forms a writer without the key can give seq 5: a
    record in the first format, one naming a chain nobody writes, and a line cut short
    whose item still carries its own bytes' digest. The checkpointer refuses each and keeps
    the stream at seq 4."""
    lines = write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    put_raw(table, record_item(stream, 5, forged(lines[3])))
    outcome = write_checkpoint(table, store)
    assert outcome.findings == [f"{stream}: {finding}"]
    assert _head(outcome, stream) == StreamHead(stream, 4, full_sha256(lines[3]))


def _at_the_head(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    put_raw(table, record_item(stream, 4, _edited(lines[3])))


def _its_digest_attribute(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    item = item_at(table, stream, 5)
    item["digest"] = {"S": "0" * 64}
    put_raw(table, item)


def _above_the_head(table: LedgerTable, stream: str, lines: list[bytes]) -> None:
    put_raw(table, record_item(stream, 5, _edited(lines[4])))


@pytest.mark.parametrize(
    ("change", "finding", "size", "verified"),
    [
        (
            _at_the_head,
            "seq 4 changed since a checkpoint held it (its head)",
            4,
            [(4, "checkpoint"), (4, "edited")],
        ),
        (
            _its_digest_attribute,
            "the item at seq 5 carries a digest its line does not have",
            4,
            [(5, "edited")],
        ),
        (_above_the_head, None, 6, [(5, "edited")]),
    ],
    ids=["at-the-checkpointed-head", "item-digest-attribute", "above-the-head"],
)
def test_an_edited_keyed_record(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    change: Callable[[LedgerTable, str, list[bytes]], None],
    finding: str | None,
    size: int,
    verified: list[tuple[int, str]],
) -> None:
    """docs/ledger.md, Limits: "The checkpointer holds no key: for HMAC-keyed streams it
    checks seq continuity and each item against its line, not the links (verify does, with
    the key)."; Checkpoints: "each item's line holding its seq and digest".

    A writer without the key edits a keyed record in the table (its own HMAC no longer
    holds). At the checkpointed head, or where the item's digest is not its line's, the
    next checkpoint finds it and keeps the stream at seq 4. Above the head, with the item
    agreeing with its line, only the key can tell: the checkpointer signs on, and verify
    with the key reports it."""
    write_log(log_path, 4, hmac_key=KEY)
    ship(log_path, table)
    write_checkpoint(table, store)
    lines = write_log(log_path, 2, hmac_key=KEY)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    change(table, stream, lines)
    outcome = write_checkpoint(table, store)
    assert outcome.findings == ([] if finding is None else [f"{stream}: {finding}"])
    assert _head(outcome, stream) == StreamHead(stream, size, full_sha256(lines[size - 1]))
    assert _verify(table, store, KEY) == verified


# --- one stream inconsistent, the fleet goes on ---------------------------------------------


def test_a_corrupt_stream_does_not_hold_back_the_rest_of_the_fleet(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """docs/ledger.md: "A stream that fails is a **finding**, printed (exit 1) and kept in
    the checkpoint's `findings`, and the new checkpoint keeps that stream where the previous
    one had it: the evidence stays pinned, and the other streams go on."

    Stream A is checkpointed at seq 3, then an edit breaks its seq 5 and it keeps shipping;
    stream B ships on; stream C is new and broken from seq 2. Two more checkpoints: each
    lists A's and C's findings (in the signed body too), keeps A at seq 3 and leaves C out,
    while B's head advances each time."""
    a, b, c = (tmp_path / name / "audit.jsonl" for name in "abc")
    for path in (a, b, c):
        path.parent.mkdir()
    for path in (a, b):
        write_log(path, 3, note=path.parent.name)
        ship(path, table)
    first = write_checkpoint(table, store)
    a_lines = write_log(a, 3, note="a")
    ship(a, table)
    stream_a, stream_b = stream_of(table, a), stream_of(table, b)
    put_raw(table, record_item(stream_a, 5, _edited(a_lines[4])))
    write_log(a, 2, note="a")
    ship(a, table)
    c_lines = write_log(c, 3, note="c")
    ship(c, table)
    stream_c = stream_of(table, c)
    put_raw(table, record_item(stream_c, 2, _edited(c_lines[1])))
    findings = [
        f"{stream_a}: the record at seq 5 is not authentic (edited)",
        f"{stream_c}: the record at seq 2 is not authentic (edited)",
    ]
    for number, b_size in ((2, 7), (3, 8)):
        write_log(b, b_size - len(complete_lines(b)), note="b")
        ship(b, table)
        outcome = write_checkpoint(table, store)
        assert outcome.checkpoint is not None and outcome.checkpoint.number == number
        assert sorted(outcome.findings) == sorted(findings)
        assert _head(outcome, stream_a) == first.checkpoint.head_of(stream_a)  # type: ignore[union-attr]
        assert _head(outcome, stream_b) == StreamHead(
            stream_b, b_size, full_sha256(complete_lines(b)[-1])
        )
        assert _head(outcome, stream_c) is None
        body, _ = store.read(store.location.key(name_of(number)))
        assert sorted(parse_body(body).findings) == sorted(findings)
    assert _verify(table, store) == [(2, "edited"), (5, "edited")]


# --- a checkpoint racing the shipper --------------------------------------------------------


def _listing(body: dict[str, Any]) -> bool:
    return body.get("IndexName") == "kind"


def _head_query(body: dict[str, Any]) -> bool:
    return body.get("Limit") == 1 and body.get("ScanIndexForward") is False


def _grown_past_a_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path, more: int
) -> tuple[str, list[bytes]]:
    """Three records shipped and checkpointed, then ``more`` shipped after them: the stream,
    and the log's lines."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    lines = write_log(log_path, more)
    ship(log_path, table)
    return stream_of(table, log_path), lines


def _walk(body: dict[str, Any]) -> bool:
    return ":start" in body.get("ExpressionAttributeValues", {})


def _any(body: dict[str, Any]) -> bool:
    return True


@pytest.mark.parametrize(
    ("operation", "which", "read_after"),
    [
        ("Query", _listing, True),
        ("Query", _head_query, True),
        ("GetItem", _any, False),
        ("Query", _walk, False),
    ],
    ids=["listing-streams", "reading-the-head", "reading-the-old-head", "walking-new-records"],
)
def test_records_shipped_while_the_checkpointer_reads_wait_for_the_next_checkpoint(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    operation: str,
    which: Callable[[dict[str, Any]], bool],
    read_after: bool,
) -> None:
    """docs/ledger.md: "**Never inconsistent with the last one.** Before signing, every
    stream is held to the previous checkpoint: ... its new records must follow on (every seq
    there, ...)", and "`size` is a stream's last seq, `head` the SHA-256 of that record's
    full line".

    The stream stands at seq 5 (checkpointed at 3). Just before one of the checkpointer's
    reads leaves, the shipper puts seq 6 to 9. Shipped before the head was read, they are
    checkpointed; after it, the checkpoint pins seq 5, the head it read and walked to, never
    one ahead of it. Either way the signed head is the line the ledger holds there, verify
    holds the ledger to it, and the next checkpoint picks up the rest."""
    stream, _ = _grown_past_a_checkpoint(table, store, log_path, 2)
    checkpointer, signer = _checkpointer(table, store)

    def shipper_puts_more() -> None:
        write_log(log_path, 4)
        assert ship(log_path, table).shipped == 4

    run_before(checkpointer.clients.dynamodb, operation, which, shipper_puts_more)
    outcome = write_checkpoint(checkpointer, signer)
    lines = complete_lines(log_path)
    assert len(lines) == 9 and stored_seqs(table, stream)[-1] == 9
    size = 9 if read_after else 5
    assert outcome.findings == []
    assert _head(outcome, stream) == StreamHead(stream, size, full_sha256(lines[size - 1]))
    assert _verify(table, store) == []
    following = write_checkpoint(checkpointer, signer)
    assert following.findings == []
    assert _head(following, stream) == StreamHead(stream, 9, full_sha256(lines[-1]))


def _put_back(lines: list[bytes]) -> tuple[Callable[[LedgerTable, str], None], ...]:
    """Before the checkpoint, seq 6 is edited; while its records are walked, put back."""
    return (
        lambda table, stream: put_raw(table, record_item(stream, 6, _edited(lines[5]))),
        lambda table, stream: put_raw(table, record_item(stream, 6, lines[5])),
    )


def _resealed(lines: list[bytes]) -> tuple[Callable[[LedgerTable, str], None], ...]:
    """After the head is read and before the walk, seq 6 is rewritten and sealed again
    (its link kept): an authentic record, following on."""
    forged = [lines[4], _edited(lines[5])]
    relink(forged, 0)
    return (
        lambda table, stream: None,
        lambda table, stream: put_raw(table, record_item(stream, 6, forged[1])),
    )


@pytest.mark.parametrize("tamper", [_put_back, _resealed], ids=["edited-then-put-back", "resealed"])
def test_a_head_that_changes_while_it_is_read_is_not_signed(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    tamper: Callable[[list[bytes]], tuple[Callable[[LedgerTable, str], None], ...]],
) -> None:
    """docs/ledger.md: "Before signing, every stream is held to the previous checkpoint: ...
    its new records must follow on (..., and for plain SHA-256 records their own digest and
    their link ...)".

    The checkpointer reads the head (seq 6) with one request and walks the new records with
    another; a writer of the table changes seq 6 in between. The head it would sign is not
    the record it checked: the change is a finding and the stream stays at seq 3, where the
    last checkpoint had it, and nothing the ledger holds now contradicts what was signed.
    Once the stream holds still, the next checkpoint moves on."""
    stream, lines = _grown_past_a_checkpoint(table, store, log_path, 3)
    before, during = tamper(lines)
    before(table, stream)
    checkpointer, signer = _checkpointer(table, store)
    run_before(checkpointer.clients.dynamodb, "Query", _walk, lambda: during(table, stream))
    outcome = write_checkpoint(checkpointer, signer)
    assert outcome.findings == [f"{stream}: seq 6 changed while the checkpoint read it"]
    assert _head(outcome, stream) == StreamHead(stream, 3, full_sha256(lines[2]))
    assert _verify(table, store) == []
    following = write_checkpoint(checkpointer, signer)
    held = line_of(item_at(table, stream, 6)) or b""
    assert _head(following, stream) == StreamHead(stream, 6, full_sha256(held))


def test_a_head_deleted_while_the_checkpoint_reads_the_stream_is_said_deleted(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """The checkpointer reads the newest item (seq 6), then walks the new records; seq 6 is
    deleted in between, and seq 7 shipped: that item was shipped and is gone (deleted since),
    which the finding says of it rather than of the seq where the walk first found nothing,
    and of the seqs that hold nothing (not of seq 7, which the walk does not read)."""
    stream, _ = _grown_past_a_checkpoint(table, store, log_path, 3)
    seventh = write_log(log_path, 1)[-1]
    checkpointer, signer = _checkpointer(table, store)
    for seq in (4, 5):
        delete_item(table, stream, seq)

    def delete_the_head_and_ship_more() -> None:
        delete_item(table, stream, 6)
        put_raw(table, record_item(stream, 7, seventh))

    run_before(checkpointer.clients.dynamodb, "Query", _walk, delete_the_head_and_ship_more)
    outcome = write_checkpoint(checkpointer, signer)
    assert outcome.findings == [
        f"{stream}: seq 6, the stream's newest item as the checkpoint began, is gone: deleted"
        " since (no item from seq 4 to seq 6)"
    ]


def test_a_checkpoint_between_a_failed_put_and_the_next_run(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md: "backlogs go as parallel conditional puts (16 in flight, batches of
    100), so a crash in the middle of a batch can leave seq 400 in the ledger and seq 351
    not.", and a checkpoint's new records must follow on ("every seq there").

    The put of seq 5 is refused while the puts of seq 6 to 8 go through, and the
    checkpointer comes by before the next shipping run: the gap is a finding and the stream
    stays at seq 3. The next run fills the gap, and the next checkpoint moves to seq 8."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    write_log(log_path, 5)
    stream = stream_of(table, log_path)

    def refuse_seq_5(request: Any, **_: Any) -> Any:
        if item_seq(json.loads(request.body or b"{}")) == 5:
            # once the others are stored: a run ends at a failed put, its puts not yet begun
            # are not made (on a busy machine, 6 to 8 may not have begun yet)
            wait_until(lambda: {6, 7, 8} <= set(stored_seqs(table, stream)), what="6 to 8")
            return dynamodb_error("AccessDeniedException", status=400)
        return None

    allow = on_send(table.clients.dynamodb, "PutItem", refuse_seq_5)
    stopped = ship(log_path, table)
    allow()
    assert stopped.error is not None and stopped.acked == 4
    assert stored_seqs(table, stream) == [1, 2, 3, 4, 6, 7, 8]
    lines = complete_lines(log_path)
    gap = write_checkpoint(table, store)
    assert gap.findings == [
        f"{stream}: seq 5 is missing (the next record is seq 6): {NOT_SHIPPED_YET}"
    ]
    assert _head(gap, stream) == StreamHead(stream, 3, full_sha256(lines[2]))
    assert ship(log_path, table).acked == 8
    filled = write_checkpoint(table, store)
    assert filled.findings == []
    assert _head(filled, stream) == StreamHead(stream, 8, full_sha256(lines[-1]))
    assert _verify(table, store) == []


# --- the guards' hourly checkpoint ----------------------------------------------------------

FRESH_FOR = 20.0
"""Seconds the newest checkpoint has left before it is an hour old when the test starts: the
set-up (a shipped log, a signed checkpoint, a guard's thread started and its first look) must
fit in them, on a loaded machine too."""


def _stamp(seconds: float) -> str:
    """A record-style UTC time (``...Z``) for ``time.time()`` value ``seconds``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _times_of(client: Any, operation: str) -> list[float]:
    """When each ``operation`` request of ``client`` left (wall clock), as it happens."""
    times: list[float] = []

    def hook(request: Any, **_: Any) -> None:
        times.append(time.time())

    on_send(client, operation, hook)
    return times


def _first_checkpoint(
    table: LedgerTable, store: CheckpointStore, log_path: Path, at: float | str
) -> str:
    """Three records shipped from ``log_path`` and checkpoint 1, dated ``at`` (a
    ``time.time()`` value, or its `_stamp`: its body's time is what a guard reads), pinning
    them; the stream's key."""
    lines = write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    first = Checkpoint(
        number=1,
        prev=ZERO_HASH,
        time=at if isinstance(at, str) else _stamp(at),
        table=table.name,
        key=store.key_arn(),
        streams=(StreamHead(stream, 3, full_sha256(lines[-1])),),
    )
    assert store.put(first)
    return stream


class _Guard:
    """A guard's shipping log on its own clients, with the times of its checkpoint requests
    (S3 GetObject: a look at the newest; PutObject: a checkpoint written). ``slow_look``:
    seconds its first look's KMS Verify takes longer (a slow network)."""

    def __init__(
        self, table: LedgerTable, path: Path, delay: float | None, slow_look: float = 0.0
    ) -> None:
        path.parent.mkdir(exist_ok=True)
        clients = Clients(REGION)
        self.looks = _times_of(clients.s3, "GetObject")
        self.puts = _times_of(clients.s3, "PutObject")
        slowed: list[float] = []

        def slow(**_: Any) -> None:
            if not slowed:
                slowed.append(slow_look)
                time.sleep(slow_look)

        if slow_look:
            on_send(clients.kms, "Verify", slow)
        ledger = LedgerPolicy(
            table.name, REGION, checkpoints=f"s3://{BUCKET}/rds-guard/", kms_key=KEY_ALIAS
        )
        self.log = ShippingLog(
            path, ledger=ledger, clients=clients, fsync=False, checkpoint_delay=delay
        )

    def write(self) -> None:
        """A record, which starts the shipping thread."""
        self.log.write(
            "requested", call=audit.new_call_id(), service="rds", operation="DeleteDBSnapshot"
        )


def test_the_shipping_thread_checkpoints_once_the_newest_checkpoint_is_an_hour_old(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md: "a policy that names `checkpoints` and `kms_key` makes each guard's
    shipping thread write a checkpoint when the newest one (whoever wrote it) is an hour
    old."

    The checkpointer wrote checkpoint 1 a few seconds less than an hour ago. A guard's
    shipping thread (no delay of its own past the hour) starts, ships and finds it fresh:
    nothing is written. The thread runs on; the first of its runs after checkpoint 1 turns
    an hour old writes checkpoint 2, exactly one (S3 PutObject requests and the bucket's
    versions), chained to the first and holding the stream's new head."""
    written_at = time.time() - CHECKPOINT_EVERY + FRESH_FOR
    stream = _first_checkpoint(table, store, log_path, written_at)
    guard = _Guard(table, log_path, 0.0)
    try:
        guard.write()
        wait_until(lambda: list(store.numbers()) == [1, 2], FRESH_FOR + 60)
    finally:
        guard.log.close()
    assert guard.looks and guard.looks[0] - written_at < CHECKPOINT_EVERY, (
        f"the thread first looked {guard.looks[0] - written_at - CHECKPOINT_EVERY:.1f} s after"
        " the checkpoint turned an hour old: the set-up overran FRESH_FOR"
    )
    assert len(guard.puts) == 1
    # when it turns an hour old, not an hour after the thread first looked
    assert CHECKPOINT_EVERY <= guard.puts[0] - written_at < CHECKPOINT_EVERY + 60
    assert len(store.versions()) == 2
    body, _ = store.read(store.location.key(name_of(2)))
    second = parse_body(body)
    assert second.head_of(stream) == StreamHead(
        stream, 4, full_sha256(complete_lines(log_path)[-1])
    )
    assert read_history(store).findings == []


def test_a_fleets_guards_do_not_all_checkpoint_at_the_same_moment(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """docs/ledger.md: each guard waits a random part of ten minutes past the hour, so that a
    fleet's guards do not all read the table and sign at once: "the first one writes, and
    the others find its checkpoint fresh."

    Two guards of one fleet, delays 0 and 20 s past the hour (room for the first's reads,
    verify, sign and put on a loaded machine). The first writes checkpoint 2
    when checkpoint 1 turns an hour old; the second does not look again before its own time,
    and then finds checkpoint 2 fresh: one checkpoint written, one PutObject in all. Each
    guard's delay, left to it, is its own, within the spread.

    The second's first look takes 4 s longer (its KMS Verify): its next look is counted from
    when it learnt checkpoint 1's age, not from before its reads, which would bring it 4 s
    early, before its own time."""
    delay = 20.0
    first, second = (
        _Guard(table, tmp_path / "a" / "audit.jsonl", 0.0),
        _Guard(table, tmp_path / "b" / "audit.jsonl", delay, slow_look=4.0),
    )
    written_at = time.time() - CHECKPOINT_EVERY + FRESH_FOR
    _first_checkpoint(table, store, first.log.path, written_at)
    due = written_at + CHECKPOINT_EVERY + delay
    try:
        first.write()
        second.write()
        # a first look past the hour is a set-up that overran: the assert below says so
        wait_until(
            lambda: (
                any(look >= due for look in second.looks)
                or any(look >= written_at + CHECKPOINT_EVERY for look in second.looks[:1])
            ),
            FRESH_FOR + delay + 60,
        )
    finally:
        first.log.close()
        second.log.close()
    assert second.looks[0] - written_at < CHECKPOINT_EVERY, (
        f"the second guard first looked {second.looks[0] - written_at - CHECKPOINT_EVERY:.1f} s"
        " after the checkpoint turned an hour old: the set-up overran FRESH_FOR"
    )
    # the second did not look between the hour and its own time
    assert [look for look in second.looks if written_at + CHECKPOINT_EVERY <= look < due] == []
    assert (len(first.puts), second.puts) == (1, [])
    assert list(store.numbers()) == [1, 2]
    defaults = [_Guard(table, tmp_path / name / "audit.jsonl", None).log for name in "cd"]
    assert all(0.0 <= log.checkpoint_delay < CHECKPOINT_SPREAD for log in defaults)
    assert defaults[0].checkpoint_delay != defaults[1].checkpoint_delay


def test_a_checkpoint_dated_ahead_does_not_silence_the_guards(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/ledger.md: a checkpoint dated more than five minutes ahead of a guard's clock
    (its writer's clock ran fast) is not waited for: the guard writes the next one at once,
    dated by its own clock, and says so.

    Checkpoint 1 is dated a day ahead. A guard with its full delay past the hour still
    writes checkpoint 2 on its first run; waiting for checkpoint 1 to turn an hour old would
    leave the fleet without checkpoints for a day."""
    ahead = _stamp(time.time() + 86_400)
    _first_checkpoint(table, store, log_path, ahead)
    guard = _Guard(table, log_path, CHECKPOINT_SPREAD)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        try:
            guard.write()
            wait_until(lambda: list(store.numbers()) == [1, 2], 60)
        finally:
            guard.log.close()
    body, _ = store.read(store.location.key(name_of(2)))
    assert (
        abs(
            datetime.fromisoformat(parse_body(body).time.replace("Z", "+00:00")).timestamp()
            - time.time()
        )
        < 60
    )
    assert any(
        "checkpoint 1 is dated" in r.message and "ahead of this host's clock" in r.message
        for r in caplog.records
    )
    assert [finding.detail.split(": ", 1)[1] for finding in read_history(store).findings] == [
        f"its time {parse_body(body).time} is before checkpoint 1's ({ahead})"
    ]


def _one_look(table: LedgerTable, log_path: Path) -> tuple[CheckpointOutcome | None, Any]:
    """One look of a new guard (its full delay past the hour) for a due checkpoint, and the
    counter of the KMS requests it sent."""
    guard = _Guard(table, log_path, CHECKPOINT_SPREAD)
    kms = count_sent(guard.log.clients.kms)
    try:
        return guard.log.checkpoint_if_due(), kms
    finally:
        guard.log.close()


@pytest.mark.parametrize(("ahead", "writes"), [(CLOCK_SKEW - 60, False), (CLOCK_SKEW + 60, True)])
def test_five_minutes_ahead_is_the_clock_skew_a_guard_allows(
    table: LedgerTable, store: CheckpointStore, log_path: Path, ahead: float, writes: bool
) -> None:
    """docs/ledger.md: a checkpoint dated more than five minutes ahead is not waited for. One
    dated a minute less than that is a clock a little fast: fresh, and the guard writes
    nothing (no KMS Sign); a minute more, and it writes the next at once."""
    _first_checkpoint(table, store, log_path, time.time() + ahead)
    outcome, kms = _one_look(table, log_path)
    assert (outcome is not None, kms.count("Sign")) == (writes, int(writes))
    assert list(store.numbers()) == ([1, 2] if writes else [1])


def _forged_second(store: CheckpointStore, signer: str | None, named: str | None) -> str:
    """Checkpoint 2 put by a writer of the bucket who cannot sign with the fleet's key: a copy
    of checkpoint 1 dated now, its body naming key ``named`` (default: the fleet's) and signed
    with KMS key ``signer`` (None: no signature). The finding `read_history` reports."""
    first_body, _ = store.read(store.location.key(name_of(1)))
    first = parse_body(first_body)
    body = dataclasses.replace(
        first,
        number=2,
        prev=body_digest(first_body),
        time=_stamp(time.time()),
        key=named or first.key,
    ).body()
    metadata = {}
    if signer is not None:
        signed = store.clients.kms.sign(
            KeyId=signer,
            Message=hashlib.sha256(body).digest(),
            MessageType="DIGEST",
            SigningAlgorithm=ALGORITHM,
        )
        metadata["signature"] = base64.b64encode(signed["Signature"]).decode("ascii")
    store.clients.s3.put_object(
        Bucket=store.location.bucket,
        Key=store.location.key(name_of(2)),
        Body=body,
        Metadata=metadata,
    )
    if named is not None:
        return f"signed with {named}, not with {first.key}"
    return "its signature does not hold (forged or edited)"


def _other_key(store: CheckpointStore) -> str:
    """The ARN of another signing key of the account (not the fleet's)."""
    made = store.clients.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return str(made["KeyMetadata"]["Arn"])


def test_a_forged_checkpoint_cannot_forge_a_line_of_the_applications_log(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A writer of the bucket puts checkpoint 2 naming a "key" that holds a line break and a
    terminal escape: the guard's finding quotes it, and logged as it was, it forged a line of
    the application's log. The finding is logged on one line, each such character escaped."""
    _first_checkpoint(table, store, log_path, time.time() - 60)
    guard = _Guard(table, log_path, CHECKPOINT_SPREAD)
    assert guard.log.checkpoint_if_due() is None
    _forged_second(store, None, "alias/k\nrds_guard: WARNING all checkpoints hold\x1b[2J")
    guard.log._checkpoint_tried = float("-inf")  # as if an hour had passed for this host
    with caplog.at_level(logging.ERROR, logger="rds_guard"):
        outcome = guard.log.checkpoint_if_due()
    guard.log.close()
    assert outcome is not None and outcome.findings
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "alias/k\\nrds_guard: WARNING all checkpoints hold\\x1b[2J" in logged
    assert logged.isprintable()


@pytest.mark.parametrize("forgery", ["unsigned", "signed by another key", "naming another key"])
def test_a_forged_checkpoint_dated_now_does_not_silence_the_guards(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
    forgery: str,
) -> None:
    """docs/ledger.md: a guard trusts the newest checkpoint's time only once its signature
    holds; one that does not is due at once, and the guard says what it found.

    A guard found checkpoint 1 fresh and signed. Then someone who can write the bucket but
    not sign with the fleet's key puts checkpoint 2, dated now. On its next look the guard
    (its full delay past the hour) writes checkpoint 3 all the same: one KMS Sign, and one
    Verify in all for a signature made with another key (none for one that is missing, or a
    body naming another key); linked to checkpoint 2's body, the streams held to checkpoint
    1. The forgery is logged at ERROR, and it is all `verify --checkpoints` reports."""
    stream = _first_checkpoint(table, store, log_path, time.time() - 60)
    guard = _Guard(table, log_path, CHECKPOINT_SPREAD)
    kms = count_sent(guard.log.clients.kms)
    assert guard.log.checkpoint_if_due() is None
    other = None if forgery == "unsigned" else _other_key(store)
    problem = _forged_second(store, other, other if forgery == "naming another key" else None)
    guard.log._checkpoint_tried = float("-inf")  # as if an hour had passed for this host
    with caplog.at_level(logging.ERROR, logger="rds_guard"):
        outcome = guard.log.checkpoint_if_due()
    assert outcome is not None and outcome.checkpoint is not None
    verified = 2 if forgery == "signed by another key" else 1
    assert (outcome.checkpoint.number, kms.count("Sign"), kms.count("Verify")) == (3, 1, verified)
    assert list(store.numbers()) == [1, 2, 3]
    body, _ = store.read(store.location.key(name_of(2)))
    assert outcome.checkpoint.prev == body_digest(body)
    lines = complete_lines(log_path)
    assert outcome.checkpoint.head_of(stream) == StreamHead(stream, 3, full_sha256(lines[2]))
    where = f"{store.location}{name_of(2)}"
    assert outcome.findings == [
        f"{where}: {problem}: its time and heads are not trusted; the streams are held to "
        "checkpoint 1"
    ]
    assert [(r.levelno, r.message) for r in caplog.records] == [
        (logging.ERROR, f"checkpoint {store.location.key(name_of(3))}: {outcome.findings[0]}")
    ]
    assert [(f.number, f.detail) for f in read_history(store).findings] == [
        (2, f"{where}: {problem}")
    ]


def test_a_guard_new_to_a_forged_checkpoint_holds_the_streams_to_the_signed_one_below(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A guard that starts after the forgery (a new worker, a cron job) never saw checkpoint
    1 signed: it verifies the one below the forged newest, and holds the streams to it
    rather than reading each from its first record. One KMS Verify (the forgery carries no
    signature to ask about), one Sign."""
    stream = _first_checkpoint(table, store, log_path, time.time() - 60)
    _forged_second(store, None, None)
    outcome, kms = _one_look(table, log_path)
    assert outcome is not None and outcome.checkpoint is not None
    assert (outcome.checkpoint.number, kms.count("Sign"), kms.count("Verify")) == (3, 1, 1)
    assert outcome.findings[0].endswith("the streams are held to checkpoint 1")
    assert outcome.checkpoint.head_of(stream) == StreamHead(
        stream, 3, full_sha256(complete_lines(log_path)[2])
    )


@pytest.mark.parametrize("unsigned", [1, 5])
def test_unsigned_objects_above_the_last_checkpoint_do_not_free_the_streams(
    table: LedgerTable, store: CheckpointStore, log_path: Path, unsigned: int
) -> None:
    """docs/ledger.md: the streams are held to the newest signed checkpoint below a newest
    that is not signed, however many objects above it are not. A writer of the table rewrites
    a plain stream below checkpoint 1's head (every record sealed and linked again, as anyone
    can), and a writer of the bucket who cannot sign puts ``unsigned`` objects above it: a
    checkpointer new to them still holds the stream to checkpoint 1, and refuses the rewrite."""
    lines = write_log(log_path, 4)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    forged = [lines[0], *(_edited(line) for line in lines[1:])]
    relink(forged, 0)
    for seq, line in enumerate(forged[1:], start=2):
        put_raw(table, record_item(stream, seq, line))
    for number in range(2, 2 + unsigned):
        store.clients.s3.put_object(
            Bucket=store.location.bucket, Key=store.location.key(name_of(number)), Body=b"{}"
        )
    new = CheckpointStore(table.clients, store.location, KEY_ALIAS)
    later = write_checkpoint(table, new)
    assert later.checkpoint is not None and later.checkpoint.number == 2 + unsigned
    assert later.findings[0].endswith("the streams are held to checkpoint 1")
    assert f"{stream}: seq 4 changed since a checkpoint held it (its head)" in later.findings
    assert _head(later, stream) == StreamHead(stream, 4, full_sha256(lines[3]))


def test_a_signed_fresh_checkpoint_keeps_the_guard_quiet_and_is_verified_once(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """docs/ledger.md: a guard that finds the newest checkpoint younger than its hour, its
    signature holding, writes nothing; asked again, it does not ask KMS again about the
    checkpoint it already found signed."""
    _first_checkpoint(table, store, log_path, time.time() - 60)
    guard = _Guard(table, log_path, 0.0)
    kms = count_sent(guard.log.clients.kms)
    assert guard.log.checkpoint_if_due() is None
    guard.log._checkpoint_tried = float("-inf")  # as if an hour had passed for this host
    assert guard.log.checkpoint_if_due() is None
    assert (kms.count("Sign"), kms.count("Verify")) == (0, 1)
    assert list(store.numbers()) == [1]


# --- an item at a seq that is no whole number --------------------------------------------------


def test_an_item_at_a_fractional_seq_above_the_head_is_no_head_of_the_stream(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A table writer copies the head to seq 99999999999999999999.5 (DynamoDB sorts it
    last): read as seq 0, it made the checkpointer sign the stream at 0 for good, with no
    finding, and every shipper run put the whole log again. A finding and a refusal now."""
    write_log(log_path, 4)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    assert write_checkpoint(table, store).findings == []
    junk = dict(item_at(table, stream, 4), seq={"N": "99999999999999999999.5"})
    put_raw(table, junk)
    write_log(log_path, 1)
    outcome = write_checkpoint(table, store)
    assert any("no whole number" in finding for finding in outcome.findings), outcome.findings
    assert outcome.checkpoint is not None
    assert outcome.checkpoint.head_of(stream).size == 4, "kept where the last one had it"
    with pytest.raises(ShipRefused, match="no whole number"):
        ship(log_path, table)


def test_an_item_at_a_fractional_seq_inside_a_stream_is_named_as_such(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """One between seq 2 and 3: the checkpointer said "seq 3 is missing"."""
    write_log(log_path, 2)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    write_checkpoint(table, store)
    write_log(log_path, 2)
    ship(log_path, table)
    put_raw(table, dict(item_at(table, stream, 2), seq={"N": "2.5"}))
    (finding,) = write_checkpoint(table, store).findings
    assert "the item after seq 2 has seq '2.5', no whole number" in finding


@pytest.mark.parametrize(
    ("seq", "line", "detail"),
    [
        ("-1", 0, "the item at seq -1, below the stream's first record (seq 1)"),
        ("0.5", 0, "the item after seq 0 has seq '0.5', no whole number"),
        ("2.5", 2, "the item after seq 2 has seq '2.5', no whole number"),
        ("1E+125", 4, "the item after seq 4 has seq '1E+125', no whole number"),
    ],
    ids=["negative", "below-one", "inside", "exponent"],
)
def test_verify_names_an_item_at_a_seq_no_record_has_where_it_is(
    table: LedgerTable, log_path: Path, seq: str, line: int, detail: str
) -> None:
    """A table writer copies a record to a seq no writer puts. Below 1, verify never read
    it ("ok"); a fraction or an exponent it read as seq 0, naming the stream's marker. Each
    is now one `edited` finding, at the seq it sorts after, and the walk of the records is
    not disturbed by it."""
    write_log(log_path, 4)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    assert not verify_ledger(table).findings
    put_raw(table, dict(item_at(table, stream, 1 if seq in ("-1", "0.5") else 2), seq={"N": seq}))
    (finding,) = verify_ledger(table).findings
    assert (finding.line, finding.reason) == (line, "edited")
    assert finding.detail == f"{stream}: {detail}: no record's item (a table writer's)"


# --- a checkpoint copied in, or hidden by a delete marker ---------------------------------------


def _copy_checkpoint(source: CheckpointStore, target: CheckpointStore, number: int) -> None:
    """What a writer of the bucket who cannot sign can do: copy a signed checkpoint, body and
    signature, from another prefix to a number free in ``target``'s."""
    s3 = target.clients.s3
    copied = s3.get_object(Bucket=BUCKET, Key=source.location.key(name_of(number)))
    s3.put_object(
        Bucket=BUCKET,
        Key=target.location.key(name_of(number)),
        Body=copied["Body"].read(),
        Metadata=copied["Metadata"],
        IfNoneMatch="*",
    )


def test_a_signed_checkpoint_copied_from_another_table_is_not_trusted(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Another ledger signed with the same key (staging, under another prefix): a writer of
    the bucket copies its checkpoint 2, signature and all, as this one's checkpoint 2 after
    an admin cut the stream short. Trusted as the newest, it let checkpoint 3 sign the stream
    cut short, with no finding. It names another table and does not link to checkpoint 1:
    a finding, and the streams are held to checkpoint 1."""
    write_log(log_path, 5)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    assert _head(write_checkpoint(table, store), stream) is not None
    other = ledger_table("staging-ledger")
    staging = CheckpointStore(table.clients, S3Location(BUCKET, "staging/"), KEY_ALIAS)
    write_checkpoint(other, staging)
    write_checkpoint(other, staging)
    delete_item(table, stream, 5)
    delete_item(table, stream, 4)
    _copy_checkpoint(staging, store, 2)
    fresh = CheckpointStore(table.clients, store.location, store.kms_key)  # a new process too
    for checkpointer in (store, fresh):
        newest = checkpointer.newest(checkpointer.key_arn(), table.name)
        assert newest is not None and newest.problem is not None
        assert "a checkpoint of table 'staging-ledger'" in newest.problem
        assert newest.base is not None and newest.base.number == 1
    outcome = write_checkpoint(table, fresh)
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 3
    assert any("records were deleted" in finding for finding in outcome.findings)
    head = _head(outcome, stream)
    assert head is not None and head.size == 5


def test_a_checkpoint_of_an_earlier_release_copied_from_another_prefix_does_not_link(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A body of an earlier release names no location: one copied from another prefix of the
    same table names this table, but its prev is the digest of the other prefix's
    checkpoint 1, not of this one's."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    elsewhere = CheckpointStore(table.clients, S3Location(BUCKET, "elsewhere/"), KEY_ALIAS)
    first = write_checkpoint(table, elsewhere).checkpoint
    assert first is not None
    earlier = dataclasses.replace(first, number=2, prev=body_digest(first.body()), location="")
    assert elsewhere.put(earlier) and b'"location"' not in earlier.body()
    _copy_checkpoint(elsewhere, store, 2)
    newest = CheckpointStore(table.clients, store.location, store.kms_key).newest(
        store.key_arn(), table.name
    )
    assert newest is not None and newest.problem is not None
    assert "its prev is not the digest of checkpoint 1" in newest.problem
    assert newest.base is not None and newest.base.number == 1


def test_checkpoints_copied_in_a_row_from_another_prefix_are_not_trusted(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Two signed checkpoints copied in a row from another prefix of the same table: the
    newer links to the older, names this table, and its signature holds, so a check of its
    link alone trusted it. Each names where it was written: not here, a finding."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    elsewhere = CheckpointStore(table.clients, S3Location(BUCKET, "elsewhere/"), KEY_ALIAS)
    for _ in range(3):
        write_checkpoint(table, elsewhere)
    write_log(log_path, 2)
    ship(log_path, table)
    head = _head(write_checkpoint(table, store), stream)
    assert head is not None and head.size == 5
    delete_item(table, stream, 5)
    delete_item(table, stream, 4)
    _copy_checkpoint(elsewhere, store, 2)
    _copy_checkpoint(elsewhere, store, 3)
    outcome = write_checkpoint(table, CheckpointStore(table.clients, store.location, KEY_ALIAS))
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 4
    assert f"it was written to {elsewhere.location}, not here (copied)" in outcome.findings[0]
    assert any("records were deleted" in finding for finding in outcome.findings)
    head = _head(outcome, stream)
    assert head is not None and head.size == 5
    assert outcome.checkpoint.location == str(store.location)


def _checkpointed_twice(
    table: LedgerTable, store: CheckpointStore, log_path: Path, first: int, then: int
) -> str:
    """``first`` records shipped and checkpointed, then ``then`` more: the log's stream,
    which checkpoint 2 holds at seq ``first + then``."""
    write_log(log_path, first)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    write_checkpoint(table, store)
    write_log(log_path, then)
    ship(log_path, table)
    head = _head(write_checkpoint(table, store), stream)
    assert head is not None and head.size == first + then
    return stream


def test_a_delete_marker_on_the_newest_checkpoint_does_not_roll_the_streams_back(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Checkpoint 2 pinned seq 6; an admin deletes seqs 4 to 6 and puts a delete marker on
    checkpoint 2 (Object Lock keeps its version). Listed with ListObjectsV2 it was gone: the
    checkpointer wrote a second version of checkpoint 2, held to checkpoint 1 (seq 3), with
    no finding. The marker is a finding, checkpoint 2's version below it still holds the
    streams (records were deleted), and the next checkpoint is 3."""
    stream = _checkpointed_twice(table, store, log_path, 3, 3)
    for seq in (6, 5, 4):
        delete_item(table, stream, seq)
    s3 = table.clients.s3
    s3.delete_object(Bucket=BUCKET, Key=store.location.key(name_of(2)))
    fresh = CheckpointStore(table.clients, store.location, store.kms_key)
    outcome = write_checkpoint(table, fresh)
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 3
    assert outcome.findings[0].endswith(
        "checkpoint-0000000002.json: a delete marker hides it; the streams are held to it still"
    )
    assert any("records were deleted" in finding for finding in outcome.findings[1:])
    head = _head(outcome, stream)
    assert head is not None and head.size == 6
    assert _links_to(s3, store, 3, 2)


def test_an_older_checkpoint_put_over_the_newest_does_not_roll_the_streams_back(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Checkpoint 2 pinned seq 6; an admin deletes seqs 5 and 6 and puts checkpoint 1's body
    and signature over checkpoint 2 (a new version: Object Lock keeps the first). The
    checkpointer read the current version: "its body says it is checkpoint 1", the streams
    held to checkpoint 1, and checkpoint 3 (then 4, with no finding at all) signed the stream
    at seq 4. The first version is read, as ``verify --checkpoints`` reads it: the overwrite
    is a finding, and checkpoint 2 still holds the stream at seq 6."""
    stream = _checkpointed_twice(table, store, log_path, 4, 2)
    for seq in (6, 5):
        delete_item(table, stream, seq)
    s3 = table.clients.s3
    first = s3.get_object(Bucket=BUCKET, Key=store.location.key(name_of(1)))
    s3.put_object(
        Bucket=BUCKET,
        Key=store.location.key(name_of(2)),
        Body=first["Body"].read(),
        Metadata=first["Metadata"],
    )
    for number in (3, 4):
        fresh = CheckpointStore(table.clients, store.location, store.kms_key)
        outcome = write_checkpoint(table, fresh)
        assert outcome.checkpoint is not None and outcome.checkpoint.number == number
        head = _head(outcome, stream)
        assert head is not None and head.size == 6
        assert any("records were deleted" in finding for finding in outcome.findings)
    assert _links_to_first(s3, store, 3, 2)


def test_the_overwrite_of_the_newest_checkpoint_is_a_finding_of_the_checkpointer(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Checkpoint 1 written again with its own bytes (nothing changed but the version): the
    next checkpoint says so, and holds the streams to it still."""
    write_log(log_path, 2)
    ship(log_path, table)
    write_checkpoint(table, store)
    s3 = table.clients.s3
    key = store.location.key(name_of(1))
    body = s3.get_object(Bucket=BUCKET, Key=key)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body["Body"].read(), Metadata=body["Metadata"])
    fresh = CheckpointStore(table.clients, store.location, store.kms_key)
    outcome = write_checkpoint(table, fresh)
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 2
    assert outcome.findings == [
        f"{store.location}{name_of(1)}: it was written again (2 versions: the first is the "
        "one read); the streams are held to it still"
    ]


def test_a_checkpoint_under_a_delete_marker_is_read_below_it_from_the_listing(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """The listing names each checkpoint a marker hides with the version below the marker,
    and `stored` reads that version from it (no state kept from an earlier listing)."""
    write_log(log_path, 2)
    ship(log_path, table)
    written = write_checkpoint(table, store)
    assert written.checkpoint is not None
    s3 = table.clients.s3
    key = store.location.key(name_of(1))
    version = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"][0]["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key=key)
    fresh = CheckpointStore(table.clients, store.location, store.kms_key)
    numbers, firsts = fresh.listing()
    assert (numbers, firsts) == ([1], {1: Original(version, hidden=True)})
    stored = fresh.stored(1, firsts)
    assert stored.hidden and stored.checkpoint == written.checkpoint


def _links_to_first(s3: Any, store: CheckpointStore, number: int, below: int) -> bool:
    """Whether checkpoint ``number``'s prev is the digest of the first version of ``below``."""
    key = store.location.key(name_of(below))
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    body = s3.get_object(Bucket=BUCKET, Key=key, VersionId=versions[-1]["VersionId"])["Body"]
    top = parse_body(
        s3.get_object(Bucket=BUCKET, Key=store.location.key(name_of(number)))["Body"].read()
    )
    return top.prev == body_digest(body.read())


def _links_to(s3: Any, store: CheckpointStore, number: int, below: int) -> bool:
    """Whether checkpoint ``number``'s prev is the digest of the newest version of ``below``
    that is no delete marker."""
    key = store.location.key(name_of(below))
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    body = s3.get_object(Bucket=BUCKET, Key=key, VersionId=versions[0]["VersionId"])["Body"]
    top = parse_body(
        s3.get_object(Bucket=BUCKET, Key=store.location.key(name_of(number)))["Body"].read()
    )
    return top.prev == body_digest(body.read())

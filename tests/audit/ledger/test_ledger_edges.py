"""Edges of the shipper's promises: the marker put back within five minutes, ``through``
against ``stop``, the head held to the record acknowledged last by its seq and digest too,
the state saved before a fork and read back whole, records out of order or past an archive's
end, a record stored but not acknowledged, a misplaced item at the log's last seq, a damaged
state file, seqs lost before a stream's first record was acknowledged. Against moto's server
over HTTP; races interleaved with botocore's before-send, never with sleeps."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import call_with_timeout, forge_rotated_from, relink, write_lines
from aws import count_sent
from botocore.exceptions import EndpointConnectionError
from ledger_helpers import (
    clone_log,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    item_seq,
    lose_replies,
    on_send,
    put_raw,
    run_before,
    ship,
    stored_lines,
    stored_seqs,
    stream_of,
    write_log,
)

from rds_guard import audit
from rds_guard.audit.ledger import Fork, LedgerTable, Reordered, Shipper, ShipResult
from rds_guard.audit.ledger.items import text
from rds_guard.audit.ledger.shipper import RECHECK
from rds_guard.audit.ledger.state import ShipState, state_path


def test_a_long_lived_shipper_puts_its_streams_marker_back_within_five_minutes(
    table: LedgerTable, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/ledger.md: every run that holds the ledger to the log in full puts the stream's
    marker back, "the guard's thread at least every five minutes". A writer of the table
    overwrites the marker of a stream whose shipper lives on and whose head stays its own:
    the runs within five minutes go straight to their puts; the first one after puts the
    marker back, and the index lists the stream again."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 3
        stream = stream_of(table, log_path)
        put_raw(table, {"stream": {"S": stream}, "seq": {"N": "0"}, "line": {"S": "x"}})
        assert list(table.streams()) == []
        write_log(log_path, 1)
        assert shipper.ship().acked == 4  # the head is the record it acknowledged last
        assert list(table.streams()) == []
        real = time.monotonic
        monkeypatch.setattr(time, "monotonic", lambda: real() + RECHECK + 1.0)
        write_log(log_path, 1)
        assert shipper.ship().acked == 5
    finally:
        shipper.close()
    assert text(table.get(stream, 0) or {}, "kind") == "stream"
    assert list(table.streams()) == [stream]


def test_records_written_during_a_run_count_in_its_last_seq(
    table: LedgerTable, log_path: Path
) -> None:
    """Two records are written while a run's first batch is on its way; the run reads on into
    them and ships them. What it reports holds them: the log's last seq is the last one it
    shipped, not the one it saw when it started."""
    write_log(log_path, 4)
    shipper = Shipper(log_path, table, batch=2)
    run_before(
        table.clients.dynamodb,
        "PutItem",
        lambda body: item_seq(body) == 1,
        lambda: write_log(log_path, 2, note="during the run "),
    )
    try:
        result = shipper.ship()
    finally:
        shipper.close()
    assert (result.acked, result.last, result.pending) == (6, 6, 0)
    assert stored_lines(table, stream_of(table, log_path)) == complete_lines(log_path)


def test_a_run_told_to_stop_still_ships_through_the_seq_it_was_asked_for(
    table: LedgerTable, log_path: Path
) -> None:
    """``stop`` is checked between batches; ``through`` is the seq the caller needs
    acknowledged. Stopped from the start and asked for seq 4 of 6 (batches of 2): the run
    ships until seq 4 is acknowledged, then stops; the rest waits for the next run."""
    write_log(log_path, 6)
    shipper = Shipper(log_path, table, batch=2)
    stop = threading.Event()
    stop.set()
    try:
        result = shipper.ship(through=4, stop=stop)
        assert (result.acked, result.last, result.pending, result.error) == (4, 6, 2, None)
        assert stored_seqs(table, stream_of(table, log_path)) == [1, 2, 3, 4]
        assert shipper.ship().acked == 6
    finally:
        shipper.close()


def test_our_last_record_copied_above_the_head_is_met_before_a_put(
    table: LedgerTable, log_path: Path
) -> None:
    """A writer of the table copies the item of seq 3, the record a shipper that lives on
    acknowledged last, to seq 5: the ledger's head holds, byte for byte, that record, at
    another seq. docs/ledger.md: only "the record it acknowledged last" there lets the
    shipper go straight on; anything else is held to the log in full: a fork at 5, and
    nothing of the log put below it (seq 4 would be stored under a head no shipper wrote)."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 3
        stream = stream_of(table, log_path)
        put_raw(table, dict(item_at(table, stream, 3), seq={"N": "5"}))
        write_log(log_path, 2)
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 5
    assert stored_seqs(table, stream) == [1, 2, 3, 5]


def test_a_head_whose_digest_attribute_was_changed_is_a_fork_before_a_put(
    table: LedgerTable, log_path: Path
) -> None:
    """The item a shipper that lives on acknowledged last keeps its line, but its ``digest``
    attribute is changed in the ledger. docs/ledger.md: the head must be, byte for byte, the
    record acknowledged last, and "The local record at that seq must have the same digest:
    another digest is a fork". The next run refuses before it puts a record."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 3
        stream = stream_of(table, log_path)
        put_raw(table, dict(item_at(table, stream, 3), digest={"S": "0" * 64}))
        write_log(log_path, 1)
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 3
    assert stored_seqs(table, stream) == [1, 2, 3]


def test_a_rotated_record_naming_its_own_file_ends_the_series_there(
    table: LedgerTable, log_path: Path
) -> None:
    """A forged ``rotated_from`` names the live file itself: the archive it names does not
    come before it (its first seq is the live file's own), so the series ends at the live
    file, shipped on from the state, as when the archive is gone; never walked round and
    round."""
    write_log(log_path, 5)
    ship(log_path, table)
    audit.rotate(log_path)
    write_log(log_path, 2)
    forge_rotated_from(log_path, log_path.name)
    result = call_with_timeout(lambda: ship(log_path, table), timeout=5)
    assert isinstance(result, ShipResult) and result.acked == 8


def test_a_rotated_record_naming_no_file_the_system_can_name_ends_the_series_there(
    table: LedgerTable, log_path: Path
) -> None:
    """A forged ``rotated_from`` holds a lone surrogate, which no file name can (the file
    system's encoding refuses it): the series ends at the live file, shipped on from the
    state, as when the archive is gone; no `UnicodeEncodeError` out of the shipper."""
    write_log(log_path, 5)
    ship(log_path, table)
    audit.rotate(log_path)
    write_log(log_path, 2)
    forge_rotated_from(log_path, "\ud800")
    result = call_with_timeout(lambda: ship(log_path, table), timeout=5)
    assert isinstance(result, ShipResult) and result.acked == 8


def test_a_fork_found_by_a_put_saves_what_its_batch_acknowledged_before_it(
    table: LedgerTable, tmp_path: Path
) -> None:
    """A clone shares seqs 6 and 7 with the original and has its own 8; it ships them just
    as the original's batch of 6 to 8 goes. The original's puts of 6 and 7 meet its own
    records (acknowledged), that of 8 another record: a fork, raised after the state is
    saved through seq 7."""
    original, copy = tmp_path / "a" / "audit.jsonl", tmp_path / "b" / "audit.jsonl"
    original.parent.mkdir()
    copy.parent.mkdir()
    write_log(original, 5)
    shipper = Shipper(original, table, workers=1)
    try:
        assert shipper.ship().acked == 5
        write_log(original, 2)
        clone_log(original, copy)
        write_log(copy, 1, note="copy ")
        write_log(original, 1, note="original ")
        run_before(table.clients.dynamodb, "PutItem", lambda body: True, lambda: ship(copy, table))
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 8
    assert json.loads(state_path(original).read_bytes())["acked"] == 7


def test_a_state_saved_shorter_than_the_last_is_read_back_whole(
    table: LedgerTable, log_path: Path
) -> None:
    """Rotation moves the saved cursor from far into the old file to the start of the new
    one: the state saved is shorter than the one before. It is read back as saved (not with
    the old one's tail after it, which no reader reads), so the next run with nothing to put
    sends nothing to the ledger."""
    write_log(log_path, 100)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 100
        before = state_path(log_path).read_bytes()
        audit.rotate(log_path)
        write_log(log_path, 1)
        assert shipper.ship().acked == 102
        saved = state_path(log_path).read_bytes()
        assert len(saved) < len(before)
        assert ShipState.from_json(saved) is not None
        sent = count_sent(table.clients.dynamodb)
        result = shipper.ship()
    finally:
        shipper.close()
    assert (result.acked, result.error, sent.operations) == (102, None, [])


def test_a_record_with_the_seq_of_the_one_before_it_is_refused(
    table: LedgerTable, log_path: Path
) -> None:
    """docs/ledger.md: "A record that comes after one with the same or a higher seq ... is
    refused too (`Reordered`), wherever the shipper reads it." Someone who can write the log
    appends a record with the seq of the last one shipped, linked onto it, and another
    record chained onto that: shipping it is refused, the ledger left as it was."""
    lines = write_log(log_path, 5)
    write_lines(log_path, lines[:4])
    assert ship(log_path, table).acked == 4
    forged = [*lines[:4], lines[3], lines[4]]
    relink(forged, 3)  # a copy of seq 4 linked onto seq 4, and seq 5 onto the copy
    write_lines(log_path, forged)
    with pytest.raises(Reordered, match="the record with seq 4 comes after seq 4"):
        ship(log_path, table)
    assert stored_lines(table, stream_of(table, log_path)) == lines[:4]


def test_another_record_of_the_log_copied_over_its_last_is_a_fork(
    table: LedgerTable, log_path: Path
) -> None:
    """A writer of the table overwrites the item of seq 3, the log's last record, with seq 2's
    line and digest. The ledger's head is at the local log's last seq: it is held to our
    record there (another digest: a fork, recorded as a fork item for verify), not named as
    an item put past the log's end."""
    lines = write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    put_raw(table, dict(item_at(table, stream, 2), seq={"N": "3"}))
    with pytest.raises(Fork) as refused:
        ship(log_path, table)
    assert refused.value.seq == 3
    assert [text(fork, "line") for fork in table.forks(stream)] == [lines[2].decode()]


def test_a_record_stored_but_not_acknowledged_is_found_not_put_again(
    table: LedgerTable, log_path: Path
) -> None:
    """Every attempt at seq 3, the log's last record, lands and loses its reply: the run ends
    acknowledged through 2, the ledger's head at 3. The next run reads the ledger's keys from
    the seq after the state up to the head and finds 3 there, held to our record: nothing is
    put again (a put refused as our own is billed like a write)."""
    write_log(log_path, 3)
    remove = lose_replies(table.clients.dynamodb, "PutItem", lambda body: item_seq(body) == 3)
    first = ship(log_path, table, workers=1)
    remove()
    assert (first.acked, first.error is not None) == (2, True)
    again = ship(log_path, table)
    assert (again.error, again.acked, again.shipped, again.already) == (None, 3, 0, 0)


def test_a_record_appended_to_an_archive_past_its_end_is_not_shipped(
    table: LedgerTable, log_path: Path
) -> None:
    """Someone who can write the log appends to an archive a record with the seq the live
    file starts with. The archive holds the series up to the seq before the live file's
    first: the live file's own records are shipped, the appended one is not."""
    write_log(log_path, 5)
    archive = audit.rotate(log_path)
    write_log(log_path, 1)
    other = log_path.with_name("other.jsonl")
    foreign = write_log(other, 6, note="other ")[5]
    with open(archive, "ab") as appended:
        appended.write(foreign + b"\n")
    result = ship(log_path, table)
    assert (result.error, result.acked) == (None, 7)
    stored = stored_lines(table, stream_of(table, archive))
    assert stored == complete_lines(archive)[:5] + complete_lines(log_path)


def test_a_state_file_whose_seq_is_no_number_is_forgotten(
    table: LedgerTable, log_path: Path
) -> None:
    """A state file that names the log's table and stream but whose ``acked`` is ``true`` (a
    JSON boolean, no seq) is damaged: forgotten, as any other (the ledger's keys say where
    shipping stopped), never a crash of the run."""
    lines = write_log(log_path, 5)
    ship(log_path, table)
    state = json.loads(state_path(log_path).read_bytes())
    state_path(log_path).write_text(json.dumps({**state, "acked": True}))
    write_log(log_path, 2)
    result = ship(log_path, table)
    assert (result.error, result.shipped, result.acked) == (None, 2, 7)
    assert stored_lines(table, stream_of(table, log_path)) == [
        *lines,
        *complete_lines(log_path)[5:],
    ]


def test_a_state_file_of_another_version_is_not_read(table: LedgerTable, log_path: Path) -> None:
    """A state file written by another version of the format (``"version": 2``) is not this
    version's word: with the ledger out of reach, the run claims nothing acknowledged as
    last saved (its records all wait), rather than reading the other format as its own."""
    write_log(log_path, 5)
    ship(log_path, table)
    state = json.loads(state_path(log_path).read_bytes())
    state_path(log_path).write_text(json.dumps({**state, "version": 2}))
    write_log(log_path, 2)

    def unreachable(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    for operation in ("Query", "PutItem"):
        on_send(table.clients.dynamodb, operation, unreachable)
    result = ship(log_path, table)
    assert result.error is not None and "Could not connect" in result.error
    assert (result.acked, result.last, result.pending, result.confirmed) == (0, 7, 7, False)


def test_a_live_file_rotated_while_its_archive_is_shipped_is_found_under_its_new_name(
    table: LedgerTable, log_path: Path
) -> None:
    """A series of an archive (1 to 5) and a live file (6 to 8); the live file is rotated
    while the run still ships the archive, before it opened the live file. docs/ledger.md:
    the file "is found under its archive name by its first line": the run ships it to its
    end (8), not stopping at the end of the first archive."""
    write_log(log_path, 5)
    first = audit.rotate(log_path)
    write_log(log_path, 2)
    run_before(
        table.clients.dynamodb,
        "PutItem",
        lambda body: item_seq(body) == 1,
        lambda: audit.rotate(log_path),
    )
    shipper = Shipper(log_path, table, workers=1, batch=2)
    try:
        result = shipper.ship()
    finally:
        shipper.close()
    assert (result.error, result.acked) == (None, 8)
    second = log_path.with_name("audit.jsonl.6-8")
    assert stored_lines(table, stream_of(table, first)) == complete_lines(first) + complete_lines(
        second
    )


def test_a_tail_deleted_in_a_run_that_outgrew_its_start_is_put_back(
    table: LedgerTable, log_path: Path
) -> None:
    """A run starts with the log ending at seq 4 and reads on into four records written while
    it ships (5 to 8, batches of 2). After the batch of 5 and 6, an admin deletes 6: before
    the next batch the run is held to the ledger again, against the log as it is now (head 5
    is below its end), not as it was when the run started (a ledger "ahead of the file")."""
    write_log(log_path, 2)
    shipper = Shipper(log_path, table, workers=1, batch=2)
    try:
        assert shipper.ship().acked == 2
        stream = stream_of(table, log_path)
        write_log(log_path, 2)
        run_before(
            table.clients.dynamodb,
            "PutItem",
            lambda body: item_seq(body) == 3,
            lambda: write_log(log_path, 4, note="during the run "),
        )
        done: list[int] = []

        def delete_6_after_its_batch(shipped: int, _: int) -> None:
            done.append(shipped)
            if len(done) == 2:
                delete_item(table, stream, 6)

        result = shipper.ship(progress=delete_6_after_its_batch)
    finally:
        shipper.close()
    assert (result.error, result.acked) == (None, 8)
    assert stored_lines(table, stream) == complete_lines(log_path)


def test_records_lost_before_the_streams_first_acknowledgement_are_named_missing(
    table: LedgerTable, log_path: Path
) -> None:
    """The first run's record puts all fail (the stream's marker goes: the state names the
    stream, nothing acknowledged); the log is rotated and its archive, seqs 1 to 3, removed
    before the next run. That run ships what is left and names 1 to 3 as missing, never "up
    to date": they never reached the ledger."""
    write_log(log_path, 3)

    def refuse_records(request: Any, **_: Any) -> Any:
        if item_seq(json.loads(request.body)) != 0:
            return dynamodb_error("AccessDeniedException", "no")
        return None

    remove = on_send(table.clients.dynamodb, "PutItem", refuse_records)
    assert ship(log_path, table).acked == 0
    remove()
    audit.rotate(log_path).unlink()
    write_log(log_path, 2)
    result = ship(log_path, table)
    assert (result.error, result.acked, result.missing) == (None, 6, [(1, 3)])
    assert "up to date" not in result.describe()

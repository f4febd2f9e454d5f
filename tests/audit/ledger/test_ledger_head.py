"""The ledger's head, read before a shipping run puts anything, and again before each batch
after its first: a copy that shipped since, a tail deleted since, an item edited at the head,
all met before a record of this log is put above them; and a run with nothing to put reads
nothing (the guard's thread wakes every two seconds). Against moto's server over HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import write_lines
from aws import count_sent
from ledger_helpers import (
    clone_log,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    ledger_findings,
    on_send,
    put_raw,
    ship,
    stored_lines,
    stored_seqs,
    stream_of,
    write_log,
)

from rds_guard import audit
from rds_guard.audit.ledger import Fork, LedgerTable, Shipper
from rds_guard.audit.ledger.shipper import BATCH, WORKERS
from rds_guard.audit.ledger.verify import verify_ledger


def _two_logs(tmp_path: Path) -> tuple[Path, Path]:
    original, copy = tmp_path / "a" / "audit.jsonl", tmp_path / "b" / "audit.jsonl"
    original.parent.mkdir()
    copy.parent.mkdir()
    return original, copy


def test_a_long_lived_shipper_meets_a_copy_that_shipped_since_its_last_run_before_a_put(
    table: LedgerTable, tmp_path: Path
) -> None:
    """The guard's shipper (it lives on between runs) shipped through seq 5; a clone ships its
    own 6 and 7, then the original has 6 records more. The run reads the ledger's head before
    it puts anything: a fork at 7, and none of the original's records stored above the
    clone's (its parallel batch put 8 to 11 after the clone's 7, and the stream mixed both)."""
    original, copy = _two_logs(tmp_path)
    write_log(original, 5)
    shipper = Shipper(original, table)
    try:
        assert shipper.ship().acked == 5
        clone_log(original, copy)
        write_log(copy, 2, note="copy ")
        write_log(original, 6, note="original ")
        assert ship(copy, table).acked == 7
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 7
    stream = stream_of(table, original)
    assert stored_lines(table, stream) == complete_lines(copy)
    assert [(f.line, f.reason) for f in verify_ledger(table).findings] == [(7, "fork")]


@pytest.mark.parametrize("deleted", [(10,), (8, 9, 10)], ids=["head", "tail"])
def test_a_tail_deleted_between_runs_of_a_long_lived_shipper_is_put_back(
    table: LedgerTable, log_path: Path, deleted: tuple[int, ...]
) -> None:
    """An admin deletes the ledger's newest items between two runs of a shipper that lives on:
    its next run puts them back before the new record (it put the new one above the hole,
    and no later run looked below it)."""
    write_log(log_path, 10)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 10
        stream = stream_of(table, log_path)
        for seq in deleted:
            delete_item(table, stream, seq)
        lines = write_log(log_path, 1)
        result = shipper.ship()
        assert result.error is None and result.acked == 11
        assert stored_lines(table, stream) == lines
        assert verify_ledger(table).findings == ()
        assert shipper.ship().already == 0  # and once put back, the next run is quiet
    finally:
        shipper.close()


def test_a_tail_deleted_between_two_batches_of_a_run_is_put_back_before_the_next_batch(
    table: LedgerTable, log_path: Path
) -> None:
    """A run of several batches: the first batch's records, the ledger's tail once stored, are
    deleted before the second goes. The head is read again before each batch after the
    first: they are put back, then the rest (put above them, they were left to `--from`)."""
    write_log(log_path, 2)
    shipper = Shipper(log_path, table, batch=2)
    try:
        assert shipper.ship().acked == 2
        stream = stream_of(table, log_path)
        lines = write_log(log_path, 4)  # seqs 3 to 6: two batches
        done: list[int] = []

        def delete_first_batch(shipped: int, _: int) -> None:
            done.append(shipped)
            if len(done) == 1:
                for seq in (3, 4):
                    delete_item(table, stream, seq)

        result = shipper.ship(progress=delete_first_batch)
    finally:
        shipper.close()
    assert result.error is None and result.acked == 6
    assert done[0] == 2 and len(done) >= 3  # the first batch, then again from the hole
    assert stored_lines(table, stream) == lines
    assert ledger_findings(table) == []


def test_a_run_with_nothing_to_put_reads_nothing_of_the_ledger(
    table: LedgerTable, log_path: Path
) -> None:
    """The guard's thread runs every two seconds, most often with nothing new: such a run of a
    shipper that lives on sends no request (a head read each time would be 43,200 reads a
    day for an idle host)."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 3
        sent = count_sent(table.clients.dynamodb)
        for _ in range(5):
            result = shipper.ship()
            assert (result.shipped, result.already, result.error) == (0, 0, None)
        assert sent.operations == []
        write_log(log_path, 1)
        assert shipper.ship().acked == 4
    finally:
        shipper.close()
    assert sent.operations == ["Query", "PutItem"]  # the head, then the record


def test_a_long_lived_shipper_warns_of_its_head_item_edited_in_the_ledger(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The item at the head, the record acknowledged last, edited in the ledger (its digest
    kept, its bytes changed): the shipper meeting it warns, as docs/ledger.md says, before
    records are put above it (after which no run reads it again)."""
    write_log(log_path, 4)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 4
        stream = stream_of(table, log_path)
        item = item_at(table, stream, 4)
        item["line"]["S"] = item["line"]["S"].replace('"requested"', '"failed"')
        put_raw(table, item)
        write_log(log_path, 2)
        with caplog.at_level(logging.WARNING, logger="rds_guard"):
            assert shipper.ship().acked == 6
    finally:
        shipper.close()
    assert "it was edited in the ledger" in caplog.text
    assert set(ledger_findings(table)) == {(4, "edited")}  # the item, and its link to 5


def test_a_hole_left_by_a_failed_put_is_filled_by_the_next_run(
    table: LedgerTable, log_path: Path
) -> None:
    """A put fails while later ones of its batch are stored above it: the head is not the
    record acknowledged last, so the next run walks the keys and puts the hole back."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table, workers=4)
    try:
        assert shipper.ship().acked == 3
        write_log(log_path, 8)

        def fail_4(request: Any, **_: Any) -> Any:
            if json.loads(request.body)["Item"]["seq"]["N"] == "4":
                time.sleep(0.3)  # the others of its batch in flight are stored meanwhile
                return dynamodb_error("ProvisionedThroughputExceededException", "slow")
            return None

        remove = on_send(table.clients.dynamodb, "PutItem", fail_4)
        result = shipper.ship()
        remove()
        assert result.error is not None and result.acked == 3
        stream = stream_of(table, log_path)
        assert len(stored_lines(table, stream)) > 3  # stored above the hole
        assert shipper.ship().acked == 11
    finally:
        shipper.close()
    assert stored_lines(table, stream) == complete_lines(log_path)
    assert ledger_findings(table) == []


def test_nothing_acknowledged_yet_and_a_copy_shipped_meanwhile_is_a_fork_before_a_put(
    table: LedgerTable, tmp_path: Path
) -> None:
    """A shipper that lives on whose first put failed (nothing acknowledged); a copy ships its
    1 and 2 meanwhile: the next run finds a head where it expected none and holds the log to
    the ledger in full: a fork at 2 (seq 1 is shared), before a record of it is put."""
    original, copy = _two_logs(tmp_path)
    write_log(original, 1)
    copy.write_bytes(original.read_bytes())
    write_log(original, 1, note="original ")
    write_log(copy, 1, note="copy ")
    shipper = Shipper(original, table)
    try:

        def refuse_records(request: Any, **_: Any) -> Any:
            if json.loads(request.body)["Item"]["seq"]["N"] != "0":  # the marker goes
                return dynamodb_error("AccessDeniedException", "no")
            return None

        remove = on_send(table.clients.dynamodb, "PutItem", refuse_records)
        assert shipper.ship().acked == 0
        remove()
        assert ship(copy, table).acked == 2
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 2
    assert stored_lines(table, stream_of(table, copy)) == complete_lines(copy)


def test_the_head_overwritten_with_another_logs_record_is_a_fork_before_a_put(
    table: LedgerTable, tmp_path: Path
) -> None:
    """Someone who can write the table puts another log's record at the seq acknowledged last
    (same seq, another digest): the next run of a shipper that lives on refuses before it
    puts a record (its only puts: the stream's marker and the fork item)."""
    original, other = _two_logs(tmp_path)
    write_log(original, 3)
    write_log(other, 3, note="other ")
    shipper = Shipper(original, table)
    try:
        assert shipper.ship().acked == 3
        stream = stream_of(table, original)
        item = item_at(table, stream, 3)
        foreign = complete_lines(other)[2].decode()
        item["line"]["S"], item["digest"]["S"] = foreign, json.loads(foreign)["digest"]
        put_raw(table, item)
        write_log(original, 1)
        sent = count_sent(table.clients.dynamodb)
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()
    assert refused.value.seq == 3
    assert len(stored_lines(table, stream)) == 3
    assert sent.count("PutItem") == 2


def test_a_fork_found_by_a_put_ends_the_run_without_making_the_puts_not_begun(
    table: LedgerTable, tmp_path: Path
) -> None:
    """A copy's record lands at seq 6 while the original's batch of 100 is on its way (after
    the head read): the put of 6 is refused, shipping stops, and the puts of the batch not
    begun are not made (they were, after the run had ended, stored after the copy's)."""
    original, copy = _two_logs(tmp_path)
    write_log(original, 5)
    ship(original, table)
    clone_log(original, copy)
    write_log(original, BATCH, note="original ")
    write_log(copy, 1, note="copy ")
    tried: list[int] = []
    copied = threading.Event()

    def copy_first_then_slow(request: Any, **_: Any) -> None:
        item = json.loads(request.body)["Item"]
        if "original " not in item.get("line", {}).get("S", ""):
            return None
        seq = int(item["seq"]["N"])
        tried.append(seq)
        if seq == 6:
            ship(copy, table)  # the copy's seq 6 lands first
            copied.set()
        else:
            # none of the batch lands before it (a worker may start 6 last on a busy machine:
            # the copy then sees the original's 7 and puts nothing)
            copied.wait(60.0)  # a hang detector, never a speed limit
            time.sleep(0.2)  # the others hold their workers a while
        return None

    on_send(table.clients.dynamodb, "PutItem", copy_first_then_slow)
    shipper = Shipper(original, table)
    try:
        with pytest.raises(Fork) as refused:
            shipper.ship()
    finally:
        shipper.close()  # waits for the puts in flight, and for any left queued
    assert refused.value.seq == 6
    assert 6 in tried and len(tried) <= 2 * WORKERS


@pytest.mark.parametrize("start", [1, 2])
def test_ship_from_below_a_shipped_and_removed_archive_names_nothing_missing(
    table: LedgerTable, log_path: Path, start: int
) -> None:
    """Seqs 1 to 3 shipped, the log rotated and the archive removed (docs/ledger.md: "Delete
    an archive only once it is shipped"), then `ship --from START`: the ledger holds 1 to 3,
    passed over as they are (no record of the log is left to hold them to); nothing is
    missing, and the run is up to date."""
    write_log(log_path, 3)
    assert ship(log_path, table).acked == 3
    audit.rotate(log_path).unlink()
    write_log(log_path, 2)
    result = ship(log_path, table, start=start)
    assert (result.error, result.acked, result.missing) == (None, 6, [])
    assert result.describe().endswith("up to date")


def test_a_gap_is_named_once_when_a_run_starts_again_below_it(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Seq 2 is a damaged line; the first batch (1, 3, 4, 5) names the gap; the ledger's tail
    (3 to 5) is deleted before the second batch, and the run starts again from seq 2: the
    gap is named once, in the result and in the log."""
    lines = write_log(log_path, 8)
    write_lines(log_path, [lines[0], lines[1].replace(b'"event":', b'"event";', 1), *lines[2:]])
    shipper = Shipper(log_path, table, batch=4)
    stream = stream_of(table, log_path)
    done: list[int] = []

    def delete_tail(shipped: int, _: int) -> None:
        done.append(shipped)
        if len(done) == 1:
            for seq in (3, 4, 5):
                delete_item(table, stream, seq)

    try:
        with caplog.at_level(logging.WARNING, logger="rds_guard"):
            result = shipper.ship(progress=delete_tail)
    finally:
        shipper.close()
    assert (result.error, result.acked, result.missing) == (None, 8, [(2, 2)])
    assert stored_lines(table, stream) == [lines[0], *lines[2:]]
    assert caplog.text.count("no record with seq 2") == 1


def test_progress_counts_the_records_put_again_in_its_total(
    table: LedgerTable, log_path: Path
) -> None:
    """A tail deleted between two batches is put again: progress counts those puts in its
    total too, so it says "all done" only once the run has done it all."""
    write_log(log_path, 12)
    shipper = Shipper(log_path, table, batch=4)
    stream = stream_of(table, log_path)
    told: list[tuple[int, int]] = []

    def delete_tail(shipped: int, total: int) -> None:
        told.append((shipped, total))
        if len(told) == 2:
            for seq in range(2, 9):
                delete_item(table, stream, seq)

    try:
        result = shipper.ship(progress=delete_tail)
    finally:
        shipper.close()
    assert (result.error, result.acked) == (None, 12)
    assert stored_lines(table, stream) == complete_lines(log_path)
    assert all(shipped < total for shipped, total in told[:-1]), told
    assert told[-1][0] == told[-1][1], told


def test_ship_from_over_a_hole_in_the_middle_holds_the_ledger_in_full_once(
    table: LedgerTable, log_path: Path
) -> None:
    """`ship --from 1` puts back records deleted from the middle of the ledger. The head (our
    seq 40) stays above the run's acknowledged seq until the hole is filled: unchanged since
    the run's full check, it is no reason to hold the ledger to the log in full again before
    every batch (a marker put, reads of the keys and of the local log from there to the
    head, each time): once for the run."""
    write_log(log_path, 40)
    assert ship(log_path, table).acked == 40
    stream = stream_of(table, log_path)
    for seq in range(3, 31):
        delete_item(table, stream, seq)
    markers: list[int] = []

    def count_markers(request: Any, **_: Any) -> None:
        if json.loads(request.body)["Item"]["seq"]["N"] == "0":
            markers.append(1)

    remove = on_send(table.clients.dynamodb, "PutItem", count_markers)
    try:
        result = ship(log_path, table, start=1, batch=2)
    finally:
        remove()
    assert (result.error, result.acked) == (None, 40)
    assert stored_lines(table, stream) == complete_lines(log_path)
    assert markers == [1]


def test_the_tail_deleted_while_a_run_fills_a_hole_below_the_head_is_put_back(
    table: LedgerTable, log_path: Path
) -> None:
    """A run filling a hole below the ledger's head (`ship --from 1`), and the tail deleted
    between two of its batches: the head is no longer the one its full check read, so the
    ledger is held to the log again, and the tail put back too."""
    write_log(log_path, 10)
    assert ship(log_path, table).acked == 10
    stream = stream_of(table, log_path)
    for seq in (3, 4, 5):
        delete_item(table, stream, seq)
    done: list[int] = []

    def delete_tail(shipped: int, _: int) -> None:
        done.append(shipped)
        if len(done) == 1:
            for seq in (9, 10):
                delete_item(table, stream, seq)

    result = ship(log_path, table, start=1, batch=2, progress=delete_tail)
    assert (result.error, result.acked) == (None, 10)
    assert stored_lines(table, stream) == complete_lines(log_path)


def test_a_copy_shipping_above_the_head_while_a_run_fills_a_hole_is_a_fork_before_a_put(
    table: LedgerTable, tmp_path: Path
) -> None:
    """A run fills a hole below the ledger's head (`ship --from 1`); between two of its
    batches a clone ships its own seq 11 above that head. The head is no longer the one the
    run's full check read: the log is held to the ledger again, a fork at 11, before more of
    the original is put (the rest of the hole, then its own 11 and 12 in parallel: its 12
    stored after the clone's 11, should that put begin before the refusal of 11 is read)."""
    original, copy = _two_logs(tmp_path)
    write_log(original, 10)
    assert ship(original, table).acked == 10
    clone_log(original, copy)
    write_log(copy, 1, note="copy ")
    write_log(original, 2, note="original ")
    stream = stream_of(table, original)
    for seq in (3, 4, 5):
        delete_item(table, stream, seq)
    done: list[int] = []

    def copy_ships(shipped: int, _: int) -> None:
        done.append(shipped)
        if len(done) == 1:
            assert ship(copy, table).acked == 11

    with pytest.raises(Fork) as refused:
        ship(original, table, start=1, batch=2, progress=copy_ships)
    assert refused.value.seq == 11
    assert stored_seqs(table, stream) == [1, 2, 3, 4, *range(6, 12)]  # 5 not put either
    assert stored_lines(table, stream)[-1] == complete_lines(copy)[10]

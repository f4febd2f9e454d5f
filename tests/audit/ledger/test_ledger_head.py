"""The ledger's head, read before a shipping run puts anything, and again before each batch
after its first: a copy that shipped since, a tail deleted since, an item edited at the head,
all met before a record of this log is put above them; and a run with nothing to put reads
nothing (the guard's thread wakes every two seconds). Against moto's server over HTTP."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
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
    stream_of,
    write_log,
)

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

    def copy_first_then_slow(request: Any, **_: Any) -> None:
        item = json.loads(request.body)["Item"]
        if "original " not in item.get("line", {}).get("S", ""):
            return None
        seq = int(item["seq"]["N"])
        tried.append(seq)
        if seq == 6:
            ship(copy, table)  # the copy's seq 6 lands first
        else:
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

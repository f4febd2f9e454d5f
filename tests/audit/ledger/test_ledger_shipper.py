"""The shipper against DynamoDB (moto's server over HTTP): a log mirrored record for record,
idempotent and resumable, and every way shipping can go wrong: a lost acknowledgement, a
fork, a ledger ahead of the local file, a crash in the middle of a backlog, throttling,
rotation racing the shipper."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from audit_helpers import (
    call_with_timeout,
    forge_rotated_from,
    interrupted_once,
    lines_of,
    wait_child,
)
from aws import count_sent
from botocore.exceptions import EndpointConnectionError
from cli_helpers import run_main
from ledger_helpers import (
    LEDGER_URL,
    REGION,
    clone_log,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    item_seq,
    ledger_findings,
    lose_replies,
    on_send,
    put_raw,
    ship,
    stored_lines,
    stored_seqs,
    stream_of,
    write_log,
)
from servers import raw_response

from rds_guard import audit
from rds_guard.audit.ledger import (
    Clients,
    Fork,
    LedgerTable,
    LedgerUnavailable,
    RemoteAhead,
    Shipper,
    ShipRefused,
    Unnamed,
    series,
)
from rds_guard.audit.ledger.continuity import NOT_SHIPPED_YET
from rds_guard.audit.ledger.items import line_of, record_item, text
from rds_guard.audit.ledger.shipper import BATCH, WORKERS
from rds_guard.audit.ledger.state import StateFile, state_path
from rds_guard.audit.ledger.verify import verify_ledger


def test_a_log_is_mirrored_record_for_record(table: LedgerTable, log_path: Path) -> None:
    lines = write_log(log_path, 30)
    result = ship(log_path, table)
    stream = stream_of(table, log_path)
    assert (result.shipped, result.already, result.acked, result.pending) == (30, 0, 30, 0)
    assert result.stream == stream
    assert stored_lines(table, stream) == lines
    assert list(table.streams()) == [stream]
    first = item_at(table, stream, 1)
    assert text(first, "digest") == audit.own_digest(lines[0])
    assert text(first, "snapshot") == "orders-daily-20261129"
    assert text(first, "event") == "requested"
    assert verify_ledger(table).ok


def test_shipping_again_sends_only_what_is_new(table: LedgerTable, log_path: Path) -> None:
    write_log(log_path, 10)
    ship(log_path, table)
    assert (ship(log_path, table).shipped, ship(log_path, table).already) == (0, 0)
    lines = write_log(log_path, 5)
    result = ship(log_path, table)
    assert (result.shipped, result.acked) == (5, 15)
    assert stored_lines(table, stream_of(table, log_path)) == lines


def test_the_stream_is_named_after_the_account_region_and_first_record(
    table: LedgerTable, log_path: Path
) -> None:
    lines = write_log(log_path, 1)
    assert ship(log_path, table).stream == f"123456789012/us-east-1/{audit.stream_id(lines[0])}"


def test_a_lost_acknowledgement_meets_its_own_record(table: LedgerTable, log_path: Path) -> None:
    """The put of seq 3 reaches the table, its reply is lost; botocore retries it and the
    retry is refused by our own record: that is success, not a fork."""
    write_log(log_path, 6)
    lost = {"count": 0}

    def third(body: dict[str, Any]) -> bool:
        if item_seq(body) == 3 and not lost["count"]:
            lost["count"] += 1
            return True
        return False

    lose_replies(table.clients.dynamodb, "PutItem", third)
    result = ship(log_path, table, workers=1)
    assert lost["count"] == 1
    assert (result.shipped, result.already, result.acked) == (5, 1, 6)
    assert verify_ledger(table).ok


def test_a_reply_lost_for_good_is_found_on_the_next_run(table: LedgerTable, log_path: Path) -> None:
    """Every attempt at seq 2 lands and loses its reply: the run ends at seq 1 (a put begun
    after it, of 3, may have landed too; one not begun is not made). The next run reads the
    ledger's keys from seq 2 and skips what is there: nothing is sent twice."""
    write_log(log_path, 4)
    remove = lose_replies(table.clients.dynamodb, "PutItem", lambda body: item_seq(body) == 2)
    first = ship(log_path, table, workers=1)
    assert first.acked == 1 and first.error is not None and "seq 2" in first.error
    remove()
    landed = stored_seqs(table, stream_of(table, log_path))
    assert 2 in landed
    again = ship(log_path, table)
    assert (again.already, again.acked) == (0, 4)
    assert again.shipped == 4 - len(landed)  # what the first run left unput, put once
    assert verify_ledger(table).ok


def test_a_copy_that_ships_first_makes_the_original_a_fork(
    table: LedgerTable, tmp_path: Path
) -> None:
    original, copy = tmp_path / "a" / "audit.jsonl", tmp_path / "b" / "audit.jsonl"
    original.parent.mkdir()
    copy.parent.mkdir()
    write_log(original, 5)
    ship(original, table)
    clone_log(original, copy)
    write_log(copy, 3, note="copy ")
    write_log(original, 3, note="original ")
    assert ship(copy, table).acked == 8
    before = original.read_bytes()
    with pytest.raises(Fork) as refused:
        ship(original, table)
    assert original.read_bytes() == before  # docs/ledger.md: shipping never changes the file
    assert refused.value.seq == 8  # found comparing our record at the ledger's head
    assert "fork of stream" in refused.value.detail and "cloned disk" in refused.value.detail
    stream = stream_of(table, original)
    (fork,) = table.forks(stream)
    assert text(fork, "of") == stream
    assert text(fork, "line") == complete_lines(original)[7].decode()
    assert stored_lines(table, stream) == complete_lines(copy)  # the ledger kept what it had
    result = verify_ledger(table)
    assert [(f.line, f.reason) for f in result.findings] == [(8, "fork")]


def test_a_fork_found_by_a_refused_put(table: LedgerTable, tmp_path: Path) -> None:
    """The copy ships its seq 6 while the original's batch is on its way: the original's put
    of seq 6 is refused by another record."""
    original, copy = tmp_path / "audit.jsonl", tmp_path / "copy.jsonl"
    write_log(original, 5)
    ship(original, table)
    clone_log(original, copy)
    write_log(original, 3, note="original ")
    write_log(copy, 1, note="copy ")
    shipped = {"done": False}

    def copy_first(request: Any, **_: Any) -> None:
        if not shipped["done"]:
            shipped["done"] = True
            ship(copy, table)  # the copy's seq 6 lands first
        return None

    on_send(table.clients.dynamodb, "PutItem", copy_first)
    with pytest.raises(Fork) as refused:
        Shipper(original, table, workers=1).ship()
    assert refused.value.seq == 6
    stream = stream_of(table, original)
    assert [text(fork, "line") for fork in table.forks(stream)] == [
        complete_lines(original)[5].decode()
    ]
    assert stored_lines(table, stream) == complete_lines(copy)


def test_a_copy_whose_seq_is_at_or_below_the_ledger_head_is_a_fork(
    table: LedgerTable, tmp_path: Path
) -> None:
    original, copy = tmp_path / "audit.jsonl", tmp_path / "copy.jsonl"
    write_log(original, 5)
    clone_log(original, copy)
    write_log(original, 10)
    ship(original, table)
    write_log(copy, 3, note="copy ")  # seq 6-8, below the ledger's head (15)
    with pytest.raises(Fork) as refused:
        ship(copy, table)
    assert refused.value.seq == 8
    assert "cloned disk" in refused.value.detail


@pytest.mark.parametrize("start", [None, 1], ids=["resumed", "from-1"])
def test_another_logs_records_below_the_head_are_a_fork(
    table: LedgerTable, tmp_path: Path, start: int | None
) -> None:
    """A run that stored seq 6 but not 4 and 5 (parallel puts, killed or throttled), and a
    clone's records put at 4 and 5 since: the shipper passed over every seq the ledger held
    below its head and said it was up to date (exit 0), the fork never recorded. Each item
    passed over is held to our record at its seq, as the head is: a fork at 4."""
    original, copy = tmp_path / "audit.jsonl", tmp_path / "copy.jsonl"
    write_log(original, 3)
    ship(original, table)
    clone_log(original, copy)
    theirs = write_log(copy, 2, note="copy ")
    ours = write_log(original, 3, note="original ")
    stream = stream_of(table, original)
    for seq, line in ((4, theirs[3]), (5, theirs[4]), (6, ours[5])):
        put_raw(table, record_item(stream, seq, line))
    with pytest.raises(Fork) as refused:
        ship(original, table, start=start)
    assert refused.value.seq == 4
    assert [text(fork, "line") for fork in table.forks(stream)] == [ours[3].decode()]


def test_a_ledger_ahead_of_a_restored_log_is_refused(table: LedgerTable, log_path: Path) -> None:
    lines = write_log(log_path, 10)
    ship(log_path, table)
    log_path.write_bytes(b"".join(line + b"\n" for line in lines[:7]))  # an older copy
    before = log_path.read_bytes()
    with pytest.raises(RemoteAhead) as refused:
        ship(log_path, table)
    assert log_path.read_bytes() == before  # refused, and the file left as it is
    assert "cut short, restored from an older copy, or had older records" in refused.value.detail
    assert "nothing was shipped" in refused.value.detail
    assert stored_seqs(table, stream_of(table, log_path)) == list(range(1, 11))


@pytest.mark.parametrize(
    ("line", "held"), [(None, "holds the record of seq 2"), ("no record", "holds no record")]
)
def test_an_item_put_past_the_head_by_hand_is_named_as_such(
    table: LedgerTable, log_path: Path, line: str | None, held: str
) -> None:
    """A writer of the table copies seq 2's item to seq 99 (or puts junk there): the shipper
    said the local file "was cut short, restored from an older copy", sending its operator
    after the wrong cause. It names the item and what it holds."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    item = dict(item_at(table, stream, 2), seq={"N": "99"})
    if line is not None:
        item["line"] = {"S": line}
    put_raw(table, item)
    write_log(log_path, 1)
    with pytest.raises(ShipRefused) as refused:
        ship(log_path, table)
    assert not isinstance(refused.value, RemoteAhead)
    assert f"the ledger's newest item of stream {stream}, at seq 99, {held}" in str(refused.value)
    assert "cut short" not in str(refused.value)
    assert stored_seqs(table, stream) == [1, 2, 3, 99]


def test_a_backlog_of_days_survives_a_crash_in_the_middle_of_a_batch(
    table: LedgerTable, log_path: Path
) -> None:
    """Puts of one batch land out of order and the process dies before the batch is
    acknowledged: the ledger holds records past a hole. The next run resumes from the lowest
    seq not acknowledged, never from the ledger's head, and leaves no hole."""
    lines = write_log(log_path, 1000)

    class Crash(BaseException):
        """The process dies."""

    def die_at_351(request: Any, **_: Any) -> None:
        import json

        if item_seq(json.loads(request.body)) in (351, 360):
            raise Crash
        return None

    remove = on_send(table.clients.dynamodb, "PutItem", die_at_351)
    with pytest.raises(Crash):
        ship(log_path, table, workers=8, batch=100)
    remove()
    stream = stream_of(table, log_path)
    held = set(stored_seqs(table, stream))
    assert 351 not in held and 400 in held and max(held) == 400  # a hole below the head
    # what verify can say of it: missing, deleted or not shipped yet (it cannot tell)
    [hole, *_] = verify_ledger(table).findings
    assert (hole.line, hole.reason) == (352, "removed")  # the seq the jump lands on
    assert hole.detail.endswith(f"record(s) missing: {NOT_SHIPPED_YET}")
    result = ship(log_path, table)
    assert result.acked == 1000 and result.shipped == 600 + 2
    assert stored_lines(table, stream) == lines
    assert verify_ledger(table).ok


def test_without_its_state_a_shipper_finds_the_hole_in_the_ledger(
    table: LedgerTable, log_path: Path
) -> None:
    lines = write_log(log_path, 300)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    delete_item(table, stream, 120)
    state_path(log_path).unlink()
    result = ship(log_path, table)
    assert (result.shipped, result.acked) == (1, 300)
    assert stored_lines(table, stream) == lines


def test_throttling_past_retries_leaves_the_records_waiting(
    table: LedgerTable, log_path: Path
) -> None:
    write_log(log_path, 20)
    answers = {"throttled": 0}

    def throttle(request: Any, **_: Any) -> Any:
        answers["throttled"] += 1
        return dynamodb_error("ProvisionedThroughputExceededException", "slow down")

    remove = on_send(table.clients.dynamodb, "PutItem", throttle)
    result = ship(log_path, table)
    assert result.acked == 0 and result.pending == 20
    assert "ProvisionedThroughputExceededException" in (result.error or "")
    assert answers["throttled"] >= 3 * 20 // 20  # botocore retried before giving up
    remove()
    assert ship(log_path, table).acked == 20


def test_a_failed_put_ends_the_run_without_making_the_puts_not_begun(
    table: LedgerTable, log_path: Path
) -> None:
    """A failed put ends the run: the puts of the batch not begun yet are not made (each went
    through its own retries first, holding a `required`-mode call for a round of timeouts per
    16 records). Only the puts in flight when the first failed are tried, not the batch."""
    write_log(log_path, BATCH)
    attempts: list[str] = []

    def refuse(request: Any, **_: Any) -> Any:
        seq = json.loads(request.body)["Item"]["seq"]["N"]
        if seq == "0":  # the stream's marker goes: the records' puts fail
            return None
        attempts.append(seq)
        if seq != "1":  # the first fails at once, the others hold their workers a while
            time.sleep(0.2)
        return dynamodb_error("AccessDeniedException", "no")

    remove = on_send(table.clients.dynamodb, "PutItem", refuse)
    result = ship(log_path, table)
    remove()
    assert result.acked == 0 and result.pending == BATCH
    assert "seq 1: " in (result.error or "") and "AccessDenied" in (result.error or "")
    assert 0 < len(set(attempts)) <= 2 * WORKERS  # the records whose puts were begun
    assert ship(log_path, table).acked == BATCH


def test_a_ledger_out_of_reach_at_the_start_of_a_run_says_what_really_waits(
    table: LedgerTable, log_path: Path
) -> None:
    """A log shipped through seq 20, then 3 more records, and a ledger that cannot be reached
    from the run's first request on (its head is not read): the run says 3 records wait, as
    its state has it, not the whole log (an operator would think nothing was ever shipped)."""
    write_log(log_path, 20)
    assert ship(log_path, table).acked == 20
    write_log(log_path, 3)

    def unreachable(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    removes = [on_send(table.clients.dynamodb, op, unreachable) for op in ("Query", "PutItem")]
    result = ship(log_path, table)
    for remove in removes:
        remove()
    assert result.error is not None and "Could not connect" in result.error
    assert (result.acked, result.last, result.pending) == (20, 23, 3)
    assert not result.confirmed  # the saved state: the ledger did not answer
    said = result.describe()
    assert "through seq 20 as last saved (not checked with the ledger); 3 record(s) wait" in said
    assert ship(log_path, table).acked == 23


@pytest.mark.parametrize("started_again", [False, True])
def test_a_run_that_cannot_name_its_stream_says_what_waits_of_its_own_chain(
    table: LedgerTable, log_path: Path, started_again: bool
) -> None:
    """STS out of reach (the stream's name needs the account): the run says what waits as
    the state saved for the log's chain has it; a log started again since (a new first
    record, the state still naming the old chain) has had nothing acknowledged."""
    write_log(log_path, 20)
    assert ship(log_path, table).acked == 20
    if started_again:
        log_path.unlink()
    write_log(log_path, 3)
    fresh = LedgerTable(Clients(REGION), table.name)  # a new process: the account not known

    def unreachable(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    on_send(fresh.clients.client("sts"), "GetCallerIdentity", unreachable)
    result = ship(log_path, fresh)
    assert result.error is not None and "Could not connect" in result.error
    expected = (0, 3, 3) if started_again else (20, 23, 3)
    assert (result.acked, result.last, result.pending) == expected


def test_a_shipper_that_lives_on_reads_only_the_head_of_a_throttling_ledger_after_a_failed_put(
    table: LedgerTable, log_path: Path
) -> None:
    """The guard's shipper (in ``required`` mode, a run per call) whose put fails past
    botocore's retries still knows the record it acknowledged last: its next run reads the
    ledger's head (one item: is it still ours?) and sends the put again, no walk of the
    stream's keys and no marker put to a table already throttling."""
    write_log(log_path, 3)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 3
        write_log(log_path, 1)

        def throttle(request: Any, **_: Any) -> Any:
            return dynamodb_error("ProvisionedThroughputExceededException", "slow down")

        remove = on_send(table.clients.dynamodb, "PutItem", throttle)
        assert shipper.ship().error is not None
        remove()
        sent = count_sent(table.clients.dynamodb)
        assert shipper.ship().acked == 4
    finally:
        shipper.close()
    assert sent.count("Query") == 1 and sent.count("PutItem") == 1


def test_a_few_throttled_puts_are_absorbed_by_botocore(table: LedgerTable, log_path: Path) -> None:
    write_log(log_path, 10)
    left = {"throttles": 2}

    def throttle_twice(request: Any, **_: Any) -> Any:
        if left["throttles"]:
            left["throttles"] -= 1
            return dynamodb_error("ThrottlingException")
        return None

    on_send(table.clients.dynamodb, "PutItem", throttle_twice)
    result = ship(log_path, table, workers=1)
    assert (result.acked, result.error) == (10, None)


def test_rotation_racing_the_shipper(table: LedgerTable, log_path: Path) -> None:
    """The log is rotated (and written to) while a run is half way: the run ships the old
    file to its end, the next one follows the series into the new file."""
    write_log(log_path, 50)
    puts = {"count": 0}

    def rotate_at_25(request: Any, **_: Any) -> None:
        puts["count"] += 1
        if puts["count"] == 25:
            audit.rotate(log_path)
            write_log(log_path, 5, note="after rotation ")
        return None

    remove = on_send(table.clients.dynamodb, "PutItem", rotate_at_25)
    first = ship(log_path, table, workers=1, batch=10)
    remove()
    assert first.acked == 50
    archive = log_path.with_name("audit.jsonl.1-50")
    assert archive.exists()
    second = ship(log_path, table)
    assert (second.shipped, second.acked) == (6, 56)  # the rotated record and five more
    stream = stream_of(table, archive)
    assert stored_lines(table, stream) == complete_lines(archive) + complete_lines(log_path)
    assert verify_ledger(table).ok


def test_a_rotated_series_whose_first_file_is_gone_ships_on_from_its_state(
    table: LedgerTable, log_path: Path
) -> None:
    write_log(log_path, 5)
    ship(log_path, table)
    archive = audit.rotate(log_path)
    write_log(log_path, 2)
    archive.unlink()  # shipped, so removed by a retention job
    assert ship(log_path, table).acked == 8
    state_path(log_path).unlink()
    with pytest.raises(Unnamed):
        ship(log_path, table)


def test_an_archive_removed_before_it_was_shipped_is_no_up_to_date(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records 4 to 7 wait when the log is rotated, and their archive is removed before the
    next run (a retention job that did not wait). docs/ledger.md: exit 0 "when every record
    after the last one acknowledged is in the ledger". The run ships the rest, names the
    seqs it could not ship, and exits 1; verify --ledger reports them removed."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_log(log_path, 4)
    archive = audit.rotate(log_path)
    write_log(log_path, 1)
    archive.unlink()
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    assert done.code == 1
    (shipped,) = json.loads(done.out)["logs"]
    assert (shipped["shipped"], shipped["acked"], shipped["missing"]) == (2, 9, [[4, 7]])
    assert ledger_findings(table) == [(8, "removed")]
    write_log(log_path, 1)
    again = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert (again.code, again.out.endswith("up to date\n")) == (0, True)


@pytest.mark.parametrize("forged", [".", "x\x00y", "../audit.jsonl"], ids=["dot", "nul", "parent"])
def test_a_rotated_record_naming_no_file_beside_the_log_is_followed_nowhere(
    table: LedgerTable, log_path: Path, forged: str
) -> None:
    """A forged ``rotated_from`` that names no file beside the log (its folder, a name no
    file can have, a path elsewhere) ends the series at the live file: shipped on from the
    state, as when the archive is gone."""
    write_log(log_path, 5)
    ship(log_path, table)
    audit.rotate(log_path)
    write_log(log_path, 2)
    forge_rotated_from(log_path, forged)
    assert ship(log_path, table).acked == 8


def test_keyed_repaired_and_rotated_records_ship_byte_for_byte(
    table: LedgerTable, log_path: Path
) -> None:
    key = b"the audit key"
    write_log(log_path, 3, hmac_key=key)
    with open(log_path, "ab") as torn:
        torn.write(b'{"prev":"cut off')  # a crash mid-write: the next writer repairs it
    write_log(log_path, 2, hmac_key=key)
    archive = audit.rotate(log_path, hmac_key=key)
    write_log(log_path, 2, hmac_key=key)
    ship(log_path, table)
    stream = stream_of(table, archive)
    stored = stored_lines(table, stream)
    assert stored == complete_lines(archive) + complete_lines(log_path)
    assert [audit.parse_record(line)["event"] for line in stored].count("repaired") == 1
    assert audit.parse_record(stored[6])["event"] == "rotated"
    assert verify_ledger(table, hmac_key=key).ok
    with pytest.raises(audit.KeyRequired):
        verify_ledger(table)


def test_a_log_without_records_ships_nothing(table: LedgerTable, log_path: Path) -> None:
    log_path.write_bytes(b"")
    result = ship(log_path, table)
    assert (result.shipped, result.acked, result.stream) == (0, 0, "")
    assert list(table.streams()) == []


def test_another_shipper_at_work_makes_a_run_busy(table: LedgerTable, log_path: Path) -> None:
    write_log(log_path, 3)
    holder = Shipper(log_path, table)
    with holder.state_file.locked(None):
        result = ship(log_path, table, timeout=0)
    assert result.busy and "another shipper" in result.describe()


def test_a_child_holding_a_copy_of_the_state_file_does_not_keep_its_lock(log_path: Path) -> None:
    """A fork while a shipper held the log's state file: the child's copy of the descriptor
    keeps the open file, and with it the lock, once the parent closes its own. Every later
    run of the parent, or any shipper of the log, was busy for as long as the child lived
    (a child forked where no at-fork hook closes the copy: uWSGI's workers, by default). The
    lock is let go before the descriptor is closed."""
    state = StateFile(log_path)
    read_end, write_end = os.pipe()
    with state.locked(None) as held:
        assert held
        child = os.fork()
        if child == 0:  # keeps every descriptor it inherited until the parent says
            os.read(read_end, 1)
            os._exit(0)
    try:
        with StateFile(log_path).locked(0) as again:
            assert again, "the child's copy kept the parent's lock"
    finally:
        os.write(write_end, b"x")
        assert wait_child(child) == 0
        os.close(read_end)
        os.close(write_end)


def test_an_item_edited_in_the_ledger_is_no_fork(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone changes the bytes of the ledger's head item but cannot re-seal it under our
    digest: the same digest says it is our record, edited since; shipping goes on (the
    original is in the local log) and verify reports the edit."""
    write_log(log_path, 4)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    item = item_at(table, stream, 4)
    item["line"]["S"] = item["line"]["S"].replace('"requested"', '"failed"')
    put_raw(table, item)
    write_log(log_path, 2)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        result = ship(log_path, table)
    assert result.acked == 6
    assert "it was edited in the ledger" in caplog.text
    findings = verify_ledger(table).findings
    assert [(f.line, f.reason) for f in findings] == [(4, "edited"), (4, "edited")]
    # the line no longer holds its digest, and the item's event attribute is not its line's
    assert any(
        'has "requested" as its event, and its record "failed"' in f.detail for f in findings
    )


def test_a_damaged_state_file_is_forgotten(table: LedgerTable, log_path: Path) -> None:
    lines = write_log(log_path, 5)
    ship(log_path, table)
    state_path(log_path).write_bytes(b"\x00not json")
    write_log(log_path, 2)
    result = ship(log_path, table)
    assert (result.shipped, result.acked) == (2, 7)  # the ledger's keys said where it stopped
    assert stored_lines(table, stream_of(table, log_path)) == lines + complete_lines(log_path)[5:]


@pytest.mark.parametrize(
    "damage",
    [
        {"start": 7, "end": 7},  # the middle of a line
        {"start": -1},  # os.pread refused it: "Invalid argument", and every ship after
        {"end": -1},
        {"seq": 0},
    ],
    ids=["middle-of-a-line", "negative-start", "negative-end", "seq-0"],
)
def test_a_cursor_that_no_longer_fits_is_dropped(
    table: LedgerTable, log_path: Path, damage: dict[str, int]
) -> None:
    import json

    write_log(log_path, 5)
    ship(log_path, table)
    state = json.loads(state_path(log_path).read_text())
    state["cursor"].update(damage)
    state_path(log_path).write_text(json.dumps(state))
    write_log(log_path, 3)
    result = ship(log_path, table)
    assert (result.shipped, result.acked) == (3, 8)
    assert verify_ledger(table).ok


def test_a_series_rotated_twice_is_followed_back(table: LedgerTable, log_path: Path) -> None:
    write_log(log_path, 3)
    first = audit.rotate(log_path)
    write_log(log_path, 2)
    second = audit.rotate(log_path)
    write_log(log_path, 1)
    result = ship(log_path, table)
    assert result.acked == 8
    stream = stream_of(table, first)
    assert stored_lines(table, stream) == complete_lines(first) + complete_lines(
        second
    ) + complete_lines(log_path)


def test_another_thread_shipping_the_log_makes_a_run_busy_in_time(
    table: LedgerTable, log_path: Path
) -> None:
    write_log(log_path, 2)
    shipper = Shipper(log_path, table)
    with shipper._lock:  # the guard's thread is in a run
        assert shipper.ship(timeout=0.05).busy
    assert shipper.ship().acked == 2
    shipper.close()


def test_a_long_lived_shipper_does_not_reopen_the_archives_for_each_record(
    table: LedgerTable, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard's shipper runs once per record: a series of many archives is walked once,
    then again only when the live file is rotated."""
    write_log(log_path, 1)
    for _ in range(20):
        audit.rotate(log_path)
    shipper = Shipper(log_path, table)
    assert shipper.ship().acked == 21
    opened: list[Path] = []
    first_line = series._first_record_line

    def counted(path: Path) -> bytes | None:
        opened.append(path)
        return first_line(path)

    monkeypatch.setattr(series, "_first_record_line", counted)
    write_log(log_path, 1)
    assert shipper.ship().acked == 22
    assert set(opened) == {log_path}
    archive = audit.rotate(log_path)
    opened.clear()
    assert shipper.ship().acked == 23
    assert archive in opened  # rotated since: walked again
    shipper.close()


def test_keys_the_table_leaves_unprocessed_are_read_again(
    table: LedgerTable, log_path: Path
) -> None:
    """A throttled BatchGetItem answers some keys as ``UnprocessedKeys``: they are asked for
    again (after a pause) until every record is read, none twice."""
    lines = write_log(log_path, 5)
    ship(log_path, table)
    asked: list[int] = []

    def throttle_the_first(request: Any, **_: Any) -> Any:
        keys = json.loads(request.body)["RequestItems"][table.name]
        asked.append(len(keys["Keys"]))
        if len(asked) > 1:
            return None  # the service answers
        body = {"Responses": {table.name: []}, "UnprocessedKeys": {table.name: keys}}
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return raw_response(request.url, 200, json.dumps(body).encode(), headers)

    on_send(table.clients.dynamodb, "BatchGetItem", throttle_the_first)
    found = table.by_snapshot("orders-daily-20261129")
    assert asked == [5, 5]
    assert [line_of(item) for item in found] == lines


def test_a_table_that_keeps_every_key_unprocessed_is_given_up_on(
    table: LedgerTable, log_path: Path
) -> None:
    """A table that answers every BatchGetItem with all its keys unprocessed: the read gives
    up after its rounds with `LedgerUnavailable`, never loops for ever (the deadline only
    detects a hang)."""
    write_log(log_path, 3)
    ship(log_path, table)
    asked = {"count": 0}

    def throttle_all(request: Any, **_: Any) -> Any:
        asked["count"] += 1
        keys = json.loads(request.body)["RequestItems"][table.name]
        body = {"Responses": {table.name: []}, "UnprocessedKeys": {table.name: keys}}
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return raw_response(request.url, 200, json.dumps(body).encode(), headers)

    on_send(table.clients.dynamodb, "BatchGetItem", throttle_all)
    started = time.monotonic()
    with pytest.raises(LedgerUnavailable, match="left 3 item"):
        table.by_snapshot("orders-daily-20261129")
    assert time.monotonic() - started < 60
    assert asked["count"] == 10


def test_records_of_huge_calls_are_shipped_whole(table: LedgerTable, log_path: Path) -> None:
    """A 3,000-character snapshot name (no index key may be that long) and 3,000 tags (a line
    cut to `audit.LINE_MAX`) ship like any record: nothing stops the stream at them."""
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("blocked", snapshot="s" * 3000)
        log.write("blocked", snapshot="orders-\udc80")  # a lone surrogate: no index key
        log.write("blocked", tags={f"k{i}": "v" * 250 for i in range(3000)})
        log.write("requested", snapshot="orders-daily-20261129")
    lines = lines_of(log_path)
    result = ship(log_path, table)
    stream = stream_of(table, log_path)
    assert (result.shipped, result.pending, result.error) == (4, 0, None)
    assert stored_lines(table, stream) == lines
    assert "snapshot" not in item_at(table, stream, 1)
    assert "snapshot" not in item_at(table, stream, 2)
    assert text(item_at(table, stream, 4), "snapshot") == "orders-daily-20261129"
    assert verify_ledger(table).ok


@pytest.mark.parametrize("run", ["ship", "close"])
def test_a_signal_as_the_shipper_takes_its_lock_leaves_it_free(
    table: LedgerTable, log_path: Path, run: str
) -> None:
    """A KeyboardInterrupt (a signal handler's exception) the moment a run, or `close`, has
    taken the shipper's own lock, at the first line after (a trace function stands in for the
    pending signal), leaves the lock free: the next run ships at once and `close` returns.
    Before, the lock was taken outside the ``try`` that releases it, and every later run of the
    process was busy, every later `close` waited for ever (the guard's uninstall with it)."""
    write_log(log_path, 2)
    shipper = Shipper(log_path, table)
    code = getattr(Shipper, run).__code__

    def taken(frame: FrameType, event: str) -> bool:
        return event == "line" and frame.f_code is code and shipper._lock.locked()

    with interrupted_once(taken) as raised, pytest.raises(KeyboardInterrupt):
        getattr(shipper, run)()
    assert raised == [run] and not shipper._lock.locked()
    assert shipper.ship(timeout=0.05).acked == 2
    call_with_timeout(shipper.close, 30)  # a hang, not a speed

"""Edges of ``required`` mode's promise: a call's ``requested`` record is acknowledged by the
ledger before the call goes on, else the call fails, nothing sent (another shipper holding
the log past ``lock_timeout``, the call's own put refused, a fork found by an earlier call).
Against moto's server over HTTP; the other shipper (another process, as far as the log's lock
knows) held in its marker's put, and the puts refused, with botocore's before-send."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws import count_sent
from ledger_helpers import (
    REGION,
    complete_lines,
    dynamodb_error,
    item_seq,
    on_send,
    ship,
    stored_lines,
    stream_of,
    write_log,
)

from rds_guard import audit
from rds_guard.audit.ledger import Clients, LedgerTable, LedgerUnavailable, Shipper
from rds_guard.audit.ledger.spool import ShippingLog
from rds_guard.core.policy import LedgerPolicy


@pytest.fixture
def another_shipper(table: LedgerTable, log_path: Path) -> Iterator[threading.Event]:
    """A log of one record, and another shipper of it (its own clients and lock: another
    process, as far as the log's lock knows) held in the middle of its run, the log's lock
    taken, until the event it yields is set."""
    write_log(log_path, 1)
    other = Shipper(log_path, LedgerTable(Clients(REGION), table.name))
    holding, release = threading.Event(), threading.Event()

    def hold(**_: Any) -> None:
        holding.set()
        release.wait(30)

    on_send(other.table.clients.dynamodb, "PutItem", hold)
    run = threading.Thread(target=other.ship, kwargs={"timeout": None}, daemon=True)
    run.start()
    try:
        assert holding.wait(10), "the other shipper never reached the ledger"
        yield release
    finally:
        release.set()
        run.join(10)
        other.close()


def _required_log(table: LedgerTable, log_path: Path, lock_timeout: float) -> ShippingLog:
    return ShippingLog(
        log_path,
        ledger=LedgerPolicy(table.name, REGION, mode="required"),
        clients=Clients(REGION),
        fsync=False,
        lock_timeout=lock_timeout,
    )


def _request(log: ShippingLog) -> audit.Record:
    return log.write(
        "requested",
        call=audit.new_call_id(),
        service="rds",
        operation="CreateDBClusterSnapshot",
        snapshot="orders-manual-20261129",
    )


def test_required_mode_fails_the_call_when_another_shipper_holds_the_log_past_its_timeout(
    table: LedgerTable, log_path: Path, another_shipper: threading.Event
) -> None:
    """docs/ledger.md: the ``requested`` record "must be acknowledged by DynamoDB before the
    call is sent. If it cannot be ..., the guard writes a local `failed` record for that call
    ... and the call fails with `LedgerUnavailable`". Another shipper holds the log past
    ``lock_timeout``: the record is not acknowledged, and the call must not go on."""
    log = _required_log(table, log_path, lock_timeout=0.2)
    try:
        with pytest.raises(LedgerUnavailable, match="held the log past lock_timeout"):
            _request(log)
    finally:
        another_shipper.set()
        log.close()
    events = [json.loads(line)["event"] for line in complete_lines(log_path)]
    assert events == ["requested", "requested", "failed"]


def test_required_mode_fails_the_call_whose_own_record_the_ledger_refused(
    table: LedgerTable, log_path: Path
) -> None:
    """The ledger takes every record before the call's ``requested`` one, and refuses that
    one's put (throttled past botocore's retries): the record before it is acknowledged, the
    call's own is not, and the call must not go on."""
    write_log(log_path, 1)
    log = _required_log(table, log_path, lock_timeout=10.0)

    def refuse_the_second(request: Any, **_: Any) -> Any:
        if item_seq(json.loads(request.body)) == 2:
            return dynamodb_error("ProvisionedThroughputExceededException", "slow down")
        return None

    on_send(log.clients.dynamodb, "PutItem", refuse_the_second)
    try:
        with pytest.raises(LedgerUnavailable, match="ProvisionedThroughputExceeded"):
            _request(log)
    finally:
        log.close()
    events = [json.loads(line)["event"] for line in complete_lines(log_path)]
    assert events == ["requested", "requested", "failed"]
    assert stored_lines(table, stream_of(table, log_path)) == complete_lines(log_path)[:1]


def test_required_mode_after_a_fork_fails_every_call_says_it_once_and_asks_the_ledger_nothing(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/ledger.md: the shipper that finds a fork "stops shipping that stream (the guard's
    thread logs it at ERROR, once ...)"; "In `required` mode a forked host fails every call
    until then". A clone shipped its own seq 2 first: the first call finds the fork; the
    next fails too, the fork is logged once, and nothing more of this log goes to the ledger
    (no head read, no marker, no put)."""
    write_log(log_path, 1)
    copy = log_path.with_name("copy.jsonl")
    copy.write_bytes(log_path.read_bytes())
    write_log(copy, 1, note="copy ")
    assert ship(copy, table).acked == 2
    log = _required_log(table, log_path, lock_timeout=10.0)
    try:
        with caplog.at_level(logging.ERROR, logger="rds_guard"):
            with pytest.raises(LedgerUnavailable, match="fork of stream"):
                _request(log)
            sent = count_sent(log.clients.dynamodb)
            with pytest.raises(LedgerUnavailable, match="fork of stream"):
                _request(log)
    finally:
        log.close()
    assert sent.operations == []
    said = [r for r in caplog.records if r.levelno == logging.ERROR and "fork of" in r.message]
    assert len(said) == 1

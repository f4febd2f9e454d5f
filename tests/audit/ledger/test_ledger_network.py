"""The ledger through a network that misbehaves, and in a process forked where no at-fork hook
ran: the guard's calls are held for a bounded time, shipping goes on once the ledger answers
again, and no thread is started where one may wait for ever (docs/ledger.md, "Shipping").

The ledger's DynamoDB is reached through a proxy on 127.0.0.1 in front of the moto server
(``AWS_ENDPOINT_URL_DYNAMODB``), which can trickle: a status line, then a byte every 0.3 s,
so that botocore's read timeout (10 s between bytes) never fires."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import unhooked_fork, wait_child
from ledger_helpers import (
    BUCKET,
    KEY_ALIAS,
    REGION,
    complete_lines,
    ledger_guard,
    snapshot,
    stored_seqs,
    stream_of,
    wait_until,
)
from network import Proxy, timed
from servers import MotoServer

from rds_guard import audit
from rds_guard.answers import AnswerTimeout
from rds_guard.audit.ledger import Clients, LedgerTable, LedgerUnavailable, S3Location
from rds_guard.audit.ledger.checkpoints import CheckpointStore

BOUND = 12
"""Seconds a ledger request's whole answer may take: its clients' connect and read timeouts."""


@pytest.fixture
def ledger_proxy(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """A proxy in front of the moto server that the ledger's DynamoDB client reaches; one
    attempt per request, so that a trickle costs one bound, not three."""
    with Proxy(aws.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        yield proxy


def test_required_mode_refuses_a_call_while_the_ledger_trickles_then_goes_on(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, ledger_proxy: Proxy
) -> None:
    """docs/ledger.md: each request's whole answer within 12 s (the connect and read timeouts
    together), "so that a ledger out of reach holds a required-mode call for seconds, not
    minutes". A ledger that trickles held the call for as long as it trickled, and with it the
    shipping lock: every later call waited lock_timeout and failed. Now the call fails with
    `LedgerUnavailable` once the bound is past, nothing sent, and once the ledger answers
    again the next call goes on at once."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    try:
        snapshot(rds, "orders-manual-20261101")
        time.sleep(0.5)  # the shipping thread, woken by the outcome, idle again
        ledger_proxy.trickle.set()
        error, seconds = timed(lambda: snapshot(rds, "orders-manual-20261102"), 60)
        assert isinstance(error, LedgerUnavailable), error
        # the call's own request trickled, or the shipping thread's did as it woke at that
        # moment (it then held the shipping lock past lock_timeout, 10 s): bounded either way
        assert (
            f"No whole answer within {BOUND} s" in error.detail
            or "held the log past lock_timeout" in error.detail
        ), error.detail
        assert 9 < seconds < BOUND + 15
        assert ledger_proxy.trickled == 1
        assert aws.count("CreateDBClusterSnapshot") == 1
        ledger_proxy.trickle.clear()
        error, seconds = timed(lambda: snapshot(rds, "orders-manual-20261103"), 60)
        assert error is None and seconds < BOUND - 2  # not held to the trickle's bound
        assert aws.count("CreateDBClusterSnapshot") == 2
    finally:
        guard.uninstall()
    log = tmp_path / "audit.jsonl"
    events = [json.loads(line)["event"] for line in complete_lines(log)]
    assert events == ["requested", "created", "requested", "failed", "requested", "created"]
    assert stored_seqs(table, stream_of(table, log)) == [1, 2, 3, 4, 5, 6]


def test_ship_mode_ships_again_once_a_trickling_ledger_answers(
    aws: MotoServer,
    table: LedgerTable,
    tmp_path: Path,
    ledger_proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/ledger.md: "A ledger that cannot be reached only makes records wait: the thread
    tries again ... and logs a warning on rds_guard saying how many records wait". A ledger
    that trickled held the shipping thread's run for as long as it trickled: nothing was
    shipped again, and nothing said so. Now the run gives up past the bound, says so, and
    the thread ships once the ledger answers."""
    caplog.set_level(logging.WARNING, logger="rds_guard")
    rds, guard = ledger_guard(aws, tmp_path, mode="ship")
    log = tmp_path / "audit.jsonl"
    try:
        snapshot(rds, "orders-manual-20261101")
        wait_until(lambda: stored_seqs(table, stream_of(table, log)) == [1, 2], 30)
        ledger_proxy.trickle.set()
        snapshot(rds, "orders-manual-20261102")  # ship mode: not held up
        wait_until(lambda: ledger_proxy.trickled >= 1, 10, "the thread never asked the ledger")
        ledger_proxy.trickle.clear()
        wait_until(
            lambda: stored_seqs(table, stream_of(table, log)) == [1, 2, 3, 4],
            BOUND + 30,
            "the records were never shipped once the ledger answered again",
        )
    finally:
        guard.uninstall()
    waiting = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert waiting and f"No whole answer within {BOUND} s" in waiting[0], caplog.text
    assert "record(s) wait in the local log" in waiting[0]


def test_a_checkpoint_whose_body_comes_a_byte_at_a_time_is_given_up_past_the_bound(
    aws: MotoServer, store: CheckpointStore
) -> None:
    """S3 hands a GetObject's body over as a stream, read after the request: a body sent a
    byte at a time held the shipping thread's checkpoint read (the head came at once, so the
    request's own bound was met). The read is bounded as the request is: `AnswerTimeout`
    (a read timeout) once the whole answer has taken 12 s, and the stream closed."""
    key, body = "rds-guard/probe.json", b'{"checkpoint": "not one"}' * 8  # 60 s of drip
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    with Proxy(aws.url) as proxy:
        proxy.drip_body.set()
        slow = CheckpointStore(
            Clients(REGION, endpoint_url=proxy.url), S3Location(BUCKET, "rds-guard/"), KEY_ALIAS
        )
        error, seconds = timed(lambda: slow.read(key), 60)
        assert isinstance(error, AnswerTimeout), error
        assert BOUND - 1 < seconds < BOUND + 5
        assert proxy.trickled == 1
    assert store.read(key)[0] == body  # read whole, not through the proxy


def test_a_child_forked_where_no_at_fork_hook_ran_ships_without_starting_a_thread(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uWSGI forks its workers with the C library's fork alone (unless told
    ``py-call-osafterfork``): the child keeps the interpreter's thread state as the parent's
    threads left it, and a thread started there can wait for ever. The guard started its put
    workers and its shipping thread at the child's first record: the child hung, holding the
    shipping lock, and every required-mode call of the parent then failed. Now the child
    starts no thread, and says so once: its calls ship their own records, in their own
    thread; the parent's calls go on; every record of both is in the ledger, in order."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    log = tmp_path / "audit.jsonl"
    try:
        snapshot(rds, "orders-manual-20261101")
        time.sleep(1)  # the parent's threads idle, as a preforking server's are at its forks
        pid, report = _in_unhooked_child(rds, ["orders-manual-20261102", "orders-manual-20261103"])
        assert report == {"started": 0, "snapshots": 2, "told": 1}, report  # once, not per call
        snapshot(rds, "orders-manual-20261104")  # the parent: not held off by the child
    finally:
        guard.uninstall()
    records = [json.loads(line) for line in complete_lines(log)]
    assert {record["pid"] for record in records} == {os.getpid(), pid}
    assert sum(record["pid"] == pid for record in records) == 4  # requested, created twice
    assert audit.verify(log).ok
    assert stored_seqs(table, stream_of(table, log)) == list(range(1, len(records) + 1))
    assert aws.count("CreateDBClusterSnapshot") == 4


def test_in_ship_mode_the_records_of_a_child_forked_unseen_are_shipped_by_the_parent(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """docs/ledger.md: in ``ship`` mode such a child's records "wait in the log for another
    process's shipping thread (the process that installed the guard before forking, as
    uWSGI's master)". The child starts no thread and is never held up; the parent's thread,
    woken by nothing of the child's, finds its records on its next look and ships them."""
    rds, guard = ledger_guard(aws, tmp_path, mode="ship")
    log = tmp_path / "audit.jsonl"
    try:
        snapshot(rds, "orders-manual-20261101")
        wait_until(lambda: stored_seqs(table, stream_of(table, log)) == [1, 2], 30)
        time.sleep(1)  # the parent's threads idle, as a preforking server's are at its forks
        pid, report = _in_unhooked_child(rds, ["orders-manual-20261102"])
        assert report == {"started": 0, "snapshots": 1, "told": 1}, report
        wait_until(
            lambda: stored_seqs(table, stream_of(table, log)) == [1, 2, 3, 4],
            30,
            "the child's records were never shipped by the parent's thread",
        )
    finally:
        guard.uninstall()
    records = [json.loads(line) for line in complete_lines(log)]
    assert [record["pid"] == pid for record in records] == [False, False, True, True]
    assert audit.verify(log).ok


def _in_unhooked_child(rds: Any, names: list[str]) -> tuple[int, dict[str, Any]]:
    """A child forked as uWSGI forks (`unhooked_fork`) makes a guarded create of each of
    ``names``, and reports what it found (the threads it started, the warnings that say it
    starts none); the child's pid and its report (a hung child is killed: the test fails)."""
    reader, writer = os.pipe()
    pid = unhooked_fork()
    if pid == 0:  # pragma: no cover (the child ends with os._exit, before coverage saves)
        _child(rds, names, writer)
    os.close(writer)
    return pid, _report_of(pid, reader)


def _child(rds: Any, names: list[str], writer: int) -> None:
    """In the child: the guarded calls, then what it found, to ``writer``; never returns."""
    report: dict[str, Any] = {}
    kept = _Kept()
    logging.getLogger("rds_guard").addHandler(kept)
    try:
        before = {thread.ident for thread in threading.enumerate()}
        for name in names:
            snapshot(rds, name)
        started = {thread.ident for thread in threading.enumerate()} - before
        told = [message for message in kept.messages if "no at-fork hook ran" in message]
        report = {"started": len(started), "snapshots": len(names), "told": len(told)}
    except BaseException as exc:  # reported to the parent, which fails the test
        report = {"error": repr(exc)}
    finally:
        os.write(writer, json.dumps(report).encode())
        os._exit(0)


class _Kept(logging.Handler):
    """Keeps the messages logged to it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _report_of(pid: int, reader: int, timeout: float = 60.0) -> dict[str, Any]:
    """The child's report, or a failure once it has not come within ``timeout`` seconds (the
    child, hung, is killed)."""
    ready, _, _ = select.select([reader], [], [], timeout)
    data = os.read(reader, 65536) if ready else b""
    os.close(reader)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the child forked without at-fork hooks hung for {timeout} s")
    wait_child(pid)
    found: dict[str, Any] = json.loads(data)
    return found

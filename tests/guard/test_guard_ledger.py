"""The guard with ``[audit.ledger]``: its log shipped by a thread (``mode = "ship"``), or each
call held until the ledger has its ``requested`` record (``mode = "required"``); and without
one, nothing of the ledger loaded and no thread. Against moto's server over HTTP (RDS and
DynamoDB), the ledger's failures injected through botocore's before-send."""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from audit_helpers import (
    UnhookedWorker,
    call_with_timeout,
    run_python,
    unhooked_fork,
    wait_child,
)
from aws import count_sent, guarded_session, make_cluster
from botocore.exceptions import EndpointConnectionError
from ledger_helpers import (
    BUCKET,
    KEY_ALIAS,
    TABLE,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_event,
    ledger_guard,
    on_send,
    ship,
    snapshot,
    stored_lines,
    stream_of,
    wait_until,
)
from policies import AUDITED, LEDGER, LEDGER_SIGNED, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.audit.ledger import LedgerTable, LedgerUnavailable, S3Location
from rds_guard.audit.ledger.checkpoints import CheckpointStore
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.provision import provision
from rds_guard.audit.ledger.spool import INTERVAL, ShippingLog
from rds_guard.audit.ledger.state import StateFile

SNAPSHOT = "orders-manual-20261129"


def _events(path: Path) -> list[tuple[str, str]]:
    return [(r["event"], r["call"]) for r in map(json.loads, complete_lines(path))]


def _down(request: Any, **_: Any) -> None:
    """A before-send hook: the ledger cannot be reached."""
    raise EndpointConnectionError(endpoint_url=request.url)


def test_ship_mode_ships_in_the_background(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)
    log = tmp_path / "audit.jsonl"
    stream = stream_of(table, log)
    wait_until(lambda: len(stored_lines(table, stream)) == 2)
    assert stored_lines(table, stream) == complete_lines(log)
    guard.uninstall()
    assert not any(t.name == "rds-guard-ledger" and t.is_alive() for t in threading.enumerate())


def test_records_written_while_the_ledger_is_down_wait_and_are_shipped(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    remove = on_send(guard.audit.clients.dynamodb, "PutItem", _down)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        snapshot(rds, SNAPSHOT)  # sent: in ship mode the ledger never holds a call up
        wait_until(lambda: "record(s) wait in the local log" in caplog.text)
    assert aws.count("CreateDBClusterSnapshot") == 1
    remove()
    result = guard.audit.ship_once(timeout=None)
    assert result is not None and result.acked == 2
    guard.uninstall()


def test_a_ledger_that_hangs_never_holds_a_call_in_ship_mode(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The shipping thread is stuck in a request the ledger never answers: guarded calls go
    on as if there were no ledger, and their records are shipped once it answers again."""
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    stuck, answer = threading.Event(), threading.Event()

    def hang(request: Any, **_: Any) -> None:
        stuck.set()
        answer.wait(30)

    remove = on_send(guard.audit.clients.dynamodb, "PutItem", hang)
    try:
        snapshot(rds, SNAPSHOT)
        assert stuck.wait(10)  # the thread is in the ledger's request, waiting
        started = time.monotonic()
        snapshot(rds, "orders-manual-20261130")
        assert time.monotonic() - started < 10  # not held by the 30 s hang
        assert aws.count("CreateDBClusterSnapshot") == 2
    finally:
        remove()
        answer.set()
    log = tmp_path / "audit.jsonl"
    wait_until(lambda: stored_lines(table, stream_of(table, log)) == complete_lines(log))
    guard.uninstall()


@pytest.mark.parametrize(
    ("work", "records"),
    [
        ("for _ in range(100):\n    guard.audit.write('requested', call='c' * 32)\n", 100),
        (
            "for _ in range(40):  # a batch on every worker: all of them are started\n"
            "    guard.audit.write('requested', call='a' * 32)\n"
            "assert guard.audit.ship_once(timeout=None).acked == 40\n"
            "for _ in range(50):\n"
            "    guard.audit.write('requested', call='b' * 32)\n",
            90,
        ),
    ],
    ids=["nothing-shipped-yet", "every-put-worker-started"],
)
def test_the_exit_of_the_process_ships_what_is_left(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, work: str, records: int
) -> None:
    """A process that writes records and exits at once, never uninstalling its guard: the
    thread is given its last run before the interpreter goes. Once every put worker had
    started, their exit handler (a `weakref.finalize`, run at exit) ended them before the
    guard's own one ran: its last run queued its puts to no worker, waited all of
    `spool.CLOSE_WAIT` and shipped nothing."""
    policy = write_policy(tmp_path, LEDGER)
    done = run_python(
        "import botocore.session, rds_guard\n"
        f"guard = rds_guard.install(botocore.session.Session(), policy={str(policy)!r})\n" + work
    )
    assert done.returncode == 0, done.stderr
    log = tmp_path / "audit.jsonl"
    assert len(complete_lines(log)) == records
    assert stored_lines(table, stream_of(table, log)) == complete_lines(log)


def test_a_ledger_that_stops_answering_does_not_hold_the_exit_of_the_process(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """docs/ledger.md: the exit of the process "gives the thread up to 3 seconds to ship
    what is left". A ledger that stops answering (each put held two minutes) while a process
    writes records and exits: the put workers do not hold the exit (a thread pool's are
    joined before any exit handler runs, each finishing every queued put first: minutes).
    What was not shipped waits in the local log, and the next `ship` puts every record."""
    policy = write_policy(tmp_path, LEDGER)
    done = run_python(
        "import json, threading, time, botocore.session, rds_guard\n"
        f"guard = rds_guard.install(botocore.session.Session(), policy={str(policy)!r})\n"
        "putting = threading.Event()\n"
        "def hang(request, **_):\n"
        "    item = json.loads(request.body or b'{}').get('Item', {})\n"
        "    if int(item.get('seq', {}).get('N', '0')) > 5:  # the ledger stops answering\n"
        "        putting.set()\n"
        "        time.sleep(120)\n"
        "guard.audit.clients.dynamodb.meta.events.register('before-send.dynamodb.PutItem', hang)\n"
        "for _ in range(5):\n"
        "    guard.audit.write('requested', call='c' * 32)\n"
        "time.sleep(1)\n"
        "for _ in range(40):\n"
        "    guard.audit.write('requested', call='c' * 32)\n"
        "assert putting.wait(20)  # the put workers are under way\n",
        timeout=60,  # a hang detector only: held by the puts, the exit takes minutes
    )
    assert done.returncode == 0, done.stderr
    log = tmp_path / "audit.jsonl"
    assert len(complete_lines(log)) == 45
    ship(log, table)
    assert stored_lines(table, stream_of(table, log)) == complete_lines(log)


def test_without_a_ledger_nothing_of_it_is_loaded_and_no_thread_starts(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, AUDITED)
    done = run_python(
        "import sys, threading, botocore.session, rds_guard\n"
        f"guard = rds_guard.install(botocore.session.Session(), policy={str(policy)!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('rds_guard.audit.ledger')))\n"
        "print(sorted(t.name for t in threading.enumerate()))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['MainThread']"]


def test_a_ledger_out_of_reach_at_install_is_a_warning_in_ship_mode(
    aws: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        _, guard = guarded_session(write_policy(tmp_path, LEDGER), on=aws)  # no table
    assert f"the ledger's table {TABLE} does not exist" in caplog.text
    assert "records wait in the local log" in caplog.text
    guard.uninstall()


def test_a_ledger_out_of_reach_at_install_is_an_audit_error_in_required_mode(
    aws: MotoServer, tmp_path: Path
) -> None:
    with pytest.raises(rds_guard.AuditError, match="does not exist") as refused:
        guarded_session(write_policy(tmp_path, LEDGER, mode="required"), on=aws)
    assert refused.value.detail == (
        f"the ledger's table {TABLE} does not exist in us-east-1 (rds-guard ledger init creates it)"
    )


def test_the_ledger_is_reached_as_the_session_guarded_reaches_aws(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only credentials are a profile's, which the guarded session names: the ledger's
    clients are made from that session (a new one found none, and in required mode every
    install failed: "Unable to locate credentials")."""
    credentials = tmp_path / "credentials"
    credentials.write_text("[p]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.Session(profile_name="p", region_name="us-east-1")
    guard = rds_guard.install(session, policy=write_policy(tmp_path, LEDGER, mode="required"))
    try:
        rds = aws.client("rds", session=session)
        make_cluster(rds, "orders")
        snapshot(rds, SNAPSHOT)
        assert isinstance(guard.audit, ShippingLog)
        first = complete_lines(guard.audit.path)[0]
        assert json.loads(first)["event"] == "requested"
        assert stored_lines(table, stream_of(table, guard.audit.path))[0] == first
    finally:
        guard.uninstall()


def test_a_guard_with_a_ledger_does_not_keep_its_session_alive(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The ledger's clients have a botocore session of their own: the session the guard was
    installed on is freed once the program drops it, its guard still shipping (made from that
    session itself, the shipping thread kept it alive for good)."""
    session = botocore.session.Session()
    log = rds_guard.install(session, policy=write_policy(tmp_path, LEDGER)).audit
    assert isinstance(log, ShippingLog)
    dropped = weakref.ref(session)
    try:
        del session
        gc.collect()
        assert dropped() is None
    finally:
        log.close()


def test_required_mode_sends_a_call_only_once_the_ledger_has_its_request(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    seen: list[tuple[str | None, int]] = []

    def watch(request: Any, **_: Any) -> None:
        seen.append((item_event(json.loads(request.body)), aws.count("CreateDBClusterSnapshot")))

    on_send(guard.audit.clients.dynamodb, "PutItem", watch)
    snapshot(rds, SNAPSHOT)
    records = [entry for entry in seen if entry[0] is not None]  # the stream's marker aside
    assert records[0] == ("requested", 0)  # in the ledger before the call was sent
    guard.uninstall()


def test_required_mode_the_ledger_holds_the_requested_record_when_the_call_leaves(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The promise tried at the last moment it can break: when the RDS request leaves
    (``before-send``, after signing), the ledger already holds the local log's last record,
    byte for byte, and it is this call's ``requested`` record; every put to the ledger is
    slowed, so that shipping in the background could not have got there first."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    on_send(guard.audit.clients.dynamodb, "PutItem", lambda **_: time.sleep(0.3))
    log = tmp_path / "audit.jsonl"
    held: list[tuple[str, bool]] = []

    def leaving(**_: Any) -> None:
        last = complete_lines(log)[-1]
        held.append((json.loads(last)["event"], last in stored_lines(table, stream_of(table, log))))

    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", leaving)
    snapshot(rds, SNAPSHOT)
    assert held == [("requested", True)]
    assert aws.count("CreateDBClusterSnapshot") == 1
    guard.uninstall()


def test_required_mode_puts_back_a_tail_deleted_from_the_ledger_before_the_next_call_leaves(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """An admin deletes the ledger's newest items (the first call's records) between two calls
    of a process that lives on: when the second call leaves, the ledger holds every record of
    the local log again, not this call's record above a hole."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    log = tmp_path / "audit.jsonl"
    snapshot(rds, SNAPSHOT)
    stream = stream_of(table, log)
    wait_until(lambda: stored_lines(table, stream) == complete_lines(log), what="shipped")
    shipped = len(complete_lines(log))
    for seq in range(shipped - 1, shipped + 1):
        delete_item(table, stream, seq)
    held: list[bool] = []

    def leaving(**_: Any) -> None:
        held.append(stored_lines(table, stream) == complete_lines(log))

    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", leaving)
    snapshot(rds, "orders-manual-20261130")
    assert held == [True]
    guard.uninstall()


def test_an_idle_guard_reads_nothing_of_the_ledger(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The guard's thread wakes every `INTERVAL` (2 s): with nothing written, it sends the
    ledger no request (a head read each time is a read every two seconds per host, for
    ever)."""
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    log = tmp_path / "audit.jsonl"
    snapshot(rds, SNAPSHOT)
    stream = stream_of(table, log)
    wait_until(lambda: stored_lines(table, stream) == complete_lines(log), what="shipped")
    time.sleep(1.5)  # the shipping run's last acknowledgements, on a loaded machine
    sent = count_sent(guard.audit.clients.dynamodb)
    time.sleep(2 * INTERVAL + 0.5)  # nothing written meanwhile
    guard.uninstall()
    assert sent.operations == []


def test_required_mode_reads_the_ledgers_head_at_most_once_per_record(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """docs/ledger.md's cost table: the head is read by a run with records to put (a
    `required`-mode call's, its outcome's, the thread's), at most once per record."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    log = tmp_path / "audit.jsonl"
    snapshot(rds, SNAPSHOT)
    stream = stream_of(table, log)
    wait_until(lambda: stored_lines(table, stream) == complete_lines(log), what="shipped")
    before = len(complete_lines(log))
    sent = count_sent(guard.audit.clients.dynamodb)
    for day in range(3):
        snapshot(rds, f"orders-manual-2026113{day}")
    wait_until(lambda: stored_lines(table, stream) == complete_lines(log), what="shipped")
    records = len(complete_lines(log)) - before
    guard.uninstall()
    assert records == 6 and 1 <= sent.count("Query") <= records, sent.operations


def test_required_mode_with_the_ledgers_head_unreadable_sends_nothing(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The head read before the put throttled past botocore's retries (reads and writes are
    throttled apart): the call fails closed, nothing sent; the next call, the ledger read
    again, goes, and every record is shipped."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)
    log = tmp_path / "audit.jsonl"
    stream = stream_of(table, log)
    wait_until(lambda: stored_lines(table, stream) == complete_lines(log), what="shipped")
    throttled = on_send(
        guard.audit.clients.dynamodb,
        "Query",
        lambda **_: dynamodb_error("ProvisionedThroughputExceededException"),
    )
    with pytest.raises(rds_guard.AuditError, match='mode = "required"'):
        snapshot(rds, "orders-manual-20261130")
    assert aws.count("CreateDBClusterSnapshot") == 1
    throttled()
    snapshot(rds, "orders-manual-20261201")
    assert aws.count("CreateDBClusterSnapshot") == 2
    guard.uninstall()
    assert stored_lines(table, stream) == complete_lines(log)


def test_required_mode_with_the_ledger_down_sends_nothing_and_says_so(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    remove = on_send(guard.audit.clients.dynamodb, "PutItem", _down)
    with pytest.raises(rds_guard.AuditError, match='mode = "required"') as refused:
        snapshot(rds, SNAPSHOT)
    assert isinstance(refused.value, LedgerUnavailable)
    assert aws.count("CreateDBClusterSnapshot") == 0
    log = tmp_path / "audit.jsonl"
    (requested, call), (failed, same_call) = _events(log)
    assert (requested, failed, call) == ("requested", "failed", same_call)
    last = json.loads(complete_lines(log)[-1])
    assert last["error"]["code"] == "LedgerUnavailable"
    assert "not sent: the ledger did not acknowledge the requested record" in last["notes"][-1]
    remove()
    snapshot(rds, "orders-manual-20261130")  # the earlier records go first, in order
    stream = stream_of(table, log)
    assert [json.loads(line)["event"] for line in stored_lines(table, stream)[:3]] == [
        "requested",
        "failed",
        "requested",
    ]
    guard.uninstall()
    assert stored_lines(table, stream) == complete_lines(log)


def test_required_mode_with_a_state_file_it_cannot_use_sends_nothing_and_says_so(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """docs/ledger.md: a call whose requested record the ledger has not acknowledged fails
    with `LedgerUnavailable`, after a local `failed` record. A shipping state file that could
    not be opened (a symbolic link; one a `sudo rds-guard audit ship` left root's) failed it
    with a bare AuditError and no `failed` record: the log read as a call under way."""
    (tmp_path / "audit.jsonl.shipped").symlink_to(tmp_path / "elsewhere")
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    with pytest.raises(LedgerUnavailable, match="symbolic link") as refused:
        snapshot(rds, SNAPSHOT)
    assert str(refused.value).count("rds_guard audit log:") == 1  # its cause's words, once
    assert aws.count("CreateDBClusterSnapshot") == 0
    log = tmp_path / "audit.jsonl"
    (requested, call), (failed, same_call) = _events(log)
    assert (requested, failed, call) == ("requested", "failed", same_call)
    assert json.loads(complete_lines(log)[-1])["error"]["code"] == "LedgerUnavailable"
    guard.uninstall()


def test_required_mode_sends_nothing_on_a_saved_acknowledgement_the_ledger_cannot_confirm(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipping state says seq 6 is in the ledger, but the log was cut short since (put
    back from an older copy: 2 records) and its next record is a new seq 3. With the ledger
    out of reach after the install, the saved state is all there is: it names no record of
    this log, so the call is refused, not sent as acknowledged (the ledger's seq 3 is
    another record)."""
    policy = write_policy(tmp_path, LEDGER, mode="required")
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    for day in (1, 2, 3):
        snapshot(rds, f"orders-manual-2026110{day}")
    guard.uninstall()
    log = tmp_path / "audit.jsonl"
    assert len(complete_lines(log)) == 6
    log.write_bytes(b"".join(line + b"\n" for line in complete_lines(log)[:2]))
    # the install's probe reads the table; then every request to DynamoDB fails, from the
    # first the shipping thread sends
    create_client = botocore.session.Session.create_client

    def made_down(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, service, *args, **kwargs)
        if service == "dynamodb":
            client.meta.events.register("before-send.dynamodb.Query", _down)
            client.meta.events.register("before-send.dynamodb.PutItem", _down)
            client.meta.events.register("before-send.dynamodb.GetItem", _down)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", made_down)
    session, guard = guarded_session(policy, on=aws)
    rds = aws.client("rds", session=session)
    assert isinstance(guard.audit, ShippingLog)
    with pytest.raises(LedgerUnavailable, match="did not acknowledge the requested record"):
        snapshot(rds, "orders-manual-20261104")
    assert aws.count("CreateDBClusterSnapshot") == 3
    result = guard.audit.shipper.ship(timeout=1)
    assert not result.confirmed and result.error is not None
    assert "through seq 4 as last saved (not checked" in result.describe()  # 2 + 2 written
    guard.uninstall()


def test_required_mode_returns_no_presigned_url_the_ledger_has_not_acknowledged(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    on_send(guard.audit.clients.dynamodb, "PutItem", _down)
    with pytest.raises(rds_guard.AuditError, match="did not acknowledge the presigned record"):
        rds.generate_presigned_url(
            "create_db_cluster_snapshot",
            Params={"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": SNAPSHOT},
            ExpiresIn=600,
        )
    assert [event for event, _ in _events(tmp_path / "audit.jsonl")] == ["presigned", "failed"]
    guard.uninstall()


_OUTCOME_UNSHIPPED = (
    "the created record (seq 2) is not in the ledger yet",
    "the ledger cannot be reached (seq 2: Could not connect to the endpoint URL",
)


def test_required_mode_keeps_an_outcome_it_cannot_ship_and_ships_it_later(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)

    def outcomes_down(request: Any, **_: Any) -> None:
        if item_event(json.loads(request.body)) == "created":
            raise EndpointConnectionError(endpoint_url=request.url)
        return None

    remove = on_send(guard.audit.clients.dynamodb, "PutItem", outcomes_down)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        snapshot(rds, SNAPSHOT)  # sent: its request is in the ledger
        # Said by the call, or by the shipping thread when it held the log at that moment
        # and took the record along; the deadline only detects a hang.
        wait_until(lambda: any(w in caplog.text for w in _OUTCOME_UNSHIPPED), 60, caplog.text)
    assert aws.count("CreateDBClusterSnapshot") == 1
    log = tmp_path / "audit.jsonl"
    stream = stream_of(table, log)
    assert len(stored_lines(table, stream)) == 1
    remove()
    result = guard.audit.ship_once(timeout=None)
    assert result is not None and result.acked == 2
    assert stored_lines(table, stream) == complete_lines(log)
    guard.uninstall()


def test_required_mode_after_a_fork_fails_every_call(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)
    guard.audit.ship_once(timeout=None)
    log = tmp_path / "audit.jsonl"
    stream = stream_of(table, log)
    # another log sharing the first record ships its own seq 3 first
    other = tmp_path / "clone" / "audit.jsonl"
    other.parent.mkdir()
    other.write_bytes(log.read_bytes())
    rds_guard.audit.AuditLog(other, fsync=False).write("blocked", call="c" * 32)
    ship(other, table)
    with caplog.at_level(logging.ERROR, logger="rds_guard"):
        with pytest.raises(rds_guard.AuditError, match="fork of stream"):
            snapshot(rds, "orders-manual-20261130")
        with pytest.raises(rds_guard.AuditError, match="fork of stream"):
            snapshot(rds, "orders-manual-20261201")
    forks = [r for r in caplog.records if r.levelname == "ERROR" and "fork of" in r.message]
    assert len(forks) == 1  # logged once, when shipping stopped
    assert aws.count("CreateDBClusterSnapshot") == 1
    assert [json.loads(line)["event"] for line in stored_lines(table, stream)] == [
        "requested",
        "created",
        "blocked",
    ]
    guard.uninstall()


def _in_a_child(
    work: Callable[[], object],
    failure: Path,
    within: float = 60,
    fork: Callable[[], int] = os.fork,
) -> int:
    """Fork (with ``fork``); the child runs ``work`` and exits 0 (3 on an exception, its
    traceback written to ``failure``); the child's exit code (an AssertionError when it
    hangs)."""
    pid = fork()
    if pid == 0:
        code = 3
        try:
            work()
            code = 0
        except BaseException:
            failure.write_text(traceback.format_exc())
        finally:
            os._exit(code)
    return wait_child(pid, within)


def test_a_fork_while_a_parent_thread_holds_the_log_leaves_the_child_free_to_write(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """A fork while another thread of the parent holds the log (``exclusive()``, as a write
    or maintenance does): the child waits for the parent's file lock like any other process,
    never for the parent thread's lock, which no thread of the child will ever release."""
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        assert guard.audit is not None
        with guard.audit.exclusive():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(1.0, release.set).start()  # the parent lets go a second after the fork
    failure = tmp_path / "child-failure.txt"
    status = _in_a_child(lambda: snapshot(rds, "orders-manual-20261203"), failure)
    holder.join(10)
    assert status == 0, failure.read_text() if failure.exists() else f"the child hung ({status})"
    assert [event for event, _ in _events(tmp_path / "audit.jsonl")] == ["requested", "created"]
    guard.uninstall()


def _shipping_in_the_parent(
    shipper: Any, release: threading.Event, within: float
) -> threading.Thread:
    """A thread holding ``shipper`` (its lock and its state file's) as the shipping thread
    does, until ``release`` is set or ``within`` seconds pass: started, and holding it."""
    holding = threading.Event()

    def ship() -> None:
        with shipper._lock, shipper.state_file.locked(None):
            holding.set()
            release.wait(within)

    holder = threading.Thread(target=ship)
    holder.start()
    assert holding.wait(10)
    return holder


def test_required_mode_in_a_child_forked_without_the_at_fork_hooks(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """uWSGI forks its workers as C code does: no at-fork hook runs unless it is told
    ``py-call-osafterfork``. A fork while the parent's shipping thread held the shipper left
    the child with that thread's locks held, and every call of the child in ``required``
    mode failed with "another shipper held the log". The child finds the fork at its first
    write, and ships its own records, once the parent lets go of the log's state file."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)
    release = threading.Event()
    holder = _shipping_in_the_parent(guard.audit.shipper, release, 10)
    threading.Timer(1.0, release.set).start()
    failure = tmp_path / "child-failure.txt"
    status = _in_a_child(
        lambda: snapshot(rds, "orders-manual-20261203"), failure, within=30, fork=unhooked_fork
    )
    holder.join(10)
    assert status == 0, failure.read_text() if failure.exists() else f"the child hung ({status})"
    snapshot(rds, "orders-manual-20261204")  # the parent ships as before
    records = [json.loads(line) for line in complete_lines(tmp_path / "audit.jsonl")]
    parent = [(r["event"], r["pid"] == os.getpid()) for r in records]
    calls = (True, False, True)  # by the parent, the child, the parent
    assert parent == [(event, by) for by in calls for event in ("requested", "created")]
    assert aws.count("CreateDBClusterSnapshot") == 3
    guard.uninstall()


def test_a_parent_gone_holding_the_shipping_lock_after_a_fork_no_hook_saw_holds_no_shipper_off(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """A ``flock`` belongs to the open file, which a child forked without the at-fork hooks
    shares with its parent through its copy of the state file's descriptor. The parent goes
    while its shipping thread holds the lock (killed: its descriptor closed, never
    unlocked); the child, finding the fork at its next write, kept its copy open, and every
    shipper of the log was busy for as long as the child lived. It closes its copy now
    (still the parent's: the same file, open for reading and writing)."""
    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)
    shipper, release = guard.audit.shipper, threading.Event()
    holder = _shipping_in_the_parent(shipper, release, 30)
    child = UnhookedWorker(lambda: snapshot(rds, "orders-manual-20261203"))
    try:
        held = shipper.state_file._fd
        assert held is not None
        # what a kill does to the parent's descriptor: closed, never unlocked (its number
        # kept, on another file, for the holder's own close)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, held)
        os.close(null)
        assert child.go() == bytes([0]), "the child's call failed"
        with StateFile(tmp_path / "audit.jsonl").locked(10) as free:
            assert free, "the child's copy kept the gone parent's lock"
    finally:
        child.end()
        release.set()
        holder.join(10)
    guard.uninstall()


def test_a_child_forked_without_the_at_fork_hooks_does_not_wait_at_exit_for_its_parent_thread(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The exit handler gives each log's shipping thread up to `CLOSE_WAIT` seconds. In a
    child forked without the at-fork hooks that never wrote a record, the log still held the
    parent's thread, which the child does not have, and whose lock was copied held: every
    such worker waited the whole 3 seconds per log at its exit. The handler finds the fork."""
    from rds_guard.audit.ledger import spool

    rds, guard = ledger_guard(aws, tmp_path)
    assert isinstance(guard.audit, ShippingLog)
    snapshot(rds, SNAPSHOT)  # the parent's shipping thread runs...
    assert guard.audit._thread is not None and guard.audit._thread.is_alive()
    log = tmp_path / "audit.jsonl"
    wait_until(lambda: stored_lines(table, stream_of(table, log)) == complete_lines(log))
    time.sleep(0.5)  # ...and waits for the next record: no thread is mid-call at the fork
    failure = tmp_path / "child-failure.txt"

    def exit_handler_returns_at_once() -> None:
        started = time.monotonic()
        spool._ship_before_exit()
        waited = time.monotonic() - started
        assert waited < spool.CLOSE_WAIT, f"waited {waited:.1f}s for a thread it does not have"

    status = _in_a_child(exit_handler_returns_at_once, failure, within=30, fork=unhooked_fork)
    assert status == 0, failure.read_text() if failure.exists() else f"the child hung ({status})"
    guard.uninstall()


def test_a_fork_while_a_parent_thread_installs_leaves_the_child_free_to_install(
    tmp_path: Path,
) -> None:
    """A fork while another thread of the parent is installing or uninstalling a guard (it
    holds the lock that keeps stacks and hooks together): the child installs all the same."""
    from rds_guard.guard import stacks as guard_module

    held, release = threading.Event(), threading.Event()

    def installing() -> None:
        with guard_module.INSTALLS:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=installing)
    thread.start()
    assert held.wait(10)
    policy = write_policy(tmp_path, AUDITED)
    failure = tmp_path / "child-failure.txt"
    try:
        status = _in_a_child(
            lambda: rds_guard.install(boto3.Session(region_name="us-east-1"), policy).uninstall(),
            failure,
            within=20,
        )
    finally:
        release.set()
        thread.join(10)
    assert status == 0, failure.read_text() if failure.exists() else f"the child hung ({status})"


def test_a_shipper_with_the_policys_key_writes_a_checkpoint_hourly(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    location = S3Location(BUCKET, "rds-guard/")
    provision(table.clients, table.name, location, KEY_ALIAS)
    session, guard = guarded_session(write_policy(tmp_path, LEDGER_SIGNED), on=aws)
    rds = aws.client("rds", session=session)
    make_cluster(rds, "orders")
    snapshot(rds, SNAPSHOT)
    store = CheckpointStore(table.clients, location, KEY_ALIAS)
    wait_until(lambda: list(store.numbers()) == [1])
    assert isinstance(guard.audit, ShippingLog)
    guard.audit._checkpoint_tried = float("-inf")  # as if an hour had passed for this host...
    assert guard.audit.checkpoint_if_due() is None  # ...but the newest checkpoint is recent
    assert read_history(store).findings == []
    guard.uninstall()


@pytest.mark.parametrize("mode", ["ship", "required"])
def test_an_endpoint_whose_password_holds_a_hash_is_refused_at_install_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """An endpoint URL with a raw # in its password: botocore makes the ledger's clients,
    then its signer raises a bare ValueError naming the password's start as the port. The
    install says which setting is wrong, without the password, in either mode."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://proxy:S3CRET#x@127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    policy = write_policy(tmp_path, LEDGER, mode=mode)
    with pytest.raises(ValueError, match=r"endpoint URL http://\[redacted\]@127\.0\.0\.1:9") as e:
        rds_guard.install(boto3.Session(region_name="us-east-1"), policy=policy)
    assert "S3CRET" not in str(e.value)


def _open_on(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path``."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def _threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(name) and t.is_alive())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
@pytest.mark.parametrize("mode", ["no ledger", "ship", "required"])
def test_a_call_in_flight_at_uninstall_leaves_no_log_open_and_no_thread(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, mode: str
) -> None:
    """A call the guard judged goes on when the guard is uninstalled meanwhile, and its
    outcome record is written to the guard's log, opened again for it. The log was left open
    and (with a ledger) a new shipping thread running, and put workers in required mode, for
    as long as the program kept the guard: one more of each per install and uninstall."""
    text = AUDITED if mode == "no ledger" else LEDGER
    settings = {} if mode in ("no ledger", "ship") else {"mode": mode}
    before = (_threads("rds-guard-ledger"), _threads("rds-guard-ship"))
    session, guard = guarded_session(write_policy(tmp_path, text, **settings), on=aws)
    rds = aws.client("rds", session=session)
    make_cluster(rds, "orders")
    log = tmp_path / "audit.jsonl"

    def uninstall_in_flight(**_: Any) -> None:
        guard.uninstall()  # the request is on its way: the guard has written `requested`

    on_send(rds, "CreateDBClusterSnapshot", uninstall_in_flight)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=SNAPSHOT,
        Tags=[{"Key": "team", "Value": "data"}],
    )
    assert [event for event, _ in _events(log)] == ["requested", "created"]
    assert _open_on(log) == 0
    assert _threads("rds-guard-ledger") <= before[0] and _threads("rds-guard-ship") <= before[1]
    if mode != "no ledger":  # closing it again shipped the outcome first
        assert stored_lines(table, stream_of(table, log)) == complete_lines(log)


def test_an_uninstalled_guard_lets_go_of_the_ledgers_clients(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """A program that keeps its guards once uninstalled (in a list, a test's fixture) kept the
    botocore session of each one's ledger clients, its service models loaded (about 16 MB
    each). The log, written again, makes them anew and ships."""
    rds, guard = ledger_guard(aws, tmp_path)
    log = guard.audit
    assert isinstance(log, ShippingLog)
    snapshot(rds, SNAPSHOT)
    path = tmp_path / "audit.jsonl"
    wait_until(lambda: stored_lines(table, stream_of(table, path)) == complete_lines(path))
    dynamodb = weakref.ref(log.clients.dynamodb)
    session = weakref.ref(log.clients._session)
    guard.uninstall()
    gc.collect()
    assert dynamodb() is None and session() is None
    log.write("requested", call="c" * 32)
    try:
        wait_until(lambda: stored_lines(table, stream_of(table, path)) == complete_lines(path))
    finally:
        log.close()
    assert len(complete_lines(path)) == 3


def _hold_puts(log: ShippingLog, event: str | None, held: threading.Event) -> threading.Event:
    """Hold each put of the ledger's (of a record of ``event``; None: any) until the returned
    event is set; ``held`` is set when one is held."""
    release = threading.Event()

    def hold(request: Any, **_: Any) -> None:
        if event is None or item_event(json.loads(request.body)) == event:
            held.set()
            release.wait(30)

    on_send(log.clients.dynamodb, "PutItem", hold)
    return release


def test_an_outcome_written_after_a_close_gave_up_is_shipped_once_the_ledger_answers(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """Uninstall gives up on a thread held in a slow put; the call in flight writes its
    outcome, and the log's close lets the new thread's last run wait for the shipper (up to
    `spool.CLOSE_WAIT`): it ships the record once the put under way ends. Its last run
    skipped at once when another thread held the shipper, and the record was never shipped
    by that process."""
    threads = _threads("rds-guard-ledger")
    rds, guard = ledger_guard(aws, tmp_path)
    log = guard.audit
    assert isinstance(log, ShippingLog)
    held = threading.Event()
    release = _hold_puts(log, "requested", held)

    def uninstall_in_flight(**_: Any) -> None:
        assert held.wait(10)
        guard.uninstall()  # gives up on the held thread after CLOSE_WAIT
        threading.Timer(0.5, release.set).start()  # the slow put ends, the call goes on

    on_send(rds, "CreateDBClusterSnapshot", uninstall_in_flight)
    try:
        snapshot(rds, SNAPSHOT)
    finally:
        release.set()
    path = tmp_path / "audit.jsonl"
    assert [event for event, _ in _events(path)] == ["requested", "created"]
    wait_until(lambda: stored_lines(table, stream_of(table, path)) == complete_lines(path))
    wait_until(lambda: _threads("rds-guard-ledger") <= threads and _open_on(path) == 0)


def test_a_close_never_waits_for_a_put_another_thread_holds(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """A second uninstall (``with`` around a guard also uninstalled in the block), while the
    thread the first gave up on is held in a put that hangs: it returned only once that put
    ended (minutes for a ledger that hangs: each put up to three attempts of 10 s). The
    thread lets go of the ledger's clients as it ends."""
    threads = _threads("rds-guard-ledger"), _threads("rds-guard-ship")
    rds, guard = ledger_guard(aws, tmp_path)
    log = guard.audit
    assert isinstance(log, ShippingLog)
    held = threading.Event()
    release = _hold_puts(log, None, held)
    try:
        snapshot(rds, SNAPSHOT)  # ship mode: returns at once
        assert held.wait(10)
        # a hang detector: each close waits CLOSE_WAIT (3 s) at most
        call_with_timeout(lambda: (guard.uninstall(), guard.uninstall()), timeout=20)
    finally:
        release.set()
    wait_until(
        lambda: (
            _threads("rds-guard-ledger") <= threads[0] and _threads("rds-guard-ship") <= threads[1]
        )
    )
    assert log.clients._session is None and not log.clients._made


def test_a_record_a_closed_log_could_not_ship_is_a_warning_while_the_put_still_hangs(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger hangs through two closes: the second thread's last run finds the shipper
    held by the first, and says so at once, not once the held put ends (it may never)."""
    rds, guard = ledger_guard(aws, tmp_path)
    log = guard.audit
    assert isinstance(log, ShippingLog)
    held = threading.Event()
    release = _hold_puts(log, None, held)
    path = tmp_path / "audit.jsonl"
    try:
        with caplog.at_level(logging.WARNING, logger="rds_guard"):
            snapshot(rds, SNAPSHOT)
            assert held.wait(10)
            guard.uninstall()  # gives up on the thread held in its put
            log.write("requested", call="c" * 32)  # a call judged before, in flight
            log.close()
            wait_until(lambda: "shipping stopped with the log closed" in caplog.text)
        assert f"{path}: shipping stopped with the log closed (another shipper held it)" in (
            caplog.text
        )
    finally:
        release.set()
    wait_until(lambda: not log.clients._made)  # the held thread ended, and let go of them
    assert len(complete_lines(path)) == 3  # what waits is in the local log: a run ships it
    ship(path, table)
    assert stored_lines(table, stream_of(table, path)) == complete_lines(path)

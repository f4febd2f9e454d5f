"""The guard inside aiobotocore, against the moto server over HTTP: the sync suite's core
scenarios, presigned URLs, nested installs, and many concurrent tasks on one client writing
one log. Run by `make test` in an environment of its own (aiobotocore pins botocore)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import gc
import inspect
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import aiobotocore.client
import aiobotocore.hooks
import aiobotocore.signers
import botocore.hooks
import pytest
from aio_helpers import CREDENTIALS, GOOD, TEAM, guarded_session, rds_client, run
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.session import AioSession, get_session
from aws import (
    HOUSE_NAME,
    audit_records,
    held_snapshot,
    house_defaults,
    make_cluster,
    make_instance,
    snapshot_tags,
)
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError
from policies import (
    AUDITED,
    BACKUPS,
    DEFAULTS_ONLY,
    HOLD_ONLY,
    LEDGER,
    TEAM_REQUIRED,
    write_policy,
)
from servers import MotoServer

import rds_guard
from rds_guard import audit
from rds_guard.audit.locked import locked_append
from rds_guard.guard.aio import WORKERS, off_loop, workers


def test_a_compliant_create_keeps_inherited_tags_and_adds_the_defaults(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )

    run(work)
    assert snapshot_tags(moto_server.client("rds"), GOOD) == {
        "team": "core",
        "managed-by": "rds-guard",
    }
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert requested["inherited"] == ["team"] and requested["injected"] == ["managed-by"]


def test_a_blocked_create_is_never_sent_and_lists_every_violation(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)

    async def work() -> rds_guard.PolicyViolation:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
                )
            return caught.value

    moto_server.reset_counts()
    blocked = run(work)
    assert [v.rule for v in blocked.violations] == ["identifier.pattern", "tags.required"]
    assert moto_server.actions() == ["DescribeDBClusters"]
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


class LowersAs(str):
    """A string whose lower() says another name than it holds."""

    def lower(self) -> str:
        return GOOD


class EncodesAs(str):
    """A string that is sent (through encode()) as ``test2``, whatever it holds."""

    def encode(self, *_: Any, **__: Any) -> bytes:
        return b"test2"


def test_strings_are_judged_and_sent_as_what_they_hold(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A subclass of str whose lower() or encode() says otherwise: judged, sent and recorded
    as what it holds (the sync suite: tests/guard/test_subclassed_values.py)."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)

    async def work() -> rds_guard.PolicyViolation:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=EncodesAs(GOOD), Tags=TEAM
            )
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders",
                    DBClusterSnapshotIdentifier=LowersAs("Test3"),
                    Tags=TEAM,
                )
            return caught.value

    moto_server.reset_counts()
    blocked = run(work)
    assert [v.rule for v in blocked.violations] == ["identifier.pattern"]
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert moto_server.last_params("CreateDBClusterSnapshot")["DBClusterSnapshotIdentifier"] == GOOD
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events == [("requested", GOOD), ("created", GOOD), ("blocked", "test3")]


def test_a_call_whose_requested_record_cannot_be_written_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The write-ahead record comes first: with a directory where the log goes, the call
    fails with `AuditError` and the snapshot is not asked for."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    (tmp_path / "audit.jsonl").mkdir()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(rds_guard.AuditError):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
                )

    run(work)
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def _guarded_on_a_held_log(
    server: MotoServer, folder: Path, fsync: str, lock_timeout: float
) -> tuple[AioSession, int]:
    """A session guarded by AUDITED (``fsync``, ``lock_timeout``) with its log in ``folder``,
    and a descriptor of another open file of the log holding its ``flock``, as another
    process's writer would (the caller closes it); the cluster ``orders`` made."""
    make_cluster(server.client("rds"))
    policy = AUDITED.replace("fsync = false", f"{fsync}\nlock_timeout = {lock_timeout:g}")
    session = guarded_session(folder, policy)
    (folder / "audit.jsonl").touch()
    holder = os.open(folder / "audit.jsonl", os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    return session, holder


def test_a_log_another_process_holds_holds_up_no_other_task(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """With ``fsync = false`` a record is written on the loop, but not while another process
    holds the log's lock (another open file's ``flock`` stands for it): the record then waits
    in a worker thread, and the loop goes on (a task ticking every 10 ms is never held up for
    seconds); each call fails with `AuditError` after ``lock_timeout`` and none is sent.
    Before, each record waited ``lock_timeout`` on the loop, one after another: twelve calls
    stopped every task of the program for twelve seconds."""
    session, holder = _guarded_on_a_held_log(moto_server, tmp_path, "fsync = false", 1)
    gaps: list[float] = []
    failed: list[str] = []

    async def work() -> None:
        ticking = True

        async def tick() -> None:
            last = time.monotonic()
            while ticking:
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        async def create(day: int) -> None:
            try:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders",
                    DBClusterSnapshotIdentifier=f"orders-manual-{20261100 + day}",
                    Tags=TEAM,
                )
            except rds_guard.AuditError as exc:
                failed.append(str(exc))

        async with rds_client(session, moto_server) as rds:
            ticker = asyncio.ensure_future(tick())
            await asyncio.gather(*(create(day) for day in range(1, 13)))
            ticking = False
            await ticker

    moto_server.reset_counts()
    try:
        run(work)
    finally:
        os.close(holder)
    assert len(failed) == 12 and all("cannot lock" in message for message in failed)
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert gaps and max(gaps) < 4  # a stopped loop, not a speed: before, one gap of 12 s


def test_a_lock_taken_after_the_check_cannot_stall_the_loop(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """With ``fsync = false`` a record written on the loop is written under the locks the
    check that they were free took: another process's writer that tries to take the log's
    ``flock`` just before the write (another open file of the log, taking it the moment the
    writer appends) finds it held, and the calls go on. Before, the check let both locks go
    and the write took them again: a lock taken between the two was waited for on the loop,
    every task stopped, and the record failed after ``lock_timeout``."""
    session, holder = _guarded_on_a_held_log(moto_server, tmp_path, "fsync = false", 1)
    os.close(holder)  # nobody holds the log at first
    other = os.open(tmp_path / "audit.jsonl", os.O_RDONLY)
    append = locked_append.__code__
    grabbed: list[bool] = []

    def another_writer(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is append and not grabbed:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                grabbed.append(True)  # kept: as a writer stopped mid-record would
            except BlockingIOError:
                grabbed.append(False)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )  # its records open the log (in a worker) and write the outcome on the loop
            previous = sys.gettrace()
            sys.settrace(another_writer)  # this thread's: the loop's, not the workers'
            try:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders",
                    DBClusterSnapshotIdentifier="orders-manual-20261102",
                    Tags=TEAM,
                )
            finally:
                sys.settrace(previous)

    moto_server.reset_counts()
    try:
        run(work)
    finally:
        os.close(other)
    assert grabbed == [False]
    assert moto_server.count("CreateDBClusterSnapshot") == 2
    events = [record["event"] for record in audit_records(tmp_path)]
    assert events == ["requested", "created", "requested", "created"]


def test_a_missing_source_raises_the_services_error(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    session = guarded_session(tmp_path, DEFAULTS_ONLY)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="nowhere", DBClusterSnapshotIdentifier=GOOD
                )
            assert caught.value.operation_name == "CreateDBClusterSnapshot", "the call's own"

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert moto_server.count("DescribeDBClusters") == 1, "read once: its failure stands"
    assert [r["event"] for r in audit_records(tmp_path)] == ["failed"]


def test_a_call_botocore_refuses_is_refused_before_any_read(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As in the sync suite: an unknown parameter is botocore's `ParamValidationError`, not
    the look-up's DBClusterNotFoundFault, and nothing reaches the server."""
    session = guarded_session(tmp_path, DEFAULTS_ONLY)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Bogus"'):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="nowhere", DBClusterSnapshotIdentifier=GOOD, Bogus=1
                )
            # a name missing counts as given only where the policy's template fills it in
            with pytest.raises(ParamValidationError, match="DBClusterSnapshotIdentifier"):
                await rds.create_db_cluster_snapshot(DBClusterIdentifier="nowhere")

    run(work)
    assert moto_server.requests() == []
    assert audit_records(tmp_path) == []


def test_a_call_the_programs_own_handler_completes_is_judged_as_completed(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As in the sync suite (tests/guard/test_completing_handlers.py): a call refused by
    botocore's validation at the guard's handler is judged after the program's, which names
    it and tags it, its look-up awaited (``inherit = "always"``: the source is read though
    the call carries tags)."""
    make_cluster(moto_server.client("rds"))
    policy = TEAM_REQUIRED.replace('"warn"', '"enforce"').replace(
        "[tags]\n", '[tags]\ninherit = "always"\n'
    )
    session = guarded_session(tmp_path, policy)
    session.register("before-parameter-build.rds", house_defaults)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(DBClusterIdentifier="orders")

    moto_server.reset_counts()
    run(work)
    assert moto_server.actions() == ["DescribeDBClusters", "CreateDBClusterSnapshot"]
    assert snapshot_tags(moto_server.client("rds"), HOUSE_NAME) == {"team": "core"}
    requested, created = audit_records(tmp_path)
    assert (requested["snapshot"], requested["violations"]) == (HOUSE_NAME, [])
    assert created["event"] == "created"


def test_a_presign_past_the_clients_wrapper_is_judged_after_the_programs_handler(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As in the sync suite: aiobotocore's own presign function, called with the client, was
    judged and recorded before the program's handler added a tag AWS reserves (a URL signed
    with it, recorded as compliant). Blocked now, nothing signed."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, TEAM_REQUIRED.replace('"warn"', '"enforce"'))

    def aws_tag(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateDBClusterSnapshot":
            params["Tags"] = [*params.get("Tags", []), {"Key": "aws:bad", "Value": "x"}]

    session.register("before-parameter-build.rds", aws_tag)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(rds_guard.PolicyViolation, match="aws:"):
                await aiobotocore.signers.generate_presigned_url(
                    rds,
                    "create_db_cluster_snapshot",
                    Params={"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD},
                )

    run(work)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_a_presign_past_the_clients_wrapper_whose_mark_a_first_handler_takes_is_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As in the sync suite: a handler registered first takes aiobotocore's
    ``is_presign_request`` out of the context of a presign made with its own function; the
    presign does not pass for a call (which no request follows) and is recorded as signed."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, TEAM_REQUIRED.replace('"warn"', '"enforce"'))

    def take_the_mark(context: dict[str, Any], **_: Any) -> None:
        context.pop("is_presign_request", None)

    async def work() -> str:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register_first(
                "provide-client-params.rds.CreateDBClusterSnapshot", take_the_mark
            )
            url: str = await aiobotocore.signers.generate_presigned_url(
                rds,
                "create_db_cluster_snapshot",
                Params={
                    "DBClusterIdentifier": "orders",
                    "DBClusterSnapshotIdentifier": GOOD,
                    "Tags": [{"Key": "team", "Value": "core"}],
                },
            )
            return url

    assert "Action=CreateDBClusterSnapshot" in run(work)
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("presigned", GOOD)]


def test_a_presign_none_of_whose_handlers_ran_is_judged_as_it_is_signed(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As in the sync suite: the client's ``meta.events`` replaced by an emitter without the
    guard's handlers; each presign is judged as it is signed (a refused name blocked, no URL;
    an allowed one recorded)."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    tags = [*TEAM, {"Key": "managed-by", "Value": "rds-guard"}]  # what the policy adds
    params = {"DBClusterIdentifier": "orders", "Tags": tags}

    async def work() -> str:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events = botocore.hooks.EventAliaser(
                aiobotocore.hooks.AioHierarchicalEmitter()
            )
            with pytest.raises(rds_guard.PolicyViolation, match="test2"):
                await rds.generate_presigned_url(
                    "create_db_cluster_snapshot",
                    Params={**params, "DBClusterSnapshotIdentifier": "test2"},
                )
            url: str = await rds.generate_presigned_url(
                "create_db_cluster_snapshot", Params={**params, "DBClusterSnapshotIdentifier": GOOD}
            )
            return url

    assert "Action=CreateDBClusterSnapshot" in run(work)
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("blocked", "test2"),
        ("presigned", GOOD),
    ]
    assert all("no judgement reached" in r["notes"][-1] for r in records)


AFTER_THE_MAIN_THREAD = """
import asyncio, sys, threading

import aiobotocore.session

import rds_guard

url, policy, when = sys.argv[1:4]
started = threading.Event()


async def in_flight(**_):
    started.set()  # the main thread returns while the request is on its way
    await asyncio.sleep(0.5)


async def work():
    session = aiobotocore.session.get_session()
    rds_guard.install(session, policy=policy)
    async with session.create_client(
        "rds", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ) as rds:
        await rds.describe_db_clusters()  # aiobotocore makes its connection pool in a thread
        if when == "before":
            started.set()  # the main thread returns before the call is made
            await asyncio.sleep(0.5)
        rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", in_flight)
        answer = await rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-manual-20261129",
            Tags=[{"Key": "team", "Value": "core"}],
        )
        print("created", answer["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])


threading.Thread(target=lambda: asyncio.run(work())).start()
started.wait()
"""


@pytest.mark.parametrize("when", ["in-flight", "before"])
def test_a_call_of_a_loop_that_outlives_the_main_thread_is_made_and_recorded(
    moto_server: MotoServer, tmp_path: Path, when: str
) -> None:
    """A thread's own loop (``asyncio.run`` in a non-daemon thread) goes on after the main
    thread returns: the interpreter's exit has begun, and no thread pool takes a job. A call
    then (or one in flight then) raised `RuntimeError` from the guard's record, with fsync on
    (the records are written in its worker threads): the snapshot made, its outcome
    unrecorded (or the call never made). It is made and recorded, as without the guard."""
    make_cluster(moto_server.client("rds"))
    policy = write_policy(tmp_path, AUDITED, fsync=True)
    script = tmp_path / "after_the_main_thread.py"
    script.write_text(AFTER_THE_MAIN_THREAD)
    ran = subprocess.run(
        [sys.executable, str(script), moto_server.url, str(policy), when],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"created {GOOD}\n", ran.stderr
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
        ("requested", GOOD),
        ("created", GOOD),
    ]
    assert moto_server.count("CreateDBClusterSnapshot") == 1


def test_a_client_whose_make_api_call_a_plain_function_wraps_is_still_awaited(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracer wraps aiobotocore's ``_make_api_call`` in a plain function returning the
    coroutine (callers still await): the client is aiobotocore's all the same, its look-ups
    awaited. A compliant snapshot that takes its team tag from the cluster, the policy's
    tag added, is sent with both (it was blocked as ``tags.inherit``: the sync hooks never
    awaited the read)."""
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)
    original = aiobotocore.client.AioBaseClient._make_api_call

    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs)

    monkeypatch.setattr(aiobotocore.client.AioBaseClient, "_make_api_call", traced)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )

    run(work)
    tags = snapshot_tags(moto_server.client("rds"), GOOD)
    assert tags == {"team": "core", "managed-by": "rds-guard"}
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]


def test_a_client_that_does_not_validate_reads_nothing_for_a_call_of_the_wrong_types(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As with a botocore client: `request.invalid` before any look-up, nothing sent."""
    session = guarded_session(tmp_path, DEFAULTS_ONLY)

    async def work() -> None:
        async with rds_client(session, moto_server, parameter_validation=False) as rds:
            with pytest.raises(rds_guard.PolicyViolation, match=r"request\.invalid"):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD.encode()
                )

    run(work)
    assert moto_server.requests() == []
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_in_warn_mode_a_call_of_the_wrong_types_is_recorded_with_its_violation(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """warn: the call goes as the client sends it, and its `requested` record carries the
    `request.invalid` the guard warned about."""
    session = get_session()
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED, mode="warn"))

    async def work() -> None:
        async with rds_client(session, moto_server, parameter_validation=False) as rds:
            await rds.delete_db_snapshot(DBSnapshotIdentifier=5)

    with pytest.raises(ClientError):  # moto has no snapshot "5"
        run(work)
    requested = audit_records(tmp_path)[0]
    assert requested["event"] == "requested"
    assert [(v["rule"], v["field"]) for v in requested["violations"]] == [
        ("request.invalid", "DBSnapshotIdentifier")
    ]


def test_a_log_that_waits_for_the_ledger_is_written_off_the_loop() -> None:
    """A record that waits for the ledger (``mode = "required"``: a round trip), for an
    fsync or for the log's lock (`AuditLog.held_if_free` yields False) is written in a
    worker thread; any other right on the loop, in the block that holds the log's locks."""

    class Audit:
        def __init__(self, fsync: bool, mode: str | None, free: bool = True) -> None:
            self.fsync = fsync
            self.ledger = None if mode is None else type("Ledger", (), {"mode": mode})()
            self.free = free

        @contextlib.contextmanager
        def held_if_free(self) -> Iterator[bool]:
            yield self.free

    class Guard:
        def __init__(self, audit: Audit) -> None:
            self.audit = audit

    def where() -> bool:
        return threading.current_thread() is threading.main_thread()

    async def work(audit: Audit) -> bool:
        return await off_loop(Guard(audit), where)  # type: ignore[arg-type]

    assert run(lambda: work(Audit(False, None))) is True
    assert run(lambda: work(Audit(False, "ship"))) is True
    assert run(lambda: work(Audit(False, "required"))) is False
    assert run(lambda: work(Audit(True, None))) is False
    assert run(lambda: work(Audit(False, None, free=False))) is False


def test_records_waiting_for_the_log_take_one_thread_of_the_loops_default_executor(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Records the guard's workers write (fsync on) keep the loop's shutdown waiting for them
    through one job of the loop's default executor, however many records wait (another
    open file's ``flock`` holds the log, as another process's writer would): the program's own
    jobs there, and aiohttp's name look-ups, still run. Before, each record took a thread of
    it, and eight records waiting filled an executor of four until the log was let go."""
    session, holder = _guarded_on_a_held_log(moto_server, tmp_path, "fsync = true", 60)

    def waiting_workers() -> int:
        return sum(thread.name.startswith("rds_guard") for thread in threading.enumerate())

    async def work() -> str:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(4))
        async with rds_client(session, moto_server) as rds:
            calls = [
                asyncio.ensure_future(
                    rds.create_db_cluster_snapshot(
                        DBClusterIdentifier="orders",
                        DBClusterSnapshotIdentifier=f"orders-manual-{20261100 + day}",
                        Tags=TEAM,
                    )
                )
                for day in range(1, 9)
            ]
            try:
                deadline = time.monotonic() + 60
                while waiting_workers() < min(WORKERS, 8) and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                # a hang detector: the job runs at once, or not before the log is let go
                ran = await asyncio.wait_for(loop.run_in_executor(None, lambda: "ran"), 10)
            finally:
                fcntl.flock(holder, fcntl.LOCK_UN)
            await asyncio.gather(*calls)
        return ran

    moto_server.reset_counts()
    try:
        assert run(work) == "ran"
    finally:
        os.close(holder)
    assert moto_server.count("CreateDBClusterSnapshot") == 8
    assert [r["event"] for r in audit_records(tmp_path)].count("created") == 8


def test_a_record_once_the_default_executor_is_shut_down_keeps_no_closed_loop_alive(
    tmp_path: Path,
) -> None:
    """A record a loop's task writes once the loop's default executor is shut down (asyncio's
    last step before closing the loop: nothing can keep it open for the record then) is
    written, and the loop, closed, is let go, and the guard's workers for it with it. Before,
    the record's job stayed among the loop's unfinished ones for good, and its callbacks,
    naming the loop, kept every such loop alive, and its pool of threads."""
    log = audit.AuditLog(tmp_path / "audit.jsonl", fsync=True)

    class Guard:
        audit = log

    async def record() -> None:
        await off_loop(Guard(), log.write, "requested")  # type: ignore[arg-type]

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    for _ in range(3):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(record())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.run_until_complete(record())
        finally:
            loop.close()
        loops.append(weakref.ref(loop))
        del loop
    gc.collect()
    assert [ref() for ref in loops] == [None, None, None]
    log.close()
    assert [record["seq"] for record in audit_records(tmp_path)] == [1, 2, 3, 4, 5, 6]


def test_default_executor_jobs_waiting_for_guarded_calls_leave_the_guard_its_workers(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Sync code in the loop's default executor that waits for a guarded call
    (``run_coroutine_threadsafe(...).result()``, a common bridge) may fill that executor: the
    guard wrote its records (fsync on) in it too, so each call waited for a worker that was
    waiting for the call, for ever, nothing sent or recorded. The guard has workers of its
    own."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED.replace("fsync = false", "fsync = true"))
    names = [f"orders-manual-2026112{number}" for number in range(2)]

    async def work() -> list[str]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(len(names)))
        async with rds_client(session, moto_server) as rds:
            # connected first: aiohttp looks up the endpoint's address in that executor too
            await rds.describe_db_clusters()

            def wait_for(name: str) -> str:
                made = asyncio.run_coroutine_threadsafe(
                    rds.create_db_cluster_snapshot(
                        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
                    ),
                    loop,
                )
                answer = made.result(timeout=30)  # a hang detector only
                return str(answer["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])

            return await asyncio.gather(*(loop.run_in_executor(None, wait_for, n) for n in names))

    assert run(work) == names
    events = [record["event"] for record in audit_records(tmp_path)]
    assert (events.count("requested"), events.count("created")) == (2, 2)


def test_a_forked_child_has_workers_of_its_own(moto_server: MotoServer, tmp_path: Path) -> None:
    """The guard's workers are threads of the process that made them: a child forked after
    a record was written off the loop has none of them, and makes its own (a pool that
    counted the parent's would hand its jobs to no thread: a call waiting for ever)."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED.replace("fsync = false", "fsync = true"))

    async def create(name: str) -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
            )

    run(lambda: create("orders-manual-20261120"))
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's coverage is not collected)
        signal.alarm(60)  # a hang detector only
        try:
            asyncio.run(create("orders-manual-20261121"))
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events[-2:] == [
        ("requested", "orders-manual-20261121"),
        ("created", "orders-manual-20261121"),
    ]


@pytest.mark.parametrize("to_the_end", [False, True], ids=["requested", "outcome"])
def test_a_record_a_cancelled_task_left_is_written_before_the_loop_ends(to_the_end: bool) -> None:
    """A record written in the guard's worker thread when its task is cancelled (a
    ``requested`` record is finished, an outcome written) is written before ``asyncio.run``
    returns, as it was in the loop's default executor: a program that reads or rotates the
    log next does not race it."""

    class Audit:
        fsync, ledger = True, None

    class Guard:
        audit = Audit()

    written: list[str] = []

    def write() -> None:
        time.sleep(0.3)
        written.append("written")

    async def work() -> None:
        task = asyncio.ensure_future(off_loop(Guard(), write, to_the_end=to_the_end))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(work)
    assert written == ["written"]


def test_records_started_while_the_shutdown_waits_for_another_are_written_before_it_ends() -> None:
    """One job of the loop's default executor waits for all its records in the guard's
    workers: a record started after that job began waiting for an earlier one, and ending
    after it, is written before ``asyncio.run`` returns too (a waiter that took only the jobs
    it saw first would let the loop close on the later one)."""

    class Audit:
        fsync, ledger = True, None

    class Guard:
        audit = Audit()

    written: list[str] = []

    def write(name: str, seconds: float) -> None:
        time.sleep(seconds)
        written.append(name)

    async def work() -> None:
        first = asyncio.ensure_future(off_loop(Guard(), write, "first", 0.2, to_the_end=True))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the first record's waiter is waiting
        second = asyncio.ensure_future(off_loop(Guard(), write, "second", 0.5, to_the_end=True))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        for task in (first, second):
            task.cancel()
        await asyncio.gather(first, second, return_exceptions=True)

    run(work)
    assert written == ["first", "second"]


def test_a_loop_whose_workers_are_all_busy_holds_up_no_other_loops_record() -> None:
    """Every worker of one loop waits (a log locked by another process, a ledger round trip):
    a record of a loop in another thread is written all the same."""

    class Audit:
        fsync, ledger = True, None

    class Guard:
        audit = Audit()

    busy, taken = threading.Event(), threading.Event()

    def hold_every_worker() -> None:
        async def hold() -> None:
            jobs = [workers(asyncio.get_running_loop()).submit(busy.wait) for _ in range(WORKERS)]
            taken.set()
            await asyncio.gather(*map(asyncio.wrap_future, jobs))

        asyncio.run(hold())

    holder = threading.Thread(target=hold_every_worker)
    holder.start()
    try:
        assert taken.wait(timeout=60)
        assert run(lambda: off_loop(Guard(), lambda: "written")) == "written"  # type: ignore[arg-type]
    finally:
        busy.set()
        holder.join(timeout=60)


def test_each_loop_has_workers_of_its_own() -> None:
    """The guard's workers are made per event loop, as its default executor is: loops in
    other threads do not wait for one another's records."""
    found: dict[int, Any] = {}

    def loop_in_a_thread(number: int) -> None:
        async def ask() -> None:
            found[number] = workers(asyncio.get_running_loop())

        asyncio.run(ask())

    threads = [threading.Thread(target=loop_in_a_thread, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)  # a hang detector only
    assert len(found) == 2 and found[0] is not found[1]


def test_a_loop_no_weak_reference_takes_still_has_workers() -> None:
    """The guard keeps a loop's workers under a weak reference to it, let go with it; a loop
    that takes none (one written in C may not) raised ``TypeError`` from the guard on its
    first fsynced record. Such loops share one pool."""
    first, again = workers(object()), workers(object())  # type: ignore[arg-type]
    assert first is again
    assert first.submit(lambda: "written").result(timeout=60) == "written"


def test_copy_delete_share_and_presign(moto_server: MotoServer, tmp_path: Path) -> None:
    make_cluster(moto_server.client("rds"), tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)

    async def work() -> str:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )
            await rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier=GOOD,
                TargetDBClusterSnapshotIdentifier=f"{GOOD}-copy",
                CopyTags=True,
            )
            await rds.modify_db_cluster_snapshot_attribute(
                DBClusterSnapshotIdentifier=GOOD,
                AttributeName="restore",
                ValuesToAdd=["111122223333"],
            )
            with pytest.raises(rds_guard.PolicyViolation, match=r"sharing\.account"):
                await rds.modify_db_cluster_snapshot_attribute(
                    DBClusterSnapshotIdentifier=GOOD,
                    AttributeName="restore",
                    ValuesToAdd=["444455556666"],
                )
            params = {
                "DBClusterIdentifier": "orders",
                "DBClusterSnapshotIdentifier": "orders-daily-20261130",
                "Tags": TEAM,
            }
            # a coroutine function still, as aiobotocore's own, for code that checks first
            assert inspect.iscoroutinefunction(rds.generate_presigned_url)
            assert asyncio.iscoroutinefunction(rds.generate_presigned_url)
            # ExpiresIn as text: botocore signs 60 seconds, and the record holds what it signs
            url: str = await rds.generate_presigned_url(
                "create_db_cluster_snapshot", Params=params, ExpiresIn="60"
            )
            # DESIGN: the caller's own objects are never changed (the URL has the tags added)
            assert params["Tags"] == TEAM and len(params) == 3
            with pytest.raises(rds_guard.PolicyViolation):
                await rds.generate_presigned_url(
                    "create_db_cluster_snapshot",
                    Params={"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "x"},
                )
            # called wrongly: aiobotocore's method's own TypeError, not the guard's method's
            with pytest.raises(TypeError, match=r"^generate_presigned_url\(\) got an unexpected"):
                await rds.generate_presigned_url("create_db_cluster_snapshot", Bogus=1)
            await rds.delete_db_cluster(
                DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="orders-final-20261129"
            )
            return url

    before = datetime.now(UTC).replace(microsecond=0)
    url = run(work)
    assert "orders-daily-20261130" in url and "managed-by" in url
    (presigned,) = [r for r in audit_records(tmp_path) if r["event"] == "presigned"]
    expires = datetime.fromisoformat(presigned["expires"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=60) <= expires <= datetime.now(UTC) + timedelta(seconds=60)
    events = [(r["operation"], r["event"]) for r in audit_records(tmp_path)]
    assert events == [
        ("CreateDBClusterSnapshot", "requested"),
        ("CreateDBClusterSnapshot", "created"),
        ("CopyDBClusterSnapshot", "requested"),
        ("CopyDBClusterSnapshot", "created"),
        ("ModifyDBClusterSnapshotAttribute", "requested"),
        ("ModifyDBClusterSnapshotAttribute", "shared"),
        ("ModifyDBClusterSnapshotAttribute", "blocked"),
        ("CreateDBClusterSnapshot", "presigned"),
        ("CreateDBClusterSnapshot", "blocked"),
        ("DeleteDBCluster", "requested"),
        ("DeleteDBCluster", "created"),
    ]
    assert snapshot_tags(moto_server.client("rds"), f"{GOOD}-copy")["team"] == "core"


def drop_the_tags(params: dict[str, Any], **_: Any) -> None:
    """At before-parameter-build: the call's Tags go."""
    params.pop("Tags", None)


def drop_the_serialized_tags(params: dict[str, Any], **_: Any) -> None:
    """At before-call: the serialized body's Tags go."""
    body = params["body"]
    for key in [key for key in body if key.startswith("Tags.")]:
        del body[key]


def blocked_create(
    session: AioSession, server: MotoServer, event: str, handler: Callable[..., None]
) -> rds_guard.PolicyViolation:
    """A create of ``GOOD`` (tagged ``TEAM``) on a client of ``session`` with ``handler`` on
    ``event``, which the guard blocks: its `PolicyViolation` (the server's counts reset
    before the call)."""

    async def work() -> rds_guard.PolicyViolation:
        async with rds_client(session, server) as rds:
            rds.meta.events.register(event, handler)
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
                )
            return caught.value

    server.reset_counts()
    return run(work)


@pytest.mark.parametrize(
    ("event", "drop"),
    [
        ("before-parameter-build.rds.CreateDBClusterSnapshot", drop_the_tags),
        ("before-call.rds.CreateDBClusterSnapshot", drop_the_serialized_tags),
    ],
    ids=["before-parameter-build", "before-call"],
)
def test_a_late_handler_dropping_the_tags_is_judged_again_and_nothing_sent(
    moto_server: MotoServer, tmp_path: Path, event: str, drop: Callable[..., None]
) -> None:
    """A handler registered after the guard's, on the same event, has the last word: the
    request as sent is judged again, its look-ups awaited (the source is read for the tags it
    would pass on), and the call without `team` is blocked before it is sent."""
    make_cluster(moto_server.client("rds"))
    blocked = blocked_create(guarded_session(tmp_path, AUDITED), moto_server, event, drop)
    assert [(v.rule, v.field) for v in blocked.violations] == [
        ("tags.required", "Tags.team"),
        ("request.changed", "Tags"),
    ]
    assert moto_server.actions() == ["DescribeDBClusters"]
    (record,) = audit_records(tmp_path)
    assert record["event"] == "blocked" and record["tags"] == {}


def test_a_call_made_into_another_operation_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler makes a create of a snapshot a delete of another (its body as
    form text): neither is sent."""
    make_cluster(moto_server.client("rds"))
    moto_server.client("rds").create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="kept"
    )

    def to_delete(params: dict[str, Any], **_: Any) -> None:
        params["body"] = (
            "Action=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=kept"
        )

    session = guarded_session(tmp_path, AUDITED)
    event = "before-call.rds.CreateDBClusterSnapshot"
    blocked = blocked_create(session, moto_server, event, to_delete)
    assert [(v.rule, v.field) for v in blocked.violations] == [("request.changed", "Action")]
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert audit_records(tmp_path)[-1]["event"] == "blocked"


def test_a_late_handler_changing_a_presign_is_judged_on_the_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register(
                "before-parameter-build.rds.CreateDBClusterSnapshot", drop_the_tags
            )
            with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
                await rds.generate_presigned_url(
                    "create_db_cluster_snapshot",
                    Params={
                        "DBClusterIdentifier": "orders",
                        "DBClusterSnapshotIdentifier": GOOD,
                        "Tags": TEAM,
                    },
                )

    run(work)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


@pytest.mark.parametrize("wait", ["the record, written off the loop", "a read of the source"])
def test_a_body_another_task_edits_while_the_guard_awaits_is_sent_as_judged(
    moto_server: MotoServer, tmp_path: Path, wait: str
) -> None:
    """A before-call handler keeps botocore's body and has another task rename the snapshot
    in it once the guard has read it, while the guard awaits (its record written in a thread
    with fsync on, or the source read for a call judged again): the request holds a copy of
    its own, so what is sent is what was judged and recorded."""
    reading = wait == "a read of the source"
    make_cluster(moto_server.client("rds"), copy_tags=reading, tags={"team": "core"})
    policy = (
        TEAM_REQUIRED.replace('mode = "warn"', 'mode = "enforce"')
        if reading
        else AUDITED.replace("fsync = false", "fsync = true")
    )
    session = guarded_session(tmp_path, policy)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:

            def keep_the_body(params: dict[str, Any], **_: Any) -> None:
                body = params["body"]
                if reading:  # still compliant: the cluster passes team on, read for it
                    del body["Tags.Tag.1.Key"], body["Tags.Tag.1.Value"]

                async def rename() -> None:
                    await asyncio.sleep(0)
                    body["DBClusterSnapshotIdentifier"] = "evil"

                asyncio.get_running_loop().create_task(rename())

            rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", keep_the_body)
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    run(work)
    assert moto_server.last_params("CreateDBClusterSnapshot")["DBClusterSnapshotIdentifier"] == GOOD
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
        ("requested", GOOD),
        ("created", GOOD),
    ]


@pytest.mark.parametrize(
    "given", ["another body", "the body edited in place", "another URL", "a harmless body"]
)
def test_a_request_another_task_gives_another_body_while_the_guard_awaits_is_held_again(
    moto_server: MotoServer, tmp_path: Path, given: str
) -> None:
    """A ``request-created`` handler put before the guard's keeps the request, and another
    task gives it another body (a renamed snapshot, untagged) or URL (a query naming
    another snapshot) while the guard writes the ``requested`` record in a thread (fsync on):
    botocore signs what the request holds when the guard's handler returns, so the guard
    holds the request again: blocked, nothing sent. A harmless change goes on, recorded."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED.replace("fsync = false", "fsync = true"))

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:

            def keep_the_request(request: Any, **_: Any) -> None:
                async def change() -> None:
                    await asyncio.sleep(0)
                    if given == "another URL":
                        request.url += "?DBClusterSnapshotIdentifier=evil"
                        return
                    body = request.data if given.endswith("in place") else dict(request.data)
                    if given != "a harmless body":
                        body["DBClusterSnapshotIdentifier"] = "evil"
                        for key in [key for key in body if key.startswith("Tags.")]:
                            del body[key]
                    request.data = body

                asyncio.get_running_loop().create_task(change())

            rds.meta.events.register_first(
                "request-created.rds.CreateDBClusterSnapshot", keep_the_request
            )
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    moto_server.reset_counts()
    if given == "a harmless body":
        run(work)
        assert (
            moto_server.last_params("CreateDBClusterSnapshot")["DBClusterSnapshotIdentifier"]
            == GOOD
        )
        assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
        return
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        run(work)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    # as for a retry blocked once the first attempt was recorded: no answer, the outcome
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "blocked", "unknown"]


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_request_given_another_compliant_body_at_every_hold_is_refused_in_the_end(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """Another task renames the snapshot to another compliant name each time the guard
    awaits: each is judged and goes on, so the guard would hold the request for ever; after
    a few rounds it is refused as ``request.changed``, nothing sent. In warn mode it is
    warned about once, and sent as it then stands."""
    make_cluster(moto_server.client("rds"))
    policy = AUDITED.replace("fsync = false", "fsync = true")
    session = guarded_session(tmp_path, policy, mode=mode)

    finished = asyncio.Event()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:

            def keep_renaming(request: Any, **_: Any) -> None:
                async def rename() -> None:
                    day = 20000000
                    while not finished.is_set():  # at every turn of the loop
                        await asyncio.sleep(0)
                        day += 1  # a name never met before: a name that came round again
                        name = f"orders-manual-{day}"  # would be the one judged last round
                        request.data = request.data | {"DBClusterSnapshotIdentifier": name}

                asyncio.get_running_loop().create_task(rename())

            rds.meta.events.register_first(
                "request-created.rds.CreateDBClusterSnapshot", keep_renaming
            )
            try:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
                )
            finally:
                finished.set()

    moto_server.reset_counts()
    if mode == "warn":
        run(work)
        assert moto_server.actions() == ["CreateDBClusterSnapshot"]
        (*_, last) = audit_records(tmp_path)
        rules = [(v["rule"], v["field"]) for v in last["violations"]]
        assert rules.count(("request.changed", "body")) == 1, rules
        return
    with pytest.raises(rds_guard.PolicyViolation, match="given another body or URL"):
        run(work)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_tags_another_task_clears_while_a_record_is_written_in_a_thread_are_judged_as_sent(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A call with a violation whose Tags the guard left as the caller's own list (they hold
    the policy's tags already): another task clears that list while the guard's last
    ``before-parameter-build`` handler hands the verdict to a worker thread (fsync on). The
    verdict is the one on the call as judged on the loop; the call as sent, with no Tags, is
    judged at request-created with its source read and awaited. No look-up is made in the
    thread, where it could not be awaited: none is recorded as unreadable."""
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    policy = AUDITED.replace("fsync = false", "fsync = true").replace(
        'mode = "enforce"', f'mode = "{mode}"'
    )
    session = guarded_session(tmp_path, policy + '\n[tags.allowed]\nenv = ["prod"]\n')
    tags = [*TEAM, {"Key": "env", "Value": "qa"}, {"Key": "managed-by", "Value": "rds-guard"}]

    async def work() -> list[str]:
        loop = asyncio.get_running_loop()

        def clear_at_the_next_await(params: dict[str, Any], **_: Any) -> None:
            if params.get("Tags") is tags:
                loop.call_soon(tags.clear)

        async with rds_client(session, moto_server) as rds:
            event = "before-parameter-build.rds.CreateDBClusterSnapshot"
            rds.meta.events.register(event, clear_at_the_next_await)
            try:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=tags
                )
            except rds_guard.PolicyViolation as blocked:
                return [v.rule for v in blocked.violations]
            return []

    moto_server.reset_counts()
    rules = run(work)
    records = audit_records(tmp_path)
    recorded = [v["rule"] for r in records for v in r.get("violations", [])]
    assert "tags.inherit" not in recorded
    if mode == "enforce":
        assert rules == ["tags.allowed"]
        assert moto_server.count("CreateDBClusterSnapshot") == 0
        assert [r["event"] for r in records] == ["blocked"]
    else:
        assert moto_server.actions() == ["DescribeDBClusters", "CreateDBClusterSnapshot"]
        assert [r["event"] for r in records] == ["requested", "created"]
        assert recorded == ["request.changed", "request.changed"]  # as sent: the Tags emptied


def test_a_policy_with_a_ledger_installs_on_an_async_session(
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The ledger's clients are botocore's, of a session of their own with the async session's
    profile (made from the aiobotocore session itself they were context managers, and the
    install failed with an AttributeError): here the ledger's table does not exist, which in
    ship mode is a warning."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    guard = rds_guard.install(get_session(), policy=write_policy(tmp_path, LEDGER))
    try:
        assert "rds-guard-audit does not exist" in caplog.text
    finally:
        guard.uninstall()


def test_a_connection_error_is_unknown(moto_server: MotoServer, tmp_path: Path) -> None:
    """No answer came back: the call may or may not have happened."""
    body = 'version = 1\n[naming]\npattern = "^o.*$"\n[audit]\npath = "audit.jsonl"\n'
    session = guarded_session(tmp_path, body)

    async def work() -> None:
        async with rds_client(
            session,
            moto_server,
            url="http://127.0.0.1:9",
            retries={"max_attempts": 1},
            connect_timeout=2,
        ) as rds:
            with pytest.raises(EndpointConnectionError):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-1"
                )

    run(work)
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "unknown"]


def test_warn_mode_sends_a_call_whose_source_does_not_exist(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As the sync guard: in warn mode a failed look-up does not stop the call, which gets
    the service's own answer to it (CreateDBClusterSnapshot's error, not the read's)."""
    body = (
        'version = 1\nmode = "warn"\n[tags]\nrequired = ["team"]\n[audit]\npath = "audit.jsonl"\n'
    )
    session = guarded_session(tmp_path, body)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            with pytest.raises(ClientError) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="ordres", DBClusterSnapshotIdentifier="orders-1"
                )
            assert caught.value.operation_name == "CreateDBClusterSnapshot"
            assert caught.value.response["Error"]["Code"] == "DBClusterNotFoundFault"

    run(work)
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "failed"]


def test_installs_nest_and_uninstall_frees_the_client(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    make_cluster(moto_server.client("rds"))
    session = get_session()
    strict = rds_guard.install(session, policy=write_policy(tmp_path / "a", AUDITED))
    lenient = rds_guard.install(session, policy=write_policy(tmp_path / "b", DEFAULTS_ONLY))

    async def attempt(rds: Any, name: str) -> str:
        try:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
            )
        except rds_guard.PolicyViolation:
            return "blocked"
        return "sent"

    async def work() -> list[str]:
        async with rds_client(session, moto_server) as rds:
            seen = [await attempt(rds, "a-1")]
            lenient.uninstall()
            seen.append(await attempt(rds, "a-2"))
            strict.uninstall()
            seen.append(await attempt(rds, "a-3"))
            return seen

    assert run(work) == ["sent", "blocked", "sent"]


def test_many_tasks_on_one_client_write_one_unbroken_log(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)
    names = [f"orders-manual-{20261100 + n}" for n in range(40)]

    async def work() -> None:
        async with rds_client(session, moto_server, max_pool_connections=20) as rds:
            await asyncio.gather(
                *(
                    rds.create_db_cluster_snapshot(
                        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name
                    )
                    for name in names
                )
            )

    run(work)
    found = audit_records(tmp_path)
    assert len(found) == 2 * len(names)
    by_call: dict[str, list[str]] = {}
    for record in found:
        by_call.setdefault(record["call"], []).append(record["event"])
    assert sorted(by_call.values()) == [["requested", "created"]] * len(names)
    assert {r["snapshot"] for r in found} == set(names)
    assert audit.verify([tmp_path / "audit.jsonl"]).ok


def test_a_task_cancelled_after_its_answer_still_gets_its_outcome_record(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """With ``fsync = true`` an outcome record is written in one of the guard's worker
    threads. Tasks cancelled once the service has answered (a TaskGroup whose sibling
    failed, a timeout around a gather), while their records wait for a worker: each snapshot
    exists, so each call gets its `created` record all the same, and the caller its
    `CancelledError`."""
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED.replace("fsync = false", "fsync = true"))
    names = [f"orders-manual-{20261100 + n}" for n in range(8)]

    async def work() -> list[Any]:
        loop = asyncio.get_running_loop()
        answered, busy = asyncio.Event(), threading.Event()
        held: list[str] = []

        async def hold(params: Any = None, **_: Any) -> None:  # before the guard's after-call
            held.append("answered")
            await answered.wait()

        async with rds_client(session, moto_server, max_pool_connections=10) as rds:
            rds.meta.events.register_first("after-call.rds.CreateDBClusterSnapshot", hold)
            tasks = [
                asyncio.ensure_future(
                    rds.create_db_cluster_snapshot(
                        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name
                    )
                )
                for name in names
            ]
            while len(held) < len(names):
                await asyncio.sleep(0.01)
            taken = [workers(loop).submit(busy.wait) for _ in range(WORKERS)]  # every worker
            answered.set()
            await asyncio.sleep(0.2)  # every outcome record now waits for a worker
            for task in tasks:
                task.cancel()
            busy.set()
            await asyncio.gather(*map(asyncio.wrap_future, taken))
            return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = run(work)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
    assert moto_server.count("CreateDBClusterSnapshot") == len(names)
    found = audit_records(tmp_path)
    assert sorted(r["event"] for r in found) == ["created"] * 8 + ["requested"] * 8
    assert audit.verify([tmp_path / "audit.jsonl"]).ok


def test_a_task_cancelled_while_its_request_is_in_flight_leaves_the_next_calls_judged(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A task cancelled once its `requested` record is written and its request is on its
    way (held in ``before-send``): the caller gets its `CancelledError`, the log keeps the
    `requested` record with no outcome (docs/integrations.md: reconcile decides), and the
    call leaves nothing behind: the next calls of the same task, on the same client, are
    judged as their own (a compliant one completed with its tags, a bad one blocked)."""
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)
    first = "orders-manual-20261101"

    async def work() -> tuple[bool, dict[str, str], rds_guard.PolicyViolation]:
        on_its_way = asyncio.Event()

        async def hold(request: Any = None, **_: Any) -> None:
            if first in str(request.body):
                on_its_way.set()
                await asyncio.sleep(60)  # cancelled long before

        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register_first("before-send.rds.CreateDBClusterSnapshot", hold)
            task = asyncio.ensure_future(
                rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=first
                )
            )
            await on_its_way.wait()
            task.cancel()
            cancelled = isinstance(
                (await asyncio.gather(task, return_exceptions=True))[0], asyncio.CancelledError
            )
            made = await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
                )
            tags = {t["Key"]: t["Value"] for t in made["DBClusterSnapshot"]["TagList"]}
            return cancelled, tags, caught.value

    moto_server.reset_counts()
    cancelled, tags, blocked = run(work)
    assert cancelled
    assert tags == {"team": "core", "managed-by": "rds-guard"}
    assert [v.rule for v in blocked.violations] == ["identifier.pattern"]
    assert moto_server.count("CreateDBClusterSnapshot") == 1  # the cancelled one never left
    found = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert found == [
        ("requested", first),
        ("requested", GOOD),
        ("created", GOOD),
        ("blocked", "test2"),
    ]
    assert audit.verify([tmp_path / "audit.jsonl"]).ok


def test_a_request_whose_context_another_handler_replaced_is_still_held(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: a before-call handler gives the request a context of its
    own; a compliant call is recorded before and after, a renamed one never sent."""
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = guarded_session(tmp_path, AUDITED)

    def detach(params: dict[str, Any], **_: Any) -> None:
        params["context"] = {"tracing": "abc"}

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = "weekly"

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", detach)
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )
            rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", rename)
            with pytest.raises(rds_guard.PolicyViolation):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD[:-1] + "8"
                )

    run(work)
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    events = [r["event"] for r in audit_records(tmp_path)]
    assert events == ["requested", "created", "blocked"]


def test_a_call_stopped_at_request_created_is_not_the_next_requests_judgement(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: after a call blocked at ``request-created``, the task's next
    request, on a client whose guard was installed after its parameters were built, is
    judged by that guard into its own log, never held against the blocked call."""
    make_cluster(moto_server.client("rds"))
    session = get_session()
    first, second = tmp_path / "first", tmp_path / "second"

    def installing_late(client: Any, folder: Path) -> None:
        policy = write_policy(folder, AUDITED)

        def install(**_: Any) -> None:  # returns nothing: botocore takes a value as the answer
            rds_guard.install(client, policy=policy)

        client.meta.events.register("before-call.rds.CreateDBClusterSnapshot", install)

    async def work() -> None:
        async with (
            rds_client(session, moto_server) as blocked_on,
            rds_client(session, moto_server) as sent_on,
        ):
            installing_late(blocked_on, first)
            installing_late(sent_on, second)
            for client, name in ((blocked_on, GOOD), (sent_on, GOOD[:-1] + "8")):
                with pytest.raises(rds_guard.PolicyViolation):  # its tag can't be added now
                    await client.create_db_cluster_snapshot(
                        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
                    )

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [(r["event"], r["snapshot"]) for r in audit_records(first)] == [("blocked", GOOD)]
    assert [(r["event"], r["snapshot"]) for r in audit_records(second)] == [
        ("blocked", GOOD[:-1] + "8")
    ]


def test_a_describe_made_into_the_delete_of_a_held_snapshot_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: a before-call handler makes a DescribeDBClusters the delete
    of a snapshot on hold; it is judged as sent, blocked and recorded, nothing deleted."""
    held_snapshot(moto_server)
    session = guarded_session(tmp_path, HOLD_ONLY)

    async def turn(params: dict[str, Any], **_: Any) -> None:
        params["body"] = {
            "Action": "DeleteDBClusterSnapshot",
            "Version": "2014-10-31",
            "DBClusterSnapshotIdentifier": "held",
        }

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-call.rds.DescribeDBClusters", turn)
            with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.hold"):
                await rds.describe_db_clusters()

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    [blocked] = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_aiobotocores_own_presign_made_into_a_held_snapshots_delete_is_judged(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """As on a botocore client: aiobotocore's own ``generate_presigned_url(client, ...)`` of
    a DescribeDBClusters, made the delete of a snapshot on hold by a ``before-sign`` handler,
    is judged as it is signed, its look-up awaited: refused (enforce), or signed and recorded
    ``presigned`` as the delete (warn). Before, it was signed unjudged and unrecorded."""
    held_snapshot(moto_server)
    session = guarded_session(tmp_path, HOLD_ONLY, mode=mode)

    async def turn(request: Any, **_: Any) -> None:
        request.data.update(Action="DeleteDBClusterSnapshot", DBClusterSnapshotIdentifier="held")

    async def work() -> str:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-sign.rds.DescribeDBClusters", turn)
            presign = aiobotocore.signers.generate_presigned_url(rds, "describe_db_clusters")
            if mode == "warn":
                url: str = await presign
                return url
            with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.hold"):
                await presign
            return ""

    url = run(work)
    assert ("Action=DeleteDBClusterSnapshot" in url) == (mode == "warn")
    [record] = audit_records(tmp_path)
    event = "blocked" if mode == "enforce" else "presigned"
    assert (record["event"], record["operation"]) == (event, "DeleteDBClusterSnapshot")
    assert [v["rule"] for v in record["violations"]] == ["deletion.hold"]


def test_a_look_up_answered_at_before_call_blocks_the_delete_of_a_held_snapshot(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: a handler answers the guard's read of the held snapshot at
    before-call (no tags), so no request is made for it; that is no answer of the service's,
    the snapshot's facts are unread and the delete is blocked, nothing sent."""
    held_snapshot(moto_server)
    session = guarded_session(tmp_path, HOLD_ONLY)

    async def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        http = AioAWSResponse("https://rds.us-east-1.amazonaws.com/", 200, {}, None)
        listed = {"DBClusterSnapshotIdentifier": "held", "TagList": [], "Status": "available"}
        return http, {"DBClusterSnapshots": [listed]}

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-call.rds.DescribeDBClusterSnapshots", answer)
            with pytest.raises(rds_guard.PolicyViolation, match="answered with no request made"):
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="held")

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert moto_server.count("DescribeDBClusterSnapshots") == 0


def test_the_async_example_runs(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/async_snapshots.py against the moto server: one cluster passes (its tags
    inherited, the policy's added), one without tags is blocked, one that does not exist is
    reported as failed, and its error cancels no other call (each `requested` record has
    its outcome)."""
    import runpy

    rds = moto_server.client("rds")
    make_cluster(rds, "orders", copy_tags=True, tags={"team": "orders", "env": "prod"})
    make_cluster(rds, "legacy", copy_tags=True)
    example = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("RDS_GUARD_POLICY", str(example / "rds_guard.toml"))
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    main = runpy.run_path(str(example / "async_snapshots.py"))["main"]
    done = run(lambda: main(["orders", "legacy", "gone"]))
    assert len(done["created"]) == 1 and done["created"][0].startswith("orders-daily-")
    [blocked] = done["blocked"]
    assert blocked["cluster"] == "legacy"
    assert [v.split("]")[0] for v in blocked["violations"]] == ["[tags.required"] * 2
    assert done["failed"] == [{"cluster": "gone", "error": "DBClusterNotFoundFault"}]
    tags = snapshot_tags(rds, done["created"][0])
    assert tags["team"] == "orders" and tags["managed-by"] == "rds-guard"
    events = [r["event"] for r in audit_records(tmp_path)]
    assert events.count("blocked") == 1
    assert events.count("requested") == events.count("created") == 1


@pytest.mark.parametrize(
    ("operation", "params", "key", "field"),
    [
        ("delete_db_instance", {}, "SkipFinalSnapshot", "SkipFinalSnapshot"),
        ("modify_db_instance", {"ApplyImmediately": True}, "BackupRetentionPeriod", "Action"),
    ],
)
def test_a_documentdb_call_given_a_parameter_its_api_lacks_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, operation: str, params: dict[str, Any], key: str,
    field: str,
) -> None:  # fmt: skip
    """A before-call handler gives a DocumentDB client's instance delete ``SkipFinalSnapshot``
    (or its modify ``BackupRetentionPeriod=0``), which DocumentDB's API lacks and the endpoint
    the three services share reads as rds's: blocked, nothing sent, recorded."""
    make_instance(moto_server.client("rds"), "db1")
    session = get_session()
    rds_guard.install(session, policy=write_policy(tmp_path, BACKUPS, automated_backups="any"))
    name = "".join(part.title() for part in operation.split("_")).replace("Db", "DB")

    def give(params: dict[str, Any], **_: Any) -> None:
        params["body"][key] = "0" if key == "BackupRetentionPeriod" else "true"

    async def work() -> None:
        async with session.create_client(
            "docdb", region_name="us-east-1", endpoint_url=moto_server.url, **CREDENTIALS
        ) as docdb:
            docdb.meta.events.register(f"before-call.docdb.{name}", give)
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await getattr(docdb, operation)(DBInstanceIdentifier="db1", **params)
            assert [(v.rule, v.field) for v in caught.value.violations] == [
                ("request.changed", field)
            ]

    moto_server.reset_counts()
    run(work)
    assert moto_server.count(name) == 0
    assert [(r["event"], r["operation"]) for r in audit_records(tmp_path)] == [("blocked", name)]


def test_a_documentdb_presign_given_a_retention_its_api_lacks_signs_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-sign`` handler gives a DocumentDB ModifyDBInstance presign a
    ``BackupRetentionPeriod``, which its API lacks and the URL carries to the endpoint the
    three services share: refused, no URL, recorded."""
    session = get_session()
    rds_guard.install(session, policy=write_policy(tmp_path, BACKUPS))

    def give(request: Any, **_: Any) -> None:
        request.data["BackupRetentionPeriod"] = "0"

    async def work() -> None:
        async with session.create_client(
            "docdb", region_name="us-east-1", endpoint_url=moto_server.url, **CREDENTIALS
        ) as docdb:
            docdb.meta.events.register("before-sign.docdb.ModifyDBInstance", give)
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await docdb.generate_presigned_url(
                    "modify_db_instance", Params={"DBInstanceIdentifier": "db1"}
                )
            assert [(v.rule, v.field) for v in caught.value.violations] == [
                ("request.changed", "Action")
            ]

    run(work)
    assert [(r["event"], r["operation"]) for r in audit_records(tmp_path)] == [
        ("blocked", "ModifyDBInstance")
    ]

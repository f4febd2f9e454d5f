"""The request held once more as botocore signs it (``before-sign``): botocore calls an
event's handlers of the operation's name first, so a ``request-created`` handler under the
service's name runs after the guard's there, however early it was registered, and before
botocore's signer (itself such a handler) when it was registered on the session. Against
moto's server over HTTP, the requests counted there by action."""

from __future__ import annotations

import functools
import gc
import threading
import urllib.parse
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.signers
import pytest
from aws import REGION, audit_records, make_cluster, refreshing_as
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]
EVENT = "request-created.rds.CreateDBClusterSnapshot"


def _rename(request: Any, **_: Any) -> None:
    """A program's handler: the snapshot renamed in the request, after the guard held it."""
    request.data["DBClusterSnapshotIdentifier"] = "Not-Compliant"


def _on_the_session_under_the_service(session: Any, _: Any) -> None:
    session.events.register("request-created.rds", _rename)


def _on_the_session_last_under_the_operation(session: Any, _: Any) -> None:
    session.events.register_last(EVENT, _rename)


def _on_the_client_under_the_operation_after_the_guard(_: Any, rds: Any) -> None:
    rds.meta.events.register(EVENT, _rename)


PLACES: dict[str, Callable[[Any, Any], None]] = {
    "on the session before the install, under the service's name": (
        _on_the_session_under_the_service
    ),
    "on the session before the install, last under the operation's name": (
        _on_the_session_last_under_the_operation
    ),
    "on the client after the guard, under the operation's name": (
        _on_the_client_under_the_operation_after_the_guard
    ),
}
"""Where a program puts a handler botocore calls after the guard's ``request-created`` one and
before its signer (each ran unjudged before ``before-sign`` was held)."""


def _guarded(
    moto_server: MotoServer, tmp_path: Path, mode: str, place: Callable[[Any, Any], None]
) -> Any:
    """An rds client of a session guarded by `AUDITED` in ``mode``, the program's handler put
    in its ``place`` (on the session before the install, or on the client after)."""
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    moto_server.attach(session)
    if place is not _on_the_client_under_the_operation_after_the_guard:
        place(session, None)
    policy = write_policy(tmp_path, AUDITED, mode=mode)
    rds_guard.install(session, policy=policy)
    rds = moto_server.client("rds", session=session)
    if place is _on_the_client_under_the_operation_after_the_guard:
        place(session, rds)
    make_cluster(rds)
    moto_server.reset_counts()
    return rds


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_a_request_renamed_after_the_guard_held_it_is_blocked_before_it_is_signed(
    moto_server: MotoServer, tmp_path: Path, place: Callable[[Any, Any], None]
) -> None:
    """Each such handler renamed the request the guard had held and recorded, and it was
    signed and sent as renamed, its records saying ``requested orders-manual-20261129``, then
    ``created not-compliant``. Held again as it is signed, it is blocked, nothing sent."""
    rds = _guarded(moto_server, tmp_path, "enforce", place)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", GOOD),
        ("blocked", "not-compliant"),
        ("unknown", "not-compliant"),
    ]
    assert {v["rule"] for v in records[1]["violations"]} == {
        "identifier.pattern",
        "request.changed",
    }


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_in_warn_mode_the_renamed_request_goes_and_its_outcome_says_what_was_sent(
    moto_server: MotoServer, tmp_path: Path, place: Callable[[Any, Any], None]
) -> None:
    rds = _guarded(moto_server, tmp_path, "warn", place)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", GOOD),
        ("created", "not-compliant"),
    ]
    assert {v["rule"] for v in records[1]["violations"]} == {
        "identifier.pattern",
        "request.changed",
    }


def test_a_handler_there_that_changes_nothing_judged_is_left_alone(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``request-created`` handler on the session that sets a header: the request goes as
    it would, its records the usual two, the header sent."""
    headers: list[object] = []

    def header(request: Any, **_: Any) -> None:
        request.headers["X-Trace"] = "abc"

    def sent(request: Any, **_: Any) -> None:
        headers.append(request.headers.get("X-Trace"))

    def place(session: Any, _: Any) -> None:
        session.events.register("request-created.rds", header)
        session.events.register("before-send.rds.CreateDBClusterSnapshot", sent)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"] and headers == [b"abc"]
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"], r["violations"]) for r in records] == [
        ("requested", GOOD, []),
        ("created", GOOD, []),
    ]


def test_a_handler_that_makes_another_guarded_call_before_renaming_is_still_held(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The handler first makes another guarded call, whose request the guard holds in
    between: the request it then renames is still the one held again as it is signed."""
    clients: list[Any] = []

    def call_then_rename(request: Any, **_: Any) -> None:
        if request.data.get("DBClusterSnapshotIdentifier") != GOOD:
            return  # the other call's own request
        clients[0].create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-daily-20261129",
            Tags=TEAM,
        )
        _rename(request)

    def place(session: Any, _: Any) -> None:
        session.events.register("request-created.rds", call_then_rename)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    clients.append(rds)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]  # the other call's alone
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events == [
        ("requested", GOOD),
        ("requested", "orders-daily-20261129"),
        ("created", "orders-daily-20261129"),
        ("blocked", "not-compliant"),
        ("unknown", "not-compliant"),
    ]


def test_a_request_renamed_by_another_thread_between_the_hold_and_the_signer_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Another of the program's threads, given the request, renames it while the thread
    sending it is between the guard's hold and botocore's signer (let through by a handler
    there, and waited for): the guard's state of the request is its own, not the sending
    thread's, and the request is held again as it is signed: blocked, nothing sent."""
    waiting, renamed = threading.Event(), threading.Event()
    given: list[Any] = []

    def rename_when_given() -> None:
        waiting.wait(30)
        _rename(given[0])
        renamed.set()

    def let_the_other_thread_rename(request: Any, **_: Any) -> None:
        if request.data.get("DBClusterSnapshotIdentifier") != GOOD:
            return  # the cluster made first
        given.append(request)
        waiting.set()
        assert renamed.wait(30)

    other = threading.Thread(target=rename_when_given)
    other.start()
    rds = _guarded(
        moto_server,
        tmp_path,
        "enforce",
        lambda session, _: session.events.register(
            "request-created.rds", let_the_other_thread_rename
        ),
    )
    try:
        with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )
    finally:
        waiting.set()
        other.join(30)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
        ("requested", GOOD),
        ("blocked", "not-compliant"),
        ("unknown", "not-compliant"),
    ]


OTHER = "orders-daily-20261129"
CHANGED = "changed after rds_guard judged it: DBClusterSnapshotIdentifier"


def _new_context_and_rename(request: Any, **_: Any) -> None:
    """A program's handler: the request given a context of its own, and renamed (compliant)."""
    if request.data.get("DBClusterSnapshotIdentifier") == GOOD:
        request.context = {}
        request.data["DBClusterSnapshotIdentifier"] = OTHER


def _presign_through_the_wrapper(rds: Any) -> str:
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    url: str = rds.generate_presigned_url("create_db_cluster_snapshot", Params=params)
    return url


def _presign_past_the_wrapper(rds: Any) -> str:
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    url: str = botocore.signers.generate_presigned_url(
        rds, "create_db_cluster_snapshot", Params=params
    )
    return url


def test_a_request_given_a_context_of_its_own_and_renamed_is_held_as_the_call_it_was(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Held again as it is signed, a request another handler gave a context of its own (and a
    compliant new name) is the call ``request-created`` held, not a new one judged as sent:
    its outcome record says what was sent, and no ``requested`` record is left without one."""

    def place(session: Any, _: Any) -> None:
        session.events.register("request-created.rds", _new_context_and_rename)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    requested, created = audit_records(tmp_path)
    assert (requested["event"], requested["snapshot"]) == ("requested", GOOD)
    assert (created["event"], created["snapshot"], created["call"]) == (
        "created",
        OTHER,
        requested["call"],
    )
    assert CHANGED in created["notes"]


@pytest.mark.parametrize(
    "presign", [_presign_through_the_wrapper, _presign_past_the_wrapper], ids=["through", "past"]
)
def test_a_presign_given_a_context_of_its_own_as_it_is_signed_is_recorded_as_the_presign(
    moto_server: MotoServer, tmp_path: Path, presign: Callable[[Any], str]
) -> None:
    """A ``before-sign`` handler that runs before the guard's gives a presign a context of its
    own, and a compliant new name: the presign is held as itself, no call (no ``requested``
    record, which no request would follow), and its ``presigned`` record names what the URL
    carries; past the wrapper, it was signed with no ``presigned`` record at all."""

    def place(session: Any, _: Any) -> None:
        session.events.register("before-sign.rds.CreateDBClusterSnapshot", _new_context_and_rename)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    url = presign(rds)
    assert (
        dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))[
            "DBClusterSnapshotIdentifier"
        ]
        == OTHER
    )
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["snapshot"]) == ("presigned", OTHER)
    assert CHANGED in record["notes"]


def test_a_presign_past_the_wrapper_that_failed_before_signing_is_no_later_presigns(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presign past the wrapper that fails between its judgement and its signing (an
    endpoint that cannot be resolved) signs nothing and is recorded nowhere: a later presign
    of the operation is recorded as itself alone, and the guard is freed once uninstalled."""
    failing = [True]

    def unresolved(model: Any, **_: Any) -> None:
        if failing and model.name == "CreateDBClusterSnapshot":
            raise RuntimeError("no endpoint")

    def place(session: Any, _: Any) -> None:
        session.events.register("before-endpoint-resolution.rds", unresolved)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    with pytest.raises(RuntimeError, match="no endpoint"):
        _presign_past_the_wrapper(rds)
    failing.clear()
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": OTHER, "Tags": TEAM}
    rds.generate_presigned_url("create_db_cluster_snapshot", Params=params)
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["snapshot"], record["notes"]) == ("presigned", OTHER, [])
    assert record["expires"] is not None  # the wrapper's own, which knows its expiry


def test_a_guard_whose_presign_failed_before_signing_is_freed_once_uninstalled(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    def unresolved(**_: Any) -> None:
        raise RuntimeError("no endpoint")

    def place(session: Any, _: Any) -> None:
        session.events.register("before-endpoint-resolution.rds", unresolved)

    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    moto_server.attach(session)
    place(session, None)
    guard = rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    with pytest.raises(RuntimeError, match="no endpoint"):
        _presign_past_the_wrapper(moto_server.client("rds", session=session))
    freed = weakref.ref(guard)
    guard.uninstall()
    del guard, session
    gc.collect()
    assert freed() is None


def test_a_presign_through_the_wrapper_inside_one_past_it_is_each_its_own(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presign made with the client's method inside a handler of one made past it (of the
    same operation): each is held and recorded as itself, neither taken for the other, and
    neither for a call (no ``requested`` record: no request follows a presign)."""
    inner: list[str] = []

    def presign_inside(model: Any, **_: Any) -> None:
        if not inner and model.name == "CreateDBClusterSnapshot":
            inner.append("")  # the inner presign passes here too
            params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": OTHER}
            inner[0] = rds.generate_presigned_url(
                "create_db_cluster_snapshot", Params={**params, "Tags": TEAM}
            )

    def place(session: Any, _: Any) -> None:
        session.events.register("before-endpoint-resolution.rds", presign_inside)

    rds = _guarded(moto_server, tmp_path, "enforce", place)
    _presign_past_the_wrapper(rds)
    records = [(r["event"], r["snapshot"], r["notes"]) for r in audit_records(tmp_path)]
    assert sorted(records) == sorted([("presigned", GOOD, []), ("presigned", OTHER, [])])
    assert OTHER in inner[0] and moto_server.actions() == []


@pytest.mark.parametrize("rename", [True, False], ids=["renamed", "left as it was"])
def test_a_request_changed_while_the_signer_refreshes_its_credentials_is_held_again(
    moto_server: MotoServer, tmp_path: Path, rename: bool
) -> None:
    """botocore's signer reads the credentials after every ``before-sign`` handler, the
    guard's last look included: credentials due for a refresh make it wait there (a call to
    STS), while another thread that kept the request can rename it, and the signer signs the
    new name. The guard holds the request once more after the signer: blocked, nothing sent.
    Control: a refresh during which nothing changes sends the call as judged."""
    kept: list[Any] = []

    def change() -> None:
        if kept and rename:
            _rename(kept[0])

    rds = _guarded(
        moto_server,
        tmp_path,
        "enforce",
        lambda session, _: None,  # no handler of its own
    )
    rds._request_signer._credentials = refreshing_as(change)
    rds.meta.events.register(EVENT, lambda request, **_: kept.append(request))
    call = functools.partial(
        rds.create_db_cluster_snapshot,
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=TEAM,
    )
    if not rename:
        call()
        assert moto_server.actions() == ["CreateDBClusterSnapshot"]
        assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
        return
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        call()
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)][:2] == [
        ("requested", GOOD),
        ("blocked", "not-compliant"),
    ]

"""Edges of the client binding (`rds_guard.guard.binding`): what the guard reads of a
request or a presigned URL, and what it says of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore
import botocore.config
import botocore.exceptions
import pytest
from aws import audit_records, guarded_client, guarded_session, make_cluster, make_instance
from policies import AUDITED, BACKUPS, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard.records import CONTEXT_KEY

GOOD = "orders-manual-20261129"
BAD = "evil-snapshot"
OTHER = "orders-manual-20261130"
TEAM = [{"Key": "team", "Value": "core"}]


def test_a_retention_sent_as_other_text_is_a_change_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler sends the retention as text botocore never writes for an
    integer (``0.0``): how the service reads it cannot be judged, so the call is blocked as
    ``request.changed`` on the parameter, and nothing is sent."""
    rds = guarded_client(write_policy(tmp_path, BACKUPS), on=moto_server)
    make_instance(moto_server.client("rds"), "orders")

    def as_text(params: dict[str, Any], **_: Any) -> None:
        params["body"]["BackupRetentionPeriod"] = "0.0"

    rds.meta.events.register("before-call.rds.ModifyDBInstance", as_text)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=3)
    rules = [(v.rule, v.field) for v in caught.value.violations]
    assert ("request.changed", "BackupRetentionPeriod") in rules
    assert moto_server.count("ModifyDBInstance") == 0
    assert audit_records(tmp_path)[-1]["event"] == "blocked"


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_an_unsigned_presign_on_an_endpoint_with_a_query_is_its_plain_url(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """An ``UNSIGNED`` client whose endpoint URL has a query of its own: an unsigned presign
    of a compliant call is the endpoint's URL, that query and all, which carries no call; it
    is not read as one another handler changed. The plain client's URL, no violation."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED)
    endpoint = f"{moto_server.url}/?tenant=blue"
    rds = moto_server.client("rds", session=session, config=unsigned, endpoint_url=endpoint)
    plain = moto_server.client("rds", config=unsigned, endpoint_url=endpoint)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}

    def presign(client: Any) -> str:
        url: str = client.generate_presigned_url(
            "create_db_cluster_snapshot", Params=params, ExpiresIn=600
        )
        return url

    url = presign(rds)
    assert url == presign(plain)
    assert "tenant=blue" in url
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["violations"]) == ("presigned", [])


def test_a_request_given_an_ended_calls_context_is_held_as_its_own_call(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler keeps the first call's context and gives it to the next call's
    request: the first call ended, so its state is no judgement of the next one, which is
    held and recorded as itself (a ``requested`` and a ``created`` record of its own)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    kept: list[dict[str, Any]] = []

    def reuse(params: dict[str, Any], **_: Any) -> None:
        if kept:
            params["context"] = kept[0]
        else:
            kept.append(params["context"])

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", reuse)
    second = GOOD[:-1] + "8"
    for name in (GOOD, second):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
        )
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", GOOD),
        ("created", GOOD),
        ("requested", second),
        ("created", second),
    ]
    assert records[2]["call"] != records[0]["call"]


class Stopped(Exception):
    """A program's handler stopping a call before it is sent."""


def _state_put_in_a_later_call(
    moto_server: MotoServer, first: Any, later: Any, *, stop_first: bool, how: str = "before-call"
) -> BaseException | None:
    """``first`` makes a snapshot the policy forbids (`BAD`), its guard's state kept by a
    handler after the guard's judgement (which stops the call there when ``stop_first``);
    then a handler of ``later`` puts that state in a compliant call's context and renames its
    request to `BAD`: ``how`` says where (`PUT_STATE`). Returns what the later call raised
    (None: nothing)."""
    kept: dict[str, Any] = {}

    def keep(context: dict[str, Any], **_: Any) -> None:
        kept["state"] = context[CONTEXT_KEY]
        if stop_first:
            raise Stopped

    judged = "before-parameter-build.rds.CreateDBClusterSnapshot"  # after the guard's
    first.meta.events.register(judged, keep, unique_id="keep")
    with pytest.raises((Stopped, rds_guard.PolicyViolation)):
        first.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=BAD, Tags=TEAM
        )
    first.meta.events.unregister(judged, unique_id="keep")

    def put(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if how == "after a refused call":  # the call last judged here is not this one
            with pytest.raises(botocore.exceptions.ParamValidationError):
                later.delete_db_cluster_snapshot()
        context[CONTEXT_KEY] = kept["state"]
        params["body"]["DBClusterSnapshotIdentifier"] = BAD

    def put_at_retry(request_dict: dict[str, Any], attempts: int, **_: Any) -> Any:
        if attempts != 1:
            return None
        put(request_dict, request_dict["context"])
        return 0  # retry at once

    if how == "at a retry":
        later.meta.events.register_first("needs-retry.rds.CreateDBClusterSnapshot", put_at_retry)
    else:
        later.meta.events.register("before-call.rds.CreateDBClusterSnapshot", put)
    moto_server.reset_counts()
    try:
        later.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    except rds_guard.PolicyViolation as refused:
        return refused
    return None


PUT_STATE = ("before-call", "after a refused call", "at a retry")
"""Where a handler puts another call's state: at ``before-call``; there after a call of its
own that botocore refuses (the call last judged in the thread is then none of this one); in
the context of a retry it asks for at ``needs-retry``, once the first attempt is sent."""


def test_a_blocked_calls_state_put_in_another_calls_context_is_no_judgement_of_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler keeps the guard's state of a call it then blocks (its judgement: the
    forbidden name), and puts it in a compliant call's context, whose request it renames to
    that name: the blocked call is no judgement of that request, which is judged
    as it is sent: blocked, nothing sent, and no record says the name was made."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    refused = _state_put_in_a_later_call(moto_server, rds, rds, stop_first=False)
    assert refused is not None
    assert {"identifier.pattern", "request.changed"} <= {v.rule for v in refused.violations}
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "blocked"]


@pytest.mark.parametrize("how", PUT_STATE)
def test_a_warn_guards_state_put_in_an_enforcing_clients_call_is_no_judgement_of_it(
    moto_server: MotoServer, tmp_path: Path, how: str
) -> None:
    """The state of a call a warn-mode guard of another session judged (the forbidden name,
    warned about), kept by a handler that stopped that call before it was sent, put in a
    compliant call of an enforcing client whose request is renamed to that name: a state
    another client's binding keeps is no judgement of the request, which is judged as it is
    sent there: blocked, the name never sent; the warn guard's log has nothing of it."""
    warn_dir, enforce_dir = tmp_path / "warn", tmp_path / "enforce"
    warning = guarded_client(write_policy(warn_dir, AUDITED, mode="warn"), on=moto_server)
    rds = guarded_client(write_policy(enforce_dir, AUDITED), on=moto_server)
    make_cluster(rds)
    refused = _state_put_in_a_later_call(moto_server, warning, rds, stop_first=True, how=how)
    assert refused is not None
    assert "identifier.pattern" in {v.rule for v in refused.violations}
    names = [
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    ]
    assert BAD not in names
    events = [r["event"] for r in audit_records(enforce_dir)]
    if how == "at a retry":  # the first attempt went, as judged; the retry is no attempt of
        # it: judged as a call of its own, blocked, the first left pending (no outcome)
        assert moto_server.count("CreateDBClusterSnapshot") == 1 and GOOD in names
        assert events == ["requested", "blocked"]
    else:
        assert moto_server.count("CreateDBClusterSnapshot") == 0
        assert events == ["blocked"]
    assert audit_records(warn_dir) == []


def test_a_call_made_and_refused_inside_a_calls_handler_leaves_that_call_its_judgement(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-call`` handler of a compliant call makes a call of the same operation that
    botocore's validation refuses, and goes on: the outer call is held as what it was judged,
    sent, and recorded with no note of a change (the refused call, judged last in the thread,
    is not its judgement)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def nested(**_: Any) -> None:
        with pytest.raises(botocore.exceptions.ParamValidationError):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=OTHER, Tags=TEAM, No=1
            )

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", nested)
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"], r["notes"]) for r in records] == [
        ("requested", GOOD, []),
        ("created", GOOD, []),
    ]


def test_a_retry_given_a_new_context_after_its_call_was_sent_is_judged_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The first attempt is recorded ``requested`` and answered 503; a request-created handler
    put before the guard's gives the retry a context of its own (without the call): the
    call sent is no judgement of a request that reaches the guard with none, which is
    judged as it is sent and recorded as such."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    attempts: list[int] = []

    def on_retry(request: Any, **_: Any) -> None:
        attempts.append(1)
        if len(attempts) == 2:
            request.context = {}

    def unavailable(request: Any, **_: Any) -> Any:
        if len(attempts) == 1:
            return raw_response(request.url, 503, b"<Error><Code>Unavailable</Code></Error>")
        return None

    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", on_retry)
    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", unavailable)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert len(attempts) == 2
    first, retry, outcome = audit_records(tmp_path)
    assert [first["event"], retry["event"], outcome["event"]] == ["requested"] * 2 + ["created"]
    assert retry["call"] != first["call"] == outcome["call"]
    assert any("judged as it was sent" in note for note in retry["notes"])


@pytest.mark.parametrize("at", ["before-call", "a retry"])
@pytest.mark.parametrize("inner", ["blocked here", "stopped on a warn client"])
def test_a_call_made_inside_a_calls_handler_is_no_judgement_of_that_call(
    moto_server: MotoServer, tmp_path: Path, inner: str, at: str
) -> None:
    """A handler of a compliant call (at ``before-call``, or at ``needs-retry`` asking for a
    retry once the first attempt is sent) makes a call of the forbidden name inside it,
    which this guard blocks, or which a warn-mode guard of another client judges and the
    handler stops; then it takes the compliant call's state out of the context and renames
    the request. The call judged last in the thread is blocked, or another client's: no
    judgement of the request, which is judged as it is sent: blocked, the name never sent."""
    warn_dir, enforce_dir = tmp_path / "warn", tmp_path / "enforce"
    warning = guarded_client(write_policy(warn_dir, AUDITED, mode="warn"), on=moto_server)
    rds = guarded_client(write_policy(enforce_dir, AUDITED), on=moto_server)
    make_cluster(rds)

    def stop(**_: Any) -> None:
        raise Stopped

    warning.meta.events.register("before-call.rds.CreateDBClusterSnapshot", stop)

    def inside(params: dict[str, Any], context: dict[str, Any]) -> None:
        client = rds if inner == "blocked here" else warning
        with pytest.raises((rds_guard.PolicyViolation, Stopped)):
            client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=BAD, Tags=TEAM
            )
        context[CONTEXT_KEY] = None
        params["body"]["DBClusterSnapshotIdentifier"] = BAD

    def at_retry(request_dict: dict[str, Any], attempts: int, **_: Any) -> Any:
        if attempts != 1:
            return None
        inside(request_dict, request_dict["context"])
        return 0

    if at == "a retry":
        rds.meta.events.register_first("needs-retry.rds.CreateDBClusterSnapshot", at_retry)
    else:
        rds.meta.events.register(
            "before-call.rds.CreateDBClusterSnapshot",
            lambda params, context, **_: inside(params, context),
        )
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    names = [
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    ]
    assert BAD not in names
    assert moto_server.count("CreateDBClusterSnapshot") == (1 if at == "a retry" else 0)
    assert "requested" not in [
        r["event"] for r in audit_records(enforce_dir) if r["snapshot"] == BAD
    ]
    assert audit_records(warn_dir) == []

"""The guard inside aiobotocore, against the moto server over HTTP: presigns of a mapping
that is no dict, presigns past the client's wrapper or changed by a late handler, calls a
program's own handler completes, or another task changes while a look-up is awaited, and
outcome records read from the answer's HTTP status."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import types
import urllib.parse
from pathlib import Path
from typing import Any

import aiobotocore.signers
import pytest
from aio_helpers import CREDENTIALS, GOOD, TEAM, guarded_session, rds_client, run
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import get_session
from audit_helpers import records_of
from aws import (
    HANDED_ON,
    HOUSE_NAME,
    assert_a_copy_and_a_delete_of_its_own,
    audit_records,
    east_and_west,
    expiring_credentials,
    handing_on,
    held_snapshot,
    house_defaults,
    make_cluster,
    make_instance,
    snapshot_arn,
)
from botocore.exceptions import ClientError, ParamValidationError
from odd_values import EncodesAs
from policies import AUDITED, BACKUPS, DEFAULTS_ONLY, HOLD_ONLY, TEAM_REQUIRED, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.records import CONTEXT_KEY

HOLD = [{"Key": "legal-hold", "Value": "true"}]
HELD_AND_RENAMED = [
    ("deletion.hold", "Tags.legal-hold"),
    ("request.changed", "DBClusterSnapshotIdentifier"),
]
"""The verdict on a delete renamed to a snapshot on legal hold after the guard judged it."""


def _snapshots(server: MotoServer, tags: dict[str, list[dict[str, str]]]) -> Any:
    """A plain client of ``server``, cluster ``orders``, and its snapshots named in ``tags``,
    each with its tags."""
    plain = server.client("rds")
    make_cluster(plain)
    for name, its in tags.items():
        plain.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=its
        )
    return plain


def _names(plain: Any) -> set[str]:
    """The names of the manual cluster snapshots the service holds."""
    found = plain.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


@pytest.mark.parametrize("validation", [True, False])
def test_a_presign_of_a_mapping_that_is_no_dict_is_refused_and_signs_nothing(
    moto_server: MotoServer, tmp_path: Path, validation: bool
) -> None:
    """A read-only mapping handed to a guarded presign is refused as botocore's validation
    refuses it, whether the client validates or not: no URL, no record."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    params = types.MappingProxyType(
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    )

    async def work() -> None:
        async with rds_client(session, moto_server, parameter_validation=validation) as rds:
            with pytest.raises(ParamValidationError):
                await rds.generate_presigned_url(
                    "create_db_cluster_snapshot", Params=params, ExpiresIn=600
                )

    run(work)
    assert audit_records(tmp_path) == []


def test_a_call_the_programs_handler_completes_is_judged_ahead_of_its_request(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A call botocore's validation refuses at the guard's handler (no snapshot name) and the
    program's own later handler completes is judged once that handler has run, before its
    request is built: its record carries no note of a call judged only as it was sent."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, TEAM_REQUIRED.replace('"warn"', '"enforce"'))
    session.register("before-parameter-build.rds", house_defaults)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(DBClusterIdentifier="orders")

    run(work)
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert (requested["snapshot"], requested["tags"]) == (HOUSE_NAME, {"team": "core"})
    assert requested["violations"] == [] and requested["notes"] == []


def test_a_presign_past_the_wrapper_is_signed_as_judged_not_as_the_callers_string_encodes(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presign made with aiobotocore's own function (past the client's wrapper: its URL is
    never read) of a name whose own ``encode()`` gives another: the URL carries the name
    judged and recorded, not the one the caller's string would send."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    params = {
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": EncodesAs(GOOD, "weekly"),
        "Tags": TEAM,
    }

    async def work() -> str:
        async with rds_client(session, moto_server) as rds:
            url: str = await aiobotocore.signers.generate_presigned_url(
                rds, "create_db_cluster_snapshot", params
            )
            return url

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(run(work)).query)
    assert query["DBClusterSnapshotIdentifier"] == [GOOD]
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("presigned", GOOD)]


class _Body:
    """The raw body of a forged answer, read as aiobotocore reads one."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self) -> bytes:
        return self._data


def test_an_answer_whose_metadata_a_handler_takes_is_recorded_by_its_http_status(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The service answers a guarded create with a 503 (forged at ``before-send``, no
    retry), and a program's own ``after-call`` handler, ahead of the guard's, takes the
    answer's ``ResponseMetadata``: the outcome is still read from the HTTP status, so the
    record says ``unknown`` (the service failed: it may have taken effect), not ``failed``."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    body = (
        b'<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error>'
        b"<Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>busy</Message>"
        b"</Error><RequestId>r1</RequestId></ErrorResponse>"
    )

    def unavailable(request: Any, **_: Any) -> AioAWSResponse:
        return AioAWSResponse(request.url, 503, {}, _Body(body))

    def take_the_metadata(parsed: dict[str, Any], **_: Any) -> None:
        parsed.pop("ResponseMetadata", None)

    async def work() -> None:
        config = {"retries": {"total_max_attempts": 1}}
        async with rds_client(session, moto_server, **config) as rds:
            rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", unavailable)
            rds.meta.events.register_first(
                "after-call.rds.CreateDBClusterSnapshot", take_the_metadata
            )
            with pytest.raises(ClientError, match="ServiceUnavailable"):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
                )

    run(work)
    requested, ended = audit_records(tmp_path)
    assert (requested["event"], ended["event"]) == ("requested", "unknown")
    assert ended["error"] == {"code": "ServiceUnavailable", "message": "busy"}


def test_a_presign_a_late_handler_points_at_another_source_is_judged_on_its_look_up(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presign of a create from a cluster that passes its ``team`` tag on; a ``before-sign``
    handler points the request at a cluster without one. The URL is judged as signed, the
    cluster it names looked up (awaited): blocked for the missing tag as well as for the
    change, no URL returned."""
    rds = moto_server.client("rds")
    make_cluster(rds, "orders", copy_tags=True, tags={"team": "core"})
    make_cluster(rds, "payments", copy_tags=True)
    session = guarded_session(tmp_path, TEAM_REQUIRED.replace('"warn"', '"enforce"'))

    def to_payments(request: Any, **_: Any) -> None:
        request.data["DBClusterIdentifier"] = "payments"

    async def work() -> rds_guard.PolicyViolation:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-sign.rds.CreateDBClusterSnapshot", to_payments)
            with pytest.raises(rds_guard.PolicyViolation) as blocked:
                await rds.generate_presigned_url(
                    "create_db_cluster_snapshot",
                    Params={"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD},
                )
            return blocked.value

    moto_server.reset_counts()
    violation = run(work)
    assert [(v.rule, v.field) for v in violation.violations] == [
        ("tags.required", "Tags.team"),
        ("request.changed", "DBClusterIdentifier"),
    ]
    assert moto_server.actions() == ["DescribeDBClusters", "DescribeDBClusters"]
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["source"]) == ("blocked", "payments")


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_request_renamed_on_the_sessions_request_created_is_held_as_it_is_signed(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A ``request-created`` handler under the service's name, on the session: botocore calls
    it after the guard's (of the operation's name), and before the signer, which the client
    registers once made. Its rename is held again at ``before-sign``: blocked in enforce mode,
    nothing sent; in warn mode sent, the outcome record naming what was."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED, mode=mode)

    def rename(request: Any, **_: Any) -> None:
        request.data["DBClusterSnapshotIdentifier"] = "Not-Compliant"

    session.register("request-created.rds", rename)
    moto_server.reset_counts()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
            run(work)
        assert "CreateDBClusterSnapshot" not in moto_server.actions()
        outcomes = [("blocked", "not-compliant"), ("unknown", "not-compliant")]
    else:
        run(work)
        assert moto_server.actions() == ["CreateDBClusterSnapshot"]
        outcomes = [("created", "not-compliant")]
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [("requested", GOOD), *outcomes]
    assert "request.changed" in {v["rule"] for v in records[-1]["violations"]}


def test_a_request_signed_for_another_region_after_it_was_held_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``request-created`` handler on the client, after the guard's, that has the request
    signed for another region (moto's server, as AWS, acts on the region it is signed for):
    held again at ``before-sign``, ``request.changed`` on ``region``, nothing sent."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)

    def elsewhere(request: Any, **_: Any) -> None:
        request.context.setdefault("signing", {})["region"] = "us-west-2"

    moto_server.reset_counts()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("request-created.rds.CreateDBClusterSnapshot", elsewhere)
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] region"):
        run(work)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    records = audit_records(tmp_path)
    assert [r["event"] for r in records] == ["requested", "blocked", "unknown"]
    assert ("request.changed", "region") in {
        (v["rule"], v["field"]) for v in records[-1]["violations"]
    }


def test_copy_tags_turned_on_after_the_judgement_is_judged_with_the_source_tags_it_loses(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A later handler turns CopyTags on for a copy the guard gave its default to (AWS then
    copies no tag: the source's `team` is lost): judged again without the tags the guard
    added, its look-up awaited, ``request.changed`` on CopyTags, nothing sent."""
    plain = moto_server.client("rds")
    make_cluster(plain)
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="src", Tags=TEAM
    )
    session = guarded_session(tmp_path, DEFAULTS_ONLY)

    def copy_tags(params: dict[str, Any], **_: Any) -> None:
        params["body"]["CopyTags"] = "true"

    moto_server.reset_counts()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-call.rds.CopyDBClusterSnapshot", copy_tags)
            await rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier="src", TargetDBClusterSnapshotIdentifier=GOOD
            )

    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] CopyTags"):
        run(work)
    assert "CopyDBClusterSnapshot" not in moto_server.actions()


@pytest.mark.parametrize("rename", [True, False], ids=["renamed", "left as it was"])
def test_a_request_changed_while_the_signer_awaits_fresh_credentials_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, rename: bool
) -> None:
    """aiobotocore's signer awaits the credentials after every ``before-sign`` handler, the
    guard's last look included: credentials due for a refresh (expiring in five minutes,
    inside the mandatory refresh window) make it await a call to STS, while another task
    that kept the request renames it, and the signer signs the new name. The guard holds
    the request once more after the signer: blocked, nothing sent. Control: a refresh during
    which nothing changes sends the call as judged."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    kept: list[Any] = []

    async def refresh() -> dict[str, Any]:
        await asyncio.sleep(0)  # the call to STS, in which the program's other task runs
        if kept and rename:
            kept[0].data["DBClusterSnapshotIdentifier"] = "Not-Compliant"
        return expiring_credentials()

    moto_server.reset_counts()

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds._request_signer._credentials = AioRefreshableCredentials.create_from_metadata(
                await refresh(), refresh, "sts-assume-role"
            )
            rds.meta.events.register(
                "request-created.rds.CreateDBClusterSnapshot",
                lambda request, **_: kept.append(request),
            )
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    if not rename:
        run(work)
        assert moto_server.actions() == ["CreateDBClusterSnapshot"]
        assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
        return
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        run(work)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records][:2] == [
        ("requested", GOOD),
        ("blocked", "not-compliant"),
    ]


def test_a_blocked_calls_state_put_in_another_calls_context_is_no_judgement_of_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler keeps the guard's state of a call it then blocks (a name the policy forbids)
    and puts it in a compliant call's context, whose request a ``before-call`` handler
    renames to that name: the blocked call is no judgement of that request, which is judged
    as it is sent, blocked, and never sent."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED)
    forbidden = "evil-snapshot"
    kept: dict[str, Any] = {}

    def keep(context: dict[str, Any], **_: Any) -> None:
        kept.setdefault("state", context["rds_guard"])

    def put(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["rds_guard"] = kept["state"]
        params["body"]["DBClusterSnapshotIdentifier"] = forbidden

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", keep)
            with pytest.raises(rds_guard.PolicyViolation):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=forbidden, Tags=TEAM
                )
            rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", put)
            moto_server.reset_counts()
            with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
                )

    run(work)
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "blocked"]


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_skip_a_handler_sends_as_text_is_request_changed_as_on_a_sync_client(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A ``before-call`` handler drops a delete's final snapshot and sends ``SkipFinalSnapshot``
    as ``True``, text the guard cannot judge (docs/failures.md): the async client judged the
    request again first, whose look-up botocore's validation refused, so the call raised
    `ParamValidationError` with no record, in warn mode too. As on a sync client: enforce
    blocks it (``request.changed``, recorded, nothing sent), warn sends it and records it."""
    make_instance(moto_server.client("rds"), "orders-1")
    session = get_session()
    rds_guard.install(session, policy=write_policy(tmp_path, BACKUPS, mode=mode))

    def skip_the_snapshot(params: dict[str, Any], **_: Any) -> None:
        params["body"].pop("FinalDBSnapshotIdentifier", None)
        params["body"]["SkipFinalSnapshot"] = "True"

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register("before-call.rds.DeleteDBInstance", skip_the_snapshot)
            call = rds.delete_db_instance(
                DBInstanceIdentifier="orders-1",
                FinalDBSnapshotIdentifier="orders-1-final-20261202",
                DeleteAutomatedBackups=False,
            )
            if mode == "warn":
                await call
                return
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await call
            changed = [(v.rule, v.field, v.value) for v in caught.value.violations]
            assert ("request.changed", "SkipFinalSnapshot", "True") in changed

    moto_server.reset_counts()
    run(work)
    sent = moto_server.count("DeleteDBInstance")
    events = [record["event"] for record in audit_records(tmp_path)]
    if mode == "warn":
        assert (sent, events) == (1, ["requested", "unknown"])
    else:
        assert (sent, events) == (0, ["blocked"])


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_compliant_call_of_a_query_signing_client_goes_as_on_a_sync_client(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A client that signs its calls as presigns are signed (``v4-query``): the signer's move
    of the body into the URL's query was read, once signed, as a query another handler gave
    the request, and every compliant call refused (warn: recorded as ``request.changed``)."""
    make_cluster(moto_server.client("rds"))
    session = guarded_session(tmp_path, AUDITED, mode=mode)

    async def work() -> None:
        async with rds_client(session, moto_server, signature_version="v4-query") as rds:
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
            )

    moto_server.reset_counts()
    run(work)
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    records = audit_records(tmp_path)
    assert [(r["event"], r["violations"]) for r in records] == [
        ("requested", []),
        ("created", []),
    ]


@pytest.mark.parametrize("renamer", ["sync", "async"])
def test_a_call_another_task_renames_while_the_last_look_up_is_awaited_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, renamer: str
) -> None:
    """The delete of ``asked`` (on hold) is mended by the program's ``before-parameter-build``
    handler, after the guard's, into a delete of ``free``, and judged again at the guard's
    last handler, which awaits the look-up of ``free``; meanwhile another task renames the
    call's ``params`` ``held`` (on hold). The decision read the renamed ``params`` with the
    facts of ``free``, and took ``held`` for judged: it was deleted. The last handler decides
    on its own copy: the rename is held at request-created, ``held`` looked up, blocked."""
    plain = _snapshots(moto_server, {"asked": HOLD, "free": [], "held": HOLD})
    session = guarded_session(tmp_path, HOLD_ONLY)
    kept: list[dict[str, Any]] = []
    looking_up = asyncio.Event()

    def mend(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = "free"
        kept.append(params)

    async def mend_awaiting(params: dict[str, Any], **_: Any) -> None:
        await asyncio.sleep(0)
        mend(params)

    async def other_task() -> None:
        await looking_up.wait()
        kept[0]["DBClusterSnapshotIdentifier"] = "held"

    async def work() -> list[tuple[str, str]]:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register(
                "before-parameter-build.rds.DeleteDBClusterSnapshot",
                mend if renamer == "sync" else mend_awaiting,
            )
            rds.meta.events.register(
                "before-send.rds.DescribeDBClusterSnapshots",
                lambda **_: looking_up.set() if kept else None,
            )
            task = asyncio.create_task(other_task())
            try:
                with pytest.raises(rds_guard.PolicyViolation) as caught:
                    await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="asked")
            finally:
                task.cancel()
            return [(v.rule, v.field) for v in caught.value.violations]

    moto_server.reset_counts()
    assert run(work) == HELD_AND_RENAMED
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert _names(plain) == {"asked", "free", "held"}
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("blocked", "held")]


@pytest.mark.parametrize("mender", ["after the last handler", "taking the guard's state"])
def test_a_call_mended_after_the_guards_last_handler_is_judged_as_it_is_sent(
    moto_server: MotoServer, tmp_path: Path, mender: str
) -> None:
    """A call botocore's validation refuses at the guard's last ``before-parameter-build``
    handler (a parameter the API lacks) that a handler registered after it mends, or one
    before it that also takes the guard's state from the context, was sent unjudged: a
    snapshot on legal hold deleted. It is judged as it is sent, its look-up awaited:
    blocked, nothing sent."""
    held_snapshot(moto_server)
    session = guarded_session(tmp_path, HOLD_ONLY)

    def mend(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params.pop("Bogus", None)
        if mender == "taking the guard's state":
            context.pop(CONTEXT_KEY, None)

    async def work() -> list[str]:
        async with rds_client(session, moto_server) as rds:
            if mender == "after the last handler":
                rds.meta.events.register_last("before-parameter-build", mend)
            else:
                rds.meta.events.register("before-parameter-build", mend)
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="held", Bogus=1)
            return [v.rule for v in caught.value.violations]

    moto_server.reset_counts()
    assert run(work) == ["deletion.hold"]
    assert moto_server.actions() == ["DescribeDBClusterSnapshots"]
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


class _Refused(Exception):
    """A ``before-send`` handler's error: the delete is never sent."""


@pytest.mark.parametrize("kept_as", ["answered before it was sent", "copied once requested"])
def test_a_state_of_a_call_that_never_deleted_does_not_carry_its_verdict_to_another(
    moto_server: MotoServer, tmp_path: Path, kept_as: str
) -> None:
    """As on a botocore client: the guard's state of an allowed delete of ``old`` that a
    ``before-call`` handler answered, or a deep copy of it taken once it was requested (its
    request then refused at ``before-send``), put with its body in the delete of ``decoy`` once
    ``old`` is on hold, carried the old verdict: ``old`` deleted. The request is judged as it
    is sent, its look-up awaited: blocked, nothing sent."""
    plain = _snapshots(moto_server, {"old": [], "decoy": []})
    arn = snapshot_arn(plain, "old")
    session = guarded_session(tmp_path, HOLD_ONLY)
    kept: dict[str, Any] = {}

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        kept["body"], kept["context"] = dict(params["body"]), context
        if kept_as == "answered before it was sent":
            kept["call"] = context[CONTEXT_KEY]
            return types.SimpleNamespace(status_code=200), {"DBClusterSnapshot": {}}
        return None

    def refuse(**_: Any) -> None:  # an older aiobotocore's request here has no context
        kept["call"] = copy.deepcopy(kept["context"][CONTEXT_KEY])
        raise _Refused

    def put_back(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params["body"], context[CONTEXT_KEY] = dict(kept["body"]), kept["call"]

    async def work() -> list[str]:
        async with rds_client(session, moto_server) as rds:
            events, delete = rds.meta.events, "DeleteDBClusterSnapshot"
            events.register(f"before-call.rds.{delete}", keep, unique_id="keep")
            events.register_first(f"before-send.rds.{delete}", refuse, unique_id="refuse")
            with contextlib.suppress(_Refused):
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="old")
            events.unregister(f"before-call.rds.{delete}", unique_id="keep")
            events.unregister(f"before-send.rds.{delete}", unique_id="refuse")
            plain.add_tags_to_resource(ResourceName=arn, Tags=HOLD)
            events.register(f"before-call.rds.{delete}", put_back)
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="decoy")
            return [v.rule for v in caught.value.violations]

    moto_server.reset_counts()
    assert "deletion.hold" in run(work)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert _names(plain) == {"old", "decoy"}


@pytest.mark.parametrize("given", HANDED_ON)
def test_a_call_in_flight_put_in_another_call_is_no_attempt_of_it(
    moto_server: MotoServer, tmp_path: Path, given: str
) -> None:
    """As on a botocore client: from a coroutine handling ``before-send`` of an allowed delete
    of ``old``, a program awaits a delete of ``decoy`` whose request it gives the first call's
    state and body, a deep copy of that state taken before it was sent, or the first call's
    whole context: that request went as a retry of the first, unrecorded. It is judged as it
    is sent and recorded as its own call; the first's answer is recorded as its own but for
    the whole context (its call left pending)."""
    plain = _snapshots(moto_server, {"old": [], "decoy": []})
    session = guarded_session(tmp_path, HOLD_ONLY)
    delete, (first, keep, hand_on) = "DeleteDBClusterSnapshot", handing_on(given)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:

            async def another_call(**_: Any) -> None:
                if "call" not in first:
                    first["call"] = first["context"][CONTEXT_KEY]
                    await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="decoy")

            rds.meta.events.register(f"before-call.rds.{delete}", keep)
            rds.meta.events.register(f"before-call.rds.{delete}", hand_on)
            rds.meta.events.register(f"before-send.rds.{delete}", another_call)
            if given == "its whole context":
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="old")
                return
            with pytest.raises(ClientError, match="NotFound"):
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="old")

    moto_server.reset_counts()
    run(work)
    second = "decoy" if given == "its whole context" else "old"
    assert moto_server.count(delete) == 2
    assert _names(plain) == ({"decoy"} if second == "old" else set())
    calls = [(r["event"], r["call"], r["snapshot"]) for r in records_of(tmp_path / "audit.jsonl")]
    first_call, second_call = calls[0][1], calls[1][1]
    assert first_call != second_call
    assert calls == [
        ("requested", first_call, "old"),
        ("requested", second_call, second),
        ("deleted", second_call, second),
        *([("failed", first_call, "old")] if second == "old" else []),
    ]


def test_a_retry_of_another_call_given_a_call_in_flight_is_no_attempt_of_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: from a coroutine handling ``before-send`` of an allowed delete
    of ``old``, a program awaits a delete of ``decoy``, answers its first attempt 500 and gives
    its context the first call's state. aiobotocore's retry of it is judged as it is sent and
    recorded as a call of its own, not as a later attempt of the first."""
    plain = _snapshots(moto_server, {"old": [], "decoy": []})
    session = guarded_session(tmp_path, HOLD_ONLY)
    delete = "DeleteDBClusterSnapshot"
    contexts: list[dict[str, Any]] = []
    first: dict[str, Any] = {}

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:

            def keep(context: dict[str, Any], **_: Any) -> None:
                contexts.append(context)

            async def another_call(request: Any, **_: Any) -> Any:
                if "call" not in first:
                    first["call"] = contexts[0][CONTEXT_KEY]
                    await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="decoy")
                elif "answered" not in first:  # the other call's first attempt
                    first["answered"] = contexts[1][CONTEXT_KEY] = first["call"]
                    return AioAWSResponse(request.url, 500, {}, _Body(b""))
                return None

            rds.meta.events.register(f"before-call.rds.{delete}", keep)
            rds.meta.events.register(f"before-send.rds.{delete}", another_call)
            await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="old")

    moto_server.reset_counts()
    run(work)
    assert moto_server.count(delete) == 2
    assert _names(plain) == set()
    calls = [(r["event"], r["call"], r["snapshot"]) for r in records_of(tmp_path / "audit.jsonl")]
    old_call = calls[0][1]
    decoy_call = next(call for event, call, name in calls if event == "deleted" and name == "decoy")
    assert decoy_call != old_call and ("requested", decoy_call, "decoy") in calls
    assert calls[0] == ("requested", old_call, "old") and calls[-1] == ("deleted", old_call, "old")
    assert [event for event, call, _ in calls if call == old_call] == ["requested", "deleted"]


def test_a_call_made_in_a_cross_region_copys_handler_given_its_state_is_recorded_as_itself(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """As on a botocore client: a cross-region copy is requested as aiobotocore presigns its
    source URL, at ``before-call``; a program's ``before-call`` coroutine after it takes the
    copy's state and awaits a delete whose context it gives that state. The delete is judged
    as it is sent and recorded as its own call; the copy's own request is the copy's."""
    east = east_and_west(moto_server, GOOD)
    session = guarded_session(tmp_path, AUDITED)
    kept: dict[str, Any] = {}

    async def work() -> None:
        async with session.create_client(
            "rds", region_name="us-west-2", endpoint_url=moto_server.url, **CREDENTIALS
        ) as west:

            def give(context: dict[str, Any], **_: Any) -> None:
                context[CONTEXT_KEY] = kept["copy"]

            async def another_call(context: dict[str, Any], **_: Any) -> None:
                if "copy" not in kept:
                    kept["copy"] = context[CONTEXT_KEY]
                    west.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", give)
                    await west.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="victim")

            west.meta.events.register("before-call.rds.CopyDBClusterSnapshot", another_call)
            with contextlib.suppress(ClientError):  # moto's own answer to a cross-region copy
                await west.copy_db_cluster_snapshot(
                    SourceDBClusterSnapshotIdentifier=snapshot_arn(east, GOOD),
                    TargetDBClusterSnapshotIdentifier=f"{GOOD}-copy",
                    SourceRegion="us-east-1",
                    Tags=TEAM,
                )

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("CopyDBClusterSnapshot") == 1
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    assert_a_copy_and_a_delete_of_its_own(records_of(tmp_path / "audit.jsonl"))


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_name_a_later_handler_prefixes_is_read_as_it_is_sent(
    moto_server: MotoServer, tmp_path: Path, kind: str
) -> None:
    """As on a botocore client: a ``before-parameter-build`` handler of the delete (a
    function or a coroutine) puts a prefix before the name it is given, after the guard's
    first look, whose read of the name given fails: the call is judged as every handler
    left it, the snapshot read under its own name, and deleted as on a bare client."""
    plain = _snapshots(moto_server, {"acme-other": []})
    session = guarded_session(tmp_path, HOLD_ONLY)

    def prefix(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = "acme-" + params["DBClusterSnapshotIdentifier"]

    async def prefix_later(params: dict[str, Any], **_: Any) -> None:
        await asyncio.sleep(0)
        prefix(params)

    async def work() -> None:
        async with rds_client(session, moto_server) as rds:
            event = "before-parameter-build.rds.DeleteDBClusterSnapshot"
            rds.meta.events.register(event, prefix if kind == "sync" else prefix_later)
            await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="other")

    moto_server.reset_counts()
    run(work)
    assert moto_server.count("DeleteDBClusterSnapshot") == 1 and _names(plain) == set()
    records = [(r["event"], r["snapshot"]) for r in records_of(tmp_path / "audit.jsonl")]
    assert records == [("requested", "acme-other"), ("deleted", "acme-other")]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("value", [True, 5], ids=["True", "5"])
def test_a_snapshot_renamed_in_the_body_to_no_text_is_judged_as_the_text_sent(
    moto_server: MotoServer, tmp_path: Path, value: object, kind: str
) -> None:
    """As on a botocore client: a ``before-call`` handler (a function or a coroutine) puts a
    bool or a number in the body in place of the name judged, which is sent as its text and
    names a snapshot on legal hold. Read as that name and judged: blocked, nothing sent."""
    _snapshots(moto_server, {"orders-manual-1": [], str(value): HOLD})
    session = guarded_session(tmp_path, HOLD_ONLY)

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = value

    async def rename_awaiting(params: dict[str, Any], **_: Any) -> None:
        await asyncio.sleep(0)
        rename(params)

    async def work() -> list[tuple[str, str]]:
        async with rds_client(session, moto_server) as rds:
            rds.meta.events.register(
                "before-call.rds.DeleteDBClusterSnapshot",
                rename if kind == "sync" else rename_awaiting,
            )
            with pytest.raises(rds_guard.PolicyViolation) as caught:
                await rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-manual-1")
            return [(v.rule, v.field) for v in caught.value.violations]

    moto_server.reset_counts()
    assert run(work) == HELD_AND_RENAMED
    assert moto_server.count("DeleteDBClusterSnapshot") == 0

"""A presigned URL of a guarded operation is judged like a call and leaves a `presigned`
record before the URL is returned; using the URL is what the record stands for."""

from __future__ import annotations

import copy
import gc
import inspect
import urllib.error
import urllib.parse
import urllib.request
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.config
import botocore.session
import botocore.signers
import pytest
from aws import audit_records, guarded_client, guarded_session, make_cluster, snapshot_tags
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.records import CONTEXT_KEY

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


def presign(client: Any, **params: Any) -> str:
    url: str = client.generate_presigned_url(
        "create_db_cluster_snapshot", Params=params, ExpiresIn=600
    )
    return url


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_presigned_create_is_recorded_before_the_url_is_returned(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    before = datetime.now(UTC)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    url = rds.generate_presigned_url("create_db_cluster_snapshot", Params=params, ExpiresIn=600)
    # DESIGN: the caller's own objects are never changed (the URL carries the policy's tag)
    assert params["Tags"] == TEAM and len(params) == 3
    (record,) = audit_records(tmp_path)
    assert record["event"] == "presigned"
    assert record["snapshot"] == GOOD
    assert record["tags"] == {"team": "core", "managed-by": "rds-guard"}
    expires = datetime.fromisoformat(record["expires"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=590) <= expires <= datetime.now(UTC) + timedelta(seconds=610)
    line = (tmp_path / "audit.jsonl").read_text()
    query = urllib.parse.urlsplit(url).query
    signature = dict(urllib.parse.parse_qsl(query))["X-Amz-Signature"]
    assert signature not in line and "X-Amz" not in line and url not in line
    # the URL carries the policy's tags: using it makes the compliant snapshot
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert get(url) == 200
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert snapshot_tags(rds, GOOD) == {"team": "core", "managed-by": "rds-guard"}


def test_presigning_twice_with_one_params_dict_leaves_it_as_it_was(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """DESIGN §5.6: the caller's own objects are never mutated. The dict (and the list and
    dicts in it) is as the caller wrote it after a presign; presigned again with it, the
    policy's tag is added again, and recorded as added."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    before = copy.deepcopy(params)
    for _ in range(2):
        rds.generate_presigned_url("create_db_cluster_snapshot", Params=params, ExpiresIn=60)
        assert params == before
    assert [r["injected"] for r in audit_records(tmp_path)] == [["managed-by"], ["managed-by"]]


@pytest.mark.parametrize(
    ("expires_in", "expires"),
    [(10**12, "9999-12-31T23:59:59Z"), (-(10**12), "0001-01-01T00:00:00Z")],
    ids=["past-9999", "before-year-1"],
)
def test_a_presign_valid_beyond_the_calendar_is_recorded_and_gets_its_url(
    moto_server: MotoServer, tmp_path: Path, expires_in: int, expires: str
) -> None:
    """botocore signs a URL for any ``ExpiresIn``: one past the years a datetime holds gets
    its URL as without the guard (the same ``X-Amz-Expires``), and its record the last (or
    first) second there is."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    url = rds.generate_presigned_url(
        "create_db_cluster_snapshot", Params=params, ExpiresIn=expires_in
    )
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["expires"]) == ("presigned", expires)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["X-Amz-Expires"] == str(expires_in)


@pytest.mark.parametrize(
    ("expires_in", "seconds"),
    [(None, 3600), ("60", 60), (600, 600), (60.5, None), ("soon", None)],
    ids=["none-is-an-hour", "text", "int", "float", "not-a-number"],
)
def test_a_presigns_record_holds_the_expiry_its_url_carries(
    moto_server: MotoServer, tmp_path: Path, expires_in: Any, seconds: int | None
) -> None:
    """botocore signs ``ExpiresIn=None`` as an hour and ``"60"`` as 60 seconds; the record
    said ``expires: null`` for both, so reconcile kept such a URL pending for ever, never
    expired. The record holds what the URL carries (``X-Amz-Expires``), and null only where
    that is no whole number of seconds."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    before = datetime.now(UTC).replace(microsecond=0)
    url = rds.generate_presigned_url(
        "create_db_cluster_snapshot", Params=params, ExpiresIn=expires_in
    )
    after = datetime.now(UTC)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    (record,) = audit_records(tmp_path)
    if seconds is None:
        assert record["expires"] is None
        return
    assert query["X-Amz-Expires"] == str(seconds)
    expires = datetime.fromisoformat(record["expires"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=seconds) <= expires <= after + timedelta(seconds=seconds)


@pytest.mark.parametrize("digits", [30, 5000], ids=["30-digits", "past-pythons-int-limit"])
def test_a_presign_valid_for_more_seconds_than_a_number_holds_expires_at_the_calendars_end(
    moto_server: MotoServer, tmp_path: Path, digits: int
) -> None:
    """``ExpiresIn`` as text of thousands of digits, which botocore signs as it is: the URL
    and its record, expiring at the calendar's last second (as an integer that large does);
    not a `ValueError` from converting the digits."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    url = rds.generate_presigned_url(
        "create_db_cluster_snapshot", Params=params, ExpiresIn="9" * digits
    )
    assert "X-Amz-Expires=" + "9" * digits in url
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["expires"]) == ("presigned", "9999-12-31T23:59:59Z")


def test_a_presign_whose_record_cannot_be_written_gets_no_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The record comes before the URL: with a directory where the log goes, the caller
    gets `AuditError`, and no URL to make the snapshot with."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    (tmp_path / "audit.jsonl").mkdir()
    with pytest.raises(rds_guard.AuditError):
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)


def test_a_non_compliant_presign_is_blocked_and_no_url_is_made(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    with pytest.raises(rds_guard.PolicyViolation):
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2")
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_a_late_handler_changing_a_presign_is_judged_on_the_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def drop_tags(params: dict[str, Any], **_: Any) -> None:
        params.pop("Tags", None)

    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", drop_tags)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    assert "request.changed" in [v.rule for v in caught.value.violations]
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


@pytest.mark.parametrize("inner", ["blocked", "compliant"])
@pytest.mark.parametrize("outer", ["CreateDBClusterSnapshot", "DescribeDBClusters"])
def test_a_presign_made_past_the_wrapper_inside_anothers_handlers_is_judged(
    moto_server: MotoServer, tmp_path: Path, inner: str, outer: str
) -> None:
    """A handler of a presign made with the client's method presigns another call with
    botocore's own function: that one is judged and recorded as a presign past the wrapper
    (blocked, or its ``presigned`` record written before its URL exists), not taken for the
    first. Inside a presign of an operation the guard does not judge, or in a handler that
    runs before the guard's first one, the inner presign was taken for the wrapper's own:
    signed with no record, and the outer URL refused as ``request.changed``."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    name = "test2" if inner == "blocked" else GOOD[:-1] + "8"
    urls: list[str] = []

    def presign_another(context: dict[str, Any], **_: Any) -> None:
        if context.get("is_presign_request") and not urls:
            urls.append("")
            params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": name}
            urls.append(
                botocore.signers.generate_presigned_url(
                    rds, "create_db_cluster_snapshot", Params={**params, "Tags": TEAM}
                )
            )

    if outer == "DescribeDBClusters":
        rds.meta.events.register("before-parameter-build.rds.DescribeDBClusters", presign_another)
        if inner == "blocked":
            with pytest.raises(rds_guard.PolicyViolation, match="test2"):
                rds.generate_presigned_url("describe_db_clusters")
            assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]
            return
        assert "Action=DescribeDBClusters" in rds.generate_presigned_url("describe_db_clusters")
        assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
            ("presigned", name)
        ]
        return
    rds.meta.events.register_first("before-parameter-build.rds", presign_another)
    if inner == "blocked":
        with pytest.raises(rds_guard.PolicyViolation, match="test2"):
            presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
        assert urls == [""] and [r["event"] for r in audit_records(tmp_path)] == ["blocked"]
        return
    presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    records = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert records == [("presigned", name), ("presigned", GOOD)]


@pytest.mark.parametrize("taken", ["is_presign_request", "state popped", "state None"])
@pytest.mark.parametrize("name", ["weekly", GOOD[:-1] + "8"])
def test_a_presign_past_the_wrapper_whose_context_a_handler_empties_is_still_judged(
    moto_server: MotoServer, tmp_path: Path, taken: str, name: str
) -> None:
    """A handler after the guard's renames the snapshot of a presign made with botocore's own
    function and takes out of the context botocore's mark of a presign, or the guard's state:
    no request follows to hold, and the presign is judged all the same at the last
    ``before-parameter-build`` handler (blocked, no URL; or recorded with the name signed)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def rename_and_take(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = name
        if taken == "is_presign_request":
            context.pop("is_presign_request")
        elif taken == "state popped":
            context.pop(CONTEXT_KEY)
        else:
            context[CONTEXT_KEY] = None

    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", rename_and_take)
    assert_a_renamed_presign_past_the_wrapper_is_judged(rds, tmp_path, name)


def assert_a_renamed_presign_past_the_wrapper_is_judged(
    rds: Any, tmp_path: Path, name: str
) -> None:
    """A presign of `GOOD` made with botocore's own function, which a handler renames to
    ``name``: blocked with no URL (``weekly``), or signed under ``name`` and recorded; a later
    call of another operation is taken for no presign."""
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    if name == "weekly":
        with pytest.raises(rds_guard.PolicyViolation, match="weekly"):
            botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
        assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
            ("blocked", "weekly")
        ]
        return
    url = botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["DBClusterSnapshotIdentifier"] == [name]
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("presigned", name)]
    rds.describe_db_clusters()  # another operation's last handler takes no presign for its own
    assert len(audit_records(tmp_path)) == 1


@pytest.mark.parametrize("where", ["session, before the install", "client, after it"])
@pytest.mark.parametrize("name", ["weekly", GOOD[:-1] + "8"])
def test_a_presign_past_the_wrapper_whose_mark_a_first_handler_takes_is_still_judged(
    moto_server: MotoServer, tmp_path: Path, where: str, name: str
) -> None:
    """A handler registered first (before any of the guard's) takes botocore's
    ``is_presign_request`` out of the context of a presign made with botocore's own function,
    and renames its snapshot: the presign does not pass for a call (which ``request-created``
    would hold, and none follows a presign). Blocked with no URL, or recorded as signed."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    moto_server.attach(session)

    def take_the_mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context.pop("is_presign_request", None)
        params["DBClusterSnapshotIdentifier"] = name

    event = "provide-client-params.rds.CreateDBClusterSnapshot"
    if where.startswith("session"):
        session.events.register_first(event, take_the_mark)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = moto_server.client("rds", session=session)
    if where.startswith("client"):
        rds.meta.events.register_first(event, take_the_mark)
    make_cluster(rds)
    assert_a_renamed_presign_past_the_wrapper_is_judged(rds, tmp_path, name)


def test_a_presign_past_an_instance_wrapper_whose_mark_a_first_handler_takes_is_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``generate_presigned_url`` set on the client itself (wrapped where it is): the
    client's class is the guard's all the same, and a presign made with botocore's own
    function whose mark a first handler takes is recorded, not taken for a call."""
    rds = moto_server.client("rds")
    original = rds.generate_presigned_url
    rds.generate_presigned_url = lambda *args, **kwargs: original(*args, **kwargs)
    rds_guard.install(rds, policy=write_policy(tmp_path, AUDITED))
    make_cluster(rds)

    def take_the_mark(context: dict[str, Any], **_: Any) -> None:  # None: the params stay
        context.pop("is_presign_request", None)

    rds.meta.events.register_first(
        "provide-client-params.rds.CreateDBClusterSnapshot", take_the_mark
    )
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    assert botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("presigned", GOOD)]


@pytest.mark.parametrize("how", ["the client's method", "botocore's function"])
def test_a_client_with_its_own_emit_api_params_still_has_its_presigns_judged(
    moto_server: MotoServer, tmp_path: Path, how: str
) -> None:
    """A tracer set ``_emit_api_params`` on the client itself before the install (it
    shadows the guard's class): each presign is still noted, so it is recorded, and one a
    later handler renames is blocked (both were signed with no record)."""
    rds = moto_server.client("rds")
    traced = rds._emit_api_params
    rds._emit_api_params = lambda *args, **kwargs: traced(*args, **kwargs)
    rds_guard.install(rds, policy=write_policy(tmp_path, AUDITED))
    make_cluster(rds)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}

    def sign() -> str:
        if how == "the client's method":
            return presign(rds, **params)
        return str(
            botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
        )

    assert sign()
    rds.meta.events.register(
        "before-parameter-build.rds.CreateDBClusterSnapshot",
        lambda params, **_: params.update(DBClusterSnapshotIdentifier="test2"),
    )
    with pytest.raises(rds_guard.PolicyViolation, match="test2"):
        sign()
    records = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert records == [("presigned", GOOD), ("blocked", "test2")]


def test_botocores_presign_mark_put_in_a_calls_context_makes_no_presign_of_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler puts botocore's ``is_presign_request`` in a call's context, then a
    ``before-call`` one takes the guard's state out and renames the snapshot in the body: the
    call was taken for a presign (a ``presigned`` record, no request held), and ``test2``
    was sent. It is a call: held, judged as sent, blocked; no ``presigned`` record."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def rename(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context.pop(CONTEXT_KEY, None)
        params["body"]["DBClusterSnapshotIdentifier"] = "test2"

    events = rds.meta.events
    events.register(
        "before-parameter-build.rds.CreateDBClusterSnapshot",
        lambda context, **_: context.update(is_presign_request=True),
    )
    events.register("before-call.rds.CreateDBClusterSnapshot", rename)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match="test2"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("blocked", "test2")]


@pytest.mark.parametrize("inner", [GOOD[:-1] + "0", "weekly"])
def test_a_presign_made_before_every_handler_of_the_wrappers_is_its_own(
    moto_server: MotoServer, tmp_path: Path, inner: str
) -> None:
    """A session's handler registered first on ``provide-client-params`` (before any of the
    guard's) presigns another snapshot with botocore's own function inside a presign made
    with the client's method: the inner one was claimed as the wrapper's (its URL signed
    with no record, the outer recorded twice). Each is judged and recorded on its own."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    moto_server.attach(session)
    urls: list[str] = []

    def presign_another(**_: Any) -> None:
        if urls:
            return
        urls.append("")
        params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": inner}
        urls.append(
            botocore.signers.generate_presigned_url(
                rds, "create_db_cluster_snapshot", {**params, "Tags": TEAM}
            )
        )

    session.events.register_first(
        "provide-client-params.rds.CreateDBClusterSnapshot", presign_another
    )
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    if inner == "weekly":
        with pytest.raises(rds_guard.PolicyViolation, match="weekly"):
            presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
        assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
            ("blocked", "weekly")
        ]
        return
    presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    records = [(r["event"], r["snapshot"], r["expires"] is None) for r in audit_records(tmp_path)]
    assert records == [("presigned", inner, True), ("presigned", GOOD, False)]


def assert_a_presign_signed_as_a_delete_gets_no_url(rds: Any, tmp_path: Path, deleted: str) -> None:
    """A before-sign handler makes a presigned create of `GOOD` a delete of ``deleted``: the
    guard reads the URL, which names another operation, returns none and records the call
    blocked."""

    def to_delete(request: Any, **_: Any) -> None:
        request.data = {
            "Action": "DeleteDBClusterSnapshot",
            "Version": "2014-10-31",
            "DBClusterSnapshotIdentifier": deleted,
        }

    rds.meta.events.register("before-sign.rds.CreateDBClusterSnapshot", to_delete)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "Action")]
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


@pytest.mark.parametrize("params", ["as given", "replaced"])
def test_a_presign_signed_as_another_operation_gets_no_url(
    moto_server: MotoServer, tmp_path: Path, params: str
) -> None:
    """A before-sign handler makes the presigned create a delete: the guard reads the URL,
    which names another operation, and returns none. So too when a ``provide-client-params``
    handler hands botocore a new dict: the presign is still the wrapper's own (told by its
    context), not one past the wrapper, whose URL is never read."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    if params == "replaced":
        rds.meta.events.register(
            "provide-client-params.rds.CreateDBClusterSnapshot",
            lambda params, **_: dict(params),
        )
    assert_a_presign_signed_as_a_delete_gets_no_url(rds, tmp_path, GOOD)


def test_a_presign_whose_mark_a_handler_takes_before_the_guards_is_still_the_wrappers(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A session's handler, registered first before the install, takes botocore's
    ``is_presign_request`` out of the context at ``provide-client-params`` (before any of
    the guard's handlers), and a ``before-sign`` handler makes the presigned create a delete
    of another snapshot: the presign made with the client's method is still the wrapper's
    own, its URL read, and none is returned (it was signed, with no record)."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    moto_server.attach(session)

    def take_the_mark(context: dict[str, Any], **_: Any) -> None:  # None: the params stay
        context.pop("is_presign_request", None)

    session.events.register_first(
        "provide-client-params.rds.CreateDBClusterSnapshot", take_the_mark
    )
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    assert_a_presign_signed_as_a_delete_gets_no_url(rds, tmp_path, "prod-keep-me")


def test_a_presign_whose_parameters_a_handler_replaces_is_recorded_with_its_expiry(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``provide-client-params`` handler hands botocore a new dict for a presign made with
    the client's method: the presign is recorded once, with the expiry its URL carries."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    rds.meta.events.register(
        "provide-client-params.rds.CreateDBClusterSnapshot", lambda params, **_: dict(params)
    )
    presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    (record,) = audit_records(tmp_path)
    assert record["event"] == "presigned" and record["expires"] is not None


def test_a_presign_inside_its_handlers_of_the_same_dict_is_judged_on_its_own(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler put before the guard's first one presigns with botocore's own function the
    very dict the wrapper's presign hands it, renamed for a moment: the inner presign is
    judged and blocked on its own, and the wrapper's is recorded once, with its expiry (it
    was recorded twice, once as a presign past the wrapper, and held against the inner's
    judgement)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    inner: list[str] = []

    def presign_the_same_dict(params: dict[str, Any], **_: Any) -> None:
        if inner:
            return  # the inner presign's own call of this handler
        inner.append("made")
        name, params["DBClusterSnapshotIdentifier"] = params["DBClusterSnapshotIdentifier"], "bad"
        try:
            botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
        except rds_guard.PolicyViolation:
            inner.append("blocked")
        finally:
            params["DBClusterSnapshotIdentifier"] = name

    rds.meta.events.register_first(
        "before-parameter-build.rds.CreateDBClusterSnapshot", presign_the_same_dict
    )
    presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    assert inner == ["made", "blocked"]
    records = [(r["event"], r["snapshot"], r.get("expires")) for r in audit_records(tmp_path)]
    assert [(event, name) for event, name, _ in records] == [
        ("blocked", "bad"),
        ("presigned", GOOD),
    ]
    assert records[1][2] is not None


def test_presigning_an_unguarded_operation_records_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    url = rds.generate_presigned_url("describe_db_clusters", Params={}, ExpiresIn=60)
    assert url.startswith("http")
    assert audit_records(tmp_path) == []


def test_the_wrapped_presign_looks_like_the_method(moto_server: MotoServer, tmp_path: Path) -> None:
    """The guarded client's ``generate_presigned_url`` has the method's name, docstring and
    signature, as code that inspects it (a decorator, a framework's introspection) expects."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    bare = moto_server.client("rds")
    guarded, method = rds.generate_presigned_url, bare.generate_presigned_url
    assert (guarded.__name__, guarded.__doc__) == (method.__name__, method.__doc__)
    assert inspect.signature(guarded) == inspect.signature(method)
    # a method bound to the client, as without the guard; the client's class says what it is
    assert inspect.ismethod(guarded) and guarded.__self__ is rds
    assert (type(rds).__name__, type(rds).__module__) == ("RDS", "botocore.client")
    assert "generate_presigned_url" not in vars(rds)


@pytest.mark.parametrize("service", ["rds", "docdb", "neptune"])
def test_a_client_held_by_nothing_but_its_presign_presigns(
    moto_server: MotoServer, tmp_path: Path, service: str
) -> None:
    """``session.client(...).generate_presigned_url(...)``: the client, held by nothing but
    the method looked up on it, lives until the URL is made, as without the guard; a guarded
    operation's URL is judged and recorded, another's made as it would be."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    if service == "rds":
        make_cluster(moto_server.client(service))
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    collecting = gc.isenabled()
    gc.disable()  # freed by its count of references alone, as a dropped client is
    try:
        listed = moto_server.client(service, session=session).generate_presigned_url(
            "describe_db_clusters", Params={}, ExpiresIn=60
        )
        made = None
        if service == "rds":
            made = moto_server.client(service, session=session).generate_presigned_url(
                "create_db_cluster_snapshot", Params=params, ExpiresIn=60
            )
    finally:
        if collecting:
            gc.enable()
    assert "Action=DescribeDBClusters" in listed
    if made is not None:
        assert "Action=CreateDBClusterSnapshot" in made and "managed-by" in made
        (record,) = audit_records(tmp_path)
        assert (record["event"], record["snapshot"]) == ("presigned", GOOD)


def test_the_method_called_on_another_client_is_that_clients_own(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """``type(a).generate_presigned_url(b, ...)``: as without the guard, a URL of ``b``'s,
    judged by ``b``'s guard when it has one (a bad name blocked), made as botocore makes it
    when it has none."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    guarded, other_guarded = (moto_server.client("rds", session=session) for _ in range(2))
    bare = moto_server.client("rds")
    make_cluster(bare)
    method = type(guarded).generate_presigned_url
    assert "Action=DescribeDBClusters" in method(bare, "describe_db_clusters")
    bad = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "Bad_Name"}
    assert "Action=CreateDBClusterSnapshot" in method(bare, "create_db_cluster_snapshot", bad)
    with pytest.raises(rds_guard.PolicyViolation):
        method(other_guarded, "create_db_cluster_snapshot", bad)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_a_client_hooked_twice_leaves_nothing_behind(tmp_path: Path) -> None:
    """The AWS CLI plugin's stand-ins hook a client, then an install on the client hooks it
    again: the second wrapper wraps the first. Once the clients are dropped, nothing holds
    either wrapper's class (a cache of signatures kept the first one, and all it held)."""
    from rds_guard.awscli import awscli_initialize
    from rds_guard.guard import wrappers

    session = botocore.session.get_session()
    awscli_initialize(session.get_component("event_emitter"))
    policy = write_policy(tmp_path, AUDITED)
    classes = []
    for _ in range(20):
        client = session.create_client(
            "rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        with rds_guard.install(client, policy=policy):
            classes += [weakref.ref(kind) for kind in type(client).__mro__[:2]]
        del client
    gc.collect()
    assert len(classes) == 40 and not [kind for kind in classes if kind() is not None]
    assert len(wrappers._SIGNATURES) <= 1  # botocore's own function, kept while it lives


def test_a_static_generate_presigned_url_is_wrapped_as_it_is(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``creating-client-class`` handler may give the class a ``generate_presigned_url`` of
    its own that is no method (a static one): its signature is taken as it is looked up, so a
    call naming ``ClientMethod`` is made as without the guard."""
    clients: list[Any] = []

    def generate(
        ClientMethod: str, Params: Any = None, ExpiresIn: int = 3600, HttpMethod: Any = None
    ) -> str:
        url: str = botocore.signers.generate_presigned_url(
            clients[0], ClientMethod, Params=Params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod
        )
        return url

    def static(class_attributes: dict[str, Any], **_: Any) -> None:
        class_attributes["generate_presigned_url"] = staticmethod(generate)

    session, _ = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    session.events.register_last("creating-client-class", static)
    clients.append(moto_server.client("rds", session=session))
    url = clients[0].generate_presigned_url(ClientMethod="describe_db_clusters")
    assert "Action=DescribeDBClusters" in url


@pytest.mark.parametrize("service", ["rds", "docdb", "neptune"])
def test_a_dropped_guarded_client_is_freed_at_once(
    moto_server: MotoServer, tmp_path: Path, service: str
) -> None:
    """As a bare client, a guarded one is freed when its last reference goes, not when the
    cycle collector next runs: the presign wrapper stored on it holds it weakly. Its
    presigns still work while it lives (a nested install wraps the wrapper)."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    collecting = gc.isenabled()
    gc.disable()
    try:
        for on in (None, session):  # bare, then guarded twice over
            client = moto_server.client(service, session=on)
            url = client.generate_presigned_url("describe_db_clusters", Params={}, ExpiresIn=60)
            assert url.startswith("http")
            gone = weakref.ref(client)
            del client
            assert gone() is None
    finally:
        if collecting:
            gc.enable()


def test_a_cross_region_copy_is_one_call_not_a_presign(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """botocore presigns a cross-region copy itself (PreSignedUrl, through the request
    signer): that URL is part of the copy, recorded once as the copy's requested/outcome."""
    source = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server, region="us-west-2")
    make_cluster(source)
    source.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    arn = f"arn:aws:rds:us-west-2:123456789012:cluster-snapshot:{GOOD}"
    target = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    target.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=arn,
        TargetDBClusterSnapshotIdentifier=f"{GOOD}-copy",
        SourceRegion="us-west-2",
        Tags=TEAM,
    )
    copy_records = [r for r in audit_records(tmp_path) if r["operation"] == "CopyDBClusterSnapshot"]
    assert [r["event"] for r in copy_records] == ["requested", "created"]
    assert "PreSignedUrl" not in (tmp_path / "audit.jsonl").read_text()
    sent = moto_server.last_params("CopyDBClusterSnapshot")
    assert "PreSignedUrl" in sent


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_an_unsigned_presign_of_a_compliant_call_is_its_plain_url(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A client configured ``signature_version=UNSIGNED``: botocore moves a presign's body
    into the URL only as it signs it, so the URL carries no call. The guard read its empty
    query as a request whose Action another handler had changed: a compliant presign was
    blocked in enforce mode, and recorded with `request.changed` in warn mode. It gets the
    plain client's URL, and its record no violation."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED)
    rds = moto_server.client("rds", session=session, config=unsigned)
    plain = moto_server.client("rds", config=unsigned)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    assert presign(rds, **params) == presign(plain, **params)
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["violations"]) == ("presigned", [])


def test_an_unsigned_presign_of_a_non_compliant_call_is_still_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The attack on the mend above: an ``UNSIGNED`` client taken to slip a non-compliant
    presign past the guard, since its URL is passed through as the plain client's. The call
    is judged before any URL is made: `PolicyViolation` naming every problem, a `blocked`
    record, no URL, and the operation never sent."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED), on=moto_server)
    unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED)
    rds = moto_server.client("rds", session=session, config=unsigned)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2")
    assert "identifier.pattern" in {v.rule for v in caught.value.violations}
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["snapshot"]) == ("blocked", "test2")
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def test_a_presign_none_of_whose_handlers_ran_is_judged_as_it_is_signed(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A client's ``meta.events`` replaced by an emitter without the guard's handlers: its
    presigned URLs were signed unjudged (the calls are held where the endpoint makes their
    requests; a presign makes none). Each is judged as it is signed: a name the policy
    refuses, or a URL without the tags the policy would have added, is blocked, no URL
    returned; one the policy allows as it stands is recorded ``presigned`` and works."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    rds.meta.events = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
    with pytest.raises(rds_guard.PolicyViolation, match="test2"):
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2", Tags=TEAM)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM)
    assert ("request.changed", "Tags") in {(v.rule, v.field) for v in caught.value.violations}
    tags = [*TEAM, {"Key": "managed-by", "Value": "rds-guard"}]
    url = presign(rds, DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=tags)
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("blocked", "test2"),
        ("blocked", GOOD),
        ("presigned", GOOD),
    ]
    assert records[-1]["violations"] == [] and records[-1]["expires"]
    assert all("no judgement reached" in r["notes"][-1] for r in records)
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert get(url) == 200
    assert snapshot_tags(rds, GOOD) == {"team": "core", "managed-by": "rds-guard"}


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_presign_past_the_wrapper_renamed_after_its_judgement_is_held_as_it_is_signed(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A presign made with botocore's own function is judged at its last
    ``before-parameter-build`` handler, and its URL is never read; a
    ``before-endpoint-resolution`` handler, which botocore calls after that with the same
    parameters, renamed it, and the URL was signed for the new name while the ``presigned``
    record named the judged one. Its request is held, and recorded, as it is signed: enforce
    refuses it, no URL; warn signs it, its record naming what the URL carries."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    make_cluster(rds)

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = "Not-Compliant"

    rds.meta.events.register("before-endpoint-resolution.rds", rename)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    sign = botocore.signers.generate_presigned_url
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
            sign(rds, "create_db_cluster_snapshot", Params=params)
        assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
            ("blocked", "not-compliant")
        ]
        return
    url = sign(rds, "create_db_cluster_snapshot", Params=params)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["DBClusterSnapshotIdentifier"] == "Not-Compliant"
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["snapshot"]) == ("presigned", "not-compliant")
    assert "request.changed" in {v["rule"] for v in record["violations"]}

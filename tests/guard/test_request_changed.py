"""The request as sent is what is judged and recorded: a handler that changes a judged
parameter after the guard judged the call is caught at before-call (request.changed)."""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aws import (
    audit_records,
    guarded_client,
    guarded_session,
    make_cluster,
    make_instance,
    snapshot_tags,
)
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError
from policies import AUDITED, BACKUPS, DEFAULTS_ONLY, HOLD_ONLY, TEAM_REQUIRED, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard.records import CONTEXT_KEY

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


@contextlib.contextmanager
def logging_to(handler: logging.Handler) -> Iterator[None]:
    """``handler`` on the guard's logger, at INFO (the guard logs each call it records at
    INFO), for the block."""
    logger = logging.getLogger("rds_guard")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def replace_tags_late(client: Any, tags: list[dict[str, str]]) -> None:
    """A handler registered after the guard's, on the same event: it has the last word."""

    def replace(params: dict[str, Any], **_: Any) -> None:
        params["Tags"] = tags

    client.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", replace)


def test_a_late_handler_dropping_the_policys_tags_is_blocked_and_nothing_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    replace_tags_late(rds, [{"Key": "owner", "Value": "platform"}])
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    rules = [(v.rule, v.field) for v in caught.value.violations]
    assert ("tags.required", "Tags.team") in rules
    assert ("request.changed", "Tags") in rules
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked"
    assert blocked["tags"] == {"owner": "platform"}, "the record states what would be sent"
    assert any("changed after rds_guard judged it: Tags" in note for note in blocked["notes"])


def test_in_warn_mode_the_records_state_what_was_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode="warn"), on=moto_server)
    make_cluster(rds)
    replace_tags_late(rds, [{"Key": "owner", "Value": "platform"}])
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert snapshot_tags(rds, GOOD) == {"owner": "platform"}
    requested, created = audit_records(tmp_path)
    assert requested["tags"] == created["tags"] == {"owner": "platform"}
    assert "request.changed" in [v["rule"] for v in requested["violations"]]
    assert created["event"] == "created"


def test_a_harmless_late_change_is_allowed_and_recorded_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Another handler adds a tag the policy does not mind: the call goes, and its records
    hold the tags the snapshot really got."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    final = [*TEAM, {"Key": "managed-by", "Value": "rds-guard"}, {"Key": "cost", "Value": "1"}]
    replace_tags_late(rds, final)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    expected = {"team": "core", "managed-by": "rds-guard", "cost": "1"}
    assert snapshot_tags(rds, GOOD) == expected
    requested, created = audit_records(tmp_path)
    assert requested["violations"] == []
    assert requested["tags"] == created["tags"] == expected


def test_a_rename_leaves_what_the_policy_added_and_the_source_passed_on_on_the_record(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler renames the snapshot (the tags and the source untouched): the
    snapshot gets the tags judged, and the records still say which the policy added and which
    came from the source (they said none)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = "orders-manual-20261130"

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", rename)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    assert snapshot_tags(rds, "orders-manual-20261130") == {
        "team": "core",
        "managed-by": "rds-guard",
    }
    requested, created = audit_records(tmp_path)
    for record in (requested, created):
        assert record["snapshot"] == "orders-manual-20261130"
        assert record["tags"] == {"team": "core", "managed-by": "rds-guard"}
        assert (record["injected"], record["inherited"]) == (["managed-by"], ["team"])


def test_a_rename_that_also_stops_the_copy_of_tags_records_the_tags_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The handler renames the copy and sets CopyTags to false: AWS copies no tag, so the
    records say the snapshot gets none (not the judgement's inherited `team`)."""
    policy = 'version = 1\nmode = "warn"\n[tags]\nrequired = ["team"]\n'
    policy += '[audit]\npath = "audit.jsonl"\nfsync = false\n'
    rds = guarded_client(write_policy(tmp_path, policy), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="source", Tags=TEAM
    )

    def rename_and_stop_the_copy(params: dict[str, Any], **_: Any) -> None:
        params["body"]["TargetDBClusterSnapshotIdentifier"] = "renamed"
        params["body"]["CopyTags"] = "false"

    rds.meta.events.register("before-call.rds.CopyDBClusterSnapshot", rename_and_stop_the_copy)
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="source",
        TargetDBClusterSnapshotIdentifier="copy",
        CopyTags=True,
    )
    requested = [r for r in audit_records(tmp_path) if r["event"] == "requested"][-1]
    assert requested["snapshot"] == "renamed"
    assert (requested["tags"], requested["inherited"]) == ({}, [])
    assert "tags.required" in [v["rule"] for v in requested["violations"]]


def test_a_renamed_snapshot_is_judged_again(moto_server: MotoServer, tmp_path: Path) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = "test2"

    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", rename)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    rules = [v.rule for v in caught.value.violations]
    assert "identifier.pattern" in rules and "request.changed" in rules
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert audit_records(tmp_path)[0]["snapshot"] == "test2"


def test_a_change_to_the_serialized_body_before_the_guard_is_caught(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A wildcard before-call handler runs before the guard's and edits the serialized body:
    the guard holds that body, not the parameters, against its judgement."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def share_publicly(params: dict[str, Any], **_: Any) -> None:
        body = params["body"]
        if body.get("Action") == "ModifyDBClusterSnapshotAttribute":
            body["ValuesToAdd.AttributeValue.1"] = "all"

    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    rds.meta.events.register("before-call.*.*", share_publicly)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD,
            AttributeName="restore",
            ValuesToAdd=["111122223333"],
        )
    assert [v.rule for v in caught.value.violations] == ["sharing.public", "request.changed"]
    assert moto_server.count("ModifyDBClusterSnapshotAttribute") == 0


class SaysEqual(str):
    """A string that says it equals anything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("how", ["replaced", "edited in place", "a URL that says it is equal"])
def test_a_request_given_another_body_while_its_record_is_written_is_held_again(
    moto_server: MotoServer, tmp_path: Path, how: str
) -> None:
    """A handler put before the guard's keeps the request, and a logging handler of the
    program's gives it another body (the snapshot renamed, untagged) while the guard writes
    the ``requested`` record (as another thread could, while the record is fsynced): botocore
    signs what the request holds once the guard's handler returns, so the guard holds it
    again and blocks it. So too when the body is edited in place (the request's own copy),
    or the URL given a query by a string whose ``__eq__`` says it equals anything."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    kept: list[Any] = []
    rds.meta.events.register_first(
        "request-created.rds.CreateDBClusterSnapshot", lambda request, **_: kept.append(request)
    )

    class Swap(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if len(kept) != 1:
                return
            request = kept[0]
            kept.append(record)
            if how == "a URL that says it is equal":
                request.url = SaysEqual(request.url + "?DBClusterSnapshotIdentifier=evil")
                return
            body = request.data if how == "edited in place" else dict(request.data)
            for key in [key for key in body if key.startswith("Tags.")]:
                del body[key]
            body["DBClusterSnapshotIdentifier"] = "evil"
            request.data = body

    moto_server.reset_counts()
    with logging_to(Swap()), pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "blocked", "unknown"]


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_request_renamed_at_every_hold_is_refused_in_the_end(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """The program renames the request held by the guard each time the guard holds it: first
    from a logging handler, as the ``requested`` record is written, then as the guard's
    look-up of each new source is answered (a call with no Tags inherits its source's). Each
    name is compliant, and judged, so the guard would hold the request for ever; after
    eight holds it is refused as ``request.changed``, nothing sent. In warn mode it is warned
    about once, and sent as it then stands: its outcome is ``unknown`` (what was sent was
    never judged)."""
    policy = AUDITED.replace('[tags.defaults]\nmanaged-by = "rds-guard"\n', "")
    rds = guarded_client(
        write_policy(tmp_path, policy, mode=mode),
        on=moto_server,
    )
    sources = [f"orders{number}" for number in range(12)]  # more than the guard holds it
    for name in ["orders", *sources]:
        make_cluster(rds, name, copy_tags=True, tags={"team": "core"})
    kept: list[Any] = []
    rds.meta.events.register_first(
        "request-created.rds.CreateDBClusterSnapshot", lambda request, **_: kept.append(request)
    )
    renames = iter(sources)

    def rename(**_: Any) -> None:
        name = next(renames, None) if kept else None
        if name is not None:
            body = {**kept[0].data, "DBClusterIdentifier": name}
            kept[0].data = body | {"DBClusterSnapshotIdentifier": f"{name}-manual-20261129"}

    class Rename(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            rename()

    rds.meta.events.register("after-call.rds.DescribeDBClusters", rename)
    moto_server.reset_counts()
    with (
        logging_to(Rename()),
        pytest.raises(rds_guard.PolicyViolation, match="given another body or URL")
        if mode == "enforce"
        else contextlib.nullcontext(),
    ):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    records = audit_records(tmp_path)
    assert moto_server.actions().count("DescribeDBClusters") >= 8  # one look-up per hold
    if mode == "enforce":
        assert "CreateDBClusterSnapshot" not in moto_server.actions()
        assert [r["event"] for r in records] == ["requested", "blocked", "unknown"]
        return
    assert moto_server.actions()[-1] == "CreateDBClusterSnapshot"
    assert [r["event"] for r in records] == ["requested", "unknown"]
    rules = [(v["rule"], v["field"]) for v in records[-1]["violations"]]
    assert rules == [("request.changed", "body")]


def test_an_unchanged_request_is_sent_as_judged(moto_server: MotoServer, tmp_path: Path) -> None:
    """The check costs nothing visible: no extra request, the records as before."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
    assert audit_records(tmp_path)[0]["notes"] == []


@pytest.mark.parametrize("tags", [[{}], [*TEAM, {}]], ids=["only", "after-a-tag"])
def test_an_empty_tag_botocore_writes_as_nothing_is_no_change(
    moto_server: MotoServer, tmp_path: Path, tags: list[dict[str, str]]
) -> None:
    """botocore writes an empty structure as nothing (``Tags=[{}]`` sends no tag): in warn
    mode the call goes, and its records hold what was judged, not a change no handler made."""
    rds = guarded_client(write_policy(tmp_path, TEAM_REQUIRED), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=tags
    )
    requested, created = audit_records(tmp_path)
    rules = [v["rule"] for v in requested["violations"]]
    assert "tags.aws" in rules, "the empty tag is judged"
    assert "request.changed" not in rules
    assert requested["notes"] == created["notes"] == []
    assert created["tags"] == snapshot_tags(rds, GOOD) == {k["Key"]: k["Value"] for k in tags if k}


def test_a_late_handler_emptying_a_tag_is_a_change(moto_server: MotoServer, tmp_path: Path) -> None:
    rds = guarded_client(write_policy(tmp_path, TEAM_REQUIRED), on=moto_server)
    make_cluster(rds)
    replace_tags_late(rds, [{}])
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    requested, _ = audit_records(tmp_path)
    assert ("request.changed", "Tags") in [(v["rule"], v["field"]) for v in requested["violations"]]
    assert snapshot_tags(rds, GOOD) == {}


def test_a_late_change_sets_the_outcome_the_record_names(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """warn: a handler turns an unshare into a public share in the serialized body. The
    snapshot is made public, and the outcome record says `shared`, not the `unshared` the call
    as judged would have been."""

    def share_publicly(params: dict[str, Any], **_: Any) -> None:
        params["body"]["ValuesToAdd.AttributeValue.1"] = "all"

    rds = _sharing(moto_server, tmp_path, share_publicly, mode="warn")
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToRemove=["111122223333"]
    )
    (attribute,) = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=GOOD)[
        "DBClusterSnapshotAttributesResult"
    ]["DBClusterSnapshotAttributes"]
    assert attribute["AttributeValues"] == ["all"]
    requested, answered = audit_records(tmp_path)[2:]
    assert [v["rule"] for v in requested["violations"]] == ["sharing.public", "request.changed"]
    assert (answered["event"], answered["call"]) == ("shared", requested["call"])


@pytest.mark.parametrize("operation", ["ModifyDBInstance", "PromoteReadReplica"])
def test_a_call_with_nothing_to_judge_made_into_one_by_a_late_handler_is_judged(
    moto_server: MotoServer, tmp_path: Path, operation: str
) -> None:
    """A ModifyDBInstance (or a promote) that keeps the backups is neither judged nor
    recorded; a handler that then turns the backups off in the serialized body was sent past
    the guard. It is judged again as sent: blocked (enforce), nothing sent, one `blocked`
    record. The call as made, unchanged, still goes unrecorded (whatever the service says:
    this instance is no replica to promote)."""
    rds = guarded_client(write_policy(tmp_path, BACKUPS), on=moto_server)
    make_instance(rds, "orders")
    call = getattr(rds, xform_name(operation))
    with contextlib.suppress(ClientError):
        call(DBInstanceIdentifier="orders", BackupRetentionPeriod=7)
    assert audit_records(tmp_path) == []

    def backups_off(params: dict[str, Any], **_: Any) -> None:
        params["body"]["BackupRetentionPeriod"] = "0"

    rds.meta.events.register(f"before-call.rds.{operation}", backups_off)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        call(DBInstanceIdentifier="orders", BackupRetentionPeriod=7)
    rules = [v.rule for v in caught.value.violations]
    assert rules == ["deletion.automated_backups", "request.changed"]
    assert moto_server.count(operation) == 0
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked" and blocked["call"]


@pytest.mark.parametrize(
    ("late", "rules"),
    [
        (0, ["deletion.automated_backups", "request.changed"]),
        ("0", ["deletion.automated_backups", "request.changed"]),
        (Decimal("0"), []),
    ],
    ids=["0", "text 0", "Decimal 0"],
)
def test_a_retention_given_as_false_and_sent_as_zero_is_judged_as_zero(
    moto_server: MotoServer, tmp_path: Path, late: object, rules: list[str]
) -> None:
    """botocore's validation takes ``False`` for an integer (a bool is an int), and sends it
    as ``False``, which the service refuses: the guard has nothing to judge. A ``before-call``
    handler then makes it ``0``: ``0 == False``, so the request was taken for the one judged,
    and the automated backups were turned off, nothing recorded. A bool is never the same as
    a number: judged again as sent, blocked, nothing sent (a ``Decimal``, which botocore's
    validation refuses for an integer, is refused in its words before the instance is read)."""
    rds = guarded_client(write_policy(tmp_path, BACKUPS), on=moto_server)
    make_instance(rds, "orders")

    def backups_off(params: dict[str, Any], **_: Any) -> None:
        params["body"]["BackupRetentionPeriod"] = late

    rds.meta.events.register("before-call.rds.ModifyDBInstance", backups_off)
    moto_server.reset_counts()
    with pytest.raises(ParamValidationError) as caught:
        rds.modify_db_instance(
            DBInstanceIdentifier="orders", BackupRetentionPeriod=False, ApplyImmediately=True
        )
    assert [v.rule for v in getattr(caught.value, "violations", ())] == rules
    assert moto_server.count("ModifyDBInstance") == 0


@pytest.mark.parametrize("values", [["111122223333"], []], ids=["an account", "none"])
def test_a_lists_own_key_put_in_the_body_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, values: list[str]
) -> None:
    """A share with the account the policy allows, or with none; a ``before-call`` handler
    adds ``ValuesToAdd=all``, the list's own key, which botocore writes only as one empty key
    for an empty list. The guard's reader passed over it, and it was sent unjudged: what the
    service makes of it cannot be judged, so it is ``request.changed``, nothing sent."""

    def everyone(params: dict[str, Any], **_: Any) -> None:
        params["body"]["ValuesToAdd"] = "all"

    rds = _sharing(moto_server, tmp_path, everyone)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToAdd=values
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [
        ("request.changed", "ValuesToAdd")
    ]
    assert moto_server.count("ModifyDBClusterSnapshotAttribute") == 0


def test_a_share_of_another_attribute_made_public_by_a_late_handler_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A share of an attribute other than `restore` is not judged; a second handler that
    rewrites the serialized body into a public `restore` share is caught as sent: blocked,
    nothing sent, the snapshot stays private."""

    def public(params: dict[str, Any], **_: Any) -> None:
        params["body"]["AttributeName"] = "restore"
        params["body"]["ValuesToAdd.AttributeValue.1"] = "all"

    rds = _sharing(moto_server, tmp_path, public)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD, AttributeName="other", ValuesToAdd=["x"]
        )
    assert "sharing.public" in [v.rule for v in caught.value.violations]
    assert moto_server.count("ModifyDBClusterSnapshotAttribute") == 0
    assert audit_records(tmp_path)[-1]["event"] == "blocked"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ValuesToAdd.AttributeValue.1", 999988887777),
        ("ValuesToAdd.AttributeValue.1", Decimal("999988887777")),
        ("ValuesToAdd.AttributeValue.2", 999988887777),
    ],
    ids=["a number in its place", "a Decimal in its place", "a number after it"],
)
def test_an_account_put_in_the_body_as_a_number_is_judged_as_the_account_it_names(
    moto_server: MotoServer, tmp_path: Path, key: str, value: object
) -> None:
    """A share with the one account the policy allows; a ``before-call`` handler puts another
    account in the body as a number, sent as its digits. Read back as no text, it was no
    account to the rules, and the snapshot was shared with it (recorded as unshared). It is
    read as the account it is sent as: blocked, nothing sent."""

    def another_account(params: dict[str, Any], **_: Any) -> None:
        params["body"][key] = value

    rds = _sharing(moto_server, tmp_path, another_account)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToAdd=["111122223333"]
        )
    assert [v.rule for v in caught.value.violations] == ["sharing.account", "request.changed"]
    assert moto_server.count("ModifyDBClusterSnapshotAttribute") == 0


def _sharing(
    moto_server: MotoServer, tmp_path: Path, handler: Callable[..., None], mode: str = "enforce"
) -> Any:
    """A guarded client under `AUDITED` in ``mode``, its snapshot `GOOD` made, ``handler`` at
    ``before-call`` of its `ModifyDBClusterSnapshotAttribute`; the server's counts wiped."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    rds.meta.events.register("before-call.rds.ModifyDBClusterSnapshotAttribute", handler)
    moto_server.reset_counts()
    return rds


def two_snapshots(rds: Any) -> None:
    """``free`` may be deleted; ``held`` is on hold."""
    make_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="free")
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )


def snapshots_left(rds: Any) -> set[str]:
    found = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


def rewrite_body(rds: Any, operation: str, body: object) -> None:
    """A before-call handler that replaces the serialized body of ``operation`` with ``body``."""

    def rewrite(params: dict[str, Any], **_: Any) -> None:
        params["body"] = body

    rds.meta.events.register(f"before-call.rds.{operation}", rewrite)


def delete_free_with_body(
    server: MotoServer, tmp_path: Path, body: object
) -> tuple[Any, rds_guard.PolicyViolation]:
    """Under `HOLD_ONLY`, ``free`` and ``held`` made, a delete of ``free`` whose body a
    before-call handler replaces with ``body``: the client, and the `PolicyViolation` the
    delete raised (the server's counts reset before it)."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=server)
    two_snapshots(rds)
    rewrite_body(rds, "DeleteDBClusterSnapshot", body)
    server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="free")
    return rds, caught.value


HELD_AS_TEXT = "Action=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=held"


class ItemsNameHeld(dict[str, str]):
    """A body that holds the delete of ``free`` and is sent (through items()) as that of
    ``held``."""

    def items(self) -> Any:
        return [
            (k, "held" if k == "DBClusterSnapshotIdentifier" else v) for k, v in super().items()
        ]


class ItemsFail(dict[str, str]):
    """A body botocore cannot send: its items() are no pairs."""

    def items(self) -> Any:
        return [1]


def test_a_body_sent_through_its_own_items_is_judged_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler makes the body a dict whose items() (which botocore sends) name
    another snapshot than it holds: the guard judges what is sent."""
    free = dict(pair.split("=") for pair in HELD_AS_TEXT.replace("=held", "=free").split("&"))
    rds, blocked_delete = delete_free_with_body(moto_server, tmp_path, ItemsNameHeld(free))
    rules = [(v.rule, v.field) for v in blocked_delete.violations]
    assert ("deletion.hold", "Tags.legal-hold") in rules
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert snapshots_left(rds) == {"free", "held"}


@pytest.mark.parametrize("body", [HELD_AS_TEXT, HELD_AS_TEXT.encode()], ids=["str", "bytes"])
def test_a_body_made_text_is_read_as_the_service_reads_it_and_judged_again(
    moto_server: MotoServer, tmp_path: Path, body: object
) -> None:
    """A before-call handler hands botocore the body as form text, naming a held snapshot:
    the guard reads the text as the service would, and the delete of ``held`` is never sent."""
    rds, blocked_delete = delete_free_with_body(moto_server, tmp_path, body)
    rules = [(v.rule, v.field) for v in blocked_delete.violations]
    assert ("deletion.hold", "Tags.legal-hold") in rules
    assert ("request.changed", "DBClusterSnapshotIdentifier") in rules
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert snapshots_left(rds) == {"free", "held"}
    blocked = audit_records(tmp_path)[-1]
    assert (blocked["event"], blocked["snapshot"]) == ("blocked", "held")


def test_a_body_made_the_same_text_goes_on_as_judged(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The same call as text is no change: sent, and recorded as any delete."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(rds)
    rewrite_body(rds, "DeleteDBClusterSnapshot", HELD_AS_TEXT.replace("held", "free"))
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="free")
    assert snapshots_left(rds) == {"held"}
    requested, deleted = audit_records(tmp_path)[-2:]
    assert (requested["event"], deleted["event"]) == ("requested", "deleted")
    assert requested["violations"] == [] and requested["snapshot"] == "free"


@pytest.mark.parametrize(
    "body",
    [
        io.BytesIO(HELD_AS_TEXT.encode()),
        HELD_AS_TEXT.replace("=held", "=free&DBClusterSnapshotIdentifier=held"),
        HELD_AS_TEXT.replace("=held", "=free&dbclustersnapshotidentifier=held"),
        # the same name to a service comparing names as Java does (a dotless i), or one that
        # trims them
        HELD_AS_TEXT.replace("=held", "=free&DBClusterSnapshot%C4%B1dentifier=held"),
        HELD_AS_TEXT.replace("=held", "=free&DBClusterSnapshotIdentifier%20=held"),
        HELD_AS_TEXT.encode().replace(b"=held", b"=free&x=\xff"),
        None,
        ItemsFail(Action="DeleteDBClusterSnapshot"),
    ],
    ids=[
        "file",
        "name-twice",
        "name-twice-in-another-case",
        "name-twice-with-a-dotless-i",
        "name-twice-with-a-space",
        "not-utf-8",
        "none",
        "no-pairs",
    ],
)
def test_a_body_that_cannot_be_read_as_one_call_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, body: object
) -> None:
    rds, blocked_delete = delete_free_with_body(moto_server, tmp_path, body)
    assert [(v.rule, v.field) for v in blocked_delete.violations] == [("request.changed", "body")]
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert snapshots_left(rds) == {"free", "held"}
    blocked = audit_records(tmp_path)[-1]
    assert blocked["event"] == "blocked"
    assert blocked["notes"][-1] == "changed after rds_guard judged it: body"


SWAP_TO_DELETE = {
    "Action": "DeleteDBClusterSnapshot",
    "Version": "2014-10-31",
    "DBClusterSnapshotIdentifier": "held",
}


def swap_action(params: dict[str, Any], **_: Any) -> None:
    params["body"].clear()
    params["body"].update(SWAP_TO_DELETE)


def test_a_call_made_into_another_operation_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A tag change the policy has nothing to say about, made into a delete of a held
    snapshot by a before-call handler: neither is sent."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(rds)
    rds.meta.events.register("before-call.rds.AddTagsToResource", swap_action)
    moto_server.reset_counts()
    arn = rds.describe_db_clusters()["DBClusters"][0]["DBClusterArn"]
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "b"}])
    (violation,) = caught.value.violations
    assert (violation.rule, violation.field, violation.value) == (
        "request.changed",
        "Action",
        "DeleteDBClusterSnapshot",
    )
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert moto_server.count("AddTagsToResource") == 0
    assert snapshots_left(rds) == {"free", "held"}
    (blocked,) = audit_records(tmp_path)[-1:]
    assert (blocked["event"], blocked["operation"]) == ("blocked", "AddTagsToResource")
    assert blocked["call"], "a call with nothing to judge gets an id once it is blocked"


def test_in_warn_mode_a_call_made_into_another_operation_is_recorded_as_such(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(rds)
    rds.meta.events.register("before-call.rds.AddTagsToResource", swap_action)
    arn = rds.describe_db_clusters()["DBClusters"][0]["DBClusterArn"]
    with contextlib.suppress(ClientError):  # whatever the service makes of the answer
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "b"}])
    requested = [r for r in audit_records(tmp_path) if r["event"] == "requested"][-1]
    assert requested["operation"] == "AddTagsToResource"
    assert [(v["rule"], v["field"]) for v in requested["violations"]] == [
        ("request.changed", "Action")
    ]
    assert "request.changed" in caplog.text and "not blocked" in caplog.text
    assert snapshots_left(rds) == {"free"}, "the delete went out (warn)"
    outcome = audit_records(tmp_path)[-1]
    assert (outcome["event"], outcome["call"]) == ("unknown", requested["call"])
    assert outcome["notes"][-1] == "changed after rds_guard judged it: Action"


# --- a request another handler detaches from its judgement ----------------------------------


def rename_in_body(name: str) -> Any:
    """A before-call handler renaming the snapshot in the serialized body."""

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = name

    return rename


@pytest.mark.parametrize("context", ["replaced", "copied"])
def test_a_request_whose_context_another_handler_replaced_is_still_held(
    moto_server: MotoServer, tmp_path: Path, context: str
) -> None:
    """A before-call handler that gives the request a context of its own (a new dict, or a
    deep copy) and renames the snapshot: the request is held against its judgement all the
    same (the rename is `request.changed`, nothing sent), and a compliant one is recorded
    before and after it is sent."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def detach(params: dict[str, Any], **_: Any) -> None:
        fresh = {"tracing": "abc"} if context == "replaced" else copy.deepcopy(params["context"])
        params["context"] = fresh

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", detach)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", rename_in_body("weekly"))
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD[:-1] + "8", Tags=TEAM
        )
    assert [v.rule for v in caught.value.violations] == ["identifier.pattern", "request.changed"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    blocked = audit_records(tmp_path)[-1]
    assert (blocked["event"], blocked["snapshot"]) == ("blocked", "weekly")
    assert "changed after rds_guard judged it: DBClusterSnapshotIdentifier" in blocked["notes"]


@pytest.mark.parametrize("nested", ["CreateDBClusterSnapshot", "DescribeDBClusters"])
def test_a_request_whose_handler_replaced_its_context_and_made_a_call_meanwhile_is_held(
    moto_server: MotoServer, tmp_path: Path, nested: str
) -> None:
    """A before-call handler that gives the request a new context, makes another call (of the
    same operation, judged and sent, or any other) and then renames the snapshot: the call
    made meanwhile took the thread's judgement with it, so the request is judged as it is
    sent, blocked on the record, and never sent."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def detach_call_rename(params: dict[str, Any], **_: Any) -> None:
        if params["body"]["DBClusterSnapshotIdentifier"] != GOOD:
            return  # the call made meanwhile
        params["context"] = {}
        if nested == "DescribeDBClusters":
            rds.describe_db_clusters()
        else:
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD[:-1] + "8", Tags=TEAM
            )
        params["body"]["DBClusterSnapshotIdentifier"] = "weekly"

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", detach_call_rename)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert "identifier.pattern" in [v.rule for v in caught.value.violations]
    made_meanwhile = 1 if nested == "CreateDBClusterSnapshot" else 0
    assert moto_server.count("CreateDBClusterSnapshot") == made_meanwhile
    blocked = audit_records(tmp_path)[-1]
    assert (blocked["event"], blocked["snapshot"]) == ("blocked", "weekly")
    snapshots = rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    assert "weekly" not in [s["DBClusterSnapshotIdentifier"] for s in snapshots]


def test_a_compliant_request_that_lost_its_judgement_is_judged_and_recorded_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler gives the request a new context and makes another call of the operation
    meanwhile, changing nothing: the request is judged as it is sent, sent, and recorded
    before and after (its own outcome, though botocore's after-call has its old context),
    with a note that it was judged so, and no violation."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    other = GOOD[:-1] + "8"

    def detach_and_call(params: dict[str, Any], **_: Any) -> None:
        if params["body"]["DBClusterSnapshotIdentifier"] == GOOD:
            params["context"] = {}
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=other, Tags=TEAM
            )

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", detach_and_call)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", other),
        ("created", other),
        ("requested", GOOD),
        ("created", GOOD),
    ]
    assert records[2]["violations"] == [] and records[2]["call"] == records[3]["call"]
    assert any("judged as it was sent" in note for note in records[2]["notes"])


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_guard_installed_while_a_call_is_made_judges_it_as_sent(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A guard installed (from another thread, say) after a call's parameters were built
    judges its request as it is sent. The tag the policy would add can no longer be added:
    that is said as such (enforce: nothing sent), never as a change by another handler."""
    rds = moto_server.client("rds")
    make_cluster(rds)
    policy = write_policy(tmp_path, AUDITED.replace('mode = "enforce"', f'mode = "{mode}"'))

    def install(**_: Any) -> None:
        rds_guard.install(rds, policy=policy)

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", install)
    moto_server.reset_counts()
    call = partial(
        rds.create_db_cluster_snapshot,
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=TEAM,
    )
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            call()
        (violation,) = caught.value.violations
    else:
        call()
        violation = None
    sent = 0 if mode == "enforce" else 1
    assert moto_server.count("CreateDBClusterSnapshot") == sent
    first = audit_records(tmp_path)[0]
    assert first["event"] == ("blocked" if mode == "enforce" else "requested")
    [recorded] = first["violations"]
    assert (recorded["rule"], recorded["field"]) == ("request.changed", "Tags")
    assert (
        "can no longer set" in recorded["message"] and "another handler" not in recorded["message"]
    )
    if violation is not None:
        assert violation.field == "Tags"


def test_a_call_stopped_at_request_created_is_not_the_next_requests_judgement(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A call blocked at ``request-created`` is over: the thread's next request of the
    operation, on another client whose guard was installed after its parameters were built,
    is judged as it is sent by that client's guard, into that guard's log; it is never held
    against the blocked call, nor written to the first guard's log."""
    first, second = tmp_path / "first", tmp_path / "second"

    def installing_late(folder: Path) -> Any:
        client = moto_server.client("rds")
        policy = write_policy(folder, AUDITED)

        def install(**_: Any) -> None:  # returns nothing: botocore takes a value as the answer
            rds_guard.install(client, policy=policy)

        client.meta.events.register("before-call.rds.CreateDBClusterSnapshot", install)
        return client

    blocked_on, sent_on = installing_late(first), installing_late(second)
    make_cluster(moto_server.client("rds"))
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):  # the policy's tag can no longer be added
        blocked_on.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    other = GOOD[:-1] + "8"
    with pytest.raises(rds_guard.PolicyViolation):
        sent_on.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=other, Tags=TEAM
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [(r["event"], r["snapshot"]) for r in audit_records(first)] == [("blocked", GOOD)]
    assert [(r["event"], r["snapshot"]) for r in audit_records(second)] == [("blocked", other)]


@pytest.mark.parametrize(
    "extra",
    [
        {"Tags.Tag.9.Key": "backup-policy", "Tags.Tag.9.Value": "none"},  # after a gap
        {"Tags.Tag.0.Key": "backup-policy", "Tags.Tag.0.Value": "none"},
        {"Tags.Tag.01.Key": "backup-policy", "Tags.Tag.01.Value": "none"},
        {"Tags.member.1.Key": "backup-policy", "Tags.member.1.Value": "none"},
        {"tags.Tag.9.Key": "backup-policy", "tags.Tag.9.Value": "none"},
        {"Tags.Tag.1.Owner": "someone-else"},  # a member the shape does not have
    ],
    ids=["gap", "zero", "leading-zero", "member", "lowercase", "other-member"],
)
@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_keys_under_a_judged_parameter_the_guard_never_reads_are_a_change(
    moto_server: MotoServer, tmp_path: Path, extra: dict[str, str], mode: str
) -> None:
    """A before-call handler adds keys under ``Tags`` that botocore never writes and that
    the guard's reader stops before (it reads Tag.1, Tag.2, ... up to the first missing
    one): the request went out with no word, though the service may read them as tags.
    They are ``request.changed`` on Tags: nothing sent in enforce mode, the violation
    recorded in warn mode."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    make_cluster(rds)

    def add_keys(params: dict[str, Any], **_: Any) -> None:
        params["body"].update(extra)

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", add_keys)
    moto_server.reset_counts()
    call = partial(
        rds.create_db_cluster_snapshot,
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=TEAM,
    )
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            call()
        assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "Tags")]
    else:
        call()
    assert moto_server.count("CreateDBClusterSnapshot") == (mode == "warn")
    first = audit_records(tmp_path)[0]
    assert first["event"] == ("blocked" if mode == "enforce" else "requested")
    assert [(v["rule"], v["field"]) for v in first["violations"]] == [("request.changed", "Tags")]
    assert "keys botocore never writes" in first["violations"][0]["message"]


def test_keys_beside_the_judged_parameters_are_no_change(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A key of no judged parameter, or one whose name only starts like one, is left to the
    service as it is without the guard: the call is sent, with no violation."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def add_keys(params: dict[str, Any], **_: Any) -> None:
        params["body"].update({"TagsExtra.1": "x", "Unknown.Thing.1": "y"})

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", add_keys)
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert audit_records(tmp_path)[0]["violations"] == []


def assert_refused_on_the_url(rds: Any, server: MotoServer, log: Path, secret: str) -> None:
    """A compliant create whose request another handler gave a snapshot name and a token
    outside its body: `request.changed` on the URL, naming them, nothing sent, and the
    token's value neither recorded nor in the exception."""
    server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert [(v.rule, v.field, v.value) for v in caught.value.violations] == [
        ("request.changed", "url", "DBClusterSnapshotIdentifier, X-Amz-Security-Token")
    ]
    assert server.count("CreateDBClusterSnapshot") == 0
    assert secret not in log.read_text() + str(caught.value)


def test_a_query_another_handler_added_to_the_url_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Parameters put in the URL's query (which a service may read as the body's) were never
    judged: `request.changed` on the URL, nothing sent. An endpoint's own query is no change."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def add_query(request: Any, **_: Any) -> None:
        request.url += "?DBClusterSnapshotIdentifier=weekly&X-Amz-Security-Token=SECRETTOKEN"

    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", add_query)
    assert_refused_on_the_url(rds, moto_server, tmp_path / "audit.jsonl", "SECRETTOKEN")
    session, _ = guarded_session(write_policy(tmp_path / "q", AUDITED))
    queried = moto_server.client("rds", session=session, endpoint_url=moto_server.url + "/?x=1")
    queried.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert moto_server.count("CreateDBClusterSnapshot") == 1


class SaysItIsEmpty(dict[str, str]):
    """Params that say they are empty to whoever asks their length, and are not."""

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False


@pytest.mark.parametrize("kind", [dict, SaysItIsEmpty, lambda pairs: list(pairs.items())])
def test_parameters_another_handler_put_in_the_requests_params_are_never_sent(
    moto_server: MotoServer, tmp_path: Path, kind: Callable[[dict[str, str]], Any]
) -> None:
    """botocore puts a request's ``params`` (empty as it makes one) in the URL's query as it
    prepares it, after every ``request-created`` handler, and signs them: a handler put
    before the guard's that sets them had a compliant call sent with parameters never
    judged, under a ``requested`` record of the call as judged. `request.changed` on the
    URL, nothing sent, whatever they say of their own length; so too when they are changed
    while the record is written."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def add_params(request: Any, **_: Any) -> None:
        request.params = kind(
            {"DBClusterSnapshotIdentifier": "weekly", "X-Amz-Security-Token": "SECRET"}
        )

    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", add_params)
    assert_refused_on_the_url(rds, moto_server, tmp_path / "audit.jsonl", "SECRET")
    rds.meta.events.unregister("request-created.rds.CreateDBClusterSnapshot", add_params)
    kept: list[Any] = []
    rds.meta.events.register_first(
        "request-created.rds.CreateDBClusterSnapshot", lambda request, **_: kept.append(request)
    )

    class AddParams(logging.Handler):  # as the requested record is written
        def emit(self, record: logging.LogRecord) -> None:
            if kept:
                kept[0].params = kind({"DBClusterSnapshotIdentifier": "weekly"})

    with logging_to(AddParams()), pytest.raises(rds_guard.PolicyViolation, match="url"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0


@pytest.mark.parametrize(
    "query",
    [
        "DBClusterSnapshotIdentifier=Evil",
        "dbclustersnapshotidentifier=e",
        "Action=DeleteDBClusterSnapshot",
        "version=2099-01-01",
    ],
)
def test_an_endpoint_whose_own_query_names_a_parameter_sends_nothing(
    moto_server: MotoServer, tmp_path: Path, query: str
) -> None:
    """An endpoint URL configured with a query that names a parameter of the call, or its
    ``Action`` or ``Version`` (a service may read the call as another), in any case, sends
    it with every call, never judged: `request.changed` on the URL, nothing sent. Its other
    names are the endpoint's own, as above."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED))
    queried = moto_server.client("rds", session=session, endpoint_url=f"{moto_server.url}/?{query}")
    make_cluster(moto_server.client("rds"))
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        queried.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "url")]
    assert "endpoint URL" in caught.value.violations[0].message
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert moto_server.actions() == []


@pytest.mark.parametrize("context", ["its own", "a new one"])
def test_a_retry_another_handler_changes_is_held_again(
    moto_server: MotoServer, tmp_path: Path, context: str
) -> None:
    """botocore makes the request again for a retry: a handler that renames only the second
    attempt (the first answered 503) is caught on it, and the retry is never sent. So it is
    when another handler gave the request a new context (botocore's keys copied, the guard's
    left out): the first attempt, held against the call judged last, keeps that call in it."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    attempts: list[int] = []

    def detach(params: dict[str, Any], **_: Any) -> None:
        params["context"] = {k: v for k, v in params["context"].items() if k != CONTEXT_KEY}

    def on_retry(request: Any, **_: Any) -> None:
        attempts.append(1)
        if len(attempts) == 2:
            request.data["DBClusterSnapshotIdentifier"] = "weekly"

    def unavailable(request: Any, **_: Any) -> Any:
        if len(attempts) == 1:
            return raw_response(request.url, 503, b"<Error><Code>Unavailable</Code></Error>")
        return None

    if context == "a new one":
        rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", detach)
    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", on_retry)
    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", unavailable)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert "identifier.pattern" in [v.rule for v in caught.value.violations]
    assert len(attempts) == 2
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    events = [r["event"] for r in audit_records(tmp_path)]
    assert events[:2] == ["requested", "blocked"]


def _copy_tags_turned_on(params: dict[str, Any], **_: Any) -> None:
    """A program's handler (a house rule) that has every copy keep its source's tags."""
    params["body"]["CopyTags"] = "true"


def _source_swapped(params: dict[str, Any], **_: Any) -> None:
    """A program's handler that routes the snapshot to another instance."""
    params["body"]["DBInstanceIdentifier"] = "db2"


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_copy_tags_turned_on_after_the_judgement_is_judged_with_the_source_tags_it_loses(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """The guard added its default to a copy judged without CopyTags; a later handler turns
    CopyTags on. AWS copies no tag of a request that carries Tags: the source's `team`,
    which the program alone would have kept, was lost, the change judged harmless (the
    guard's tags taken for the caller's). Judged again without the tags the guard added, the
    copy would keep `team`, which the request drops: `request.changed` on CopyTags (enforce:
    nothing sent)."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode=mode), on=moto_server)
    make_cluster(rds)
    plain = moto_server.client("rds")
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="src", Tags=TEAM
    )
    rds.meta.events.register("before-call.rds.CopyDBClusterSnapshot", _copy_tags_turned_on)
    moto_server.reset_counts()
    copy = {"SourceDBClusterSnapshotIdentifier": "src", "TargetDBClusterSnapshotIdentifier": GOOD}
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] CopyTags"):
            rds.copy_db_cluster_snapshot(**copy)
        assert moto_server.count("CopyDBClusterSnapshot") == 0
        return
    rds.copy_db_cluster_snapshot(**copy)
    assert moto_server.count("CopyDBClusterSnapshot") == 1
    requested = audit_records(tmp_path)[0]
    changed = [(v["rule"], v["field"]) for v in requested["violations"]]
    assert changed == [("request.changed", "CopyTags")]
    assert (requested["tags"], requested["inherited"]) == ({"managed-by": "rds-guard"}, [])


@pytest.mark.parametrize(
    ("their_tags", "blocked"),
    [({"team": "other"}, True), ({"team": "core"}, False)],
    ids=["other tags", "the same tags"],
)
def test_a_source_swapped_after_the_judgement_is_judged_on_its_own_tags(
    moto_server: MotoServer, tmp_path: Path, their_tags: dict[str, str], blocked: bool
) -> None:
    """A later handler makes the snapshot db2's where db1's was judged: it carried db1's tags
    as db2's, its records saying db2 passed them on. Judged again on db2's own tags: blocked
    when they differ (``request.changed`` on Tags, nothing sent); sent when db2 passes on the
    same, its records saying so. (The violation names the parameter changed.)"""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    make_instance(rds, "db1", copy_tags=True, tags={"team": "core"})
    make_instance(rds, "db2", copy_tags=True, tags=their_tags)
    rds.meta.events.register("before-call.rds.CreateDBSnapshot", _source_swapped)
    moto_server.reset_counts()
    if blocked:
        changed = r"request\.changed\] DBInstanceIdentifier"
        with pytest.raises(rds_guard.PolicyViolation, match=changed):
            rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=GOOD)
        assert moto_server.count("CreateDBSnapshot") == 0
        return
    rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=GOOD)
    assert moto_server.count("CreateDBSnapshot") == 1
    requested = audit_records(tmp_path)[0]
    assert (requested["source"], requested["violations"]) == ("db2", [])
    assert (requested["injected"], requested["inherited"]) == (["managed-by"], ["team"])


FORCED = DEFAULTS_ONLY.replace(
    "[tags.defaults]\n", '[tags.forced]\nbackup-policy = "standard"\n\n[tags.defaults]\n'
)
"""`DEFAULTS_ONLY` with a forced tag, which overrides a caller's value."""


def _source_made(params: dict[str, Any], **_: Any) -> None:
    params["body"]["SourceDBClusterSnapshotIdentifier"] = "src2"


def _copy_tags_turned_off(params: dict[str, Any], **_: Any) -> None:
    params["body"]["CopyTags"] = "false"


HARMLESS: dict[str, tuple[str, Callable[..., None], dict[str, Any]]] = {
    "a tag without a value, CopyTags turned on, no tag rule": (
        HOLD_ONLY, _copy_tags_turned_on, {"Tags": [{"Key": "a"}]}
    ),
    "a forced tag over the caller's, the source made one tagged alike": (
        FORCED, _source_made, {"Tags": [{"Key": "backup-policy", "Value": "custom"}, *TEAM]}
    ),
    "CopyTags turned off, the tags the source passes on still sent": (
        DEFAULTS_ONLY, _copy_tags_turned_off, {"CopyTags": True}
    ),
}  # fmt: skip


@pytest.mark.parametrize(("policy", "handler", "given"), HARMLESS.values(), ids=HARMLESS.keys())
def test_a_changed_source_or_copy_flag_whose_request_keeps_its_tags_goes_as_sent(
    moto_server: MotoServer,
    tmp_path: Path,
    policy: str,
    handler: Callable[..., None],
    given: dict[str, Any],
) -> None:
    """Judged anew, the request's tags are held as AWS reads them, as a set: in the order sent
    (a forced tag where the caller put its key), without a value where the caller gave none,
    and with more than the decision keeps. Each was blocked (enforce) as soon as the tags
    judged anew were rebuilt in another order or form. (The copy is answered at
    ``before-send``, as AWS answers it: moto fails on a tag without a value.)"""
    rds = guarded_client(write_policy(tmp_path, policy), on=moto_server)
    make_cluster(rds)
    plain = moto_server.client("rds")
    for name in ("src", "src2"):
        plain.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
        )
    rds.meta.events.register("before-call.rds.CopyDBClusterSnapshot", handler)
    sent: list[str] = []

    def answer(request: Any, **_: Any) -> Any:
        sent.append(str(request.body))
        xml = (
            "<CopyDBClusterSnapshotResponse><CopyDBClusterSnapshotResult><DBClusterSnapshot>"
            f"<DBClusterSnapshotIdentifier>{GOOD}</DBClusterSnapshotIdentifier>"
            "</DBClusterSnapshot></CopyDBClusterSnapshotResult></CopyDBClusterSnapshotResponse>"
        )
        return raw_response(request.url, 200, xml.encode())

    rds.meta.events.register_first("before-send.rds.CopyDBClusterSnapshot", answer)
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="src", TargetDBClusterSnapshotIdentifier=GOOD, **given
    )
    assert len(sent) == 1
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert requested["violations"] == []


def test_a_source_swapped_for_one_carrying_the_policys_tag_is_judged_on_all_it_passes_on(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """db2 carries `managed-by` already, so the decision on it sends no Tags (AWS's copy
    would keep db2's): the request's tags were held against none, and the snapshot of db2
    went with db1's `team`, db2's `team=other` lost. Held against the tags the decision
    gives the snapshot: ``request.changed``, nothing sent."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    make_instance(rds, "db1", copy_tags=True, tags={"team": "core"})
    make_instance(rds, "db2", copy_tags=True, tags={"team": "other", "managed-by": "rds-guard"})
    rds.meta.events.register("before-call.rds.CreateDBSnapshot", _source_swapped)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] DBInstanceIdentifier"):
        rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=GOOD)
    assert moto_server.count("CreateDBSnapshot") == 0

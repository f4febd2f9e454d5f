"""A judged parameter put in a request under a name botocore never writes for a call of its
client: in another case (``skipfinalsnapshot``), or one the client's API lacks (DocumentDB's
DeleteDBInstance has no ``SkipFinalSnapshot`` nor ``FinalDBSnapshotIdentifier``, its
ModifyDBInstance no ``BackupRetentionPeriod``). The endpoint the three services share may
read it all the same, as rds's, so a request another handler gives one is never sent unjudged:
``request.changed`` on that parameter (enforce: nothing sent, counted at moto's server).
Before, the guard read a request only through its client's API and sent these as judged: an
instance deleted without its final snapshot, recorded as a clean delete."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import botocore.config
import botocore.signers
import pytest
from aws import (
    audit_records,
    guarded_client,
    guarded_session,
    held_snapshot,
    make_cluster,
    make_instance,
)
from botocore.awsrequest import AWSResponse
from policies import BACKUPS, HOLD_ONLY, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard.records import turned_note


def _instances(server: MotoServer) -> list[str]:
    found = server.client("rds").describe_db_instances()["DBInstances"]
    return [instance["DBInstanceIdentifier"] for instance in found]


def _body_gets(client: Any, event: str, **keys: str) -> None:
    """A ``before-call`` handler of ``client`` that puts ``keys`` in the body of ``event``'s
    requests (and takes out a key given as "")."""

    def put(params: dict[str, Any], **_: Any) -> None:
        for key, value in keys.items():
            if value:
                params["body"][key] = value
            else:
                params["body"].pop(key)

    client.meta.events.register(f"before-call.{event}", put)


def _final_snapshot_required(tmp_path: Path, mode: str = "enforce") -> Path:
    """`BACKUPS`, the automated backups left to AWS: only a final snapshot is required."""
    return write_policy(tmp_path, BACKUPS, automated_backups="any", mode=mode)


@pytest.mark.parametrize(
    ("service", "keys", "field"),
    [
        # DocumentDB's DeleteDBInstance has neither: rds's reads both
        ("docdb", {"SkipFinalSnapshot": "true"}, "SkipFinalSnapshot"),
        ("docdb", {"FinalDBSnapshotIdentifier": "not-our-name"}, "FinalDBSnapshotIdentifier"),
        ("neptune", {"DeleteAutomatedBackups": "true"}, "DeleteAutomatedBackups"),
        # another case than botocore's, which the guard never read for its value
        (
            "rds",
            {"FinalDBSnapshotIdentifier": "", "skipfinalsnapshot": "true"},
            "SkipFinalSnapshot",
        ),
        ("rds", {"SKIPFINALSNAPSHOT": "true"}, "SkipFinalSnapshot"),
    ],
)
def test_a_judged_parameter_under_a_name_botocore_never_writes_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, service: str, keys: dict[str, str], field: str
) -> None:
    """A ``before-call`` handler gives an instance delete a judged parameter under a name its
    client never writes: blocked on that parameter, nothing sent, the instance kept, and the
    record says why."""
    make_instance(moto_server.client("rds"), "db1")
    client = guarded_client(_final_snapshot_required(tmp_path), service, on=moto_server)
    _body_gets(client, f"{service}.DeleteDBInstance", **keys)
    final = {"FinalDBSnapshotIdentifier": "db1-final"} if service == "rds" else {}
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_instance(DBInstanceIdentifier="db1", **final)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", field)]
    assert "never writes" in caught.value.violations[0].message
    assert moto_server.count("DeleteDBInstance") == 0
    assert _instances(moto_server) == ["db1"]
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked"
    assert [v["field"] for v in blocked["violations"]] == [field]


def test_a_describe_made_into_a_documentdb_delete_its_api_cannot_write_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-call`` handler makes a DocumentDB client's DescribeDBInstances the delete of
    an RDS instance with ``SkipFinalSnapshot=true``, which DocumentDB's DeleteDBInstance lacks:
    judged as sent, it is blocked on it, and nothing is sent."""
    make_instance(moto_server.client("rds"), "db1")
    docdb = guarded_client(_final_snapshot_required(tmp_path), "docdb", on=moto_server)
    body = {"Action": "DeleteDBInstance", "Version": "2014-10-31",
            "DBInstanceIdentifier": "db1", "SkipFinalSnapshot": "true"}  # fmt: skip

    def delete_instead(params: dict[str, Any], **_: Any) -> None:
        params["body"] = dict(body)

    docdb.meta.events.register("before-call.docdb.DescribeDBInstances", delete_instead)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        docdb.describe_db_instances(DBInstanceIdentifier="db1")
    assert [(v.rule, v.field) for v in caught.value.violations] == [
        ("request.changed", "SkipFinalSnapshot")
    ]
    assert moto_server.count("DeleteDBInstance") == moto_server.count("DescribeDBInstances") == 0
    assert _instances(moto_server) == ["db1"]
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBInstance")


@pytest.mark.parametrize("key", ["BackupRetentionPeriod", "backupretentionperiod"])
def test_a_documentdb_modify_given_a_retention_its_api_lacks_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, key: str
) -> None:
    """DocumentDB's ModifyDBInstance has no ``BackupRetentionPeriod``, so the guard does not
    judge it; one another handler gives it (``0``: the backups off) is carried out as rds's:
    blocked (the guard judges the operation for rds only), nothing sent, and recorded. The
    same call as botocore makes it goes unjudged and unrecorded, as before."""
    make_instance(moto_server.client("rds"), "db1")
    docdb = guarded_client(write_policy(tmp_path, BACKUPS), "docdb", on=moto_server)
    docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert moto_server.count("ModifyDBInstance") == 1 and audit_records(tmp_path) == []
    _body_gets(docdb, "docdb.ModifyDBInstance", **{key: "0"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "Action")]
    assert "a parameter the docdb API lacks" in caught.value.violations[0].message
    assert moto_server.count("ModifyDBInstance") == 0
    (instance,) = moto_server.client("rds").describe_db_instances()["DBInstances"]
    assert instance["BackupRetentionPeriod"] != 0
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "ModifyDBInstance")


def test_in_warn_mode_the_request_goes_and_its_records_name_the_parameter(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode: the request another handler gave ``SkipFinalSnapshot`` goes as it stands,
    and its records carry ``request.changed`` on it, so the log says what was done, and
    that what it did is not known."""
    make_instance(moto_server.client("rds"), "db1")
    docdb = guarded_client(_final_snapshot_required(tmp_path, "warn"), "docdb", on=moto_server)
    _body_gets(docdb, "docdb.DeleteDBInstance", SkipFinalSnapshot="true")
    moto_server.reset_counts()
    docdb.delete_db_instance(DBInstanceIdentifier="db1")
    assert moto_server.count("DeleteDBInstance") == 1
    requested, outcome = audit_records(tmp_path)
    # what the request did cannot be told from it: its outcome is unknown (docs/audit.md)
    assert (requested["event"], outcome["event"]) == ("requested", "unknown")
    for record in (requested, outcome):
        assert [(v["rule"], v["field"]) for v in record["violations"]] == [
            ("request.changed", "SkipFinalSnapshot")
        ]


def test_deletes_as_botocore_makes_them_go_as_before(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The check reads names botocore never writes: a DocumentDB and an rds instance delete
    as botocore makes them go on, judged and recorded as before."""
    rds = moto_server.client("rds")
    for name in ("db1", "db2"):
        make_instance(rds, name)
    policy = _final_snapshot_required(tmp_path)
    guarded_client(policy, "docdb", on=moto_server).delete_db_instance(DBInstanceIdentifier="db1")
    guarded_client(policy, on=moto_server).delete_db_instance(
        DBInstanceIdentifier="db2", FinalDBSnapshotIdentifier="db2-final"
    )
    assert moto_server.count("DeleteDBInstance") == 2
    records = audit_records(tmp_path)
    # the rds delete makes its final snapshot: its outcome says so
    assert [r["event"] for r in records] == ["requested", "deleted", "requested", "created"]
    assert all(r["violations"] == [] for r in records)


def test_a_documentdb_endpoint_whose_query_names_a_judged_rds_parameter_sends_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """An endpoint URL configured with ``?SkipFinalSnapshot=true`` sends it with every call of
    a DocumentDB client, whose API lacks it and whose endpoint reads it as rds's: an instance
    delete is `request.changed` on the URL, nothing sent."""
    make_instance(moto_server.client("rds"), "db1")
    policy = _final_snapshot_required(tmp_path)
    url = f"{moto_server.url}/?SkipFinalSnapshot=true"
    session, _ = guarded_session(policy)
    docdb = moto_server.client("docdb", session=session, endpoint_url=url)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        docdb.delete_db_instance(DBInstanceIdentifier="db1")
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "url")]
    assert moto_server.actions() == []
    assert _instances(moto_server) == ["db1"]


def test_in_warn_mode_a_documentdb_modify_given_a_retention_is_recorded_once(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode: the DocumentDB ModifyDBInstance another handler gave a
    ``BackupRetentionPeriod`` goes as it stands, recorded before and after as the call the
    guard judges for rds, its violation and why it was judged as sent in both records."""
    make_instance(moto_server.client("rds"), "db1")
    policy = write_policy(tmp_path, BACKUPS, mode="warn")
    docdb = guarded_client(policy, "docdb", on=moto_server)
    _body_gets(docdb, "docdb.ModifyDBInstance", BackupRetentionPeriod="0")
    moto_server.reset_counts()
    docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert moto_server.count("ModifyDBInstance") == 1
    requested, outcome = audit_records(tmp_path)
    assert (requested["event"], outcome["event"]) == ("requested", "unknown")
    for record in (requested, outcome):
        assert (record["service"], record["operation"]) == ("docdb", "ModifyDBInstance")
        assert [(v["rule"], v["field"]) for v in record["violations"]] == [
            ("request.changed", "Action")
        ]
        assert turned_note("ModifyDBInstance", "docdb") in record["notes"]


def _retention(server: MotoServer) -> int:
    (instance,) = server.client("rds").describe_db_instances()["DBInstances"]
    return instance["BackupRetentionPeriod"]


def test_a_documentdb_modify_whose_body_is_made_text_with_a_retention_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-call`` handler makes a DocumentDB ModifyDBInstance's body form text that
    carries ``BackupRetentionPeriod=0`` (the backups off): blocked, nothing sent."""
    make_instance(moto_server.client("rds"), "db1")
    before = _retention(moto_server)
    docdb = guarded_client(write_policy(tmp_path, BACKUPS), "docdb", on=moto_server)

    def as_text(params: dict[str, Any], **_: Any) -> None:
        body = dict(params["body"], BackupRetentionPeriod="0")
        params["body"] = urllib.parse.urlencode(body)

    docdb.meta.events.register("before-call.docdb.ModifyDBInstance", as_text)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "Action")]
    assert moto_server.count("ModifyDBInstance") == 0
    assert _retention(moto_server) == before
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "ModifyDBInstance")


def test_a_documentdb_modify_whose_url_is_given_a_retention_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-call`` handler gives a DocumentDB ModifyDBInstance's URL the query
    ``BackupRetentionPeriod=0``, which the service may read as a parameter: blocked, nothing
    sent."""
    make_instance(moto_server.client("rds"), "db1")
    before = _retention(moto_server)
    docdb = guarded_client(write_policy(tmp_path, BACKUPS), "docdb", on=moto_server)

    def queried(params: dict[str, Any], **_: Any) -> None:
        params["url"] += "?BackupRetentionPeriod=0"

    docdb.meta.events.register("before-call.docdb.ModifyDBInstance", queried)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert moto_server.count("ModifyDBInstance") == 0
    assert _retention(moto_server) == before


def test_a_documentdb_endpoint_whose_query_names_a_retention_sends_no_modify(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """An endpoint URL configured with ``?BackupRetentionPeriod=0`` sends it with every call
    of a DocumentDB client, whose ModifyDBInstance lacks it and whose endpoint reads it as
    rds's: an instance modify is refused, nothing sent."""
    make_instance(moto_server.client("rds"), "db1")
    before = _retention(moto_server)
    session, _ = guarded_session(write_policy(tmp_path, BACKUPS))
    url = f"{moto_server.url}/?BackupRetentionPeriod=0"
    docdb = moto_server.client("docdb", session=session, endpoint_url=url)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert moto_server.count("ModifyDBInstance") == 0
    assert _retention(moto_server) == before


@pytest.mark.parametrize(
    "key",
    [
        "BackupRetentıonPeriod",
        "BACKUPRETENTİONPERİOD",
        "BackupRetentionPeriod ",
        "\x01BackupRetentionPeriod",
    ],
)
def test_a_documentdb_modify_given_a_retention_spelt_as_a_service_may_fold_it_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, key: str
) -> None:
    """A ``before-call`` handler gives a DocumentDB ModifyDBInstance's body a key that a
    service comparing names as Java does (``equalsIgnoreCase``) reads as
    ``BackupRetentionPeriod`` (a dotless or dotted i), or one that trims a space: it is
    refused, as a body of a guarded call naming it so is, and nothing is sent."""
    make_instance(moto_server.client("rds"), "db1")
    docdb = guarded_client(write_policy(tmp_path, BACKUPS), "docdb", on=moto_server)

    def put(params: dict[str, Any], **_: Any) -> None:
        params["body"][key] = "0"

    docdb.meta.events.register("before-call.docdb.ModifyDBInstance", put)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        docdb.modify_db_instance(DBInstanceIdentifier="db1", ApplyImmediately=True)
    assert moto_server.count("ModifyDBInstance") == 0


@pytest.mark.parametrize("service", ["rds", "docdb"])
def test_an_endpoint_whose_query_names_an_item_of_a_judged_list_shares_nothing(
    moto_server: MotoServer, tmp_path: Path, service: str
) -> None:
    """An endpoint URL configured with ``?ValuesToAdd.AttributeValue.2=all`` sends a second
    item of the judged ``ValuesToAdd`` with every call, which the service reads with the
    body's: a share with one account is refused on the URL (as ``?ValuesToAdd=all`` is),
    nothing sent, and the snapshot stays private."""
    rds = moto_server.client("rds")
    make_cluster(rds, "c1")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="s0", DBClusterIdentifier="c1")
    session, _ = guarded_session(write_policy(tmp_path, HOLD_ONLY))
    url = f"{moto_server.url}/?ValuesToAdd.AttributeValue.2=all"
    client = moto_server.client(service, session=session, endpoint_url=url)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier="s0", AttributeName="restore",
            ValuesToAdd=["123456789012"],
        )  # fmt: skip
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "url")]
    assert moto_server.count("ModifyDBClusterSnapshotAttribute") == 0
    found = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier="s0")
    (attribute,) = found["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    assert "all" not in attribute["AttributeValues"]


@pytest.mark.parametrize("action", ["Act\u0131on", "ACT\u0130ON", " Action"])
def test_a_describe_made_into_a_delete_under_an_action_a_service_may_fold_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, action: str
) -> None:
    """A ``before-call`` handler makes a DescribeDBClusters body text naming the delete of a
    held snapshot under an ``Action`` a service comparing names as Java does reads as one
    (a dotless or dotted i, a space it trims): judged as that delete, it cannot be read as
    one call (``request.changed``), nothing is sent, and the snapshot stays."""
    rds = held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    text = f"{action}=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=held"

    def delete_instead(params: dict[str, Any], **_: Any) -> None:
        params["body"] = text

    client.meta.events.register("before-call.rds.DescribeDBClusters", delete_instead)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.describe_db_clusters()
    assert [v.rule for v in caught.value.violations] == ["request.changed"]
    assert moto_server.actions() == []
    assert rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="held")
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")


def _signed_as(client: Any, event: str, **keys: str) -> None:
    """A ``before-sign`` handler of ``client`` that puts ``keys`` in the body of ``event``'s
    requests, which a presign's URL then carries."""

    def put(request: Any, **_: Any) -> None:
        request.data.update(keys)

    client.meta.events.register(f"before-sign.{event}", put)


def test_a_presign_of_a_describe_made_into_a_held_snapshots_delete_signs_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-sign`` handler makes the presign of a DescribeDBClusters, a call the guard
    does not judge, the delete of a snapshot on hold: judged as the URL is signed, it is
    blocked, no URL returned, and recorded as the delete it became."""
    held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    _signed_as(
        client,
        "rds.DescribeDBClusters",
        Action="DeleteDBClusterSnapshot",
        DBClusterSnapshotIdentifier="held",
    )
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.generate_presigned_url("describe_db_clusters", Params={})
    assert "deletion.hold" in [v.rule for v in caught.value.violations]
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")
    assert turned_note("DescribeDBClusters") in blocked["notes"]


@pytest.mark.parametrize(
    ("method", "event", "keys", "field"),
    [
        (
            "describe_db_instances",
            "DescribeDBInstances",
            {
                "Action": "DeleteDBInstance",
                "DBInstanceIdentifier": "db1",
                "SkipFinalSnapshot": "true",
            },
            "SkipFinalSnapshot",
        ),
        ("modify_db_instance", "ModifyDBInstance", {"BackupRetentionPeriod": "0"}, "Action"),
    ],
)
def test_a_documentdb_presign_given_a_parameter_its_api_lacks_signs_nothing(
    moto_server: MotoServer,
    tmp_path: Path,
    method: str,
    event: str,
    keys: dict[str, str],
    field: str,
) -> None:
    """A ``before-sign`` handler makes a DocumentDB presign the delete of an RDS instance
    without its final snapshot, or gives its ModifyDBInstance a ``BackupRetentionPeriod``:
    parameters DocumentDB's API lacks, which the URL carries to the endpoint the three
    services share: refused, no URL, recorded. The same presigns left alone are signed,
    and nothing recorded."""
    make_instance(moto_server.client("rds"), "db1")
    policy = write_policy(tmp_path, BACKUPS, automated_backups="any")
    plain = guarded_client(policy, "docdb", on=moto_server)
    assert plain.generate_presigned_url(method, Params={"DBInstanceIdentifier": "db1"})
    assert audit_records(tmp_path) == []
    docdb = guarded_client(policy, "docdb", on=moto_server)
    _signed_as(docdb, f"docdb.{event}", **keys)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        docdb.generate_presigned_url(method, Params={"DBInstanceIdentifier": "db1"})
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", field)]
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_in_warn_mode_a_retry_of_a_changed_request_is_warned_about_once(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Warn mode: the first attempt of a request another handler gave ``SkipFinalSnapshot``
    is answered 500 and botocore sends it again: the records and the log say the change
    once, not once per attempt."""
    make_instance(moto_server.client("rds"), "db1")
    docdb = guarded_client(_final_snapshot_required(tmp_path, "warn"), "docdb", on=moto_server)
    _body_gets(docdb, "docdb.DeleteDBInstance", SkipFinalSnapshot="true")
    attempts: list[str] = []

    def first_fails(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(request.url)
        return raw_response(request.url, 500, b"") if len(attempts) == 1 else None

    docdb.meta.events.register_last("before-send.docdb", first_fails)
    moto_server.reset_counts()
    with caplog.at_level("WARNING", logger="rds_guard"):
        docdb.delete_db_instance(DBInstanceIdentifier="db1")
    assert len(attempts) == 2 and moto_server.count("DeleteDBInstance") == 1
    requested, outcome = audit_records(tmp_path)
    for record in (requested, outcome):
        assert [(v["rule"], v["field"]) for v in record["violations"]] == [
            ("request.changed", "SkipFinalSnapshot")
        ]
    assert len([r for r in caplog.records if "request.changed" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("Act\u0131on", "DeleteDBClusterSnapshot"),
        ("ACT\u0130ON", "DeleteDBClusterSnapshot"),
        (" Action", "DeleteDBClusterSnapshot"),
        ("Action ", "DeleteDBClusterSnapshot"),
        ("\x01Action", "DeleteDBClusterSnapshot"),  # control characters Java's trim() drops
        ("Action\x00", "DeleteDBClusterSnapshot"),
        ("action", "DeleteDBClusterSnapshot\x00"),
        ("action", "\x1bDeleteDBClu\u017fterSnapshot"),
    ],
)
def test_a_describe_given_a_second_action_a_service_may_fold_in_its_dict_body_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, action: str, value: str
) -> None:
    """A ``before-call`` handler adds to a DescribeDBClusters' dict body, beside its own
    ``Action``, the delete of a held snapshot under an ``Action`` a service comparing names
    as Java does reads as one: no plain describe, it is judged, refused, nothing sent, the
    snapshot kept."""
    rds = held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    _body_gets(
        client,
        "rds.DescribeDBClusters",
        **{action: value, "DBClusterSnapshotIdentifier": "held"},
    )
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        client.describe_db_clusters()
    assert moto_server.actions() == []
    assert rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="held")


@pytest.mark.parametrize(
    "query",
    ["DBClusterSnapshotIdent\u0131fier=evil", "%20Tags.Tag.9.Key=x", "%01DBClusterIdentifier=x"],
)
def test_an_endpoint_query_naming_a_parameter_as_a_service_may_fold_it_sends_nothing(
    moto_server: MotoServer, tmp_path: Path, query: str
) -> None:
    """An endpoint URL whose own query names a parameter of the call as a service comparing
    names as Java does may read it (a dotless i, a space it trims): `request.changed` on the
    URL, nothing sent, as for the name as botocore writes it."""
    make_cluster(moto_server.client("rds"))
    session, _ = guarded_session(write_policy(tmp_path, HOLD_ONLY))
    queried = moto_server.client("rds", session=session, endpoint_url=f"{moto_server.url}/?{query}")
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        queried.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-1"
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "url")]
    assert moto_server.actions() == []


def test_in_warn_mode_a_presign_made_into_a_held_snapshots_delete_is_recorded_as_presigned(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode: the DescribeDBClusters presign a ``before-sign`` handler made the delete of
    a held snapshot is signed, and its ``presigned`` record names the delete, its violation
    and the call it was made from, before the URL is returned."""
    held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    _signed_as(
        client,
        "rds.DescribeDBClusters",
        Action="DeleteDBClusterSnapshot",
        DBClusterSnapshotIdentifier="held",
    )
    url = client.generate_presigned_url("describe_db_clusters", Params={})
    assert "Action=DeleteDBClusterSnapshot" in url
    (presigned,) = audit_records(tmp_path)
    assert (presigned["event"], presigned["operation"]) == ("presigned", "DeleteDBClusterSnapshot")
    assert [v["rule"] for v in presigned["violations"]] == ["deletion.hold"]
    assert turned_note("DescribeDBClusters") in presigned["notes"]


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_botocores_own_presign_of_a_describe_made_into_a_held_snapshots_delete_is_judged(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """botocore's own ``generate_presigned_url(client, ...)`` of a DescribeDBClusters, made
    the delete of a snapshot on hold by a ``before-sign`` handler: judged as it is signed
    (the same handler of the guard's sees every operation's ``before-sign``), refused in
    enforce mode (no URL), signed and recorded ``presigned`` as the delete in warn mode.
    Before, no handler of the guard's saw that presign: its URL was signed unjudged and
    unrecorded (the client's own method was caught, above)."""
    held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode=mode), on=moto_server)
    _signed_as(
        client,
        "rds.DescribeDBClusters",
        Action="DeleteDBClusterSnapshot",
        DBClusterSnapshotIdentifier="held",
    )

    def presign() -> str:
        return botocore.signers.generate_presigned_url(client, "describe_db_clusters", Params={})

    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            presign()
        assert "deletion.hold" in [v.rule for v in caught.value.violations]
    else:
        assert "Action=DeleteDBClusterSnapshot" in presign()
    (record,) = audit_records(tmp_path)
    event = "blocked" if mode == "enforce" else "presigned"
    assert (record["event"], record["operation"]) == (event, "DeleteDBClusterSnapshot")
    assert [v["rule"] for v in record["violations"]] == ["deletion.hold"]
    assert turned_note("DescribeDBClusters") in record["notes"]


def test_botocores_own_presigns_left_alone_are_signed_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Control: botocore's own presign of a DescribeDBClusters no handler changed, and one
    whose ``before-sign`` handler adds a parameter of its own, are signed as a bare client
    signs them, and nothing is recorded; a client that signs its calls with a query
    signature (``v4-query``, as presigns are) has a request made into a delete at
    ``before-sign`` judged once, as it is sent, and not taken for a presign."""
    held_snapshot(moto_server)
    policy = write_policy(tmp_path, HOLD_ONLY, mode="warn")
    client = guarded_client(policy, on=moto_server)
    bare = moto_server.client("rds")
    for each in (client, bare):
        _signed_as(each, "rds.DescribeDBClusters", MaxRecords="20")
    urls = [
        botocore.signers.generate_presigned_url(each, "describe_db_clusters", Params={})
        for each in (client, bare)
    ]
    assert [url.partition("X-Amz-Date")[0] for url in urls[:1]] == [
        url.partition("X-Amz-Date")[0] for url in urls[1:]
    ]
    assert "MaxRecords=20" in urls[0] and audit_records(tmp_path) == []
    session, _ = guarded_session(policy, on=moto_server)
    query_signed = moto_server.client(
        "rds", session=session, config=botocore.config.Config(signature_version="v4-query")
    )
    _signed_as(
        query_signed,
        "rds.DescribeDBClusters",
        Action="DeleteDBClusterSnapshot",
        DBClusterSnapshotIdentifier="held",
    )
    moto_server.reset_counts()
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):  # botocore's parser: the
        query_signed.describe_db_clusters()  # delete's answer read as a describe's
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    requested, *_ = records = audit_records(tmp_path)
    assert (requested["event"], requested["operation"]) == ("requested", "DeleteDBClusterSnapshot")
    assert "presigned" not in [record["event"] for record in records]


_HELD_DELETE = {"Action": "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier": "held"}


def test_a_presign_given_the_wrappers_context_is_still_judged_as_it_is_signed(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Inside the client's presign of a DescribeDBClusters, a handler makes a presign of its
    own with botocore's function, gives it the wrapper's context at ``before-sign`` and makes
    it the delete of a held snapshot: judged as it is signed, refused, recorded. Before, a
    presign with the wrapper's context was left for the wrapper, which reads only its own
    URL: the handler's was signed unjudged. (The wrapper's own URL, judged as it was signed,
    is not judged again when it carries what was judged: the warn-mode test above.)"""
    held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    outer: list[Any] = []

    def nested(context: Any, **_: Any) -> None:
        if not outer:
            outer.append(context)
            botocore.signers.generate_presigned_url(client, "describe_db_clusters", Params={})

    def swap(request: Any, **_: Any) -> None:
        if outer and request.context is not outer[0]:
            request.context = outer[0]
            request.data.update(_HELD_DELETE)

    client.meta.events.register("before-parameter-build.rds.DescribeDBClusters", nested)
    client.meta.events.register("before-sign.rds.DescribeDBClusters", swap)
    with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.hold"):
        client.generate_presigned_url("describe_db_clusters", Params={})
    assert [(r["event"], r["operation"]) for r in audit_records(tmp_path)] == [
        ("blocked", "DeleteDBClusterSnapshot")
    ]


def test_a_handler_that_makes_the_signer_look_query_signing_does_not_hide_a_presign(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-sign`` handler turns botocore's own presign of a DescribeDBClusters into the
    delete of a held snapshot and sets the client's signer to sign calls as presigns are
    (``v4-query``), another puts it back after the guard's handler: the guard reads how the
    client signs as it was made, and refuses the presign. Before, it read the signer then,
    took the client for one whose calls are told from presigns by nothing, and let it by."""
    held_snapshot(moto_server)
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)

    def turn(request: Any, request_signer: Any, **_: Any) -> None:
        request.data.update(_HELD_DELETE)
        request_signer._signature_version = "v4-query"

    def put_back(request_signer: Any, **_: Any) -> None:
        request_signer._signature_version = "v4"

    client.meta.events.register("before-sign.rds.DescribeDBClusters", turn)
    client.meta.events.register("before-sign", put_back)
    with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.hold"):
        botocore.signers.generate_presigned_url(client, "describe_db_clusters", Params={})
    assert [(r["event"], r["operation"]) for r in audit_records(tmp_path)] == [
        ("blocked", "DeleteDBClusterSnapshot")
    ]

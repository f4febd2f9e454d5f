"""Every door: each operation of the three botocore models that names a snapshot is guarded
or listed with why; a call is judged whatever client it comes through; the new doors
(DeleteTenantDatabase, StopDBInstance, StartExportTask) are judged and recorded; an error
answer after a retry is `unknown`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws import audit_records, guarded_client, make_cluster, make_instance, snapshot_arn
from policies import AUDITED, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard.core import deletion, operations

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
NAMES_A_SNAPSHOT = re.compile(r"SnapshotIdentifier$|SnapshotArn$|^ResourceName$|^SourceArn$")
GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


def models() -> list[tuple[str, Any]]:
    session = botocore.session.get_session()
    return [(service, session.get_service_model(service)) for service in operations.SERVICES]


def test_every_operation_naming_a_snapshot_is_guarded_or_listed_with_why() -> None:
    unclassified = []
    for service, model in models():
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            members = shape.members if shape is not None else {}
            if not any(NAMES_A_SNAPSHOT.search(member) for member in members):
                continue
            if operations.find(service, name) is None and name not in operations.UNGUARDED:
                unclassified.append(f"{service} {name}")
    assert not unclassified, f"classify these (guard them, or list them with why): {unclassified}"


TOUCHES_BACKUPS = {"BackupRetentionPeriod", "DeleteAutomatedBackups", "SkipFinalSnapshot"}
TOUCHES_BACKUPS |= {"FinalDBSnapshotIdentifier", "DeleteTarget"}
BACKUPS_DOCS = DOCS.with_name("backups.md")


def test_every_operation_touching_backups_is_judged_or_listed_with_why() -> None:
    """The walk above finds what names a snapshot; this one what may delete backups: a
    retention, a final snapshot, the automated backups (or the green databases) to delete, or
    an operation on automated backups (not a Describe). Each is guarded, or in
    `deletion.NOT_JUDGED` with why, and that is in docs/backups.md."""
    unclassified = []
    for service, model in models():
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            members = set(shape.members) if shape is not None else set()
            acts_on_backups = "AutomatedBackup" in name and not name.startswith("Describe")
            if not (members & TOUCHES_BACKUPS or acts_on_backups):
                continue
            if operations.find(service, name) is None and name not in deletion.NOT_JUDGED:
                unclassified.append(f"{service} {name}")
    assert not unclassified, f"judge these, or list them with why: {unclassified}"
    text = BACKUPS_DOCS.read_text()
    for name, why in deletion.NOT_JUDGED.items():
        assert f"| {name} | {why} |" in text, name


def test_every_unguarded_operation_is_in_the_docs_with_its_reason() -> None:
    text = DOCS.read_text()
    for name, why in operations.UNGUARDED.items():
        assert f"| {name} | {why} |" in text, name


def test_every_guarded_row_matches_its_services_models() -> None:
    """The table's services and parameters are botocore's: on every service it claims, the
    operation exists and has the parameters the row names, the final snapshot's two both or
    neither (DocumentDB's DeleteDBInstance makes none); what it also judges exists on one
    service at least (DeleteAutomatedBackups is rds's only)."""
    by_service = dict(models())
    for row in operations.OPERATIONS.values():
        named = {row.source, row.tags, row.tag_keys, row.copy_tags, row.facts_from}
        final = {row.identifier, row.skip_final} - {None} if row.skip_final else set()
        named |= {row.identifier} if not final else set()
        found: set[str] = set()
        for service in row.services:
            model = by_service[service]
            assert row.name in model.operation_names, (service, row.name)
            members = set(model.operation_model(row.name).input_shape.members)
            assert named - {None} <= members, (service, row.name)
            assert final <= members or final.isdisjoint(members), (service, row.name)
            found |= members
        assert set(row.also_judged) <= found, row.name


def test_the_parameters_a_service_lacks_are_its_models() -> None:
    """`operations.NOT_IN_API` names, for each service and guarded operation, exactly the
    judged parameters its botocore model does not have."""
    lacking = {}
    for service, model in models():
        for name, row in operations.OPERATIONS.items():
            if service in row.services:
                members = model.operation_model(name).input_shape.members
                absent = frozenset(p for p in row.judged if p not in members)
                if absent:
                    lacking[(service, name)] = absent
    assert lacking == operations.NOT_IN_API


@pytest.mark.parametrize(("service", "operation"), sorted(operations.NOT_IN_API))
def test_evaluate_refuses_a_parameter_the_services_api_lacks(service: str, operation: str) -> None:
    """Offline, a Neptune cluster's delete that keeps its automated backups was allowed (the
    cluster taken to be an RDS one): no Neptune client can send DeleteAutomatedBackups. Each
    such parameter is ``request.invalid``, as the guard's own check of a client that does not
    validate calls it; on rds the same call is judged on its merits."""
    policy = rds_guard.Policy.from_toml(
        'version = 1\n[deletion]\nfinal_snapshot = "required"\nautomated_backups = "keep"\n'
        "[audit]\nenabled = false\n"
    )
    row = operations.OPERATIONS[operation]
    assert row.facts_from is not None
    params = {row.facts_from: "db-1", "FinalDBSnapshotIdentifier": "final-1"}
    params["DeleteAutomatedBackups"] = False
    decision = rds_guard.evaluate(policy, operation, params, service=service)
    invalid = [v.field for v in decision.violations if v.rule == "request.invalid"]
    assert invalid == [p for p in params if p in operations.NOT_IN_API[(service, operation)]]
    assert not decision.allowed
    on_rds = rds_guard.evaluate(policy, operation, params, service="rds")
    assert on_rds.allowed, on_rds.violations


def test_an_rds_client_snapshotting_a_neptune_cluster_is_judged_under_a_neptune_policy(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """`services = ["neptune"]` cannot be walked around with an rds client: one endpoint."""
    body = 'version = 1\nservices = ["neptune"]\n[naming]\npattern = "^{source}-manual$"\n'
    body += '[audit]\npath = "audit.jsonl"\nfsync = false\n'
    rds = guarded_client(write_policy(tmp_path, body), on=moto_server)
    make_cluster(rds, "graph", engine="neptune")
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="graph", DBClusterSnapshotIdentifier="graph-weekly"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="graph", DBClusterSnapshotIdentifier="graph-manual"
    )
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "requested", "created"]


def test_a_tenant_database_final_snapshot_is_judged(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.delete_tenant_database(
            DBInstanceIdentifier="orders", TenantDBName="orders", FinalDBSnapshotIdentifier="x"
        )
    assert moto_server.count("DeleteTenantDatabase") == 0
    assert audit_records(tmp_path)[0]["event"] == "blocked"


def test_a_stop_that_snapshots_is_judged_and_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_instance(rds, "orders")
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.stop_db_instance(DBInstanceIdentifier="orders", DBSnapshotIdentifier="weekly")
    assert moto_server.count("StopDBInstance") == 0
    rds.stop_db_instance(DBInstanceIdentifier="orders", DBSnapshotIdentifier=GOOD)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "requested", "created"]
    assert audit_records(tmp_path)[-1]["snapshot"] == GOOD


EXPORTS = AUDITED + '[export]\ns3_buckets = ["acme-backups-*"]\n'


def start_export(rds: Any, arn: str, bucket: str) -> Any:
    return rds.start_export_task(
        ExportTaskIdentifier=f"export-{bucket}",
        SourceArn=arn,
        S3BucketName=bucket,
        S3Prefix="orders/",
        IamRoleArn="arn:aws:iam::123456789012:role/export",
        KmsKeyId="alias/exports",
    )


def test_an_export_to_a_bucket_outside_the_policy_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, EXPORTS), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    arn = snapshot_arn(rds, GOOD)
    with pytest.raises(rds_guard.PolicyViolation, match=r"export\.bucket"):
        start_export(rds, arn, "someone-elses-bucket")
    assert moto_server.count("StartExportTask") == 0
    start_export(rds, arn, "acme-backups-1")
    assert moto_server.count("StartExportTask") == 1
    *_, blocked, requested, exported = audit_records(tmp_path)
    assert (blocked["event"], requested["event"], exported["event"]) == (
        "blocked",
        "requested",
        "exported",
    )
    assert exported["arn"] == arn and exported["snapshot"] == GOOD
    assert exported["notes"] == [
        "bucket: acme-backups-1",
        "prefix: orders/",
        "kms key: alias/exports",
    ]
    assert "role/export" not in (tmp_path / "audit.jsonl").read_text()


def test_exports_can_be_switched_off(moto_server: MotoServer, tmp_path: Path) -> None:
    rds = guarded_client(
        write_policy(tmp_path, AUDITED + "[export]\nenabled = false\n"), on=moto_server
    )
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:any"
    with pytest.raises(rds_guard.PolicyViolation, match=r"export\.disabled"):
        start_export(rds, arn, "acme-backups-1")
    assert moto_server.count("StartExportTask") == 0


def test_a_delete_whose_reply_is_lost_and_retried_is_unknown(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The first attempt lands, its reply is lost; the retry gets NotFound. The log says
    `unknown` (reconcile decides), never `failed`: the snapshot is in fact gone."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    lose_the_first_reply(rds, "DeleteDBClusterSnapshot")
    with pytest.raises(rds.exceptions.DBClusterSnapshotNotFoundFault):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=GOOD)
    assert moto_server.count("DeleteDBClusterSnapshot") == 2
    requested, outcome = audit_records(tmp_path)[-2:]
    assert (requested["event"], outcome["event"]) == ("requested", "unknown")
    assert outcome["error"]["code"] == "DBClusterSnapshotNotFoundFault"


def lose_the_first_reply(client: Any, operation: str) -> None:
    """A ``before-send`` handler that lets the first request of ``operation`` reach the
    server, then answers botocore with a 503 as if the reply had been lost, so botocore
    retries; later requests go through untouched."""
    from botocore.httpsession import URLLib3Session

    state = {"lost": False}

    def lose(request: Any, event_name: str, **_: Any) -> Any:
        if state["lost"] or not event_name.endswith(operation):
            return None
        state["lost"] = True
        URLLib3Session().send(request)  # the first attempt reaches the server and lands
        return raw_response(request.url, 503)

    client.meta.events.register_first(f"before-send.rds.{operation}", lose)

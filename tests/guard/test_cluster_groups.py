"""DB cluster groups (rds, botocore 1.44.18): their snapshots are named, tagged, inherited and
deleted under the policy as a cluster's are (docs/operations.md), and a group delete that
takes the automated backups is judged (docs/backups.md).

moto emulates none of the group API: `ClusterGroupResponder` answers it on ``before-send``,
counting by action what reached it, while every other request goes on to moto, in-process or
over HTTP (counted at its server too), so a blocked call is proven unsent where it would have
arrived. Every rejection here comes from the guard: the stand-in checks no name or tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws import audit_records, guarded_client, guarded_session
from botocore.config import Config
from botocore.exceptions import ClientError
from cluster_groups import ClusterGroupResponder, has_cluster_groups
from policies import BACKUPS, RULE_OF_EACH_KIND, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.reconcile import reconcile

pytestmark = pytest.mark.skipif(
    not has_cluster_groups(), reason="this botocore has no DB cluster group API (1.44.18+)"
)

GOOD = "orders-manual-20261205"
GROUP_TAGS = {"team": "core", "env": "prod", "cost-center": "42"}


@dataclass
class Rig:
    """A guarded rds client answered by the group stand-in and moto, and the count of the
    requests of an action that reached either."""

    rds: Any
    groups: ClusterGroupResponder
    server: MotoServer | None

    def sent(self, action: str) -> int:
        at_moto = self.server.count(action) if self.server is not None else 0
        return self.groups.count(action) + at_moto


def rig_for(policy: str, tmp_path: Path, server: MotoServer | None) -> Rig:
    rds = guarded_client(write_policy(tmp_path, policy), on=server)
    groups = ClusterGroupResponder()
    groups.add_group("orders", GROUP_TAGS, copy_tags=True, resource_id="clustergroup-0a1b2c")
    groups.attach(rds)
    return Rig(rds, groups, server)


@pytest.fixture(params=["http", "in-process"])
def transport(request: pytest.FixtureRequest) -> Iterator[MotoServer | None]:
    """moto over real HTTP on 127.0.0.1, or under ``mock_aws``."""
    if request.param == "http":
        yield request.getfixturevalue("moto_server")
    else:
        request.getfixturevalue("moto_inprocess")
        yield None


def test_a_group_snapshot_that_breaks_the_policy_is_never_sent(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    rig = rig_for(RULE_OF_EACH_KIND, tmp_path, transport)
    with pytest.raises(rds_guard.PolicyViolation) as raised:
        rig.rds.create_db_cluster_group_snapshot(
            DBClusterGroupIdentifier="orders",
            DBClusterGroupSnapshotIdentifier="test2",
            Tags=[{"Key": "env", "Value": "prod"}],
        )
    rules = [(v.rule, v.field) for v in raised.value.violations]
    assert rules == [
        ("identifier.pattern", "DBClusterGroupSnapshotIdentifier"),
        ("tags.required", "Tags.team"),
    ]
    assert rig.sent("CreateDBClusterGroupSnapshot") == 0
    assert rig.groups.snapshots == {}
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "CreateDBClusterGroupSnapshot")


def test_an_identifier_only_aws_s_looser_pattern_allows_is_refused() -> None:
    """docs/operations.md: a group snapshot's name is held to every snapshot's rules."""
    policy = rds_guard.Policy.from_toml("version = 1\n[audit]\nenabled = false\n")
    for name in ("2026-orders", "orders:weekly", "orders--1", "orders-", "o" * 256):
        decision = rds_guard.evaluate(
            policy,
            "CreateDBClusterGroupSnapshot",
            {"DBClusterGroupIdentifier": "orders", "DBClusterGroupSnapshotIdentifier": name},
        )
        assert [v.rule for v in decision.violations] == ["identifier.aws"], name
    allowed = rds_guard.evaluate(
        policy,
        "CreateDBClusterGroupSnapshot",
        {"DBClusterGroupIdentifier": "orders", "DBClusterGroupSnapshotIdentifier": "o" * 255},
    )
    assert allowed.allowed


def test_a_group_snapshot_keeps_the_tags_the_group_passes_on(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    """The group has CopyTagsToSnapshot: adding the default tag must not drop its tags."""
    rig = rig_for(RULE_OF_EACH_KIND, tmp_path, transport)
    answer = rig.rds.create_db_cluster_group_snapshot(
        DBClusterGroupIdentifier="orders", DBClusterGroupSnapshotIdentifier=GOOD
    )
    made = rig.groups.snapshots[GOOD]
    assert made.tags == {**GROUP_TAGS, "managed-by": "rds-guard"}
    assert rig.sent("DescribeDBClusterGroups") == 1
    assert answer["DBClusterGroupSnapshot"]["DBClusterGroupSnapshotArn"] == made.arn
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert created["snapshot"] == GOOD
    assert created["arn"] == made.arn


def test_a_snapshot_of_a_group_that_does_not_exist_gets_the_service_s_error(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    rig = rig_for(RULE_OF_EACH_KIND, tmp_path, transport)
    with pytest.raises(ClientError, match="DBClusterGroupNotFound"):
        rig.rds.create_db_cluster_group_snapshot(
            DBClusterGroupIdentifier="missing", DBClusterGroupSnapshotIdentifier=GOOD
        )
    assert rig.sent("CreateDBClusterGroupSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["failed"]


@pytest.mark.parametrize(
    ("tags", "age", "rules"),
    [
        ({"legal-hold": "true"}, timedelta(days=30), ["deletion.hold"]),
        ({}, timedelta(days=1), ["deletion.too_young"]),
        ({"legal-hold": "true"}, timedelta(0), ["deletion.too_young", "deletion.hold"]),
    ],
    ids=["held", "young", "both"],
)
def test_deleting_a_group_snapshot_the_policy_keeps_is_never_sent(
    transport: MotoServer | None,
    tmp_path: Path,
    tags: dict[str, str],
    age: timedelta,
    rules: list[str],
) -> None:
    rig = rig_for(BACKUPS, tmp_path, transport)
    rig.groups.add_snapshot(GOOD, "orders", tags, age=age)
    with pytest.raises(rds_guard.PolicyViolation) as raised:
        rig.rds.delete_db_cluster_group_snapshot(DBClusterGroupSnapshotIdentifier=GOOD)
    assert [v.rule for v in raised.value.violations] == rules
    assert rig.sent("DescribeDBClusterGroupSnapshots") == 1
    assert rig.sent("DeleteDBClusterGroupSnapshot") == 0
    assert GOOD in rig.groups.snapshots
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked"


def test_an_old_group_snapshot_on_no_hold_is_deleted_and_recorded(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    rig = rig_for(BACKUPS, tmp_path, transport)
    made = rig.groups.add_snapshot(GOOD, "orders", {"legal-hold": "no"}, age=timedelta(days=8))
    rig.rds.delete_db_cluster_group_snapshot(DBClusterGroupSnapshotIdentifier=GOOD)
    assert rig.groups.snapshots == {}
    requested, deleted = audit_records(tmp_path)
    assert (requested["event"], deleted["event"]) == ("requested", "deleted")
    assert deleted["arn"] == made.arn


def test_lifting_a_hold_on_a_group_snapshot_is_never_sent(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    rig = rig_for(BACKUPS, tmp_path, transport)
    made = rig.groups.add_snapshot(GOOD, "orders", {"legal-hold": "true"}, age=timedelta(days=30))
    with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.hold"):
        rig.rds.remove_tags_from_resource(ResourceName=made.arn, TagKeys=["legal-hold"])
    assert rig.sent("RemoveTagsFromResource") == 0
    assert made.tags == {"legal-hold": "true"}


def test_a_group_delete_that_takes_the_automated_backups_is_never_sent(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    rig = rig_for(BACKUPS, tmp_path, transport)
    with pytest.raises(rds_guard.PolicyViolation) as raised:
        rig.rds.delete_db_cluster_group(DBClusterGroupIdentifier="orders")
    (violation,) = raised.value.violations
    assert violation.rule == "deletion.automated_backups"
    assert "pass DeleteAutomatedBackups=False" in violation.message
    with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.automated_backups"):
        rig.rds.delete_db_cluster_group_automated_backup(
            DBClusterGroupResourceId="clustergroup-0a1b2c"
        )
    assert rig.sent("DeleteDBClusterGroup") == 0
    assert rig.sent("DeleteDBClusterGroupAutomatedBackup") == 0
    assert rig.groups.backups == {"clustergroup-0a1b2c"}
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "blocked"]

    rig.rds.delete_db_cluster_group(DBClusterGroupIdentifier="orders", DeleteAutomatedBackups=False)
    assert rig.sent("DeleteDBClusterGroup") == 1
    assert rig.groups.backups == {"clustergroup-0a1b2c"}  # kept, as the policy says
    assert len(audit_records(tmp_path)) == 2  # a delete that keeps them is not recorded


@pytest.mark.parametrize(
    ("arn_names", "resource_id"),
    [("orders", "clustergroup-0a1b2c"), ("clustergroup-ffff", "clustergroup-0a1b2c"),
     ("clustergroup-0a1b2c", "")],
    ids=["the-identifier", "another-resource", "no-resource-id"],
)  # fmt: skip
def test_a_group_whose_arn_is_not_its_own_passes_on_no_tags(
    transport: MotoServer | None, tmp_path: Path, arn_names: str, resource_id: str
) -> None:
    """The group's ARN must name the resource id the same answer gives (botocore's model:
    ``cluster-group:clustergroup-...``): one that names the group's identifier, another
    group's resource id, or no resource id to hold it to is no answer about this group, and
    the default tag would drop the tags it passes on."""
    rig = rig_for(RULE_OF_EACH_KIND, tmp_path, transport)
    group = rig.groups.groups["orders"]
    group.arn = f"arn:aws:rds:us-east-1:123456789012:cluster-group:{arn_names}"
    group.resource_id = resource_id
    with pytest.raises(rds_guard.PolicyViolation, match="ARN of another resource") as raised:
        rig.rds.create_db_cluster_group_snapshot(
            DBClusterGroupIdentifier="orders", DBClusterGroupSnapshotIdentifier=GOOD
        )
    assert [v.rule for v in raised.value.violations] == ["tags.inherit"]
    assert rig.sent("CreateDBClusterGroupSnapshot") == 0


@pytest.mark.parametrize("kept", ["false", "False", 0, None, "", True])
def test_only_false_itself_keeps_a_group_s_backups(tmp_path: Path, kept: object) -> None:
    """A client that does not validate sends ``"false"`` as true (and 0 or "" as false): only
    False itself is read as keeping them, in `evaluate` and through such a client, where a
    value botocore would refuse is `request.invalid` besides; nothing is sent."""
    policy = rds_guard.Policy.from_toml(BACKUPS)
    params = {"DBClusterGroupIdentifier": "orders", "DeleteAutomatedBackups": kept}
    decision = rds_guard.evaluate(policy, "DeleteDBClusterGroup", params)
    assert "deletion.automated_backups" in [v.rule for v in decision.violations]
    session, _ = guarded_session(write_policy(tmp_path, BACKUPS))
    rds = session.client("rds", config=Config(parameter_validation=False))
    groups = ClusterGroupResponder()
    groups.add_group("orders", {}, copy_tags=False, resource_id="clustergroup-0a1b2c")
    groups.attach(rds)
    with pytest.raises(rds_guard.PolicyViolation) as raised:
        rds.delete_db_cluster_group(**params)
    invalid = kept is not True  # botocore's validation would refuse it
    expected = "request.invalid" if invalid else "deletion.automated_backups"
    assert [v.rule for v in raised.value.violations] == [expected]
    assert groups.count("DeleteDBClusterGroup") == 0
    assert "orders" in groups.groups


def _take_the_backups_in_the_params(params: dict[str, Any], **_: Any) -> None:
    params["DeleteAutomatedBackups"] = True


def _take_the_backups_in_the_body(params: dict[str, Any], **_: Any) -> None:
    params["body"]["DeleteAutomatedBackups"] = "true"


@pytest.mark.parametrize(
    ("event", "handler"),
    [
        ("before-parameter-build.rds.DeleteDBClusterGroup", _take_the_backups_in_the_params),
        ("before-call.rds.DeleteDBClusterGroup", _take_the_backups_in_the_body),
    ],
    ids=["before-parameter-build", "before-call"],
)
def test_a_handler_cannot_make_a_group_delete_left_alone_take_the_backups(
    transport: MotoServer | None, tmp_path: Path, event: str, handler: Any
) -> None:
    """A delete that keeps the backups is neither judged nor recorded; a handler registered
    after the guard that then makes it take them is caught where the request is held, and
    nothing is sent."""
    rig = rig_for(BACKUPS, tmp_path, transport)
    rig.rds.meta.events.register(event, handler)
    with pytest.raises(rds_guard.PolicyViolation) as raised:
        rig.rds.delete_db_cluster_group(
            DBClusterGroupIdentifier="orders", DeleteAutomatedBackups=False
        )
    assert "deletion.automated_backups" in {v.rule for v in raised.value.violations}
    assert rig.sent("DeleteDBClusterGroup") == 0
    assert rig.groups.backups == {"clustergroup-0a1b2c"} and "orders" in rig.groups.groups
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_an_automated_group_snapshot_is_read_as_one(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    """``rds:...`` names an automated snapshot, which AWS describes only when asked for that
    type, as for cluster snapshots."""
    rig = rig_for(BACKUPS, tmp_path, transport)
    name = "rds:orders-2026-12-05-00-00"
    rig.groups.add_snapshot(name, "orders", {}, age=timedelta(hours=1), snapshot_type="automated")
    with pytest.raises(rds_guard.PolicyViolation, match=r"deletion\.too_young"):
        rig.rds.delete_db_cluster_group_snapshot(DBClusterGroupSnapshotIdentifier=name)
    read = rig.groups.last_params("DescribeDBClusterGroupSnapshots")
    assert read["SnapshotType"] == "automated"
    assert rig.sent("DeleteDBClusterGroupSnapshot") == 0


def test_reconcile_holds_no_group_snapshot_against_a_listing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """reconcile lists no group snapshot: one the guard made is neither vanished nor pending."""
    rig = rig_for(RULE_OF_EACH_KIND, tmp_path, moto_server)
    rig.rds.create_db_cluster_group_snapshot(
        DBClusterGroupIdentifier="orders", DBClusterGroupSnapshotIdentifier=GOOD
    )
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]
    policy = rds_guard.Policy.from_toml(RULE_OF_EACH_KIND)
    report = reconcile(audit_records(tmp_path), [], policy, service="rds")
    assert report.clean, report


def test_reconcile_reports_a_group_snapshot_deleted_in_breach(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """What the log alone tells of group snapshots is reported: a delete sent in warn mode
    although the snapshot was too young is `breached`, as a cluster snapshot's would be."""
    rig = rig_for(BACKUPS.replace('mode = "enforce"', 'mode = "warn"'), tmp_path, moto_server)
    rig.groups.add_snapshot(GOOD, "orders", {}, age=timedelta(hours=1))
    rig.rds.delete_db_cluster_group_snapshot(DBClusterGroupSnapshotIdentifier=GOOD)
    assert rig.groups.snapshots == {}
    records = audit_records(tmp_path)
    assert [r["event"] for r in records] == ["requested", "deleted"]
    report = reconcile(records, [], None, service="rds")
    assert report.breached == (GOOD,)
    assert reconcile(records, [], None, service="neptune").breached == ()
    # a cluster snapshot's delete in breach after it: the two in the log's order
    later = [
        {**r, "call": r["call"] + "-2", "operation": "DeleteDBClusterSnapshot", "snapshot": "later"}
        for r in records
    ]
    for record in later:
        record.pop("arn", None)
    assert reconcile(records + later, [], None, service="rds").breached == (GOOD, "later")


def test_a_warn_guard_adding_no_tags_is_invisible_to_the_group_api(
    transport: MotoServer | None, tmp_path: Path
) -> None:
    """The same group calls, guarded in warn mode (no default or forced tags) and bare: the
    same requests reach the service, and the same answers and errors come back."""
    warn = 'version = 1\nmode = "warn"\n[naming]\npattern = "^never$"\n[audit]\nenabled = false\n'
    answers = []
    for guarded in (True, False):
        groups = ClusterGroupResponder()
        groups.add_group("orders", GROUP_TAGS, copy_tags=True, resource_id="clustergroup-0a1b2c")
        session = botocore.session.get_session()
        rds = (
            guarded_client(write_policy(tmp_path, warn), on=transport)
            if guarded
            else (
                transport.client("rds") if transport else session.create_client("rds", "us-east-1")
            )
        )
        groups.attach(rds)
        seen = []
        seen.append(
            rds.create_db_cluster_group_snapshot(
                DBClusterGroupIdentifier="orders", DBClusterGroupSnapshotIdentifier="Weekly"
            )["DBClusterGroupSnapshot"]["TagList"]
        )
        with pytest.raises(ClientError) as missing:
            rds.delete_db_cluster_group_snapshot(DBClusterGroupSnapshotIdentifier="gone")
        seen.append(missing.value.response["Error"]["Code"])
        rds.delete_db_cluster_group(DBClusterGroupIdentifier="orders")
        seen.append(sorted(groups.backups))
        answers.append((seen, [(r.action, r.params) for r in groups.requests()]))
    guarded_run, bare_run = answers
    assert guarded_run == bare_run

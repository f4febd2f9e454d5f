"""deletion.py, through `decide`: `[deletion]`'s four rules (docs/backups.md), their
exemptions, the look-ups they make and what they leave for the audit record.

`delete` calls `decide.decide` (through `decide_call`) with `Lookups` whose ``snapshot`` and
``database`` answers are given by the test and counted (they stand in for the guard's Describe
calls); `evaluate` is the public offline entry point, where ``source_tags`` are the snapshot's
tags and ``snapshot_created`` when it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from core_fixtures import (
    CLUSTER_SNAPSHOT_ARN,
    DB_SNAPSHOT_ARN,
    NOW,
    RecordingReader,
    decide_call,
    each_call,
    make_policy,
    only,
    rules_of,
    tag_list,
)

from rds_guard import UNREADABLE
from rds_guard.core.calls import DatabaseFacts, Lookups, SnapshotFacts, Unreadable
from rds_guard.core.decide import Decision, evaluate

REQUIRED = make_policy('[deletion]\nfinal_snapshot = "required"\n')
KEEP = make_policy('[deletion]\nautomated_backups = "keep"\n')
BOTH = make_policy('[deletion]\nfinal_snapshot = "required"\nautomated_backups = "keep"\n')
WEEK = make_policy("[deletion]\nminimum_age_days = 7\n")
HOLD = make_policy('[deletion.hold_tags]\nlegal-hold = "true"\n')
RETENTION = make_policy(
    """
    [deletion]
    minimum_age_days = 7
    [deletion.hold_tags]
    legal-hold = "true"
    litigation = "case-42"
    """
)
ORDINARY = DatabaseFacts(engine="postgres")
DENIED = Unreadable("AccessDenied: not allowed to describe")


@dataclass
class Judged:
    """A decision and the look-ups it made."""

    decision: Decision
    snapshot: RecordingReader
    database: RecordingReader
    source_tags: RecordingReader


def delete(
    policy: Any,
    operation: str,
    params: dict[str, Any],
    *,
    service: str = "rds",
    snapshot: object = None,
    database: object = None,
    now: datetime = NOW,
) -> Judged:
    """`decide` of one call with recorded look-ups answering ``snapshot`` and ``database``."""
    readers = RecordingReader(), RecordingReader(snapshot), RecordingReader(database)  # type: ignore[arg-type]
    lookups = Lookups(source_tags=readers[0], snapshot=readers[1], database=readers[2])  # type: ignore[arg-type]
    decision = decide_call(policy, operation, params, lookups, service=service, now=now)
    return Judged(decision, readers[1], readers[2], readers[0])


def made(ago: timedelta, *, tags: dict[str, str] | None = None, status: str = "available"):
    """The facts of a snapshot made ``ago`` before `NOW`."""
    return SnapshotFacts(NOW - ago, tags or {}, status)


TAKEN = (
    "the delete takes the automated backups of orders-1 with it (DeleteAutomatedBackups not given)"
)
"""The note of an instance's delete read as no cluster member's that takes its backups."""


# --- final_snapshot ----------------------------------------------------------------------------


DATABASE_DELETES = [
    ("rds", "DeleteDBCluster", "DBClusterIdentifier"),
    ("docdb", "DeleteDBCluster", "DBClusterIdentifier"),
    ("neptune", "DeleteDBCluster", "DBClusterIdentifier"),
    ("rds", "DeleteDBInstance", "DBInstanceIdentifier"),
    ("neptune", "DeleteDBInstance", "DBInstanceIdentifier"),
    ("rds", "DeleteTenantDatabase", "TenantDBName"),
]
each_database_delete = each_call(DATABASE_DELETES)


@each_database_delete
def test_skipping_the_final_snapshot_is_refused_when_one_is_required(service, operation, name):
    """`SkipFinalSnapshot=True` under `final_snapshot = "required"`: `deletion.final_snapshot`,
    the message saying what to pass instead; the decision still names what is deleted."""
    judged = delete(
        REQUIRED,
        operation,
        {name: "Orders", "SkipFinalSnapshot": True},
        service=service,
        database=ORDINARY,
    )
    violation = only(judged.decision, "deletion.final_snapshot")
    assert (violation.field, violation.value) == ("SkipFinalSnapshot", "True")
    assert "pass FinalDBSnapshotIdentifier instead of SkipFinalSnapshot=True" in violation.message
    assert 'final_snapshot = "required"' in violation.message
    assert rules_of(judged.decision) == ["deletion.final_snapshot"]
    assert (judged.decision.source, judged.decision.snapshot) == ("orders", None)
    assert (judged.decision.outcome, judged.decision.recorded) == ("deleted", True)


@each_database_delete
def test_a_final_snapshot_satisfies_the_rule_and_reads_nothing(service, operation, name):
    """A `FinalDBSnapshotIdentifier` (SkipFinalSnapshot absent or False): allowed, named, its
    outcome `created`; the instance is not described."""
    for extra in ({}, {"SkipFinalSnapshot": False}):
        params = {name: "orders", "FinalDBSnapshotIdentifier": "orders-final", **extra}
        judged = delete(REQUIRED, operation, params, service=service, database=ORDINARY)
        assert judged.decision.allowed, judged.decision.violations
        assert (judged.decision.snapshot, judged.decision.outcome) == ("orders-final", "created")
        assert judged.database.calls == 0


@each_database_delete
def test_skipping_the_final_snapshot_is_fine_by_default(service, operation, name):
    """`final_snapshot = "optional"` (the default): allowed, recorded, nothing read."""
    for policy in (make_policy(), make_policy('[deletion]\nfinal_snapshot = "optional"\n')):
        params = {name: "orders", "SkipFinalSnapshot": True}
        judged = delete(policy, operation, params, service=service, database=ORDINARY)
        assert judged.decision.allowed
        assert judged.decision.recorded is True
        assert judged.database.calls == 0
        assert judged.decision.params == params


EXEMPT = {
    "cluster member": (DatabaseFacts(cluster="orders", engine="aurora-postgresql"), "orders"),
    "read replica of an instance": (
        DatabaseFacts(replica_of="orders-primary", engine="postgres"),
        "orders-primary",
    ),
    "read replica of a cluster": (
        DatabaseFacts(replica_of="orders-cluster", engine="mysql"),
        "orders-cluster",
    ),
    "RDS Custom": (DatabaseFacts(engine="custom-oracle-ee"), "custom-oracle-ee"),
    "failed": (DatabaseFacts(engine="postgres", status="failed"), "failed"),
    "incompatible-restore": (
        DatabaseFacts(engine="postgres", status="incompatible-restore"),
        "incompatible-restore",
    ),
    "incompatible-network": (
        DatabaseFacts(engine="postgres", status="incompatible-network"),
        "incompatible-network",
    ),
}


@pytest.mark.parametrize(("facts", "why"), EXEMPT.values(), ids=EXEMPT.keys())
def test_instances_aws_deletes_only_without_a_final_snapshot_are_exempt(facts, why):
    """A cluster member, a read replica (of an instance or of a cluster), an RDS Custom
    instance and the three failure states: `SkipFinalSnapshot=True` is allowed under
    `"required"`, the instance described once, and the record's notes say why."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    judged = delete(REQUIRED, "DeleteDBInstance", params, database=facts)
    assert judged.decision.allowed, judged.decision.violations
    assert judged.database.calls == 1
    note, *backups = judged.decision.notes
    assert note.startswith("no final snapshot: ") and why in note
    assert backups == ([] if facts.cluster else [TAKEN])


@pytest.mark.parametrize("status", ["available", "stopped", "storage-full", "deleting"])
def test_other_instances_are_not_exempt(status):
    """An ordinary instance in any other state needs its final snapshot."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    facts = DatabaseFacts(engine="postgres", status=status)
    judged = delete(REQUIRED, "DeleteDBInstance", params, database=facts)
    assert rules_of(judged.decision) == ["deletion.final_snapshot"]
    assert judged.decision.notes == (TAKEN,)


def test_a_neptune_instance_is_a_cluster_member():
    """Every Neptune instance belongs to a cluster, so its delete never needs a final
    snapshot: exempt once described."""
    params = {"DBInstanceIdentifier": "graph-1", "SkipFinalSnapshot": True}
    facts = DatabaseFacts(cluster="graph", engine="neptune")
    judged = delete(BOTH, "DeleteDBInstance", params, service="neptune", database=facts)
    assert judged.decision.allowed
    assert judged.database.calls == 1


def test_a_cluster_delete_has_no_exemption_and_reads_nothing():
    """DeleteDBCluster is judged on its parameters alone: no Describe of anything."""
    params = {"DBClusterIdentifier": "orders", "SkipFinalSnapshot": True}
    judged = delete(REQUIRED, "DeleteDBCluster", params, database=EXEMPT["cluster member"][0])
    assert rules_of(judged.decision) == ["deletion.final_snapshot"]
    assert judged.database.calls == 0


def test_an_instance_that_cannot_be_read_is_not_exempt_and_the_message_says_why():
    """Access denied on the Describe: no exemption can be shown, so the rule's violation
    stands, naming what stopped the read."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    judged = delete(BOTH, "DeleteDBInstance", params, database=DENIED)
    assert rules_of(judged.decision) == ["deletion.final_snapshot", "deletion.automated_backups"]
    for violation in judged.decision.violations:
        assert "could not be read: AccessDenied: not allowed to describe" in violation.message
    assert judged.database.calls == 1


def test_skip_final_snapshot_false_keeps_the_final_snapshot():
    """`SkipFinalSnapshot=False` skips nothing: allowed, nothing read."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": False}
    judged = delete(REQUIRED, "DeleteDBInstance", params, database=ORDINARY)
    assert judged.decision.allowed
    assert judged.database.calls == 0


@pytest.mark.parametrize("skip", ["True", "true", 1, "1", "yes"])
def test_a_skip_given_as_anything_but_false_is_judged_as_a_skip(skip: object):
    """botocore refuses anything but a bool; offline, a value the service may read as true
    is judged as a skip, never waved through."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": skip}
    judged = delete(REQUIRED, "DeleteDBInstance", params, database=ORDINARY)
    (violation,) = judged.decision.violations
    assert (violation.rule, violation.value) == ("deletion.final_snapshot", str(skip))
    assert f"instead of SkipFinalSnapshot={skip!r}" in violation.message


# --- automated_backups -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "name"),
    [("DeleteDBCluster", "DBClusterIdentifier"), ("DeleteDBInstance", "DBInstanceIdentifier")],
)
@pytest.mark.parametrize("given", ["absent", True, False])
def test_delete_automated_backups_absent_true_false(operation, name, given):
    """Through the rds API, under `automated_backups = "keep"`: absent is AWS's default (they
    are deleted) and True deletes them, both `deletion.automated_backups` with a message telling
    to pass False (and, when absent, that AWS deletes them then); False keeps them."""
    params: dict[str, Any] = {name: "orders", "FinalDBSnapshotIdentifier": "orders-final"}
    if given != "absent":
        params["DeleteAutomatedBackups"] = given
    judged = delete(KEEP, operation, params, database=ORDINARY)
    if given is False:
        assert judged.decision.allowed
        assert judged.database.calls == 0
        return
    violation = only(judged.decision, "deletion.automated_backups")
    assert (violation.field, violation.value) == ("DeleteAutomatedBackups", "True")
    assert "pass DeleteAutomatedBackups=False" in violation.message
    assert ("when it is not given, AWS deletes them" in violation.message) is (given == "absent")
    assert rules_of(judged.decision) == ["deletion.automated_backups"]


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        ("docdb", "DeleteDBCluster", "DBClusterIdentifier"),
        ("neptune", "DeleteDBCluster", "DBClusterIdentifier"),
        ("neptune", "DeleteDBInstance", "DBInstanceIdentifier"),
        ("rds", "DeleteTenantDatabase", "TenantDBName"),
    ],
)
def test_keep_does_not_apply_where_the_api_offers_no_choice(service, operation, name):
    """DocumentDB's and Neptune's deletes of their own databases (and DeleteTenantDatabase)
    have no `DeleteAutomatedBackups`: `"keep"` does not apply. Through those clients the
    database is described for its engine (the endpoint is the rds one); a tenant database's
    delete takes no automated backups and reads nothing."""
    params = {name: "orders", "FinalDBSnapshotIdentifier": "orders-final"}
    database = DatabaseFacts(engine=service, instance=operation == "DeleteDBInstance")
    judged = delete(KEEP, operation, params, service=service, database=database)
    assert judged.decision.allowed
    assert judged.database.calls == (0 if operation == "DeleteTenantDatabase" else 1)


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        ("docdb", "DeleteDBCluster", "DBClusterIdentifier"),
        ("neptune", "DeleteDBCluster", "DBClusterIdentifier"),
        ("neptune", "DeleteDBInstance", "DBInstanceIdentifier"),
    ],
)
def test_another_apis_delete_of_an_rds_database_cannot_keep_its_backups(service, operation, name):
    """The same delete of an RDS database (engine postgres), or of one that cannot be read,
    through the Neptune or DocumentDB client: AWS deletes its automated backups and that API
    cannot say otherwise, so under `"keep"` it is a violation pointing to the rds client."""
    params = {name: "orders", "FinalDBSnapshotIdentifier": "orders-final"}
    instance = operation == "DeleteDBInstance"
    for database in (DatabaseFacts(engine="postgres", instance=instance), DENIED):
        judged = delete(KEEP, operation, params, service=service, database=database)
        assert rules_of(judged.decision) == ["deletion.automated_backups"]
        message = judged.decision.violations[0].message
        assert f"the {service} API cannot keep them" in message
        assert "through the rds client with DeleteAutomatedBackups=False" in message
        assert judged.database.calls == 1


def test_a_cluster_members_delete_takes_no_automated_backups():
    """A cluster member's automated backups are the cluster's: its delete is not judged as
    taking them (the instance is described to know)."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    member = DatabaseFacts(cluster="orders", engine="aurora-postgresql")
    judged = delete(BOTH, "DeleteDBInstance", params, database=member)
    assert judged.decision.allowed
    assert judged.database.calls == 1


def test_a_read_replica_is_exempt_from_the_final_snapshot_only():
    """A read replica's delete needs no final snapshot, but may still take its own automated
    backups: `"keep"` still applies."""
    params = {"DBInstanceIdentifier": "orders-2", "SkipFinalSnapshot": True}
    replica = DatabaseFacts(replica_of="orders-1", engine="postgres")
    judged = delete(BOTH, "DeleteDBInstance", params, database=replica)
    assert rules_of(judged.decision) == ["deletion.automated_backups"]
    assert judged.database.calls == 1


def test_both_rules_share_one_read_of_the_instance():
    """An ordinary instance deleted without a final snapshot and with its backups: both
    violations, from one Describe."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    judged = delete(BOTH, "DeleteDBInstance", params, database=ORDINARY)
    assert rules_of(judged.decision) == ["deletion.final_snapshot", "deletion.automated_backups"]
    assert judged.database.calls == 1


AUTOMATED_BACKUP_DELETES = [
    ("DeleteDBInstanceAutomatedBackup", "DbiResourceId", "db-ABCDEFGHIJ"),
    (
        "DeleteDBInstanceAutomatedBackup",
        "DBInstanceAutomatedBackupsArn",
        "arn:aws:rds:us-east-1:123456789012:auto-backup:ab-1",
    ),
    ("DeleteDBClusterAutomatedBackup", "DbClusterResourceId", "cluster-ABCDEFGHIJ"),
]


@pytest.mark.parametrize(("operation", "name", "value"), AUTOMATED_BACKUP_DELETES)
def test_deleting_automated_backups_is_refused_under_keep(operation, name, value):
    """`Delete*AutomatedBackup` under `"keep"`: `deletion.automated_backups`, its field the
    parameter that names the backups; nothing is read."""
    judged = delete(KEEP, operation, {name: value})
    violation = only(judged.decision, "deletion.automated_backups")
    assert (violation.field, violation.value) == (name, value)
    assert 'automated_backups = "keep"' in violation.message
    assert judged.decision.notes == (f"automated backups of {value}",)
    assert judged.database.calls == judged.snapshot.calls == 0


@pytest.mark.parametrize(("operation", "name", "value"), AUTOMATED_BACKUP_DELETES)
def test_deleting_automated_backups_is_recorded_under_any(operation, name, value):
    """`"any"` (the default): allowed, recorded as `deleted`."""
    judged = delete(make_policy(), operation, {name: value})
    assert judged.decision.allowed
    assert (judged.decision.recorded, judged.decision.outcome) == (True, "deleted")


@pytest.mark.parametrize("service", ["rds", "neptune"])
@pytest.mark.parametrize("period", [0, "0", " 0", 0.0, "-0", Decimal(0), b"0"])
def test_turning_automated_backups_off_is_refused_under_keep(service, period):
    """`ModifyDBInstance(BackupRetentionPeriod=0)` turns the instance's automated backups off,
    and AWS deletes them: under `"keep"` it is `deletion.automated_backups` on the parameter
    (through Neptune's API too, which takes the parameter on the shared endpoint). A value
    the service reads as 0 (a client that does not validate sends it as text) counts."""
    params = {"DBInstanceIdentifier": "Orders", "BackupRetentionPeriod": period}
    judged = delete(KEEP, "ModifyDBInstance", params, service=service)
    violation = only(judged.decision, "deletion.automated_backups")
    assert (violation.field, violation.value) == ("BackupRetentionPeriod", str(period))
    assert "turns the automated backups off" in violation.message
    assert judged.decision.notes == (
        "automated backups of Orders turned off (BackupRetentionPeriod=0, at the next"
        " maintenance window)",
    )
    now = delete(KEEP, "ModifyDBInstance", params | {"ApplyImmediately": True}, service=service)
    assert now.decision.notes == (
        "automated backups of Orders turned off (BackupRetentionPeriod=0)",
    )
    assert (judged.decision.source, judged.decision.outcome) == ("orders", "deleted")
    # the instance is read (a cluster member's retention is the cluster's), nothing else
    assert (judged.database.calls, judged.snapshot.calls, judged.source_tags.calls) == (1, 0, 0)
    anyway = delete(make_policy(), "ModifyDBInstance", params, service=service)
    assert anyway.decision.allowed and anyway.decision.recorded  # "any": recorded
    assert anyway.database.calls == 0


@pytest.mark.parametrize("service", ["rds", "neptune"])
def test_a_cluster_members_retention_of_zero_is_not_turning_backups_off(service):
    """A cluster member's retention is the cluster's: AWS refuses `BackupRetentionPeriod` on
    it, deleting no backup, so it is no `deletion.automated_backups` (the call goes, and
    gets the service's own answer); the note says why. An instance that cannot be read is
    judged as before, saying why."""
    params = {"DBInstanceIdentifier": "Orders-1", "BackupRetentionPeriod": 0}
    member = DatabaseFacts(cluster="orders", engine="aurora-postgresql")
    judged = delete(KEEP, "ModifyDBInstance", params, service=service, database=member)
    assert judged.decision.allowed and judged.decision.outcome == "deleted"
    assert judged.decision.notes == (
        "BackupRetentionPeriod=0 on Orders-1, a member of cluster orders: its automated backups"
        " are the cluster's, which AWS does not let this change",
    )
    alone = delete(KEEP, "ModifyDBInstance", params, database=DatabaseFacts(engine="postgres"))
    only(alone.decision, "deletion.automated_backups")
    unread = delete(KEEP, "ModifyDBInstance", params, database=Unreadable("AccessDenied"))
    violation = only(unread.decision, "deletion.automated_backups")
    assert violation.message.endswith("(the instance could not be read: AccessDenied)")


def test_promoting_a_replica_with_its_backups_off_is_refused_under_keep():
    """`PromoteReadReplica(BackupRetentionPeriod=0)` turns the promoted instance's automated
    backups off as it promotes it (no maintenance window: it has no ApplyImmediately); under
    `"keep"` it is `deletion.automated_backups`, recorded under `"any"`; a promote that keeps
    them is neither judged nor recorded."""
    params = {"DBInstanceIdentifier": "Replica", "BackupRetentionPeriod": "0"}
    judged = delete(KEEP, "PromoteReadReplica", params)
    violation = only(judged.decision, "deletion.automated_backups")
    assert (violation.field, violation.value) == ("BackupRetentionPeriod", "0")
    assert judged.decision.notes == (
        "automated backups of Replica turned off (BackupRetentionPeriod=0)",
    )
    assert (judged.decision.source, judged.decision.outcome) == ("replica", "deleted")
    anyway = delete(make_policy(), "PromoteReadReplica", params).decision
    assert anyway.allowed and anyway.recorded
    for kept in ({"DBInstanceIdentifier": "replica"}, {**params, "BackupRetentionPeriod": 7}):
        decision = delete(KEEP, "PromoteReadReplica", kept).decision
        assert (decision.allowed, decision.recorded, decision.params) == (True, False, kept)


@pytest.mark.parametrize(
    "params",
    [
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 7},
        {"DBInstanceIdentifier": "orders", "AllocatedStorage": 100},
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": False},
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": None},
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": "seven"},
    ],
)
def test_any_other_instance_change_is_neither_judged_nor_recorded(params):
    """Any other ModifyDBInstance passes untouched, unrecorded (`False` the service refuses:
    botocore sends a bool as ``False``)."""
    decision = delete(KEEP, "ModifyDBInstance", params).decision
    assert (decision.allowed, decision.recorded) == (True, False)
    assert decision.params == params


# --- minimum_age_days --------------------------------------------------------------------------


SNAPSHOT_DELETES = [
    ("rds", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
    ("docdb", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
    ("neptune", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
    ("rds", "DeleteDBSnapshot", "DBSnapshotIdentifier"),
]
each_snapshot_delete = each_call(SNAPSHOT_DELETES)


@each_snapshot_delete
def test_a_snapshot_younger_than_minimum_age_days_may_not_be_deleted(service, operation, name):
    """Made a minute ago under `minimum_age_days = 7`: `deletion.too_young`, naming when it
    was made and how old it is; the snapshot read once."""
    facts = made(timedelta(minutes=1))
    judged = delete(WEEK, operation, {name: "Orders-1"}, service=service, snapshot=facts)
    violation = only(judged.decision, "deletion.too_young")
    assert (violation.field, violation.value) == (name, "Orders-1")
    assert "only when 7 days old" in violation.message
    assert "it was made 2026-11-29T12:33:56Z" in violation.message
    assert violation.message.endswith("Z, 1 minute ago")
    assert judged.snapshot.calls == 1
    assert judged.decision.snapshot == "orders-1"


@each_snapshot_delete
@pytest.mark.parametrize("policy", [WEEK, make_policy("")], ids=["judged", "not-judged"])
def test_a_snapshot_deleted_by_its_arn_is_recorded_by_its_name(service, operation, name, policy):
    """A delete naming the snapshot by its ARN: the record's ``snapshot`` is its name, as a
    tag operation's is and as the service lists it (it was the whole ARN, which `reconcile`
    and `audit query --snapshot` look for in vain)."""
    kind = "snapshot" if operation == "DeleteDBSnapshot" else "cluster-snapshot"
    arn = f"arn:aws:rds:us-east-1:123456789012:{kind}:Orders-1"
    judged = delete(policy, operation, {name: arn}, service=service, snapshot=made(timedelta(8)))
    assert judged.decision.snapshot == "orders-1"
    assert judged.decision.params[name] == arn


@pytest.mark.parametrize(
    ("age", "allowed"),
    [
        (timedelta(days=7), True),
        (timedelta(days=7, microseconds=1), True),
        (timedelta(days=400), True),
        (timedelta(days=7) - timedelta(microseconds=1), False),
        (timedelta(days=6, hours=23), False),
        (timedelta(0), False),
        (-timedelta(hours=1), False),
    ],
    ids=["exactly-7", "just-over", "old", "just-under", "6d23h", "now", "in-the-future"],
)
def test_minimum_age_days_boundaries(age, allowed):
    """Exactly N days old is old enough; a moment younger is not; a creation time in the
    future (a skewed clock) is not old enough either."""
    judged = delete(
        WEEK, "DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": "s"}, snapshot=made(age)
    )
    assert judged.decision.allowed is allowed


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(seconds=30), "under a minute ago"),
        (timedelta(minutes=1, seconds=59), "1 minute ago"),
        (timedelta(minutes=119), "119 minutes ago"),
        (timedelta(hours=2), "2 hours ago"),
        (timedelta(hours=47, minutes=59), "47 hours ago"),
        (timedelta(days=2), "2.0 days ago"),
        (timedelta(days=6, hours=12), "6.5 days ago"),
        (timedelta(days=7) - timedelta(seconds=1), "6.9 days ago"),
        (-timedelta(minutes=5), "later than now (the clocks disagree)"),
    ],
)
def test_the_message_says_how_old_the_snapshot_is_in_words(ago, said):
    """A person reads the age in minutes, hours or days, whichever fits."""
    judged = delete(WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=made(ago))
    assert only(judged.decision, "deletion.too_young").message.endswith(f", {said}")


def test_fractional_days_are_shown_as_written():
    """`minimum_age_days = 0.5`: twelve hours is old enough, eleven is not."""
    policy = make_policy("[deletion]\nminimum_age_days = 0.5\n")
    params = {"DBSnapshotIdentifier": "s"}
    old_enough = delete(policy, "DeleteDBSnapshot", params, snapshot=made(timedelta(hours=12)))
    assert old_enough.decision.allowed
    young = delete(policy, "DeleteDBSnapshot", params, snapshot=made(timedelta(hours=11)))
    assert "only when 0.5 days old" in only(young.decision, "deletion.too_young").message


def test_the_creation_time_is_given_in_utc_whatever_zone_it_came_in():
    """botocore hands the time over in the zone its answer implied (moto's answer has none, so
    the local zone): the record and the message give it in UTC."""
    tokyo = timezone(timedelta(hours=9))
    facts = SnapshotFacts(datetime(2026, 11, 29, 21, 0, tzinfo=tokyo), {})
    judged = delete(WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=facts)
    assert judged.decision.extra == {"snapshot_created": "2026-11-29T12:00:00+00:00"}
    message = only(judged.decision, "deletion.too_young").message
    assert "it was made 2026-11-29T12:00:00Z," in message


def test_a_snapshot_still_being_made_is_too_young():
    """`Status = "creating"`: too young whatever its creation time says, or when it has none."""
    for facts in (
        SnapshotFacts(None, {}, "creating"),
        made(timedelta(days=30), status="creating"),
    ):
        judged = delete(WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=facts)
        assert "it is still being made" in only(judged.decision, "deletion.too_young").message


def test_a_snapshot_whose_creation_time_is_not_known_is_not_judged_by_age():
    """No creation time and not `creating`: the age rule cannot be judged, so it is not."""
    judged = delete(
        WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=SnapshotFacts(None, {})
    )
    assert judged.decision.allowed
    assert "snapshot_created" not in judged.decision.extra


def test_minimum_age_zero_allows_any_made_snapshot():
    """`minimum_age_days = 0`: a snapshot made this instant may be deleted."""
    policy = make_policy("[deletion]\nminimum_age_days = 0\n")
    judged = delete(
        policy, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=made(timedelta(0))
    )
    assert judged.decision.allowed


@each_snapshot_delete
def test_the_record_carries_when_the_snapshot_was_made(service, operation, name):
    """`snapshot_created` (ISO 8601) in `Decision.extra`, allowed or not."""
    for age in (timedelta(days=30), timedelta(minutes=1)):
        facts = made(age)
        judged = delete(WEEK, operation, {name: "s"}, service=service, snapshot=facts)
        assert facts.created is not None
        assert judged.decision.extra == {"snapshot_created": facts.created.isoformat()}
        assert datetime.fromisoformat(judged.decision.extra["snapshot_created"]) == NOW - age


# --- hold tags ---------------------------------------------------------------------------------


@each_snapshot_delete
def test_a_snapshot_on_hold_may_not_be_deleted(service, operation, name):
    """A hold tag, key and value as the policy says: `deletion.hold`, and the record's tags
    carry the hold tag (and no other)."""
    facts = made(timedelta(days=30), tags={"legal-hold": "true", "team": "orders"})
    judged = delete(HOLD, operation, {name: "s"}, service=service, snapshot=facts)
    violation = only(judged.decision, "deletion.hold")
    assert (violation.field, violation.value) == ("Tags.legal-hold", "true")
    assert "on hold (legal-hold = true)" in violation.message
    assert dict(judged.decision.tags) == {"legal-hold": "true"}
    assert judged.snapshot.calls == 1


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {"legal-hold": "false"},
        {"legal-hold": "True"},
        {"legal-hold": "true "},
        {"Legal-Hold": "true"},
        {"legal-hold-2": "true"},
        {"other": "legal-hold"},
    ],
)
def test_a_hold_needs_key_and_value_exactly(tags):
    """Anything but the exact key with the exact value is not a hold."""
    facts = made(timedelta(days=30), tags=tags)
    judged = delete(HOLD, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=facts)
    assert judged.decision.allowed
    assert dict(judged.decision.tags) == {}


def test_every_hold_and_the_age_are_listed_together():
    """Two hold tags and a young snapshot: three violations from one read."""
    facts = made(timedelta(hours=1), tags={"legal-hold": "true", "litigation": "case-42"})
    judged = delete(
        RETENTION, "DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": "s"}, snapshot=facts
    )
    assert rules_of(judged.decision) == ["deletion.too_young", "deletion.hold", "deletion.hold"]
    assert dict(judged.decision.tags) == {"legal-hold": "true", "litigation": "case-42"}
    assert judged.snapshot.calls == 1


@each_snapshot_delete
def test_a_policy_without_age_or_hold_reads_nothing(service, operation, name):
    """`final_snapshot` and `automated_backups` do not concern snapshot deletes: no read."""
    judged = delete(BOTH, operation, {name: "s"}, service=service, snapshot=made(timedelta(0)))
    assert judged.decision.allowed
    assert judged.snapshot.calls == 0
    assert judged.decision.extra == {}


@each_snapshot_delete
def test_a_snapshot_that_cannot_be_read_breaks_each_rule_the_policy_has(service, operation, name):
    """Access denied: each rule the policy has is a violation naming why; the age rule alone
    gives one violation, the hold rule alone one."""
    for policy, rules in (
        (RETENTION, ["deletion.too_young", "deletion.hold"]),
        (WEEK, ["deletion.too_young"]),
        (HOLD, ["deletion.hold"]),
    ):
        judged = delete(policy, operation, {name: "Orders-1"}, service=service, snapshot=DENIED)
        assert rules_of(judged.decision) == rules
        for violation in judged.decision.violations:
            assert (violation.field, violation.value) == (name, "Orders-1")
            assert "could not be read" in violation.message
            assert "AccessDenied: not allowed to describe" in violation.message


def test_tags_that_cannot_be_listed_leave_the_age_judged():
    """The snapshot was described but its tags could not be listed (DocumentDB and Neptune
    list them with a call of their own): the age is judged from what was read, the hold rule
    is a violation naming why, and the record keeps when the snapshot was made."""
    old = SnapshotFacts(NOW - timedelta(days=30), DENIED)
    judged = delete(
        RETENTION, "DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": "s"}, snapshot=old
    )
    (violation,) = judged.decision.violations
    assert violation.rule == "deletion.hold"
    assert violation.message == (
        "the snapshot's tags could not be read, so the rule cannot be judged:"
        " AccessDenied: not allowed to describe"
    )
    assert judged.decision.extra == {"snapshot_created": (NOW - timedelta(days=30)).isoformat()}
    young = SnapshotFacts(NOW, DENIED)
    judged = delete(
        RETENTION, "DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": "s"}, snapshot=young
    )
    assert rules_of(judged.decision) == ["deletion.too_young", "deletion.hold"]
    assert "could not be read" not in judged.decision.violations[0].message
    age_only = delete(WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot=old)
    assert age_only.decision.allowed


def test_a_snapshot_given_as_unreadable_names_no_reason_it_lacks():
    """`evaluate(..., source_tags=UNREADABLE)` (``eval --source-unreadable``) gives no
    reason: the message says so, not a reason of "unknown"."""
    judged = delete(
        RETENTION,
        "DeleteDBClusterSnapshot",
        {"DBClusterSnapshotIdentifier": "s"},
        snapshot=SnapshotFacts(NOW - timedelta(days=30), UNREADABLE),
    )
    (violation,) = judged.decision.violations
    assert violation.message == (
        "the snapshot's tags could not be read, so the rule cannot be judged:"
        " given as unreadable (rds_guard.UNREADABLE)"
    )


# --- lifting a hold ----------------------------------------------------------------------------


def untag(policy, keys, snapshot, *, arn=CLUSTER_SNAPSHOT_ARN):
    """RemoveTagsFromResource of ``keys`` on ``arn``, the snapshot's facts ``snapshot``."""
    return delete(
        policy, "RemoveTagsFromResource", {"ResourceName": arn, "TagKeys": keys}, snapshot=snapshot
    )


def retag(policy, tags, snapshot, *, arn=CLUSTER_SNAPSHOT_ARN):
    """AddTagsToResource of ``tags`` on ``arn``, the snapshot's facts ``snapshot``."""
    return delete(
        policy,
        "AddTagsToResource",
        {"ResourceName": arn, "Tags": tag_list(tags)},
        snapshot=snapshot,
    )


ON_HOLD = SnapshotFacts(None, {"legal-hold": "true", "team": "orders"})


@pytest.mark.parametrize("arn", [CLUSTER_SNAPSHOT_ARN, DB_SNAPSHOT_ARN])
def test_removing_a_hold_tag_is_refused(arn):
    """The first of the two calls (lift the hold, then delete): `deletion.hold`, read once,
    on the request's own parameter (`TagKeys.<key>`, as `tags.protected`)."""
    judged = untag(HOLD, ["team", "legal-hold"], ON_HOLD, arn=arn)
    violation = only(judged.decision, "deletion.hold")
    assert (violation.field, violation.value) == ("TagKeys.legal-hold", None)
    assert violation.message.endswith("the hold tag may not be removed")
    assert judged.snapshot.calls == 1


def test_changing_a_hold_tags_value_is_refused():
    """AddTagsToResource setting the hold key to another value lifts the hold too."""
    judged = retag(HOLD, {"legal-hold": "false"}, ON_HOLD)
    violation = only(judged.decision, "deletion.hold")
    assert (violation.field, violation.value) == ("Tags.legal-hold", "false")
    assert violation.message.endswith("the hold tag may not be changed")


@pytest.mark.parametrize(
    ("operation", "params", "tags"),
    [
        ("AddTagsToResource", {"Tags": tag_list({"legal-hold": "true"})}, {}),
        ("AddTagsToResource", {"Tags": tag_list({"legal-hold": "true"})}, {"legal-hold": "no"}),
        ("AddTagsToResource", {"Tags": tag_list({"legal-hold": "false"})}, {}),
        ("AddTagsToResource", {"Tags": tag_list({"legal-hold": "x"})}, {"legal-hold": "no"}),
        ("RemoveTagsFromResource", {"TagKeys": ["legal-hold"]}, {}),
        ("RemoveTagsFromResource", {"TagKeys": ["legal-hold"]}, {"legal-hold": "no"}),
    ],
    ids=[
        "place",
        "place-over-other",
        "other-value",
        "change-other",
        "remove-absent",
        "remove-other",
    ],
)
def test_touching_the_hold_key_of_a_snapshot_not_on_hold_is_fine(operation, params, tags):
    """Placing a hold, or setting or removing the key where its value is not the hold's: no
    hold is lifted (the snapshot's tags are read once to know, unless the key is set to the
    hold's own value, which lifts none whatever it carries)."""
    judged = delete(
        HOLD,
        operation,
        {"ResourceName": CLUSTER_SNAPSHOT_ARN, **params},
        snapshot=SnapshotFacts(None, tags),
    )
    assert judged.decision.allowed, judged.decision.violations
    places = params.get("Tags") == tag_list({"legal-hold": "true"})
    assert judged.snapshot.calls == (0 if places else 1)


def test_setting_a_hold_tag_to_its_own_value_again_is_fine():
    """AddTagsToResource of the hold tag the snapshot already carries: nothing lifted."""
    judged = retag(HOLD, {"legal-hold": "true", "team": "payments"}, ON_HOLD)
    assert judged.decision.allowed


def test_tag_operations_on_other_keys_read_nothing():
    """Keys that are not hold keys: allowed, and the snapshot's tags are not read."""
    assert untag(HOLD, ["team"], ON_HOLD).snapshot.calls == 0
    judged = retag(HOLD, {"team": "payments", "legal": "true"}, ON_HOLD)
    assert judged.decision.allowed
    assert judged.snapshot.calls == 0


def test_a_policy_that_does_not_list_the_key_lets_the_hold_be_lifted():
    """The one way to lift a hold: take the key out of `hold_tags`. Nothing is read then."""
    other = make_policy('[deletion.hold_tags]\nlitigation = "case-42"\n')
    for policy in (other, make_policy()):
        judged = untag(policy, ["legal-hold"], ON_HOLD)
        assert judged.decision.allowed
        assert judged.snapshot.calls == 0


def test_a_tag_operation_whose_snapshot_cannot_be_read_may_not_touch_a_hold_key():
    """Access denied on ListTagsForResource: a hold cannot be ruled out, so `deletion.hold`,
    naming why, on each request's own parameter."""
    for judged, field in (
        (untag(HOLD, ["legal-hold"], DENIED), "TagKeys.legal-hold"),
        (retag(HOLD, {"legal-hold": "x"}, DENIED), "Tags.legal-hold"),
    ):
        violation = only(judged.decision, "deletion.hold")
        assert "lifting a hold cannot be ruled out: AccessDenied" in violation.message
        assert violation.field == field


def test_placing_the_hold_value_is_judged_without_reading_the_snapshot():
    """Setting a hold key to the hold's own value lifts no hold, whatever the snapshot
    carries: nothing is read, and it goes even when the tags cannot be read (a role that may
    tag but not list tags may still place a legal hold). Any other value is still judged."""
    for snapshot in (DENIED, ON_HOLD, SnapshotFacts(None, DENIED)):
        judged = retag(HOLD, {"legal-hold": "true", "team": "core"}, snapshot)
        assert judged.decision.allowed, judged.decision.violations
        assert judged.snapshot.calls == 0
    judged = retag(HOLD, {"legal-hold": "True"}, DENIED)
    assert only(judged.decision, "deletion.hold").field == "Tags.legal-hold"
    assert judged.snapshot.calls == 1


def test_a_tag_operation_on_a_snapshot_whose_tags_cannot_be_listed_may_not_touch_a_hold():
    """Described but not listed: lifting a hold cannot be ruled out either."""
    judged = untag(HOLD, ["legal-hold"], SnapshotFacts(None, DENIED))
    assert "cannot be ruled out: AccessDenied" in only(judged.decision, "deletion.hold").message


# --- offline: evaluate() ----------------------------------------------------------------------


CLUSTER_SNAPSHOT = {"DBClusterSnapshotIdentifier": "orders-1"}


def test_evaluate_judges_the_age_from_snapshot_created():
    """`snapshot_created` stands for when the snapshot was made."""
    young = evaluate(
        WEEK,
        "DeleteDBClusterSnapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        snapshot_created=NOW - timedelta(days=1),
    )
    assert rules_of(young) == ["deletion.too_young"]
    assert young.extra == {"snapshot_created": (NOW - timedelta(days=1)).isoformat()}
    old = evaluate(
        WEEK,
        "delete-db-cluster-snapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        snapshot_created=NOW - timedelta(days=7),
    )
    assert old.allowed


def test_evaluate_takes_snapshot_created_in_any_zone_and_refuses_a_naive_one():
    """An aware time in another zone is the same moment; a naive one is a ValueError."""
    tokyo = (NOW - timedelta(days=7)).astimezone(timezone(timedelta(hours=9)))
    assert evaluate(
        WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, now=NOW, snapshot_created=tokyo
    ).allowed
    with pytest.raises(ValueError, match="snapshot_created must be an aware datetime"):
        evaluate(
            WEEK,
            "DeleteDBSnapshot",
            {"DBSnapshotIdentifier": "s"},
            now=NOW,
            snapshot_created=datetime(2026, 1, 1),
        )


def test_evaluate_without_a_creation_time_does_not_judge_the_age():
    """Offline and not told when it was made: the age rule is not judged."""
    assert evaluate(WEEK, "DeleteDBClusterSnapshot", CLUSTER_SNAPSHOT, now=NOW).allowed
    decision = evaluate(
        RETENTION,
        "DeleteDBClusterSnapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        source_tags={"team": "orders"},
    )
    assert decision.allowed
    assert decision.extra == {}


def test_evaluate_judges_holds_from_source_tags():
    """`source_tags` stand for the snapshot's current tags, whatever `inherit` says."""
    policy = make_policy('[tags]\ninherit = false\n[deletion.hold_tags]\nlegal-hold = "true"\n')
    decision = evaluate(
        policy,
        "DeleteDBClusterSnapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        source_tags={"legal-hold": "true"},
    )
    assert rules_of(decision) == ["deletion.hold"]
    assert dict(decision.tags) == {"legal-hold": "true"}
    params = {"ResourceName": CLUSTER_SNAPSHOT_ARN, "TagKeys": ["legal-hold"]}
    lifted = evaluate(
        policy, "RemoveTagsFromResource", params, now=NOW, source_tags={"legal-hold": "true"}
    )
    assert rules_of(lifted) == ["deletion.hold"]
    assert evaluate(policy, "RemoveTagsFromResource", params, now=NOW).allowed


def test_evaluate_with_unreadable_tags_still_judges_a_known_age():
    """`source_tags=UNREADABLE` says the tags could not be read: the hold rule cannot be
    judged (a violation), but a known `snapshot_created` is judged all the same."""
    old = NOW - timedelta(days=30)
    decision = evaluate(
        RETENTION,
        "DeleteDBClusterSnapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        source_tags=UNREADABLE,
        snapshot_created=old,
    )
    assert rules_of(decision) == ["deletion.hold"]
    assert decision.extra == {"snapshot_created": old.isoformat()}
    young = evaluate(
        RETENTION,
        "DeleteDBClusterSnapshot",
        CLUSTER_SNAPSHOT,
        now=NOW,
        source_tags=UNREADABLE,
        snapshot_created=NOW,
    )
    assert rules_of(young) == ["deletion.too_young", "deletion.hold"]
    assert "could not be read" not in young.violations[0].message
    lifted = evaluate(
        HOLD,
        "RemoveTagsFromResource",
        {"ResourceName": CLUSTER_SNAPSHOT_ARN, "TagKeys": ["legal-hold"]},
        now=NOW,
        source_tags=UNREADABLE,
    )
    assert only(lifted, "deletion.hold").message.endswith(
        "cannot be ruled out: given as unreadable (rds_guard.UNREADABLE)"
    )


def test_evaluate_takes_the_instance_to_be_an_ordinary_one():
    """Offline there is no instance to describe: no exemption, the rules apply as written."""
    params = {"DBInstanceIdentifier": "orders-1", "SkipFinalSnapshot": True}
    decision = evaluate(BOTH, "DeleteDBInstance", params, now=NOW)
    assert rules_of(decision) == ["deletion.final_snapshot", "deletion.automated_backups"]
    assert not any("could not be read" in v.message for v in decision.violations)


def test_evaluate_judges_automated_backup_deletes():
    """`DeleteDBClusterAutomatedBackup` offline under `"keep"`."""
    decision = evaluate(
        KEEP, "DeleteDBClusterAutomatedBackup", {"DbClusterResourceId": "cluster-1"}, now=NOW
    )
    assert rules_of(decision) == ["deletion.automated_backups"]


def test_now_defaults_to_the_clock():
    """Without `now`, the age is measured from the present."""
    recent = datetime.now(UTC) - timedelta(days=6)
    assert rules_of(
        evaluate(WEEK, "DeleteDBSnapshot", {"DBSnapshotIdentifier": "s"}, snapshot_created=recent)
    ) == ["deletion.too_young"]


@pytest.mark.parametrize(
    ("rule_table", "rule"),
    [
        ('[tags.allowed]\nlegal-hold = ["false"]\n', "tags.allowed"),
        ('[tags.forced]\nlegal-hold = "false"\n', "tags.forced"),
        ('[tags.patterns]\nlegal-hold = "^(no|false)$"\n', "tags.pattern"),
    ],
)
def test_a_hold_the_tag_rules_forbid_loads_and_cannot_be_placed(rule_table: str, rule: str) -> None:
    """docs/backups.md: placing a hold is judged by the [tags] rules too; a rule its hold
    value does not meet blocks it, and the policy still loads (holds placed elsewhere are
    honoured)."""
    policy = make_policy('[deletion.hold_tags]\nlegal-hold = "true"\n' + rule_table)
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:orders-manual-20261129"
    placed = evaluate(
        policy,
        "AddTagsToResource",
        {"ResourceName": arn, "Tags": [{"Key": "legal-hold", "Value": "true"}]},
        source_tags={},
    )
    assert [v.rule for v in placed.violations] == [rule]
    held = evaluate(
        policy,
        "DeleteDBSnapshot",
        {"DBSnapshotIdentifier": "orders-manual-20261129"},
        source_tags={"legal-hold": "true"},
    )
    assert [v.rule for v in held.violations] == ["deletion.hold"]


_UNLESS = ", unless they are its cluster's"
_MEMBER = DatabaseFacts(cluster="orders", engine="aurora-postgresql")
_ALONE = DatabaseFacts(engine="postgres")
_KEPT = "keeps the automated backups of orders-1 (DeleteAutomatedBackups=false)"
_ABSENT = "takes the automated backups of orders-1 with it (DeleteAutomatedBackups not given)"
_TRUE = "takes the automated backups of orders-1 with it (DeleteAutomatedBackups=true)"
_NEPTUNE = "takes the automated backups of orders-1 with it (the neptune API cannot keep them)"
_GIVEN = object()
_NOT_GIVEN = object()
BACKUPS_SAID = [
    (KEEP, "rds", False, _ALONE, _KEPT),
    (REQUIRED, "rds", False, _ALONE, _KEPT),
    (REQUIRED, "rds", 0, _ALONE, _KEPT),
    (REQUIRED, "rds", "", _ALONE, _KEPT),
    (REQUIRED, "rds", "false", _ALONE, f"{_TRUE}{_UNLESS}"),
    (REQUIRED, "rds", _NOT_GIVEN, _ALONE, f"{_ABSENT}{_UNLESS}"),
    (REQUIRED, "rds", None, _ALONE, _KEPT),
    (REQUIRED, "rds", True, _MEMBER, f"{_TRUE}{_UNLESS}"),
    (REQUIRED, "rds", _GIVEN, _ALONE, None),
    (KEEP, "rds", True, _ALONE, _TRUE),
    (KEEP, "rds", _NOT_GIVEN, _MEMBER, None),
    (REQUIRED, "neptune", _NOT_GIVEN, _ALONE, f"{_NEPTUNE}{_UNLESS}"),
    (KEEP, "neptune", _NOT_GIVEN, _ALONE, _NEPTUNE),
    (REQUIRED, "neptune", False, _ALONE, None),
]  # fmt: skip
"""A delete of instance orders-1 with its final snapshot: the policy, the client's service,
DeleteAutomatedBackups as given (a client that does not validate sends any false value as
``false``, ``None`` too, ``"false"`` as ``true``, an object as its ``__bool__`` says), the
instance (read only under "keep" when its backups would be taken), and the record's note on
its automated backups (None: none)."""


@pytest.mark.parametrize(("policy", "service", "keeps", "facts", "said"), BACKUPS_SAID)
def test_a_database_deletes_record_says_what_it_does_to_the_automated_backups(
    policy: Any, service: str, keeps: object, facts: DatabaseFacts, said: str | None
) -> None:
    """A delete that keeps the automated backups and one that takes them had the same
    record (its fields hold no request parameter), under a policy that does not judge them
    too: the note says which, from the request as botocore sends it, and from the instance
    when it was read (a cluster member's backups are the cluster's: no note). Through a
    Neptune client given the parameter its API lacks, which the endpoint may read, none."""
    params: dict[str, Any] = {
        "DBInstanceIdentifier": "orders-1",
        "FinalDBSnapshotIdentifier": "orders-1-final",
    }
    if keeps is not _NOT_GIVEN:
        params["DeleteAutomatedBackups"] = keeps
    judged = delete(policy, "DeleteDBInstance", params, service=service, database=facts)
    said_of_backups = [note for note in judged.decision.notes if "automated backups" in note]
    assert said_of_backups == ([f"the delete {said}"] if said else [])

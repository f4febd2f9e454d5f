"""The table of guarded operations: one row per operation, data only.

Adding an operation or a service is a row here, never a branch in the handlers, and its name
in `rds_guard.guard.hooks.GUARDED` (with, for a create or a copy, its identifier in
`rds_guard.awscli.GENERATED_IDENTIFIERS`), written out there so that the AWS CLI's stand-ins
build no table; tests hold both equal to the table.
"""

from __future__ import annotations

import functools
from dataclasses import field
from enum import StrEnum

from .frozen import frozen
from .patterns import Lazy

SERVICES = ("rds", "docdb", "neptune")
ALL = frozenset(SERVICES)
RDS_ONLY = frozenset({"rds"})
RDS_AND_NEPTUNE = frozenset({"rds", "neptune"})
"""Where ModifyDBInstance takes BackupRetentionPeriod (DocumentDB's has no such parameter)."""
CLUSTER_ID_LIMIT = 63
INSTANCE_ID_LIMIT = 255
CLUSTER_SNAPSHOT = "cluster-snapshot"
"""The ARN resource type of a DB cluster snapshot."""
DB_SNAPSHOT = "snapshot"
"""The ARN resource type of a DB snapshot."""
CLUSTER_GROUP_SNAPSHOT = "cluster-group-snapshot"
"""The ARN resource type of a DB cluster group snapshot (one snapshot of each member
cluster, an rds API since botocore 1.44.18)."""


class Kind(StrEnum):
    """What a guarded operation does to snapshots."""

    CREATE = "create"
    COPY = "copy"
    FINAL = "final"  # makes a snapshot on the way: a delete's final snapshot, a stop's
    TAG = "tag"
    UNTAG = "untag"
    SHARE = "share"
    DELETE = "delete"
    EXPORT = "export"
    BACKUP = "backup"  # deletes an instance's or cluster's automated backups
    RETENTION = "retention"  # may turn automated backups off, which deletes them


@frozen
class SourceLookup:
    """A read-only Describe call: what it takes, where its answer lists the items, each item's
    identifier and ARN keys, the flag that makes a source pass its tags on (None: the request
    decides), and the services whose API has the call."""

    operation: str
    parameter: str
    result_list: str
    arn_key: str
    copy_flag: str | None
    services: frozenset[str] = ALL
    arn_type: str = ""
    """The resource type an item's ARN names (``cluster-snapshot``, ``db``...)."""
    arn_names: str = ""
    """The item's key whose value its ARN names, when that is not ``parameter`` (a DB cluster
    group's ARN names its ``DBClusterGroupResourceId``, not its identifier)."""


CLUSTER_LOOKUP = SourceLookup(
    "DescribeDBClusters",
    "DBClusterIdentifier",
    "DBClusters",
    "DBClusterArn",
    "CopyTagsToSnapshot",
    arn_type="cluster",
)
INSTANCE_LOOKUP = SourceLookup(
    "DescribeDBInstances",
    "DBInstanceIdentifier",
    "DBInstances",
    "DBInstanceArn",
    "CopyTagsToSnapshot",
    arn_type="db",
)
CLUSTER_SNAPSHOT_LOOKUP = SourceLookup(
    "DescribeDBClusterSnapshots",
    "DBClusterSnapshotIdentifier",
    "DBClusterSnapshots",
    "DBClusterSnapshotArn",
    None,
    arn_type=CLUSTER_SNAPSHOT,
)
SNAPSHOT_LOOKUP = SourceLookup(
    "DescribeDBSnapshots",
    "DBSnapshotIdentifier",
    "DBSnapshots",
    "DBSnapshotArn",
    None,
    RDS_ONLY,
    arn_type=DB_SNAPSHOT,
)
CLUSTER_GROUP_LOOKUP = SourceLookup(
    "DescribeDBClusterGroups",
    "DBClusterGroupIdentifier",
    "DBClusterGroups",
    "DBClusterGroupArn",
    "CopyTagsToSnapshot",
    RDS_ONLY,
    arn_type="cluster-group",
    arn_names="DBClusterGroupResourceId",
)
CLUSTER_GROUP_SNAPSHOT_LOOKUP = SourceLookup(
    "DescribeDBClusterGroupSnapshots",
    "DBClusterGroupSnapshotIdentifier",
    "DBClusterGroupSnapshots",
    "DBClusterGroupSnapshotArn",
    None,
    RDS_ONLY,
    arn_type=CLUSTER_GROUP_SNAPSHOT,
)
SNAPSHOT_LISTINGS = (CLUSTER_SNAPSHOT_LOOKUP, SNAPSHOT_LOOKUP)
"""The Describe calls that list snapshots (reconcile lists with them). DB cluster group
snapshots are not among them: reconcile holds their records against no listing
(docs/cli.md)."""
SNAPSHOT_LOOKUPS = (*SNAPSHOT_LISTINGS, CLUSTER_GROUP_SNAPSHOT_LOOKUP)
"""The Describe calls that read one snapshot (by name; ``rds:...`` an automated one)."""


@frozen
class Answer:
    """Where a service's answer names the snapshot the call made or deleted: the answer's
    key, and the identifier and ARN keys of the snapshot under it."""

    key: str
    identifier: str
    arn: str


CLUSTER_SNAPSHOT_ANSWER = Answer(
    "DBClusterSnapshot", "DBClusterSnapshotIdentifier", "DBClusterSnapshotArn"
)
SNAPSHOT_ANSWER = Answer("DBSnapshot", "DBSnapshotIdentifier", "DBSnapshotArn")
CLUSTER_GROUP_SNAPSHOT_ANSWER = Answer(
    "DBClusterGroupSnapshot", "DBClusterGroupSnapshotIdentifier", "DBClusterGroupSnapshotArn"
)


@frozen
class Operation:
    """One guarded operation.

    ``identifier`` is the parameter naming the new snapshot (``limit`` its AWS length limit),
    ``source`` the parameter naming what it is made from, ``tags`` the parameter carrying tags
    (``tag_keys`` for removals), ``copy_tags`` the request flag that makes a copy inherit
    (None when the source's own flag decides, through ``lookup``), ``answer`` where the
    service's answer names the snapshot, and ``outcome`` the audit event written when the call
    succeeds. ``also_judged`` lists the other parameters the decision rests on. For deletes:
    ``skip_final`` is the parameter that skips the final snapshot, ``deletes_backups_on`` the
    services on which the call deletes the automated backups unless
    ``DeleteAutomatedBackups=False``, and ``facts_lookup`` the Describe call that tells about
    what ``facts_from`` names: the snapshot to delete, or the database (its engine, and for
    ``final_exemptions`` the deletes AWS allows only without a final snapshot).
    ``retention`` is the parameter whose 0 turns a database's automated backups off (AWS
    deletes them then); ``applied_now_by`` the flag without which AWS makes that change at the
    next maintenance window (None: the call makes it at once). ``resource_type`` is the ARN
    resource type of the snapshot the call names (``cluster-snapshot``, ``snapshot`` or
    ``cluster-group-snapshot``: each its own namespace); None when the call names it by ARN,
    or names none.
    """

    name: str
    kind: Kind
    services: frozenset[str]
    outcome: str
    identifier: str | None = None
    limit: int = 0
    source: str | None = None
    tags: str | None = None
    tag_keys: str | None = None
    copy_tags: str | None = None
    lookup: SourceLookup | None = None
    answer: Answer | None = None
    also_judged: tuple[str, ...] = ()
    skip_final: str | None = None
    deletes_backups_on: frozenset[str] = frozenset()
    facts_lookup: SourceLookup | None = None
    facts_from: str | None = None
    final_exemptions: bool = False
    retention: str | None = None
    applied_now_by: str | None = None
    resource_type: str | None = None

    @property
    def vouches_for_every_parameter(self) -> bool:
        """False for an operation the guard judges by one parameter alone (ModifyDBInstance
        and PromoteReadReplica, by the retention): what else it carries is the service's,
        and a client that does not validate may send it as it likes."""
        return self.retention is None

    @property
    def names_snapshot(self) -> bool:
        """True for operations whose identifier a naming rule applies to."""
        return self.kind in (Kind.CREATE, Kind.COPY, Kind.FINAL)

    @property
    def generates_name(self) -> bool:
        """True for operations whose snapshot ``generate`` names when the call names none
        (creates and copies: a delete's final snapshot is named by the call or not made)."""
        return self.kind in (Kind.CREATE, Kind.COPY)

    judged: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The parameters the decision rests on: a change to one after the guard judged the call
    is judged again (``request.changed``). Derived from the fields above."""

    def __post_init__(self) -> None:
        named = (
            self.identifier,
            self.source,
            self.tags,
            self.tag_keys,
            self.copy_tags,
            self.retention,
            self.applied_now_by,
        )
        judged = tuple(name for name in named if name is not None) + self.also_judged
        object.__setattr__(self, "judged", judged)


_SHARE_PARAMETERS = ("AttributeName", "ValuesToAdd", "ValuesToRemove")
_DELETE_PARAMETERS = ("SkipFinalSnapshot", "DeleteAutomatedBackups")


OPERATIONS: dict[str, Operation] = {
    row.name: row
    for row in (
        Operation(
            "CreateDBClusterSnapshot", Kind.CREATE, ALL, "created",
            identifier="DBClusterSnapshotIdentifier", limit=CLUSTER_ID_LIMIT,
            source="DBClusterIdentifier", tags="Tags", lookup=CLUSTER_LOOKUP,
            answer=CLUSTER_SNAPSHOT_ANSWER,
            resource_type=CLUSTER_SNAPSHOT,
        ),
        Operation(
            "CopyDBClusterSnapshot", Kind.COPY, ALL, "created",
            identifier="TargetDBClusterSnapshotIdentifier", limit=CLUSTER_ID_LIMIT,
            source="SourceDBClusterSnapshotIdentifier", tags="Tags", copy_tags="CopyTags",
            lookup=CLUSTER_SNAPSHOT_LOOKUP, answer=CLUSTER_SNAPSHOT_ANSWER,
            resource_type=CLUSTER_SNAPSHOT,
        ),
        Operation(
            "CreateDBSnapshot", Kind.CREATE, RDS_ONLY, "created",
            identifier="DBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="DBInstanceIdentifier", tags="Tags", lookup=INSTANCE_LOOKUP,
            answer=SNAPSHOT_ANSWER,
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "CopyDBSnapshot", Kind.COPY, RDS_ONLY, "created",
            identifier="TargetDBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="SourceDBSnapshotIdentifier", tags="Tags", copy_tags="CopyTags",
            lookup=SNAPSHOT_LOOKUP, answer=SNAPSHOT_ANSWER,
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "DeleteDBCluster", Kind.FINAL, ALL, "created",
            identifier="FinalDBSnapshotIdentifier", limit=CLUSTER_ID_LIMIT,
            source="DBClusterIdentifier", also_judged=_DELETE_PARAMETERS,
            skip_final="SkipFinalSnapshot", deletes_backups_on=RDS_ONLY,
            facts_lookup=CLUSTER_LOOKUP, facts_from="DBClusterIdentifier",
            resource_type=CLUSTER_SNAPSHOT,
        ),
        Operation(
            "DeleteDBInstance", Kind.FINAL, ALL, "created",
            identifier="FinalDBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="DBInstanceIdentifier", also_judged=_DELETE_PARAMETERS,
            skip_final="SkipFinalSnapshot", deletes_backups_on=RDS_ONLY,
            facts_lookup=INSTANCE_LOOKUP, facts_from="DBInstanceIdentifier",
            final_exemptions=True,
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "DeleteTenantDatabase", Kind.FINAL, RDS_ONLY, "created",
            identifier="FinalDBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="TenantDBName", also_judged=("SkipFinalSnapshot",),
            skip_final="SkipFinalSnapshot",
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "StopDBInstance", Kind.FINAL, RDS_ONLY, "created",
            identifier="DBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="DBInstanceIdentifier",
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "CreateDBClusterGroupSnapshot", Kind.CREATE, RDS_ONLY, "created",
            identifier="DBClusterGroupSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            source="DBClusterGroupIdentifier", tags="Tags", lookup=CLUSTER_GROUP_LOOKUP,
            answer=CLUSTER_GROUP_SNAPSHOT_ANSWER,
            resource_type=CLUSTER_GROUP_SNAPSHOT,
        ),
        Operation(
            "AddTagsToResource", Kind.TAG, ALL, "tagged", source="ResourceName", tags="Tags",
        ),
        Operation(
            "RemoveTagsFromResource", Kind.UNTAG, ALL, "untagged",
            source="ResourceName", tag_keys="TagKeys",
        ),
        Operation(
            "ModifyDBClusterSnapshotAttribute", Kind.SHARE, ALL, "shared",
            source="DBClusterSnapshotIdentifier", also_judged=_SHARE_PARAMETERS,
            resource_type=CLUSTER_SNAPSHOT,
        ),
        Operation(
            "ModifyDBSnapshotAttribute", Kind.SHARE, RDS_ONLY, "shared",
            source="DBSnapshotIdentifier", also_judged=_SHARE_PARAMETERS,
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "DeleteDBClusterSnapshot", Kind.DELETE, ALL, "deleted",
            identifier="DBClusterSnapshotIdentifier", limit=CLUSTER_ID_LIMIT,
            answer=CLUSTER_SNAPSHOT_ANSWER,
            facts_lookup=CLUSTER_SNAPSHOT_LOOKUP, facts_from="DBClusterSnapshotIdentifier",
            resource_type=CLUSTER_SNAPSHOT,
        ),
        Operation(
            "DeleteDBSnapshot", Kind.DELETE, RDS_ONLY, "deleted",
            identifier="DBSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            answer=SNAPSHOT_ANSWER,
            facts_lookup=SNAPSHOT_LOOKUP, facts_from="DBSnapshotIdentifier",
            resource_type=DB_SNAPSHOT,
        ),
        Operation(
            "DeleteDBClusterGroupSnapshot", Kind.DELETE, RDS_ONLY, "deleted",
            identifier="DBClusterGroupSnapshotIdentifier", limit=INSTANCE_ID_LIMIT,
            answer=CLUSTER_GROUP_SNAPSHOT_ANSWER,
            facts_lookup=CLUSTER_GROUP_SNAPSHOT_LOOKUP,
            facts_from="DBClusterGroupSnapshotIdentifier",
            resource_type=CLUSTER_GROUP_SNAPSHOT,
        ),
        Operation(
            "DeleteDBInstanceAutomatedBackup", Kind.BACKUP, RDS_ONLY, "deleted",
            source="DbiResourceId", also_judged=("DBInstanceAutomatedBackupsArn",),
        ),
        Operation(
            "DeleteDBClusterAutomatedBackup", Kind.BACKUP, RDS_ONLY, "deleted",
            source="DbClusterResourceId",
        ),
        Operation(
            "DeleteDBClusterGroupAutomatedBackup", Kind.BACKUP, RDS_ONLY, "deleted",
            source="DBClusterGroupResourceId",
        ),
        Operation(
            "DeleteDBClusterGroup", Kind.BACKUP, RDS_ONLY, "deleted",
            source="DBClusterGroupIdentifier", also_judged=("DeleteAutomatedBackups",),
            deletes_backups_on=RDS_ONLY,
        ),
        Operation(
            "ModifyDBInstance", Kind.RETENTION, RDS_AND_NEPTUNE, "deleted",
            source="DBInstanceIdentifier", retention="BackupRetentionPeriod",
            applied_now_by="ApplyImmediately",
            facts_lookup=INSTANCE_LOOKUP, facts_from="DBInstanceIdentifier",
        ),
        Operation(
            "PromoteReadReplica", Kind.RETENTION, RDS_ONLY, "deleted",
            source="DBInstanceIdentifier", retention="BackupRetentionPeriod",
        ),
        Operation(
            "StartExportTask", Kind.EXPORT, RDS_ONLY, "exported",
            source="SourceArn", also_judged=("S3BucketName", "S3Prefix", "KmsKeyId"),
        ),
    )
}  # fmt: skip
"""Every guarded operation, by name (docs/policy.md, "What each operation gets")."""

UNGUARDED: dict[str, str] = {
    "CreateIntegration": "its SourceArn names a database for a zero-ETL integration; it"
    " makes no snapshot",
    "DescribeDBClusterGroupSnapshots": "read-only",
    "DescribeDBClusterSnapshotDataGroups": "read-only",
    "DescribeDBClusterSnapshotAttributes": "read-only",
    "DescribeDBClusterSnapshots": "read-only",
    "DescribeDBSnapshotAttributes": "read-only",
    "DescribeDBSnapshotTenantDatabases": "read-only",
    "DescribeDBSnapshots": "read-only",
    "DescribeExportTasks": "read-only",
    "ListTagsForResource": "read-only",
    "ModifyDBSnapshot": "upgrades a snapshot's engine version or option group in place: it"
    " makes, names, tags, shares and deletes nothing",
    "RestoreDBClusterFromSnapshot": "reads a snapshot to make a database; it makes no snapshot",
    "RestoreDBClusterGroupFromSnapshot": "reads a snapshot to make databases; it makes no snapshot",
    "RestoreDBInstanceFromDBSnapshot": "reads a snapshot to make a database; it makes no snapshot",
}
"""Operations of the three models that name a snapshot but are not guarded, and why."""

NOT_IN_API: dict[tuple[str, str], frozenset[str]] = {
    ("docdb", "DeleteDBCluster"): frozenset({"DeleteAutomatedBackups"}),
    ("docdb", "DeleteDBInstance"): frozenset(
        {"DeleteAutomatedBackups", "FinalDBSnapshotIdentifier", "SkipFinalSnapshot"}
    ),
    ("neptune", "DeleteDBCluster"): frozenset({"DeleteAutomatedBackups"}),
    ("neptune", "DeleteDBInstance"): frozenset({"DeleteAutomatedBackups"}),
}
"""The judged parameters a service's API of an operation does not have (``(service,
operation)``: the names): botocore's validation refuses them, so no call of that client
carries them (offline, `evaluate` calls them ``request.invalid``)."""

NAMING_OPERATIONS = frozenset(name for name, row in OPERATIONS.items() if row.names_snapshot)
SNAPSHOT_ARN_TYPES = frozenset(lookup.arn_type for lookup in SNAPSHOT_LOOKUPS)
LISTED_ARN_TYPES = frozenset(listing.arn_type for listing in SNAPSHOT_LISTINGS)
"""The snapshots reconcile holds against a listing, by ARN resource type."""


def snake_case(name: str) -> str:
    """``CreateDBClusterSnapshot`` -> ``create_db_cluster_snapshot`` (boto3's method name)."""
    return _WORD_START.sub("_", name).lower()


# compiled, and the spellings made, when a name is first looked up (the CLI and
# `evaluate` do; the guard does not)
_WORD_START = Lazy(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.cache
def _spellings() -> dict[str, str]:
    return {
        spelling: name
        for name in OPERATIONS
        for spelling in (name.lower(), snake_case(name), snake_case(name).replace("_", "-"))
    }


def operation_name(spelling: str) -> str | None:
    """The guarded operation ``spelling`` names: its API name, boto3's method name or the AWS
    CLI's command name, in any case; None when it names none."""
    if spelling in OPERATIONS:  # the API's own name: no other spelling made
        return spelling
    return _spellings().get(spelling.lower())


def find(service: str, operation: str) -> Operation | None:
    """The row guarding ``operation`` on ``service``, or None when it is not guarded there."""
    row = OPERATIONS.get(operation)
    return row if row is not None and service in row.services else None


AUTOMATED_PREFIX = "rds:"
"""How the names of automated snapshots start (RDS, Aurora, DocumentDB and Neptune alike)."""


def snapshot_name(reference: str) -> str:
    """A name as ``{source}`` sees it: lowercased, ARN prefix and ``rds:`` removed."""
    name = reference
    if name.startswith("arn:"):
        parts = name.split(":", 6)
        name = parts[6] if len(parts) == 7 else name
    if name.lower().startswith(AUTOMATED_PREFIX):
        name = name[len(AUTOMATED_PREFIX) :]
    return name.lower()


def listed_name(reference: str) -> str:
    """A snapshot's identifier as the service lists it, lowercased: an ARN's resource name
    (an automated snapshot's with its ``rds:``, which `snapshot_name` removes for
    ``{source}``), else the reference itself."""
    parts = reference.split(":", 6)
    name = parts[6] if len(parts) == 7 and parts[0] == "arn" else reference
    return name.lower()


def arn_resource_type(reference: str) -> str | None:
    """The resource type of an ARN (``cluster-snapshot``, ``db``...), None for a plain name."""
    parts = reference.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn":
        return None
    return parts[5]


def arn_region(reference: str) -> str | None:
    """The region of an ARN, None for a plain name."""
    parts = reference.split(":", 6)
    return parts[3] if len(parts) == 7 and parts[0] == "arn" else None


def arn_account(reference: str) -> str | None:
    """The account of an ARN, None for a plain name (or an ARN naming none)."""
    parts = reference.split(":", 6)
    return parts[4] or None if len(parts) == 7 and parts[0] == "arn" else None


def is_snapshot_arn(reference: str) -> bool:
    """True for the ARN of a DB snapshot, DB cluster snapshot or DB cluster group snapshot."""
    return arn_resource_type(reference) in SNAPSHOT_ARN_TYPES

"""Deletes that touch backups: ``[deletion]``'s rules (docs/backups.md).

- a database delete that skips its final snapshot (``deletion.final_snapshot``), unless AWS
  allows that delete only without one;
- a delete that takes the automated backups with it (``deletion.automated_backups``);
- a snapshot delete of a snapshot too young (``deletion.too_young``) or on hold
  (``deletion.hold``), and a tag operation that would lift a hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from . import operations
from .calls import (
    READ_AS_TRUTH,
    UNREAD_AS_GIVEN,
    DatabaseFacts,
    Decision,
    Request,
    SnapshotFacts,
    Unreadable,
)
from .naming import judge_identifier, source_name, template_values
from .rules import Violation, shown, shown_given, shown_value

_ONLY_WITHOUT_FINAL = frozenset({"failed", "incompatible-restore", "incompatible-network"})
"""Instance states AWS deletes only with SkipFinalSnapshot (botocore's DeleteDBInstance)."""

_NO_BACKUP_CHOICE = frozenset({"neptune", "docdb"})
"""Engines whose own API's delete offers no DeleteAutomatedBackups: "keep" cannot apply."""

_MAKES_AN_INSTANCE = (
    "makes a database; with BackupRetentionPeriod=0 one without automated backups, deleting none"
)
_MAKES_A_CLUSTER = "makes a database (a cluster's BackupRetentionPeriod is at least 1)"
NOT_JUDGED: dict[str, str] = {
    "CreateDBCluster": _MAKES_A_CLUSTER,
    "CreateDBClusterGroup": "makes a DB cluster group (BackupRetentionPeriod 1 to 35)",
    "CreateDBInstance": _MAKES_AN_INSTANCE,
    "DeleteBlueGreenDeployment": "DeleteTarget=True deletes the green environment's databases"
    " (AWS's copies of the blue ones) without a final snapshot",
    "ModifyDBCluster": "a cluster's BackupRetentionPeriod cannot be 0 (1 to 35): a shorter one"
    " keeps fewer days of point-in-time recovery (the older backups go), no backup deleted"
    " outright",
    "ModifyDBClusterGroup": "a group's BackupRetentionPeriod cannot be 0 (1 to 35), as a cluster's",
    "RestoreDBClusterFromS3": _MAKES_A_CLUSTER,
    "RestoreDBClusterFromSnapshot": _MAKES_A_CLUSTER,
    "RestoreDBClusterGroupFromSnapshot": "makes a DB cluster group (BackupRetentionPeriod 1 to 35)",
    "RestoreDBClusterGroupToPointInTime": "makes a DB cluster group (BackupRetentionPeriod 1 to"
    " 35)",
    "RestoreDBClusterToPointInTime": _MAKES_A_CLUSTER,
    "RestoreDBInstanceFromDBSnapshot": _MAKES_AN_INSTANCE,
    "RestoreDBInstanceFromS3": _MAKES_AN_INSTANCE,
    "RestoreDBInstanceToPointInTime": _MAKES_AN_INSTANCE,
    "StartDBInstanceAutomatedBackupsReplication": "copies an instance's automated backups to"
    " another region; it deletes none",
    "StopDBInstanceAutomatedBackupsReplication": "stops copying an instance's automated backups"
    " to another region; those copied are kept for their retention period",
}
"""Operations of the three models that take a parameter about backups (a retention, a final
snapshot, the automated backups or the green databases to delete) or act on automated backups,
but that `[deletion]` does not judge, and why (docs/backups.md)."""


def no_final_snapshot_needed(database: DatabaseFacts) -> str | None:
    """Why AWS allows this instance's delete only without a final snapshot (None: it does
    not): a cluster member (its snapshots are the cluster's), a read replica, an RDS Custom
    instance, or an instance in a failure state."""
    if not database.instance:
        return None
    if database.cluster:
        return f"a member of cluster {database.cluster}"
    if database.replica_of:
        return f"a read replica of {database.replica_of}"
    if database.engine.startswith("custom-"):
        return f"an RDS Custom instance ({database.engine})"
    if database.status in _ONLY_WITHOUT_FINAL:
        return f"in state {database.status}"
    return None


def judge_database_delete(request: Request) -> Decision:
    """A delete that may make a final snapshot (DeleteDBCluster, DeleteDBInstance,
    DeleteTenantDatabase), or a stop that may make a snapshot (StopDBInstance): the
    snapshot's name (AWS's rules and the naming pattern, never ``generate``), then
    ``[deletion]``'s final-snapshot and automated-backup rules for the deletes."""
    row, params = request.row, request.params
    assert row.identifier is not None
    named = params.get(row.identifier) is not None
    if not named and row.skip_final is None:
        return request.untouched()  # a stop without a snapshot: nothing to judge
    source = source_name(request)
    identifier, violations = (
        judge_identifier(request, template_values(request, source), generate=False)
        if named
        else (None, [])
    )
    notes: tuple[str, ...] = ()
    if row.skip_final is not None:
        broken, notes = _backup_rules(request)
        violations += broken
    return request.decision(
        violations=tuple(violations),
        snapshot=identifier.lower() if identifier else None,
        source=source,
        notes=notes,
        outcome=row.outcome if named else "deleted",
    )


def _backup_rules(request: Request) -> tuple[list[Violation], tuple[str, ...]]:
    """The final-snapshot and automated-backup rules, and the record's note when an
    exemption let the delete go without a final snapshot (what the rule rested on)."""
    row, params, deletion = request.row, request.params, request.policy.deletion
    assert row.skip_final is not None
    # a skip given as anything but False itself ("True", 1, an object that says it equals
    # False) may be read as one: judged so (by identity: its own == is not asked)
    skipping = params.get(row.skip_final)
    skips = deletion.final_snapshot == "required" and skipping is not None and skipping is not False
    keep = (
        deletion.automated_backups == "keep"
        and bool(row.deletes_backups_on)
        and params.get(_KEEPS_BACKUPS) is not False  # absent: AWS deletes them
    )
    if not (skips or keep):
        return [], _backups_said(request, None)
    # The three APIs share one endpoint: a Neptune or DocumentDB client's delete of an RDS
    # database deletes its automated backups as the rds one does, and cannot say otherwise,
    # so through those clients the database's engine decides.
    can_say_keep = request.facts.service in row.deletes_backups_on
    needs_facts = row.final_exemptions or (keep and not can_say_keep)
    database = request.lookups.database() if needs_facts else None
    known = database if isinstance(database, DatabaseFacts) else None
    exempt = no_final_snapshot_needed(known) if known is not None else None
    takes_backups = keep and (
        can_say_keep or known is None or known.engine not in _NO_BACKUP_CHOICE
    )
    why = (
        f" (the {'instance' if row.final_exemptions else 'cluster'} could not be read:"
        f" {database.why})"
        if isinstance(database, Unreadable)
        else ""
    )
    violations = []
    if skips and exempt is None:
        violations.append(
            Violation(
                "deletion.final_snapshot",
                row.skip_final,
                shown_given(skipping),
                'a final snapshot is required ([deletion] final_snapshot = "required"):'
                f" pass FinalDBSnapshotIdentifier instead of {row.skip_final}="
                f"{shown_value(skipping)}{why}",
            )
        )
    # a cluster member's automated backups are the cluster's: deleting it takes none
    if takes_backups and not (known is not None and known.cluster):
        violations.append(
            _backups_taken(
                params,
                'the automated backups must be kept ([deletion] automated_backups = "keep"):'
                + (
                    _keep_them(params)
                    if can_say_keep
                    else f" the {request.facts.service} API cannot keep them (AWS deletes them);"
                    " delete the database through the rds client with"
                    " DeleteAutomatedBackups=False"
                )
                + why,
            )
        )
    notes = (f"no final snapshot: {exempt}",) if skips and exempt is not None else ()
    return violations, notes + _backups_said(request, known)


def _backups_said(request: Request, known: DatabaseFacts | None) -> tuple[str, ...]:
    """The record's note on what a database delete, as it is sent, does to its automated
    backups, which its fields do not say (absent, ``DeleteAutomatedBackups`` deletes them):
    from the request, and from the database when it was read (``known``); none for a cluster
    member (its backups are the cluster's), a delete that takes no backups, or a value whose
    reading cannot be told."""
    row, params = request.row, request.params
    database = params.get(row.source) if row.source else None
    if not (row.deletes_backups_on and isinstance(database, str)) or (known and known.cluster):
        return ()
    service, keeps = request.facts.service, params.get(_KEEPS_BACKUPS)
    if service not in row.deletes_backups_on:
        if _KEEPS_BACKUPS in params:  # which the shared endpoint may read as rds's
            return ()
        how = f"the {service} API cannot keep them"
    elif _KEEPS_BACKUPS not in params:
        how = f"{_KEEPS_BACKUPS} not given"
    elif type(keeps) not in READ_AS_TRUTH:
        return ()  # botocore sends what the object's own __bool__ says
    elif not keeps:  # botocore sends any false value as "false"
        return (f"the delete keeps the automated backups of {database} ({_KEEPS_BACKUPS}=false)",)
    else:
        how = f"{_KEEPS_BACKUPS}=true"
    member = ", unless they are its cluster's" if row.final_exemptions and known is None else ""
    return (f"the delete takes the automated backups of {database} with it ({how}){member}",)


_KEEPS_BACKUPS = "DeleteAutomatedBackups"
"""The parameter whose False keeps the automated backups a delete of a row with
``deletes_backups_on`` would take (absent, AWS deletes them)."""


def _keep_them(params: dict[str, object]) -> str:
    """How a delete keeps the automated backups, as a violation's message ends."""
    given = _KEEPS_BACKUPS in params
    return f" pass {_KEEPS_BACKUPS}=False" + (
        "" if given else " (when it is not given, AWS deletes them)"
    )


def _backups_taken(params: dict[str, object], message: str) -> Violation:
    """``deletion.automated_backups`` on the parameter that would have kept them."""
    return Violation(
        "deletion.automated_backups",
        _KEEPS_BACKUPS,
        shown_given(params.get(_KEEPS_BACKUPS, True)),
        message,
    )


def judge_backup_delete(request: Request) -> Decision:
    """DeleteDBInstanceAutomatedBackup, DeleteDBClusterAutomatedBackup,
    DeleteDBClusterGroupAutomatedBackup, and DeleteDBClusterGroup unless it keeps them
    (``DeleteAutomatedBackups=False``; absent, AWS deletes them): not while the policy keeps
    automated backups. A group delete that keeps them is neither judged nor recorded."""
    row, params = request.row, request.params
    may_keep = bool(row.deletes_backups_on)  # a group delete: DeleteAutomatedBackups=False
    if may_keep and params.get(_KEEPS_BACKUPS) is False:  # by identity, as a skip is read
        return request.untouched()
    # the backups are named by resource id or, for an instance's, by their ARN instead
    given = [(name, params.get(name)) for name in row.judged if name != _KEEPS_BACKUPS]
    field, resource = next(
        ((name, value) for name, value in given if isinstance(value, str)),
        (row.source or row.name, None),
    )
    violations = []
    if request.policy.deletion.automated_backups == "keep":
        why = 'automated backups may not be deleted ([deletion] automated_backups = "keep")'
        violations.append(
            _backups_taken(params, f"{why}:{_keep_them(params)}")
            if may_keep
            else Violation("deletion.automated_backups", field, resource, why)
        )
    return request.decision(
        violations=tuple(violations),
        notes=(f"automated backups of {resource}",) if resource else (),
    )


def judge_backups_off(request: Request) -> Decision:
    """ModifyDBInstance or PromoteReadReplica with ``BackupRetentionPeriod=0``: it turns the
    instance's automated backups off, and AWS deletes them; not while the policy keeps them.
    Any other call is neither judged nor recorded."""
    row, params = request.row, request.params
    assert row.retention is not None
    period = params.get(row.retention)
    if not reads_as_zero(period):
        return request.untouched()
    instance = params.get(row.source) if row.source else None
    instance = instance if isinstance(instance, str) else None
    keep = request.policy.deletion.automated_backups == "keep"
    # a cluster member's retention is the cluster's: AWS refuses the change, deleting none
    database = request.lookups.database() if keep else None
    cluster = database.cluster if isinstance(database, DatabaseFacts) else None
    why = (
        f" (the instance could not be read: {database.why})"
        if isinstance(database, Unreadable)
        else ""
    )
    violations = []
    if keep and cluster is None:
        violations.append(
            Violation(
                "deletion.automated_backups",
                row.retention,
                shown(str(period)),  # as the service reads it (`reads_as_zero`)
                f"{row.retention}=0 turns the automated backups off and AWS deletes them;"
                f' they must be kept ([deletion] automated_backups = "keep"){why}',
            )
        )
    # without ApplyImmediately AWS makes the change, and deletes them, in the next window
    deferred = row.applied_now_by is not None and params.get(row.applied_now_by) is not True
    when = ", at the next maintenance window" if deferred else ""
    if not instance:
        notes: tuple[str, ...] = ()
    elif cluster is not None:
        notes = (
            f"{row.retention}=0 on {instance}, a member of cluster {cluster}: its automated"
            " backups are the cluster's, which AWS does not let this change",
        )
    else:
        notes = (f"automated backups of {instance} turned off ({row.retention}=0{when})",)
    return request.decision(
        violations=tuple(violations), source=instance.lower() if instance else None, notes=notes
    )


def reads_as_zero(value: object) -> bool:
    """Whether the service reads ``value`` as 0: a client that does not validate sends any
    value as its text (``"0"``, ``0.0``, ``Decimal(0)``, ``b"0"``); ``False`` it sends as
    ``False``, which the service refuses."""
    if value is None or isinstance(value, bool):
        return False
    try:
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        return float(text.strip()) == 0
    except Exception:  # a value's own __str__ may raise anything, or recurse too deep
        return False


def judge_snapshot_delete(request: Request) -> Decision:
    """DeleteDBClusterSnapshot, DeleteDBSnapshot: not a snapshot younger than
    ``minimum_age_days``, nor one carrying a hold tag. The snapshot is read only when the
    policy has one of the two rules."""
    row, params, deletion = request.row, request.params, request.policy.deletion
    identifier = params.get(row.identifier) if row.identifier else None
    snapshot = operations.listed_name(identifier) if isinstance(identifier, str) else None
    if deletion.minimum_age_days is None and not deletion.hold_tags:
        return request.decision(snapshot=snapshot)
    facts = request.lookups.snapshot()
    violations: list[Violation] = []
    extra: dict[str, str] = {}
    tags: dict[str, str] = {}
    if isinstance(facts, Unreadable):
        if deletion.minimum_age_days is not None:
            violations.append(_not_judged(request, "deletion.too_young", "the snapshot", facts))
        if deletion.hold_tags:
            violations.append(_not_judged(request, "deletion.hold", "the snapshot", facts))
    elif isinstance(facts, SnapshotFacts):
        violations += _too_young(request, facts)
        if isinstance(facts.tags, Unreadable):
            if deletion.hold_tags:
                violations.append(
                    _not_judged(request, "deletion.hold", "the snapshot's tags", facts.tags)
                )
            held = {}
        else:
            held = holds(deletion.hold_tags, facts.tags)
        tags = dict(held)
        violations += [
            Violation(
                "deletion.hold",
                f"Tags.{key}",
                value,
                f"the snapshot is on hold ({key} = {value}): it may not be deleted",
            )
            for key, value in held.items()
        ]
        if isinstance(facts.created, datetime):
            extra["snapshot_created"] = made_at(facts.created)
    return request.decision(violations=tuple(violations), snapshot=snapshot, tags=tags, extra=extra)


def _not_judged(request: Request, rule: str, what: str, unread: Unreadable) -> Violation:
    """``rule``'s violation for a snapshot delete whose snapshot (or its tags) could not be
    read: the rule cannot be judged, so the delete may not go."""
    field = request.row.identifier or request.row.name
    identifier = request.params.get(field)
    return Violation(
        rule,
        field,
        identifier if isinstance(identifier, str) else None,
        f"{what} could not be read, so the rule cannot be judged: {unread.why or UNREAD_AS_GIVEN}",
    )


MAKING = frozenset({"creating", "copying"})
"""A snapshot's statuses while it is still being made: taken, or copied from another."""


def _too_young(request: Request, facts: SnapshotFacts) -> list[Violation]:
    days = request.policy.deletion.minimum_age_days
    if days is None:
        return []
    field = request.row.identifier or request.row.name
    if facts.status in MAKING:
        age = f"it is still being made ({facts.status})"
    elif facts.created is None:
        return []  # not asked (`evaluate` was not told): the CLI says it is not judged
    elif isinstance(facts.created, Unreadable):
        return [_not_judged(request, "deletion.too_young", "when it was made", facts.created)]
    else:
        age_now = request.facts.now - facts.created
        if age_now >= timedelta(days=days):
            return []
        when = facts.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        age = f"it was made {when}, {_ago(age_now)}"
    return [
        Violation(
            "deletion.too_young",
            field,
            shown_given(request.params.get(field)),
            f"a snapshot may be deleted only when {days:g} days old ([deletion]"
            f" minimum_age_days): {age}",
        )
    ]


def made_at(created: datetime) -> str:
    """When a snapshot was made, as the record and the messages give it: ISO 8601 in UTC
    (botocore hands the time over in whatever zone the answer's text implied)."""
    return created.astimezone(UTC).isoformat()


def _ago(age: timedelta) -> str:
    """How long ago, in the unit a person reads best."""
    seconds = age.total_seconds()
    if seconds < 0:
        return "later than now (the clocks disagree)"
    if seconds < 60:
        return "under a minute ago"
    for unit, size, up_to in (("minute", 60, 7200), ("hour", 3600, 172800)):
        if seconds < up_to:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return f"{seconds // 8640 / 10:.1f} days ago"  # rounded down: 6.96 days is not 7


def holds(hold_tags: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, str]:
    """The hold tags a snapshot carries (key = value both as the policy says)."""
    return {key: value for key, value in hold_tags.items() if tags.get(key) == value}


def carried_tags(request: Request) -> Mapping[str, str] | Unreadable | None:
    """The tags the snapshot a tag operation acts on carries now (its look-up, made once),
    `Unreadable` when they could not be read, None when there is nothing to look up."""
    facts = request.lookups.snapshot()
    return facts.tags if isinstance(facts, SnapshotFacts) else facts


def lifted_holds(
    request: Request, changed: Iterable[tuple[str, str | None]], parameter: str
) -> list[Violation]:
    """``deletion.hold`` for a tag operation that would remove or change a hold tag the
    snapshot carries (``changed``: each key touched, with its new value or None for a
    removal; ``parameter``: the request's, ``Tags`` or ``TagKeys``, which each violation's
    field names). The snapshot's tags are read only when a hold key is removed or set to
    another value than the hold's: setting the hold's own value places a hold, or keeps
    one, and lifts none (a role that may not list tags may still place a legal hold)."""
    hold_tags = request.policy.deletion.hold_tags
    touched = [(k, v) for k, v in changed if k in hold_tags and v != hold_tags[k]]
    if not touched:
        return []
    tags = carried_tags(request)
    if isinstance(tags, Unreadable):
        return [
            Violation(
                "deletion.hold",
                f"{parameter}.{key}",
                value,
                "the snapshot's tags could not be read, so lifting a hold cannot be ruled out:"
                f" {tags.why or UNREAD_AS_GIVEN}",
            )
            for key, value in touched
        ]
    current = holds(hold_tags, tags) if tags is not None else {}
    return [
        Violation(
            "deletion.hold",
            f"{parameter}.{key}",
            value,
            f"the snapshot is on hold ({key} = {current[key]}): the hold tag may not be"
            + (" removed" if value is None else " changed"),
        )
        for key, value in touched
        if key in current and value != current[key]
    ]

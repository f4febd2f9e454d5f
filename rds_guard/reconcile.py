"""The audit log held against what the service reports.

`reconcile` is pure: audit records and a listing of the service's snapshots in, a `Report`
out. `list_snapshots` makes the listing with read-only, paginated Describe calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore import xform_name

from . import rules
from .errors import Violation
from .policy import Policy

ENGINES_OF: dict[str, tuple[str, ...]] = {"docdb": ("docdb",), "neptune": ("neptune",)}
"""Engines whose snapshots belong to a service; everything else listed by rds is rds's."""

_LISTINGS = (
    # (operation, result key, identifier key, ARN key, services that have it)
    ("DescribeDBClusterSnapshots", "DBClusterSnapshots", "DBClusterSnapshotIdentifier",
     "DBClusterSnapshotArn", ("rds", "docdb", "neptune")),
    ("DescribeDBSnapshots", "DBSnapshots", "DBSnapshotIdentifier", "DBSnapshotArn", ("rds",)),
)  # fmt: skip
_OUTCOMES = frozenset({"created", "failed", "tagged", "untagged", "shared", "unshared", "deleted"})


@dataclass(frozen=True)
class ServiceSnapshot:
    """One snapshot as the service lists it."""

    identifier: str
    arn: str | None
    engine: str
    snapshot_type: str
    created: datetime | None
    tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Pending:
    """A call whose outcome the log does not know, resolved by looking the snapshot up."""

    call: str
    snapshot: str | None
    exists: bool


@dataclass(frozen=True)
class Noncompliant:
    """A snapshot the log recorded whose tags now break the policy."""

    snapshot: str
    violations: tuple[Violation, ...]


@dataclass(frozen=True)
class Report:
    """What `reconcile` found; empty lists mean the log and the service agree."""

    pending: tuple[Pending, ...] = ()
    vanished: tuple[str, ...] = ()
    unrecorded: tuple[str, ...] = ()
    noncompliant: tuple[Noncompliant, ...] = ()

    @property
    def clean(self) -> bool:
        """True when nothing was found."""
        return not (self.pending or self.vanished or self.unrecorded or self.noncompliant)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rds-guard reconcile --json``."""
        return {
            "pending": [
                {"call": p.call, "snapshot": p.snapshot, "exists": p.exists} for p in self.pending
            ],
            "vanished": list(self.vanished),
            "unrecorded": list(self.unrecorded),
            "noncompliant": [
                {"snapshot": n.snapshot, "violations": [v.as_dict() for v in n.violations]}
                for n in self.noncompliant
            ],
        }


def belongs_to(engine: str, service: str) -> bool:
    """True when a snapshot of this engine is one of ``service``'s."""
    owners = [name for name, engines in ENGINES_OF.items() if engine in engines]
    return service in owners if owners else service == "rds"


def reconcile(
    records: Iterable[Mapping[str, Any]],
    snapshots: Iterable[ServiceSnapshot],
    policy: Policy | None,
    *,
    service: str = "rds",
    since: datetime | None = None,
) -> Report:
    """Hold the log's records of ``service`` against the service's current snapshots."""
    listed = {s.identifier.lower(): s for s in snapshots if belongs_to(s.engine, service)}
    requested: dict[str, str | None] = {}
    settled: set[str] = set()
    created: dict[str, None] = {}
    deleted: set[str] = set()
    seen: set[str] = set()
    for record in records:
        if record.get("service") != service:
            continue
        event, call = record.get("event"), str(record.get("call") or "")
        snapshot = record.get("snapshot")
        name = snapshot.lower() if isinstance(snapshot, str) else None
        if name:
            seen.add(name)
        if event == "requested":
            requested[call] = name
        elif event in _OUTCOMES:
            settled.add(call)
        if event == "created" and name:
            created[name] = None
            deleted.discard(name)
        elif event == "deleted" and name:
            deleted.add(name)
    pending = tuple(
        Pending(call, name, name in listed if name else False)
        for call, name in requested.items()
        if call not in settled
    )
    vanished = tuple(name for name in created if name not in listed and name not in deleted)
    unrecorded = tuple(
        sorted(
            name
            for name, snap in listed.items()
            if snap.snapshot_type != "automated"
            and name not in seen
            and (since is None or snap.created is None or snap.created >= since)
        )
    )
    noncompliant = tuple(
        Noncompliant(name, tuple(violations))
        for name in created
        if name in listed
        and policy is not None
        and (violations := tag_violations(policy, listed[name].tags or {}))
    )
    return Report(pending, vanished, unrecorded, noncompliant)


def tag_violations(policy: Policy, tags: Mapping[str, str]) -> list[Violation]:
    """The policy's tag rules applied to a snapshot's current tags."""
    return (
        rules.check_tags_aws(tags)
        + rules.check_required(tags, policy.tags.required)
        + rules.check_allowed(tags, policy.tags.allowed)
        + rules.check_patterns(tags, policy.tags.patterns)
    )


def list_snapshots(client: Any, service: str, *, with_tags: bool = True) -> list[ServiceSnapshot]:
    """Every snapshot ``client`` lists, following pagination to the end."""
    found: list[ServiceSnapshot] = []
    for operation, key, id_key, arn_key, services in _LISTINGS:
        if service not in services:
            continue
        paginator = client.get_paginator(_method(operation))
        for page in paginator.paginate():
            for item in page.get(key, []):
                found.append(_snapshot(client, item, id_key, arn_key, with_tags))
    return found


def _snapshot(
    client: Any, item: Mapping[str, Any], id_key: str, arn_key: str, with_tags: bool
) -> ServiceSnapshot:
    arn = item.get(arn_key)
    tags: Mapping[str, str] | None = None
    if with_tags:
        tag_list = item.get("TagList")
        if tag_list is None and arn:
            tag_list = client.list_tags_for_resource(ResourceName=arn).get("TagList", [])
        tags = {t["Key"]: t.get("Value", "") for t in tag_list or []}
    return ServiceSnapshot(
        identifier=str(item[id_key]),
        arn=arn,
        engine=str(item.get("Engine", "")),
        snapshot_type=str(item.get("SnapshotType", "manual")),
        created=item.get("SnapshotCreateTime"),
        tags=tags,
    )


def _method(operation: str) -> str:
    return str(xform_name(operation))

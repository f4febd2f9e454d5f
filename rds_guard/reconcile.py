"""The audit log held against what the service reports: records and a listing in, a
`Report` out (the listing is read by `rds_guard.aws.list_snapshots`).

rds, docdb and neptune share one API: the rds API lists every engine's snapshots (and the
docdb and neptune APIs may list the others' too), so the listing is filtered by engine. A
snapshot's identifier is one namespace across the three, so a snapshot a guarded client of
one service made counts as recorded whichever service is reconciled. DB snapshots and DB
cluster snapshots are two namespaces: a snapshot is known by its ARN resource type and its
name (`Key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rds_guard.core.frozen import frozen

from .audit.record import parse_time
from .aws import ServiceSnapshot
from .core import operations
from .core.calls import Unreadable
from .core.operations import Kind, Operation
from .core.policy import Policy
from .core.rules import Violation
from .core.tagging import judge_tag_set, owner_tags
from .snapshot_keys import ByKey, CallsByKey, Key

__all__ = [
    "Noncompliant",
    "Pending",
    "Report",
    "ServiceSnapshot",
    "TagsNotRead",
    "belongs_to",
    "reconcile",
    "tag_violations",
]

ENGINES_OF: dict[str, tuple[str, ...]] = {"docdb": ("docdb",), "neptune": ("neptune",)}
"""Engines whose snapshots belong to a service; everything else listed by rds is rds's."""

_OUTCOMES = frozenset(
    {"created", "failed", "tagged", "untagged", "shared", "unshared", "deleted", "exported"}
)
# Events after which a snapshot may exist because a guarded call made it ("blocked" and
# "failed" made nothing: a snapshot of that name was made by someone else). A presigned
# URL may have been used by whoever held it.
_MAY_HAVE_MADE = frozenset({"requested", "created", "unknown", "presigned"})
# Rules whose breach, in warn mode, leaves a snapshot deleted that should not have been.
_BREACHES = frozenset({"deletion.too_young", "deletion.hold"})
_JUDGED_TAGS = frozenset({Kind.CREATE, Kind.COPY})  # a final snapshot's tags are AWS's


@frozen
class Pending:
    """A call whose outcome the log does not know, resolved by looking the snapshot up."""

    call: str
    snapshot: str | None
    exists: bool


@frozen
class Noncompliant:
    """A snapshot the log recorded whose tags now break the policy."""

    snapshot: str
    violations: tuple[Violation, ...]


@frozen
class TagsNotRead:
    """A snapshot a guarded call made whose tags could not be read, so not judged."""

    snapshot: str
    reason: str


@frozen
class Report:
    """What `reconcile` found; empty lists mean the log and the service agree."""

    pending: tuple[Pending, ...] = ()
    vanished: tuple[str, ...] = ()
    unrecorded: tuple[str, ...] = ()
    noncompliant: tuple[Noncompliant, ...] = ()
    expired: tuple[str, ...] = ()
    breached: tuple[str, ...] = ()
    unread: tuple[TagsNotRead, ...] = ()
    unrecorded_types: tuple[str | None, ...] = ()
    """The ARN resource type (``snapshot``, ``cluster-snapshot``; None: no ARN listed) of each
    of `unrecorded`, in its order: one name may be a DB snapshot and a DB cluster snapshot."""

    @property
    def clean(self) -> bool:
        """True when nothing was found (and every tag set to judge was read)."""
        return not (
            self.pending
            or self.vanished
            or self.unrecorded
            or self.noncompliant
            or self.expired
            or self.breached
            or self.unread
        )

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
            "expired": list(self.expired),
            "breached": list(self.breached),
            "unread": [{"snapshot": u.snapshot, "reason": u.reason} for u in self.unread],
            "unrecorded_types": list(self.unrecorded_types),
        }


def belongs_to(engine: str, service: str) -> bool:
    """True when a snapshot of this engine is one of ``service``'s."""
    owners = [name for name, engines in ENGINES_OF.items() if engine in engines]
    return service in owners if owners else service == "rds"


@frozen
class _Call:
    """One guarded call of the reconciled service, as its ``requested`` record names it."""

    snapshot: str | None
    operation: str
    resource_type: str | None = None

    @property
    def key(self) -> Key | None:
        """The snapshot the call names (None: it names none)."""
        return None if self.snapshot is None else (self.resource_type, self.snapshot)

    @property
    def row(self) -> Operation | None:
        """The operation's row (None for an operation not in the table)."""
        return operations.OPERATIONS.get(self.operation)


@dataclass
class _Log:
    """What the records of the reconciled service say, gathered in one pass."""

    calls: dict[str, _Call] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)
    # snapshot -> the operation that made it, and the time of its `created` record
    made_by: ByKey[tuple[str, str]] = field(default_factory=ByKey)
    presigned: dict[str, tuple[_Call, datetime | None]] = field(default_factory=dict)  # expiry
    warned_deletes: set[str] = field(default_factory=set)  # calls sent in breach (warn mode)
    breached: list[str] = field(default_factory=list)
    # deletes without an outcome, by snapshot; those a later `created` record of the snapshot
    # outdates, which cannot account for the snapshot made again
    open_deletes: CallsByKey = field(default_factory=CallsByKey)
    outdated: set[str] = field(default_factory=set)
    # presigns, by snapshot; those whose snapshot a later `deleted` record shows was made
    presigned_names: CallsByKey = field(default_factory=CallsByKey)
    used: set[str] = field(default_factory=set)

    def note(self, record: Mapping[str, Any], key: Key | None) -> None:
        """Fold in one record of this log's calls (records come oldest first)."""
        event, call = _event_and_call(record)
        operation = str(record.get("operation") or "")
        kind, name = key if key is not None else (None, None)
        if event in ("requested", "unknown") and call:
            if call not in self.settled:
                made = self.calls.setdefault(call, _Call(name, operation, kind))
                if made.row is not None and made.row.kind is Kind.DELETE:
                    self.open_deletes.add(key, call)
            if event == "requested" and _breaks(record, _BREACHES):
                self.warned_deletes.add(call)
        elif event == "presigned" and call:
            self.presigned[call] = (_Call(name, operation, kind), _expiry(record))
            self.presigned_names.add(key, call)
        elif event in _OUTCOMES:
            # kept as an id only: a year's log settles hundreds of thousands of calls
            self.settled.add(call)
            self.calls.pop(call, None)
            self.open_deletes.discard(key, call)
        if event == "deleted" and call in self.warned_deletes and name:
            self.breached.append(name)
            self.warned_deletes.discard(call)

    def seen(self, record: Mapping[str, Any], key: Key, *, own: bool) -> None:
        """Fold in a snapshot made or deleted by a call of any service (one namespace): it
        outdates the deletes of that name left pending before it, and a delete shows a
        presign of it used; ``own``: a call of this log's service, which made it."""
        event, _ = _event_and_call(record)
        operation = str(record.get("operation") or "")
        if event == "created" and _makes_snapshot(operation):
            if own:
                self.made_by.set(key, (operation, str(record.get("time") or "")))
            self.outdated |= self.open_deletes.take(key)
        elif event == "deleted":
            self.made_by.pop(key)
            self.used |= self.presigned_names.take(key)

    def pending(self) -> dict[str, _Call]:
        """The calls with no outcome, or only ``unknown``."""
        return {call: item for call, item in self.calls.items() if call not in self.settled}


class _Known:
    """The snapshots a guarded call of any service made or may have made, by `Key`."""

    def __init__(self) -> None:
        self._calls: ByKey[set[str]] = ByKey()
        self._expiry: dict[str, datetime | None] = {}  # a presign's call: its URL's expiry
        self._deleted: ByKey[datetime] = ByKey()  # when the last guarded delete was recorded

    def note(self, record: Mapping[str, Any], key: Key) -> None:
        """Fold one record in (records come oldest first)."""
        event, call = _event_and_call(record)
        if event in _MAY_HAVE_MADE and _makes_snapshot(str(record.get("operation"))):
            self._calls.setdefault(key, set()).add(call)
            if event == "presigned":
                self._expiry[call] = _expiry(record)
        elif event == "failed":  # the service refused: that call made nothing
            (self._calls.get(key) or set()).discard(call)
        elif event == "deleted":  # a snapshot made again under this name is a new one
            self._calls.pop(key)
            when = _record_time(record)
            if when is not None:
                self._deleted.set(key, when)

    def made(self, key: Key, snapshot: ServiceSnapshot) -> bool:
        """True when a guarded call made, or may have made, ``snapshot`` (named ``key``): a
        presigned URL only one made before the URL expired (give or take the clocks'
        difference, `REPLACED_AFTER`); and one a guarded delete was recorded for since,
        still listed (being deleted): it was made before that delete, so it is the one the
        guard knew, not another made outside it."""
        created = None if snapshot.created is None else _aware(snapshot.created)
        deleted = self._deleted.get(key)
        if created is not None and deleted is not None and created - deleted <= REPLACED_AFTER:
            return True
        return any(
            (expires := self._expiry.get(call)) is None
            or created is None
            or created - expires <= REPLACED_AFTER  # a difference: never past datetime's ends
            for call in self._calls.get(key) or ()
        )


def reconcile(
    records: Iterable[Mapping[str, Any]],
    snapshots: Iterable[ServiceSnapshot],
    policy: Policy | None,
    *,
    service: str = "rds",
    since: datetime | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Hold the log's records of ``service`` against the service's current snapshots.

    ``snapshots`` is everything the service listed, all engines (filtered here).
    ``pending``: calls with ``requested`` and no outcome, or only ``unknown``, with whether
    their snapshot exists now. ``vanished``: snapshots a guarded call created that are no
    longer listed and whose deletion the log does not hold (neither a ``deleted`` record nor a
    pending delete). ``unrecorded``: manual snapshots of ``service`` that no guarded call made
    or may have made (``blocked`` and ``failed`` make nothing), created at or after ``since``
    (naive: UTC). A snapshot listed under the name of one a guarded create made, but made
    more than `REPLACED_AFTER` after its ``created`` record, is another one: the guard's is
    ``vanished`` and the one listed ``unrecorded``. ``noncompliant``: snapshots a guarded
    create or copy made whose current tags break ``policy`` (final snapshots carry AWS's tags
    and are not judged; nothing is judged when ``policy`` is None). A presigned URL is
    ``pending`` until it expires (``now``, default: the present); then, if it would have made
    a snapshot that does not exist, ``expired``. ``breached``: snapshots deleted although the
    policy said no (deletion.too_young or deletion.hold in warn mode). ``region``: only records
    of that region count (records of other regions name other snapshots; one log is
    reconciled against one account).
    """
    everything: ByKey[ServiceSnapshot] = ByKey()
    for snapshot in snapshots:
        everything.set((snapshot.resource_type, snapshot.identifier.lower()), snapshot)
    log = _Log()
    others = _Log()  # the other services' calls: a delete of theirs may still be pending
    groups = _Log(breached=log.breached)  # DB cluster group snapshots': breaches in order
    known = _Known()
    for record in records:
        if region is not None and record.get("region") not in (None, region):
            continue
        if record.get("service") not in operations.SERVICES:
            continue
        key = _key(record)
        if key is not None and key[0] is not None and key[0] not in operations.LISTED_ARN_TYPES:
            # a group snapshot, not listed: of these only what the log alone tells, a delete
            # sent in breach, is reported (an rds snapshot, as a DB one)
            if service == "rds":
                groups.note(record, key)
            continue
        # a DB snapshot is rds's, whichever client made it (only rds lists them): a Neptune
        # client's delete of a PostgreSQL instance leaves its final snapshot to rds
        made_for = "rds" if key is not None and key[0] == operations.DB_SNAPSHOT else None
        own = (made_for or record.get("service")) == service
        (log if own else others).note(record, key)
        if key is not None:
            known.note(record, key)
            log.seen(record, key, own=own)
            others.seen(record, key, own=False)
    open_calls = log.pending()
    moment = _aware(now or datetime.now(UTC))
    expired = tuple(  # a URL that would have made a snapshot (not one to delete or tag it)
        item.snapshot or call
        for call, (item, expires) in log.presigned.items()
        if expires is not None
        and expires <= moment
        and _makes_snapshot(item.operation)
        and not _exists(everything, item)
        and call not in log.used  # a guarded delete took the snapshot it made
    )
    open_calls |= {
        call: item
        for call, (item, expires) in log.presigned.items()
        if expires is None or expires > moment
    }
    pending = tuple(
        Pending(call, item.snapshot, _exists(everything, item)) for call, item in open_calls.items()
    )
    deleting: ByKey[bool] = ByKey()
    outdated = log.outdated | others.outdated
    for call, item in [*open_calls.items(), *others.pending().items()]:
        if item.key is None or item.row is None or item.row.kind is not Kind.DELETE:
            continue
        if call not in outdated:
            deleting.set(item.key, True)
    replaced = {  # a create's snapshot is taken when it is asked for; a final snapshot or a
        # copy may be made long after the call's answer
        key
        for key, (operation, made_at) in log.made_by.items()
        if operations.OPERATIONS[operation].kind is Kind.CREATE
        and (listed := everything.get(key)) is not None
        and _made_later(listed, made_at)
    }
    vanished = tuple(
        key[1]
        for key, _ in log.made_by.items()
        if (everything.get(key) is None or key in replaced) and deleting.get(key) is None
    )
    unrecorded_keys = sorted(
        (key[1], key[0] or "")
        for key, snap in everything.items()
        if belongs_to(snap.engine, service)
        and snap.snapshot_type == "manual"
        and (not known.made(key, snap) or key in replaced)
        and _after(snap, since)
    )
    noncompliant: tuple[Noncompliant, ...] = ()
    unread: tuple[TagsNotRead, ...] = ()
    if policy is not None:
        made_here = {
            key: operation for key, (operation, _) in log.made_by.items() if key not in replaced
        }
        for item in open_calls.values():
            if item.key is not None and _makes_snapshot(item.operation):
                made_here.setdefault(item.key, item.operation)
        for item, _ in log.presigned.values():  # a URL expired since, used while it was not
            if (
                item.key is not None
                and _makes_snapshot(item.operation)
                and (listed := everything.get(item.key)) is not None
                and known.made(item.key, listed)
            ):
                made_here.setdefault(item.key, item.operation)
        judged = [
            (key[1], snap.tags)
            for key, operation in made_here.items()
            if (snap := everything.get(key)) is not None
            and operations.OPERATIONS[operation].kind in _JUDGED_TAGS
            and snap.tags is not None
        ]
        noncompliant = tuple(
            Noncompliant(name, tuple(violations))
            for name, tags in judged
            if not isinstance(tags, Unreadable) and (violations := tag_violations(policy, tags))
        )
        unread = tuple(
            TagsNotRead(name, tags.why or "not read")
            for name, tags in judged
            if isinstance(tags, Unreadable)
        )
    return Report(
        pending,
        vanished,
        tuple(name for name, _ in unrecorded_keys),
        noncompliant,
        expired,
        tuple(log.breached),
        unread,
        tuple(kind or None for _, kind in unrecorded_keys),
    )


def _event_and_call(record: Mapping[str, Any]) -> tuple[str, str]:
    """A record's event and call id; "" for a field of another type (a writer other than
    the guard, or damage): not known."""
    event, call = record.get("event"), record.get("call")
    return (event if isinstance(event, str) else "", call if isinstance(call, str) else "")


def _key(record: Mapping[str, Any]) -> Key | None:
    """The snapshot a record names (None: none): its type and name from the record's ARN
    (the name as the service lists it: an automated snapshot's with its ``rds:``, which the
    record's ``snapshot`` leaves out as ``{source}`` does), else from the operation's row."""
    snapshot = record.get("snapshot")
    if not isinstance(snapshot, str) or not snapshot:
        return None
    arn = record.get("arn")
    if isinstance(arn, str) and operations.is_snapshot_arn(arn):  # as listed (older records
        return operations.arn_resource_type(arn), operations.listed_name(arn)  # left out rds:)
    row = operations.OPERATIONS.get(str(record.get("operation")))
    return (None if row is None else row.resource_type), snapshot.lower()


_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
"""A moment as records write it (``expires``)."""


def _expiry(record: Mapping[str, Any]) -> datetime | None:
    """When a presigned record's URL expires; None when it does not say (a presign made past
    the client's method), or says it in a form no writer uses: not known, never passed."""
    expires = record.get("expires")
    if not (isinstance(expires, str) and _MOMENT.fullmatch(expires)):
        return None
    try:
        return datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:  # the form, but no date (month 13)
        return None


def _exists(listed: ByKey[ServiceSnapshot], call: _Call) -> bool:
    """True when the snapshot a call names is listed."""
    return call.key is not None and listed.get(call.key) is not None


def _breaks(record: Mapping[str, Any], rules: frozenset[str]) -> bool:
    violations = record.get("violations")
    return isinstance(violations, list) and any(
        isinstance(v, Mapping) and isinstance(rule := v.get("rule"), str) and rule in rules
        for v in violations
    )


def _makes_snapshot(operation: str) -> bool:
    row = operations.OPERATIONS.get(operation)
    return row is not None and row.names_snapshot


REPLACED_AFTER = timedelta(minutes=5)
"""How much later than the guard's `created` record a listed snapshot of that name must have
been made to be another one (deleted and made again outside the guard): the clocks of the host
and of AWS may differ by this much. A snapshot made again within it is taken for the guard's."""


def _made_later(listed: ServiceSnapshot, recorded: str) -> bool:
    """True when ``listed`` was made more than `REPLACED_AFTER` after the time of the
    `created` record, ``recorded``: it is not the snapshot that record is about."""
    made = parse_time(recorded)
    if listed.created is None or made is None:
        return False
    return _aware(listed.created) - made > REPLACED_AFTER  # never past datetime's ends


def _record_time(record: Mapping[str, Any]) -> datetime | None:
    """When ``record`` was written (its ``time``), or None."""
    text = record.get("time")
    return parse_time(text) if isinstance(text, str) else None


def _after(snapshot: ServiceSnapshot, since: datetime | None) -> bool:
    if since is None or snapshot.created is None:
        return True
    return _aware(snapshot.created) >= _aware(since)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def tag_violations(policy: Policy, tags: Mapping[str, str]) -> list[Violation]:
    """The policy's tag rules applied to a snapshot's current tags.

    AWS's own system tags (``aws:...``) are not the snapshot owner's and are not judged.
    A forced tag must be present, with its value when that is a literal.
    """
    return judge_tag_set(policy.tags, owner_tags(tags))

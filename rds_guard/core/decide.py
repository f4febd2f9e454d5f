"""evaluate(): request parameters + policy (+ the source's tags) -> `Decision`.

Pure: no botocore, no I/O. The guard hands in look-ups (a `LookupSource`) that are made only
when the decision needs them; offline callers hand in what they already know (`Lookups`).
One judge per kind of operation, in the `JUDGES` table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from . import copies, operations, rules
from .calls import (
    UNREADABLE,
    CallFacts,
    DatabaseFacts,
    Decision,
    Lookups,
    LookupSource,
    Request,
    SnapshotFacts,
    SourceReader,
    SourceTags,
    Unreadable,
    unreadable_from,
)
from .naming import judge_identifier, source_name, template_values
from .operations import Kind, Operation
from .policy import Policy, uses_region
from .tagging import (
    TagLayers,
    dropped_reserved,
    inherit_violation,
    judge_layers,
    judge_tagging,
    judge_untagging,
    owner_tags,
    read_tag_list,
    reads_source_tags,
    render_tags,
    written_tags,
)

__all__ = [
    "JUDGES",
    "UNREADABLE",
    "CallFacts",
    "DatabaseFacts",
    "Decision",
    "LookupSource",
    "Lookups",
    "SnapshotFacts",
    "SourceReader",
    "SourceTags",
    "Unreadable",
    "decide",
    "evaluate",
]


def evaluate(
    policy: Policy,
    operation: str,
    params: Mapping[str, Any],
    *,
    service: str = "rds",
    source_tags: SourceTags = None,
    region: str | None = None,
    now: datetime | None = None,
    snapshot_created: datetime | None = None,
) -> Decision:
    """What the guard would do to this call, offline.

    ``operation`` is the API name or a spelling the CLI accepts (``create_db_cluster_snapshot``,
    ``create-db-cluster-snapshot``).
    ``source_tags`` stands in for the tags the source would pass on (None: it passes nothing
    on; `UNREADABLE`: it would, but they could not be read) — for deletes and tag operations,
    for the snapshot's current tags, whatever ``inherit`` says; ``snapshot_created`` (an aware
    datetime) for when the snapshot was made (``[deletion] minimum_age_days``; None: not
    judged, but with `UNREADABLE` tags the snapshot counts as unread). The database a delete
    acts on is not read: an instance is taken to be an ordinary one (no exemption from
    ``[deletion] final_snapshot``), and a cluster deleted through a DocumentDB or Neptune
    client an RDS one (whose automated backups ``automated_backups = "keep"`` keeps), and an
    instance given ``BackupRetentionPeriod=0`` no cluster member (whose backups are the
    cluster's).
    ``region`` and ``now`` (an aware datetime) feed ``{region}`` and ``{utcnow}`` (a policy
    whose templates use ``{region}`` needs one: a `ValueError` without); ``region`` is also
    the client's, so a source named by the ARN of another region is read as the guard reads
    it, not at all: unreadable, whatever ``source_tags`` says. An
    operation not guarded on ``service`` is a `ValueError`. Every service is judged, whatever
    the policy's ``services`` lists: the three APIs share one endpoint. A parameter the
    service's API of the operation does not have (DocumentDB's and Neptune's deletes have no
    ``DeleteAutomatedBackups``) is ``request.invalid``: that service's client refuses it.
    """
    _check_arguments(policy, operation, params, service, now, snapshot_created, region)
    if region is None and uses_region(policy):
        raise ValueError(
            "evaluate(): the policy's templates use {region}: pass region= (a guarded client"
            " always has one)"
        )
    row = operations.find(service, operations.operation_name(operation) or operation)
    if row is None:
        raise ValueError(f"{service} {operation} is not an operation rds_guard guards")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be an aware datetime (for example datetime.now(timezone.utc))")
    _check_source_tags(source_tags)
    if snapshot_created is not None and snapshot_created.tzinfo is None:
        raise ValueError("snapshot_created must be an aware datetime")
    created = None if snapshot_created is None else in_utc(snapshot_created, "snapshot_created")
    facts = CallFacts(service, region, in_utc(now, "now"), os.environ)
    # judged as the guard judges it: a copy of exact built-in types, read through the base
    # types' own methods (a str subclass's own lower() is not what is sent)
    detached = copies.detached(params, row.judged)
    # a source in another region than the client's is never read, whatever it holds
    reference = detached.get(row.source) if row.lookup and row.source else None
    elsewhere = unreadable_from(region, reference)
    passed_on = source_tags if elsewhere is None else elsewhere
    lookups = Lookups(
        source_tags=lambda: passed_on,
        snapshot=lambda: _offline_snapshot(source_tags, created),
    )
    decision = decide(policy, row, detached, facts, lookups)
    malformed = tuple(_not_in_api(service, row, detached) + _list_problems(detached))
    if not malformed:
        return decision
    return replace(decision, violations=malformed + decision.violations)


LIST_PARAMETERS = ("ValuesToAdd", "ValuesToRemove", "TagKeys")
"""The list-of-strings parameters the judges read: an entry that is no string is skipped
(`rules.string_items`), as a call botocore's validation refuses anyway."""


def _not_in_api(service: str, row: Operation, params: Mapping[str, Any]) -> list[rules.Violation]:
    """``request.invalid`` for each parameter the service's API of the operation does not
    have (`operations.NOT_IN_API`): its client refuses such a call, so judging it as another
    service's (a Neptune cluster's delete keeping its backups, say) would pass what no client
    sends."""
    absent = operations.NOT_IN_API.get((service, row.name), frozenset())
    return [
        rules.Violation(
            "request.invalid", name, None, f"{service} {row.name} has no parameter {name}"
        )
        for name in params
        if name in absent
    ]


def _list_problems(params: Mapping[str, Any]) -> list[rules.Violation]:
    """``request.invalid`` for a `LIST_PARAMETERS` entry botocore's validation would refuse
    (no list, or an item that is no string): offline no client refuses the call, and a judge
    reading ``"all"`` as no values at all would call it allowed. The guard itself leaves
    these to botocore (`ClientBinding.invalid` for a client that does not validate)."""
    wrong: list[tuple[str, object, str]] = []  # the field, its value, what it must be
    for name in (name for name in LIST_PARAMETERS if name in params):
        value = params[name]
        if isinstance(value, (list, tuple)):
            wrong += [
                (f"{name}[{i}]", item, "a string")
                for i, item in enumerate(value)
                if not isinstance(item, str)
            ]
        else:
            wrong.append((name, value, "a list of strings"))
    return [
        rules.Violation("request.invalid", field, None, f"must be {what}, not {type(v).__name__}")
        for field, v, what in wrong
    ]


def _check_arguments(
    policy: object,
    operation: object,
    params: object,
    service: object,
    now: object,
    snapshot_created: object,
    region: object,
) -> None:
    """`evaluate`'s arguments of the wrong type, each a `TypeError` saying what it takes."""
    expected: tuple[tuple[str, object, type | tuple[type, ...], str], ...] = (
        ("policy", policy, Policy, "a Policy (load_policy, Policy.from_toml)"),
        ("operation", operation, str, "an operation's name"),
        ("params", params, Mapping, "a dict of the call's parameters"),
        ("service", service, str, f"one of {', '.join(operations.SERVICES)}"),
        ("now", now, (datetime, type(None)), "an aware datetime or None"),
        (
            "snapshot_created",
            snapshot_created,
            (datetime, type(None)),
            "an aware datetime or None",
        ),
        ("region", region, (str, type(None)), "a region's name or None"),
    )
    for name, value, kinds, what in expected:
        if not isinstance(value, kinds):
            raise TypeError(f"evaluate(): {name} must be {what}, not {type(value).__name__}")
    if service not in operations.SERVICES:
        hint = (
            "write it in lowercase"
            if str(service).lower() in operations.SERVICES
            else f"not a service rds_guard guards ({', '.join(operations.SERVICES)})"
        )
        raise ValueError(f"evaluate(): service {service!r}: {hint}")


def in_utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC; a `ValueError` naming ``name`` when UTC has no such time."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{name} is out of range: in UTC it falls before year 1 or after 9999"
        ) from None


def _offline_snapshot(
    tags: SourceTags, created: datetime | None
) -> SnapshotFacts | Unreadable | None:
    """The snapshot a delete or tag operation acts on, from what `evaluate` was told: tags
    that could not be read leave a known creation time judged."""
    if tags is None and created is None:
        return None
    if isinstance(tags, Unreadable) and created is None:
        return tags
    known = tags if isinstance(tags, Unreadable) else dict(tags or {})
    return SnapshotFacts(created, known)


def _check_source_tags(source_tags: object) -> None:
    """`TypeError` unless ``source_tags`` is None, `UNREADABLE` or a mapping of str to str."""
    if source_tags is None or isinstance(source_tags, Unreadable):
        return
    if not isinstance(source_tags, Mapping):
        raise TypeError(
            "source_tags must be None, rds_guard.UNREADABLE or a mapping of tag keys to values"
            f" (str to str), not {type(source_tags).__name__}"
        )
    for key, value in source_tags.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise TypeError(
                "source_tags must map str to str, not"
                f" {type(key).__name__} to {type(value).__name__} (key {key!r:.60})"
            )


def decide(
    policy: Policy,
    row: Operation,
    params: Mapping[str, Any],
    facts: CallFacts,
    lookups: LookupSource,
) -> Decision:
    """The decision for one call of a guarded operation.

    ``lookups`` makes the read-only look-ups the rules need; each is called at most once.
    """
    return JUDGES[row.kind](Request(policy, row, dict(params), facts, lookups))


def judge_snapshot(request: Request) -> Decision:
    """Create and copy: steps 1-5 of the contract."""
    policy, row, params = request.policy, request.row, request.params
    source = source_name(request)
    values = template_values(request, source)
    identifier, violations = judge_identifier(request, values, generate=True)
    assert row.tags is not None
    pairs, malformed = read_tag_list(params, row.tags)
    caller = dict(pairs)
    violations += malformed
    if len(caller) != len(pairs):  # a key given twice
        violations += rules.check_duplicates([key for key, _ in pairs])
    caller_sent = bool(pairs) or bool(malformed)
    tag_policy = policy.tags
    inherited: dict[str, str] = {}
    found_tags: Mapping[str, str] = {}
    known = True
    # Read for a call that is blocked already too: a blocked call lists every violation.
    if reads_source_tags(tag_policy, row, params, caller_sent):
        found = request.lookups.source_tags()
        if isinstance(found, Unreadable):
            known = False
            if tag_policy.adds_tags:
                # only tags the guard writes would drop them; AWS's own copy keeps them
                violations.append(inherit_violation(request, found))
        elif found is not None:
            found_tags, inherited = found, owner_tags(found)

    defaults, unset = render_tags(tag_policy.defaults, values, forced=False)
    forced, unset_forced = render_tags(tag_policy.forced, values, forced=True)
    violations += unset + unset_forced
    layers = TagLayers(caller, inherited, defaults, forced, caller_sent, bool(malformed), known)
    verdict = judge_layers(tag_policy, layers)
    violations += verdict.violations
    if verdict.rewrite:
        params[row.tags] = written_tags(verdict.final, params.get(row.tags))
    # the aws: keys AWS's own copy would have kept, for a call that goes with the guard's Tags
    goes = not violations or policy.mode == "warn"
    dropped = verdict.rewrite and not caller_sent and goes
    return request.decision(
        violations=tuple(violations),
        injected=verdict.injected,
        inherited=verdict.kept,
        snapshot=identifier.lower() if identifier else None,
        source=source,
        tags=verdict.final,
        notes=dropped_reserved(found_tags) if dropped else (),
    )


def _imported_when_called(module: str, name: str) -> Callable[[Request], Decision]:
    """The judge ``name`` of the core's module ``module``, imported at its first call:
    deletes, sharing and exports are judged by modules that a program which only makes
    snapshots never loads (each costs the import some tenths of a millisecond)."""

    def judge(request: Request) -> Decision:
        judged: Callable[[Request], Decision] = getattr(import_module(module, __package__), name)
        return judged(request)

    judge.__name__ = judge.__qualname__ = name
    return judge


JUDGES: dict[Kind, Callable[[Request], Decision]] = {
    Kind.CREATE: judge_snapshot,
    Kind.COPY: judge_snapshot,
    Kind.FINAL: _imported_when_called(".deletion", "judge_database_delete"),
    Kind.TAG: judge_tagging,
    Kind.UNTAG: judge_untagging,
    Kind.SHARE: _imported_when_called(".access", "judge_sharing"),
    Kind.DELETE: _imported_when_called(".deletion", "judge_snapshot_delete"),
    Kind.EXPORT: _imported_when_called(".access", "judge_export"),
    Kind.BACKUP: _imported_when_called(".deletion", "judge_backup_delete"),
    Kind.RETENTION: _imported_when_called(".deletion", "judge_backups_off"),
}
"""The judge of each kind of guarded operation."""

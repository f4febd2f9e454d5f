"""One judged call as plain data: what the judges get (`Request`) and what they return
(`Decision`), and what the look-ups of the source can answer (`SourceTags`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import datetime
from typing import Any, Final, Protocol

from .frozen import frozen
from .operations import Operation, arn_region
from .policy import Policy
from .rules import Violation


@frozen
class Unreadable:
    """A source that would pass its tags on, but whose tags could not be read.

    ``why`` is what stopped the read (an error code and message), when it is known;
    ``elsewhere``: the source is in another region than the client, or another account's
    (shared with it), so no access granted would let the call read it; ``missing``: the
    service said it does not exist (a ``...NotFound`` error, which in warn mode does not stop
    the call).
    """

    why: str | None = None
    elsewhere: bool = False
    missing: bool = False


def unreadable_from(region: str | None, reference: object) -> Unreadable | None:
    """`Unreadable` (``elsewhere``) when ``reference`` is the ARN of a source in another
    region than ``region``, a client's: no access granted lets that client read its tags, so
    the guard never asks. None for a plain name, an ARN of ``region``, or no region known."""
    if region is None or not isinstance(reference, str):
        return None
    found = arn_region(reference)
    if found is None or found == region:
        return None
    return Unreadable(f"the source is in {found}, the client in {region}", elsewhere=True)


UNREADABLE: Final = Unreadable()
"""Stands for a source that would pass its tags on, but whose tags could not be read."""

UNREAD_AS_GIVEN = "given as unreadable (rds_guard.UNREADABLE)"
"""What a violation says stopped the read of an `Unreadable` that says nothing itself: one
the caller gave (`evaluate`'s ``source_tags=UNREADABLE``, ``eval --source-unreadable``)."""

READ_AS_TRUTH = frozenset({bool, int, float, str, bytes, list, tuple, dict, type(None)})
"""The types whose truth botocore's serializer sends for a boolean (``if value``: ``None``
given too) that the guard reads without running a program's code: botocore's
``QuerySerializer._serialize_type_boolean`` (the query protocol of rds, docdb and neptune)."""


SourceTags = Mapping[str, str] | None | Unreadable
"""The tags a source passes on: a mapping, None (it passes none on), or `Unreadable`."""

SourceReader = Callable[[], SourceTags]
"""Reads the source's tags when the decision needs them; called at most once per call."""


@frozen
class SnapshotFacts:
    """What a delete or a tag operation needs to know of the snapshot it acts on: when it was
    made (None: not asked, as `evaluate` is not told; `Unreadable`: the service's answer
    gives no time that can be read) and the tags it carries now (`Unreadable` when the
    snapshot was read but its tags could not be listed: its age is known all the same)."""

    created: datetime | Unreadable | None
    tags: Mapping[str, str] | Unreadable
    status: str = "available"


@frozen
class DatabaseFacts:
    """What a database delete needs to know of the instance: the Describe fields that tell
    the deletes AWS allows only without a final snapshot (docs/backups.md)."""

    cluster: str | None = None
    replica_of: str | None = None
    engine: str = ""
    status: str = "available"
    instance: bool = True
    """False for a cluster (DeleteDBCluster): only its engine counts, AWS's exemptions from a
    final snapshot are an instance's."""


def _nothing() -> None:
    return None


class LookupSource(Protocol):
    """What a decision may look up, each at most once and only when a rule needs it (see
    `Lookups`, which gives them as functions)."""

    def source_tags(self) -> SourceTags:
        """The tags the source passes on."""
        ...

    def snapshot(self) -> SnapshotFacts | Unreadable | None:
        """The snapshot a delete or a tag operation acts on."""
        ...

    def database(self) -> DatabaseFacts | Unreadable | None:
        """The database a delete acts on."""
        ...


@frozen
class Lookups:
    """The read-only look-ups a decision may make, each called at most once and only when a
    rule needs it: the tags the source passes on, the facts of the snapshot a delete or tag
    operation acts on, and those of the database a delete acts on. A look-up that cannot
    be made answers `Unreadable` (saying why); None means there is nothing to look up."""

    source_tags: SourceReader = _nothing
    snapshot: Callable[[], SnapshotFacts | Unreadable | None] = _nothing
    database: Callable[[], DatabaseFacts | Unreadable | None] = _nothing


@frozen
class CallFacts:
    """What the decision needs to know besides the policy and the parameters."""

    service: str
    region: str | None
    now: datetime
    environ: Mapping[str, str]


@frozen
class Decision:
    """What the guard does to one call.

    ``params`` are the final parameters (a new dict), ``violations`` every broken rule,
    ``injected`` the tag keys the policy added or changed, ``inherited`` the tag keys kept from
    the source. The rest feeds the audit record: ``snapshot``, ``source``, ``arn``, ``tags`` (the
    snapshot's final tags; removed keys map to None), ``notes``, ``outcome`` (the event of a
    successful call), ``recorded`` (False for calls the guard neither judges nor records) and
    ``extra`` (record fields some calls add, such as ``snapshot_created``).
    """

    params: dict[str, Any]
    violations: tuple[Violation, ...] = ()
    injected: tuple[str, ...] = ()
    inherited: tuple[str, ...] = ()
    operation: str = ""
    service: str = ""
    snapshot: str | None = None
    source: str | None = None
    arn: str | None = None
    tags: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    outcome: str | None = None
    recorded: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """True when the call breaks no rule."""
        return not self.violations


@frozen
class Request:
    """One call being judged: its policy, its operation's row, its parameters (a copy the
    judge may change), the facts of the call, and its look-ups."""

    policy: Policy
    row: Operation
    params: dict[str, Any]
    facts: CallFacts
    lookups: LookupSource

    def decision(self, **fields: Any) -> Decision:
        """A `Decision` on this call's (possibly changed) parameters, with ``fields`` set."""
        fields.setdefault("outcome", self.row.outcome)
        return Decision(self.params, operation=self.row.name, service=self.facts.service, **fields)

    def untouched(self) -> Decision:
        """A call the guard neither judges nor records: its parameters go on as they are."""
        return Decision(
            self.params, operation=self.row.name, service=self.facts.service, recorded=False
        )

    def reference(self) -> str | None:
        """What the request names as its source, when it names one as a string."""
        value = self.params.get(self.row.source) if self.row.source else None
        return value if isinstance(value, str) else None

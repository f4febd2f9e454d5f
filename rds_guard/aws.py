"""Every read the guard and reconcile make of the service: describe, list tags, every page.

A read is a generator that yields ``(operation, params)`` and is sent the service's parsed
answer (`Read`), so one read runs on a botocore client (`run`) or, awaited, on an
aiobotocore one (`run_async`). Reads are read-only calls; an error the client raises is
thrown into the read, which may make do without that answer (`snapshot_facts`), else it
reaches the caller of `run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

from rds_guard.core.frozen import frozen

from .audit.redact import without_signing_values
from .core.calls import DatabaseFacts, SnapshotFacts, SourceTags, Unreadable
from .core.operations import (
    AUTOMATED_PREFIX,
    SNAPSHOT_LISTINGS,
    SNAPSHOT_LOOKUPS,
    SourceLookup,
    arn_resource_type,
    listed_name,
)
from .core.rules import shown_given

T = TypeVar("T")
ApiCall = tuple[str, dict[str, Any]]
Read = Generator[ApiCall, Mapping[str, Any], T]
"""A read: yields the calls it needs, is sent their answers, returns what it found."""


Around = Callable[[str], AbstractContextManager[object]]
"""What each call of a read is made inside, given its operation (`run`'s ``around``)."""


def _unwatched(operation: str) -> AbstractContextManager[object]:
    return nullcontext()


def run(client: Any, read: Read[T], around: Around = _unwatched) -> T:
    """Run ``read`` on a botocore client, one call at a time, each inside ``around``."""

    async def call(operation: str, params: dict[str, Any]) -> Any:
        with around(operation):
            return getattr(client, xform_name(operation))(**params)

    # No call here waits on anything, so the coroutine finishes at its first step.
    try:
        _drive(call, read).send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    raise AssertionError("a read on a botocore client cannot wait")  # pragma: no cover


async def run_async(client: Any, read: Read[T], around: Around = _unwatched) -> T:
    """Run ``read`` on an async (aiobotocore) client, awaiting each call inside ``around``."""

    async def call(operation: str, params: dict[str, Any]) -> Any:
        with around(operation):
            return await getattr(client, xform_name(operation))(**params)

    return await _drive(call, read)


async def _drive(call: Callable[[str, dict[str, Any]], Awaitable[Any]], read: Read[T]) -> T:
    """Make each call ``read`` yields and send it the answer, or throw in the error."""
    answer: Mapping[str, Any] | None = None
    failure: Exception | None = None
    try:
        while True:
            operation, params = (
                read.send(answer)  # type: ignore[arg-type]
                if failure is None
                else read.throw(failure)
            )
            failure = None
            try:
                answer = await call(operation, params)
            except Exception as exc:
                failure = exc
    except StopIteration as done:
        result: T = done.value
        return result


class OddAnswer(Exception):
    """An answer that cannot be read as one about what was asked: no item for the name asked
    about (or only another's, or two), an ARN of another resource, no TagList, a tag without
    its key or listed twice or with a value of no text; a listing whose Marker comes round
    again. What it says is the look-up's `Unreadable` reason: what rests on it is not judged
    on another resource's facts. ``elsewhere``: the resource is not the client's to read (a
    snapshot another account shares with it), so no access granted would let it."""

    def __init__(self, message: str, *, elsewhere: bool = False) -> None:
        super().__init__(message)
        self.elsewhere = elsewhere


_DENIED = ("AccessDenied", "Unauthorized", "AuthorizationError", "Forbidden")


def denied(error: BaseException) -> str | None:
    """``CODE: message`` when ``error`` is the service refusing a read for want of
    permission (the read cannot be made, but nothing says the thing is not there), without
    the signing values or passwords the message may quote: it becomes a violation's message,
    and so a record's, a warning's and a `PolicyViolation`'s."""
    answer = _error_of(error)
    code = str(answer.get("Code", ""))
    if not any(word in code for word in _DENIED):
        return None
    return without_signing_values(f"{code}: {answer.get('Message', '')}")


def not_found(error: BaseException) -> bool:
    """Whether ``error`` is the service saying the thing read does not exist (its code, a
    ``...NotFound`` or ``...NotFoundFault``, never its message's words)."""
    return str(_error_of(error).get("Code", "")).endswith(("NotFound", "NotFoundFault"))


def _error_of(error: BaseException) -> Mapping[str, Any]:
    """The ``Error`` of a service's answer ``error`` carries (empty for any other error)."""
    response = getattr(error, "response", None) if isinstance(error, ClientError) else None
    answer = response.get("Error") if isinstance(response, Mapping) else None
    return answer if isinstance(answer, Mapping) else {}


def source_tags(lookup: SourceLookup, reference: str) -> Read[SourceTags]:
    """The tags the source passes on: None when its copy flag is off.

    A snapshot named by its ARN (a copy's source may be) is not described, its tags are
    listed on the ARN: a Describe takes a name. AWS lists none for the ARN of a snapshot
    another account shares (``InvalidParameterValue``: "does not match an RDS resource in this
    region"), which may be copied: its tags cannot be read here (`OddAnswer`, ``elsewhere``).
    One named ``rds:...`` is an automated snapshot, which AWS describes only when asked for
    that type."""
    if lookup in SNAPSHOT_LOOKUPS and reference.startswith("arn:"):
        try:
            return (yield from listed_tags(reference))
        except ClientError as error:
            answer = _error_of(error)
            if answer.get("Code") != "InvalidParameterValue":
                raise
            said = without_signing_values(str(answer.get("Message", "")))
            raise OddAnswer(
                f"ListTagsForResource lists none for it here (InvalidParameterValue: {said}): "
                "a snapshot another account shares, whose tags this account cannot read (or an "
                "ARN the service does not take)",
                elsewhere=True,
            ) from error
    item = yield from described(lookup, reference)
    if lookup.copy_flag is not None and not item.get(lookup.copy_flag):
        return None
    return (yield from resource_tags(item, lookup.arn_key))


def _item_named(
    lookup: SourceLookup, answer: Mapping[str, Any], reference: str
) -> Mapping[str, Any]:
    """The item of ``lookup``'s answer that the name (or ARN) ``reference`` asked about, as
    the service lists names (in any case): an answer may list others, or only others, and
    their facts are not this one's (`OddAnswer`). Its ARN, when it gives one, must name it
    too (or, for a lookup with ``arn_names``, the item's value there): its tags are listed
    on that ARN."""
    items = answer.get(lookup.result_list) if isinstance(answer, Mapping) else None
    wanted = listed_name(reference)
    found = [
        item
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping)
        and isinstance(item.get(lookup.parameter), str)
        and listed_name(item[lookup.parameter]) == wanted
    ]
    if len(found) != 1:
        how = "none" if not found else f"{len(found)} items"
        raise OddAnswer(
            f"the answer to {lookup.operation} lists {how} for {shown_given(reference)}"
        )
    item = found[0]
    arn = item.get(lookup.arn_key)
    named = item.get(lookup.arn_names) if lookup.arn_names else wanted
    own = (
        isinstance(arn, str)
        and isinstance(named, str)
        and listed_name(arn) == named.lower()
        and arn_resource_type(arn) == lookup.arn_type
    )
    if arn is not None and not own:
        raise OddAnswer(
            f"the answer to {lookup.operation} gives {shown_given(reference)} the ARN of"
            f" another resource ({shown_given(arn)})"
        )
    return item


def resource_tags(item: Mapping[str, Any], arn_key: str) -> Read[dict[str, str]]:
    """A described resource's tags: its TagList, else ListTagsForResource on its ARN.

    DocumentDB and Neptune describe results carry no TagList.
    """
    tag_list = item.get("TagList")
    if tag_list is None:
        arn = item.get(arn_key)
        if not isinstance(arn, str):
            raise OddAnswer(f"the answer gives neither a TagList nor an {arn_key}")
        return (yield from listed_tags(arn))
    return _tag_dict(tag_list)


def listed_tags(arn: str) -> Read[dict[str, str]]:
    """The tags ListTagsForResource lists on ``arn``."""
    listed = yield ("ListTagsForResource", {"ResourceName": arn})
    tag_list = listed.get("TagList") if isinstance(listed, Mapping) else None
    if tag_list is None:
        raise OddAnswer("the answer to ListTagsForResource gives no TagList")
    return _tag_dict(tag_list)


def _tag_dict(tag_list: object) -> dict[str, str]:
    """A TagList as a dict. A tag without a key, or a key listed twice (which one the service
    holds is not known: one may be a hold), is an `OddAnswer`."""
    if not isinstance(tag_list, list):
        raise OddAnswer("the answer's TagList is no list")
    tags: dict[str, str] = {}
    for tag in tag_list:
        key = tag.get("Key") if isinstance(tag, Mapping) else None
        if not isinstance(key, str):
            raise OddAnswer("the answer lists a tag without a key")
        if key in tags:
            raise OddAnswer(f"the answer lists the tag {shown_given(key)} twice")
        value = tag.get("Value", "")
        if not isinstance(value, str):
            raise OddAnswer(f"the answer gives the tag {shown_given(key)} a value of no text")
        tags[key] = value
    return tags


@frozen
class ServiceSnapshot:
    """One snapshot as the service lists it (``tags`` None: not read; `Unreadable`: the
    answer listing them could not be read as this snapshot's, and says why)."""

    identifier: str
    arn: str | None
    engine: str
    snapshot_type: str
    created: datetime | None
    tags: Mapping[str, str] | Unreadable | None = None

    @property
    def resource_type(self) -> str | None:
        """``cluster-snapshot`` or ``snapshot``, from the ARN (None: no ARN listed). DB
        snapshots and DB cluster snapshots are two namespaces: one name may be both."""
        return arn_resource_type(self.arn) if self.arn else None


def snapshots(service: str, *, with_tags: bool = True) -> Read[list[ServiceSnapshot]]:
    """Every snapshot the service lists, every page, with the tags of the manual ones.

    Automated snapshots are listed without their tags (they are never judged); a listing
    without a ``TagList`` (docdb, neptune) costs one ListTagsForResource per other snapshot.
    """
    found: list[ServiceSnapshot] = []
    for listing in SNAPSHOT_LISTINGS:
        if service not in listing.services:
            continue
        marker: str | None = None
        seen: set[str] = set()
        while True:  # page by page, following the Marker to the last one
            page = yield (listing.operation, {"Marker": marker} if marker else {})
            for item in page.get(listing.result_list, []):
                found.append((yield from _listed_snapshot(listing, item, with_tags)))
            marker = page.get("Marker")
            if not marker:
                break
            if marker in seen:  # a listing that pages in a circle would never end
                raise OddAnswer(f"{listing.operation} gives a Marker it gave before")
            seen.add(marker)
    return found


def _listed_snapshot(
    listing: SourceLookup, item: Mapping[str, Any], with_tags: bool
) -> Read[ServiceSnapshot]:
    identifier = item.get(listing.parameter)
    if not isinstance(identifier, str) or not identifier:  # before its tags are read
        raise OddAnswer(f"{listing.operation} lists a snapshot with no {listing.parameter} text")
    arn = item.get(listing.arn_key)
    kind = str(item.get("SnapshotType", "manual"))
    tags: dict[str, str] | Unreadable | None = None
    if with_tags and kind != "automated" and (arn or "TagList" in item):
        try:
            tags = yield from resource_tags(item, listing.arn_key)
        except OddAnswer as odd:  # this snapshot's tags, not the listing: it goes on
            tags = Unreadable(str(odd))
    return ServiceSnapshot(
        identifier=identifier,
        arn=arn,
        engine=str(item.get("Engine", "")),
        snapshot_type=kind,
        created=created_at(item.get("SnapshotCreateTime")),
        tags=tags,
    )


def list_snapshots(client: Any, service: str, *, with_tags: bool = True) -> list[ServiceSnapshot]:
    """Every snapshot ``client`` lists (see `snapshots`), read with ``client``."""
    return run(client, snapshots(service, with_tags=with_tags))


def described(lookup: SourceLookup, identifier: str) -> Read[Mapping[str, Any]]:
    """The one item ``lookup`` describes by ``identifier`` (`_item_named`). A snapshot named
    ``rds:...`` is an automated one, which AWS describes only when asked for that type."""
    params: dict[str, Any] = {lookup.parameter: identifier}
    if lookup in SNAPSHOT_LOOKUPS and listed_name(identifier).startswith(AUTOMATED_PREFIX):
        params["SnapshotType"] = "automated"
    answer = yield (lookup.operation, params)
    return _item_named(lookup, answer, identifier)


def snapshot_facts(
    lookup: SourceLookup, identifier: str, *, with_tags: bool = True
) -> Read[SnapshotFacts]:
    """When the snapshot was made, its status and the tags it carries now. Tags that cannot
    be read once the snapshot was found (their listing, a call of its own for DocumentDB's
    and Neptune's, refused for want of permission, or an answer that cannot be read as its
    tags: no TagList, a tag without a key or listed twice) are `Unreadable`, and the age
    stays known; without ``with_tags`` (no rule needs them) they are not read, and
    `Unreadable` too."""
    item = yield from described(lookup, identifier)
    tags: Mapping[str, str] | Unreadable = _TAGS_NOT_READ
    try:
        if with_tags:
            tags = yield from resource_tags(item, lookup.arn_key)
    except ClientError as error:
        why = denied(error)
        if why is None:
            raise
        tags = Unreadable(why)
    except OddAnswer as odd:
        tags = Unreadable(str(odd))
    created = created_at(item.get("SnapshotCreateTime"))
    return SnapshotFacts(
        _NO_TIME if created is None else created, tags, str(item.get("Status", "available"))
    )


_TAGS_NOT_READ = Unreadable("not read: no rule of the policy needs them")
_NO_TIME = Unreadable("the service's answer gives no SnapshotCreateTime that can be read")


def created_at(value: object) -> datetime | None:
    """A ``SnapshotCreateTime`` as an aware datetime: botocore parses it, but a client whose
    parser leaves timestamps as the service wrote them (the AWS CLI's) hands over the text,
    and a parser of the caller's may drop the zone; a time without one is UTC, as the API
    documents the field; in UTC. None when there is none or it cannot be read, nor told in
    UTC (``0001-01-01T00:00:00+05:00`` is before the first moment a datetime holds)."""
    moment: object = value
    if not isinstance(value, datetime):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return None
        try:
            moment = parse_timestamp(value)
        except (ValueError, OverflowError):
            return None
    if not isinstance(moment, datetime):
        return None
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def arn_tags(arn: str) -> Read[SnapshotFacts]:
    """The tags the resource ``arn`` names carries now (when it was made is not read)."""
    return SnapshotFacts(None, (yield from listed_tags(arn)))


def database_facts(lookup: SourceLookup, identifier: str) -> Read[DatabaseFacts]:
    """The Describe fields of an instance that tell the deletes AWS allows only without a
    final snapshot: its cluster, the source it replicates, its engine and its status."""
    item = yield from described(lookup, identifier)
    if lookup.parameter != "DBInstanceIdentifier":  # a cluster: its DBClusterIdentifier
        return DatabaseFacts(engine=str(item.get("Engine", "")), instance=False)
    replica_of = item.get("ReadReplicaSourceDBInstanceIdentifier") or item.get(
        "ReadReplicaSourceDBClusterIdentifier"
    )
    return DatabaseFacts(
        cluster=item.get("DBClusterIdentifier"),
        replica_of=replica_of,
        engine=str(item.get("Engine", "")),
        status=str(item.get("DBInstanceStatus", "available")),
    )

"""The ledger's DynamoDB table: conditional puts, the head of a stream, a stream's records in
order, the streams and forks it lists, the records of one snapshot.

Every write is a ``PutItem`` conditional on the item not existing yet, asking for the item
that stopped it (``ReturnValuesOnConditionCheckFailure=ALL_OLD``): a refused put is either
our own earlier attempt (the same line: its acknowledgement was lost) or a fork (another
line at that seq). No transactions, no ``BatchWriteItem`` (it cannot carry a condition).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

from botocore.exceptions import ClientError

from rds_guard.core.frozen import frozen

from .errors import LedgerUnavailable
from .items import (
    FORK_KIND,
    FORK_PART,
    KIND_INDEX,
    SNAPSHOT_INDEX,
    STREAM_KIND,
    TABLE_SCHEMA,
    Item,
    line_digest,
    line_of,
    number,
    text,
)
from .location import Clients

_NAMES = {"#k": "stream", "#s": "seq"}
_NOT_THERE = "attribute_not_exists(#s)"
_BATCH_GET = 100
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 1.0
"""The back-off between batch reads of keys DynamoDB left unprocessed (seconds)."""
_BATCH_ROUNDS = 10
"""Batch reads of one set of keys before a table that keeps throttling is given up on
(about 6 s of pauses): a read never hangs."""

Outcome = Literal["stored", "ours", "fork"]
STORED: Outcome = "stored"
OURS: Outcome = "ours"
FORK: Outcome = "fork"


@frozen
class Put:
    """What a conditional put of one record came to: ``stored`` (new), ``ours`` (the ledger
    already held a record with our digest: an earlier attempt whose answer was lost) or
    ``fork`` (it holds another record at that seq). ``stored`` is the item found there."""

    outcome: Outcome
    stored: Item | None = None


def stored_digest(item: Item) -> str | None:
    """The digest an item says its line has (its ``digest`` attribute, else its line's)."""
    said = text(item, "digest")
    if said is not None:
        return said
    line = line_of(item)
    return None if line is None else line_digest(line)


def same_record(stored: Item, ours: Item) -> bool:
    """True when the ledger's item is the record we put there: the same digest. (Its line
    may differ all the same: edited in the ledger since, which `verify --ledger` reports.)"""
    return stored_digest(stored) == stored_digest(ours)


def error_code(error: BaseException) -> str:
    """The service's error code of a ClientError ("" for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


UNLISTED = (
    "the table holds it (found by a scan), but no marker lists it (its item at seq 0 was "
    "overwritten): someone who can write the table kept it out of the index"
)
"""Why a stream `LedgerTable.scanned_streams` finds and the ``kind`` index does not list is
a finding."""


class LedgerTable:
    """The ledger's table, reached through ``clients``."""

    def __init__(self, clients: Clients, name: str) -> None:
        self.clients = clients
        self.name = name

    def __repr__(self) -> str:
        return f"LedgerTable({self.name!r})"

    @property
    def _db(self) -> Any:
        return self.clients.dynamodb

    # -- writing -----------------------------------------------------------------------------

    def put(self, item: Item) -> Put:
        """Put one record's item unless its key is taken; a taken key is ``ours`` when the item
        there holds the same line, else a ``fork``. Raises ClientError / BotoCoreError for
        anything else (throttling past botocore's retries, no connection, access denied)."""
        stored = self._put_new(item)
        if stored is None:
            return Put(STORED)
        return Put(OURS if same_record(stored, item) else FORK, stored)

    def put_listed(self, item: Item, *same: str) -> Item | None:
        """Put an item the ``kind`` index lists (a stream's marker, a fork) unless one alike is
        there already: the same ``kind`` and the same attributes named in ``same``. Another
        item at its key, put there by someone who can write the table, would keep it out of
        the index: it is replaced, and returned (None: the item was new, or there)."""
        names = {"#s": "seq", "#kind": "kind"}
        values = {":kind": item["kind"]}
        alike = ["#kind = :kind"]
        for index, name in enumerate(same):
            names[f"#a{index}"], values[f":a{index}"] = name, item[name]
            alike.append(f"#a{index} = :a{index}")
        try:
            answer = self._db.put_item(
                TableName=self.name,
                Item=item,
                # a comparison with an attribute the item there lacks is false: it is replaced
                ConditionExpression=f"attribute_not_exists(#s) OR NOT ({' AND '.join(alike)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return None
        replaced: Item | None = answer.get("Attributes") or None
        return replaced

    def _put_new(self, item: Item) -> Item | None:
        """None when ``item`` was written; else the item that holds its key."""
        try:
            self._db.put_item(
                TableName=self.name,
                Item=item,
                ConditionExpression=_NOT_THERE,
                ExpressionAttributeNames={"#s": "seq"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
        if old is None:  # an emulator that does not return it: read it
            old = self.get(text(item, "stream") or "", int(item["seq"]["N"]))
        return old if old is not None else {}

    # -- reading -----------------------------------------------------------------------------

    def get(self, stream: str, seq: int, *, consistent: bool = True) -> Item | None:
        """The item at ``(stream, seq)``, or None."""
        answer = self._db.get_item(
            TableName=self.name,
            Key={"stream": {"S": stream}, "seq": {"N": str(seq)}},
            ConsistentRead=consistent,
        )
        found: Item | None = answer.get("Item")
        return found

    def head(self, stream: str) -> Item | None:
        """The record of ``stream`` with the highest seq (a consistent read), or None."""
        answer = self._db.query(
            TableName=self.name,
            KeyConditionExpression="#k = :k AND #s >= :one",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={":k": {"S": stream}, ":one": {"N": "1"}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items: list[Item] = answer.get("Items", [])
        return items[0] if items else None

    def records(
        self, stream: str, start: int = 1, *, consistent: bool = True, digests_only: bool = False
    ) -> Iterator[Item]:
        """The records of ``stream`` from seq ``start`` on, in seq order, page by page
        (``digests_only``: only ``stream``, ``seq`` and ``digest``; it reads as much, but moves
        less)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "#k = :k AND #s >= :start",
            "ExpressionAttributeNames": dict(_NAMES),
            "ExpressionAttributeValues": {":k": {"S": stream}, ":start": {"N": str(start)}},
            "ConsistentRead": consistent,
        }
        if digests_only:
            kwargs["ProjectionExpression"] = "#k, #s, #d"
            kwargs["ExpressionAttributeNames"]["#d"] = "digest"
        yield from self._query(kwargs)

    def stream_items(self, stream: str) -> Iterator[Item]:
        """Every item of ``stream``, in seq order, page by page: its marker (seq 0), its
        records, and any a writer of the table put at another seq (negative, fractional),
        which `records` never reads."""
        yield from self._query(
            {
                "TableName": self.name,
                "KeyConditionExpression": "#k = :k",
                "ExpressionAttributeNames": {"#k": "stream"},
                "ExpressionAttributeValues": {":k": {"S": stream}},
                "ConsistentRead": True,
            }
        )

    def streams(self) -> Iterator[str]:
        """Every stream the ledger lists (its marker), in key order."""
        for item in self._index(KIND_INDEX, "kind", STREAM_KIND):
            name = text(item, "stream")
            if name is not None:
                yield name

    def scanned_streams(self) -> set[str]:
        """Every stream the table holds an item of, found by reading the keys of every item
        (a ``Scan``: billed as a read of the whole table), not through the ``kind`` index,
        which a writer of the table can keep a stream out of by overwriting its marker. A
        fork's item (``<stream>/fork/...``, of the fork kind) is no stream of its own; any
        other item under such a key is one (no shipper writes it: a writer of the table
        filed it there to keep it out of the streams walked)."""
        found: set[str] = set()
        pages = self._db.get_paginator("scan").paginate(
            TableName=self.name,
            ProjectionExpression="#k, #t",
            ExpressionAttributeNames={"#k": "stream", "#t": "kind"},
            ConsistentRead=True,
        )
        for answer in pages:
            for item in answer.get("Items", []):
                name = text(item, "stream")
                fork = FORK_PART in (name or "") and text(item, "kind") == FORK_KIND
                if name is not None and not fork:
                    found.add(name)
        return found

    def streams_scanned(self) -> tuple[set[str], set[str]]:
        """The streams their markers list (the ``kind`` index, and a marker it lags behind),
        and those `scanned_streams` finds that no marker lists: not in the index, their item
        at seq 0 no marker (read consistently). The table is scanned first: a host that starts
        shipping meanwhile puts its marker before its first record, so its stream is listed
        when the index is read after."""
        scanned = self.scanned_streams()
        listed, unlisted = set(self.streams()), set[str]()
        for stream in scanned - listed:  # a marker the index lags is listed all the same
            marked = text(self.get(stream, 0) or {}, "kind") == STREAM_KIND
            (listed if marked else unlisted).add(stream)
        return listed, unlisted

    def forks(self, stream: str | None = None) -> list[Item]:
        """The forks recorded (of ``stream`` only, when given), each item read whole, in key
        order."""
        extra = None if stream is None else f"{stream}{FORK_PART}"
        found = self._whole(self._index(KIND_INDEX, "kind", FORK_KIND, begins_with=extra))
        return sorted(found, key=lambda item: (text(item, "stream"), number(item, "seq") or 0))

    def by_snapshot(self, snapshot: str) -> list[Item]:
        """Every item the index lists under ``snapshot`` (lowercased, as records hold it),
        across streams, in key order (stream, then seq). The index reads the items'
        ``snapshot`` and ``time`` attributes, which a writer of the table can set apart from
        the lines: order by the records' own times, and hold each to its line, as ``audit
        query`` does."""
        found = self._whole(self._index(SNAPSHOT_INDEX, "snapshot", snapshot.lower()))
        return sorted(
            found, key=lambda item: (text(item, "stream") or "", number(item, "seq") or 0)
        )

    def _whole(self, listed: Iterator[Item]) -> list[Item]:
        """The items a keys-only index lists, read whole, a hundred per request."""
        keys = [{"stream": key["stream"], "seq": key["seq"]} for key in listed]
        found: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET):
            found.extend(self._batch_get(keys[start : start + _BATCH_GET]))
        return found

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        found: list[Item] = []
        request: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
        pause = _FIRST_PAUSE
        for _ in range(_BATCH_ROUNDS):
            answer = self._db.batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(self.name, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
            # keys left unread: the table is throttling, so back off before asking again
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)
        unread = len(request.get(self.name, {}).get("Keys", []))
        raise LedgerUnavailable(
            f"the ledger's table {self.name} left {unread} item(s) unread after"
            f" {_BATCH_ROUNDS} requests (throttled): try again later"
        )

    def _index(
        self, index: str, attribute: str, value: str, *, begins_with: str | None = None
    ) -> Iterator[Item]:
        condition = "#a = :v"
        names = {"#a": attribute}
        values: dict[str, Any] = {":v": {"S": value}}
        if begins_with is not None:
            condition += " AND begins_with(#k, :p)"
            names["#k"] = "stream"
            values[":p"] = {"S": begins_with}
        yield from self._query(
            {
                "TableName": self.name,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            },
        )

    def _query(self, kwargs: dict[str, Any]) -> Iterator[Item]:
        for answer in self._db.get_paginator("query").paginate(**kwargs):
            yield from answer.get("Items", [])

    # -- the table itself --------------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        """The table's description (DescribeTable's ``Table``); None when it does not exist."""
        try:
            found: dict[str, Any] = self._db.describe_table(TableName=self.name)["Table"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return found

    def exists(self) -> bool:
        """True when the table exists (DescribeTable)."""
        return self.describe() is not None

    def create(self) -> None:
        """Create the table and its indexes (on-demand) and wait until it is active (the
        service's ``ResourceInUseException`` when it exists already)."""
        self._db.create_table(TableName=self.name, **TABLE_SCHEMA)
        self.wait_until_active()

    def wait_until_active(self) -> None:
        """Wait until the table exists and is active (a minute at most: a botocore
        ``WaiterError`` then, or at once for a table being deleted)."""
        self._db.get_waiter("table_exists").wait(
            TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )

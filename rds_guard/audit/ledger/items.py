"""The ledger's items: one per shipped record, one marker per stream, one per fork found.

Pure functions between a record's line and DynamoDB's typed item, and the names the table
is built with (`TABLE_SCHEMA`); the table's layout is described in docs/ledger.md.

- A record: key ``stream`` (``<account>/<region>/<stream id>``) and ``seq``; ``line`` (the
  exact bytes, a String: a record line is ASCII), ``digest`` (its own digest), ``event``,
  ``call``, ``snapshot``, ``time``.
- A stream's marker: ``seq`` 0 of the stream, ``kind = "stream"``: lists the stream in the
  ``kind`` index (DynamoDB cannot list the partition keys of a table without reading it all).
- A fork: key ``<stream>/fork/<16 hex of the refused line's SHA-256>`` and the refused
  record's ``seq``; ``kind = "fork"``, ``of`` (the stream), ``line`` (the refused line),
  ``stored`` (the digest the ledger holds at that seq).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeAlias

from ..record import own_digest, seq_of, stream_id

Item: TypeAlias = dict[str, dict[str, str]]
"""A DynamoDB item in its typed form (``{"seq": {"N": "5"}, ...}``)."""

SNAPSHOT_INDEX = "snapshot"
"""The index on ``snapshot`` (sort key ``time``): every record of one snapshot, across
streams. Keys only: `LedgerTable.by_snapshot` reads the records themselves."""
KIND_INDEX = "kind"
"""The sparse index on ``kind`` (sort key ``stream``): the streams' markers and the forks."""
STREAM_KIND = "stream"
FORK_KIND = "fork"

TABLE_SCHEMA: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "stream", "AttributeType": "S"},
        {"AttributeName": "seq", "AttributeType": "N"},
        {"AttributeName": "snapshot", "AttributeType": "S"},
        {"AttributeName": "time", "AttributeType": "S"},
        {"AttributeName": "kind", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "stream", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": SNAPSHOT_INDEX,
            "KeySchema": [
                {"AttributeName": "snapshot", "KeyType": "HASH"},
                {"AttributeName": "time", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
        {
            "IndexName": KIND_INDEX,
            "KeySchema": [
                {"AttributeName": "kind", "KeyType": "HASH"},
                {"AttributeName": "stream", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
"""What ``CreateTable`` is given (with ``TableName``): the table and both indexes, on-demand;
examples/ledger.yaml declares the same for CloudFormation."""


def stream_key(account: str, region: str, first_line: bytes) -> str:
    """``<account>/<region>/<first 16 hex of the first record's digest>``: the stream of the
    log whose first record (seq 1) is ``first_line``; stable across rotations."""
    return f"{account}/{region}/{stream_id(first_line)}"


def is_stream_of(stream: str, chain_id: str) -> bool:
    """Whether ``stream`` is a key `stream_key` gives the chain whose id is ``chain_id`` (the
    16 hex `audit.stream_id` of its first record): it ends with ``/<chain_id>``."""
    return stream.endswith("/" + chain_id)


def id_of(stream: str) -> str:
    """The chain id a stream's key ends with (`stream_key`)."""
    return stream.rsplit("/", 1)[-1]


def line_digest(line: bytes) -> str:
    """The digest an item carries for its line: the line's own (sealed) digest, or for a
    line in the first format, which carries none, its SHA-256."""
    return own_digest(line) or hashlib.sha256(line).hexdigest()


def full_sha256(line: bytes) -> str:
    """SHA-256 of a line's full bytes: what a checkpoint holds for a stream's head (keyless:
    the checkpointer needs no HMAC key)."""
    return hashlib.sha256(line).hexdigest()


def record_item(stream: str, seq: int, line: bytes) -> Item:
    """The item of one record: its line byte for byte, and the fields the indexes and
    `query` read (those that are null are left out: an index key cannot be empty; so are
    those longer than `INDEXED_MAX`). A writer's lines are ASCII; one resealed by hand may
    hold UTF-8 (`UnicodeDecodeError` for bytes that are none: a string item cannot hold
    them)."""
    item: Item = {
        "stream": {"S": stream},
        "seq": {"N": str(seq)},
        "line": {"S": line.decode("utf-8")},
        "digest": {"S": line_digest(line)},
    }
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # as `record.parse_record` reads a line
        record = {}
    for name in ("event", "call", "snapshot", "time"):
        value = record.get(name) if isinstance(record, Mapping) else None
        if isinstance(value, str) and value and _indexable(value):
            item[name] = {"S": value}
    return item


_RECORD_FIELDS = ("digest", "event", "call", "snapshot", "time")
"""The attributes a record's item carries besides its key and line, each derived from the
line (`record_item`): ``digest`` vouches for the line, the others are what the indexes and
``query`` read instead of the line."""


def item_problems(item: Mapping[str, Mapping[str, str]], line: bytes) -> list[str]:
    """How a record's item differs from the item its line makes (`record_item`), each said
    after "the item at seq N": a ``digest`` that is not the line's, an index attribute
    (``event``, ``call``, ``snapshot``, ``time``) missing, added or not the line's, a
    ``kind`` (which would list the record as a stream or a fork). A writer of the table who
    changes only these leaves the line intact: ``query`` would then miss the record, or list
    it under another snapshot, and a checkpointer refuses the stream."""
    expected = record_item("", 0, line)
    problems = []
    for name in _RECORD_FIELDS:
        found, wanted = item.get(name), expected.get(name)
        if found == wanted:
            continue
        if name == "digest":
            problems.append(
                "has no digest attribute"
                if found is None
                else "carries a digest its line does not have"
            )
        elif found is None:
            problems.append(f"has no {name} attribute, and its record's {name} is {_shown(wanted)}")
        elif wanted is None:
            problems.append(f"has a {name} attribute its record does not have: {_shown(found)}")
        else:
            problems.append(f"has {_shown(found)} as its {name}, and its record {_shown(wanted)}")
    if "kind" in item:
        problems.append(f"carries a kind ({_shown(item['kind'])}), which no record's item has")
    return problems


def _shown(value: object) -> str:
    """An attribute for a message (a writer of the table chose it): its JSON, cut short."""
    shown = value.get("S", value) if isinstance(value, Mapping) else value
    text = json.dumps(shown, default=repr)  # a Binary is bytes, a set of strings a set
    return text if len(text) <= 80 else text[:80] + "..."


def _indexable(value: str) -> bool:
    """Whether ``value`` can be an index key: UTF-8 (a lone surrogate, escaped in the line,
    cannot be sent as a key) of at most `INDEXED_MAX` bytes."""
    try:
        return len(value.encode()) <= INDEXED_MAX
    except UnicodeEncodeError:
        return False


INDEXED_MAX = 1024
"""The longest value (UTF-8 bytes) an item's index fields take: DynamoDB refuses an index key
over 2,048 bytes (1,024 for a sort key). No AWS name is that long; a record of a longer one
(a call AWS refuses) is shipped whole all the same, without the field `query` reads."""


def marker_item(stream: str, first_line: bytes, time: str) -> Item:
    """The marker that lists ``stream`` in the ``kind`` index (seq 0 of the stream)."""
    return {
        "stream": {"S": stream},
        "seq": {"N": "0"},
        "kind": {"S": STREAM_KIND},
        "first": {"S": line_digest(first_line)},
        "time": {"S": time},
    }


FORK_PART = "/fork/"
"""What a fork's partition key holds after its stream's (`fork_key`)."""


def fork_key(stream: str, line: bytes) -> str:
    """The partition of the fork of ``stream`` that ``line`` is: one per refused line."""
    return f"{stream}{FORK_PART}{hashlib.sha256(line).hexdigest()[:16]}"


def fork_problems(item: Mapping[str, Mapping[str, str]]) -> list[str]:
    """How a fork's item differs from the one its line and ``of`` make (`fork_item`), each
    said after "the fork item KEY": a seq that is not its line's, a key that is not its
    line's under ``of``, a ``digest`` that is not its line's. (``stored`` and ``time`` are
    the shipper's word alone.)"""
    line, of = line_of(item), text(item, "of")
    if line is None or of is None:
        return ["holds no line, or names no stream (of)"]
    problems = []
    held = seq_of(line) if line.startswith(b"{") else None
    if held is not None and held != number(item, "seq"):
        problems.append(f"holds the record of seq {held}")
    if text(item, "stream") != fork_key(of, line):
        problems.append(f"is not where its line, refused from {of}, is kept ({fork_key(of, line)})")
    if text(item, "digest") != line_digest(line):
        problems.append("has a digest that is not its line's")
    return problems


def fork_item(stream: str, seq: int, line: bytes, stored: str, time: str) -> Item:
    """The item that records a fork: the refused line, where it was refused, what the ledger
    holds there."""
    return {
        "stream": {"S": fork_key(stream, line)},
        "seq": {"N": str(seq)},
        "kind": {"S": FORK_KIND},
        "of": {"S": stream},
        "line": {"S": line.decode("utf-8")},
        "digest": {"S": line_digest(line)},
        "stored": {"S": stored},
        "time": {"S": time},
    }


def text(item: Mapping[str, Mapping[str, str]], name: str) -> str | None:
    """A String attribute of a typed item (None when absent)."""
    value = item.get(name)
    return None if value is None else value.get("S")


def number(item: Mapping[str, Mapping[str, str]], name: str) -> int | None:
    """A Number attribute of a typed item, as an int (None when absent or not whole)."""
    value = item.get(name)
    raw = None if value is None else value.get("N")
    try:
        return None if raw is None else int(raw)
    except ValueError:
        return None


def odd_seq(item: Mapping[str, Mapping[str, str]]) -> str | None:
    """What is wrong with an item's seq that is no whole number (a fraction, an exponent: no
    writer puts one; DynamoDB sorts it among the records all the same), None when it is one."""
    if number(item, "seq") is not None:
        return None
    value = item.get("seq")
    raw = None if value is None else value.get("N")
    return f"has seq {str(raw)[:40]!r}, no whole number: no record's item (a table writer's)"


def stray(item: Mapping[str, Mapping[str, str]], after: int) -> str:
    """An item no writer puts, at a seq no record has, named where it sorts: ``after`` the
    whole seq before it (a fraction, an exponent: `odd_seq`), or below the stream's first
    record (a negative seq)."""
    seq = number(item, "seq")
    if seq is None:
        return f"the item after seq {after} {odd_seq(item)}"
    return (
        f"the item at seq {seq}, below the stream's first record (seq 1): no record's item (a"
        " table writer's)"
    )


def line_of(item: Mapping[str, Mapping[str, str]]) -> bytes | None:
    """The line an item holds, as bytes (UTF-8: a writer's lines are ASCII; None when the
    item holds none)."""
    value = text(item, "line")
    return None if value is None else value.encode("utf-8")


def not_its_record(item: Mapping[str, Mapping[str, str]], seq: int) -> str | None:
    """What the item at ``seq`` holds when it is not the record of that seq, as said after
    "the item at seq N" ("holds no record", "holds the record of seq M"); None: it is. No
    shipper writes such an item: someone who can write the table does."""
    line = line_of(item)
    found = None if line is None else seq_of(line)
    if found is None:
        return "holds no record"
    return None if found == seq else f"holds the record of seq {found}"

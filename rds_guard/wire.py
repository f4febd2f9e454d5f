"""What a request carries: parameters read back from botocore's serialized request.

rds, docdb and neptune speak AWS's query protocol: once serialized, the request body is a
flat dict (``Tags.Tag.1.Key``, ``ValuesToAdd.AttributeValue.2``...). `sent_params` reads the
parameters the guard judged back out of it, typed by the operation's input shape, so the
guard can hold what is sent against what it decided. The readers of an operation are built
once per client (`readers`): botocore makes each client a service model, and shapes, of its
own.

The guard decides on a copy of its own (`copies.detached`), and reads what is sent from a
body made of exact strings and numbers (`sending.plain_body`): botocore sends a value through
its own methods (a subclass of ``str`` through its own ``encode()``), the rules read it
through others, and an object may say it equals anything (`same` compares type for type)."""

from __future__ import annotations

import decimal
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .core.calls import READ_AS_TRUTH
from .core.copies import COPIED_DEPTH
from .sending import is_flat

_ABSENT: Any = object()
Reader = Callable[[Mapping[str, Any], str], Any]
"""Reads one value at a key prefix of a flat body (`_ABSENT` when the body has none)."""
Matcher = Callable[[Mapping[str, Any], str, Any], int]
"""How many keys of a flat body carry a value at a key prefix as its reader reads it back,
type for type (`same`); -1: one does not, or that cannot be told without reading (`carries`
counts every key under the parameter's: keys the value does not hold are not looked for)."""


class Readers:
    """For each parameter an operation's rules judge: its name, its key in the body, its
    reader and its matcher (the rows, iterated as such); ``lacking``: the judged parameters
    the client's API lacks (no reader: botocore never writes them); and the keys of both in
    lowercase, under which `carries` counts the body's keys; ``lists``: the keys, in
    lowercase, of those that are lists or structures, which botocore writes bare only for an
    empty list (one empty key); ``flags``: the names of those that are booleans. Built once
    per client and operation (`readers`)."""

    __slots__ = ("dotted", "exact", "flags", "heads", "lacking", "lists", "named", "rows")

    def __init__(
        self,
        rows: tuple[tuple[str, str, Reader, Matcher], ...],
        lacking: tuple[str, ...] = (),
        lists: frozenset[str] = frozenset(),
        flags: frozenset[str] = frozenset(),
    ) -> None:
        self.rows = rows
        self.lacking = lacking
        self.lists = lists
        self.flags = flags
        self.exact = frozenset(key for _, key, _, _ in rows)
        self.named = {name.lower(): name for name in lacking}
        self.named |= {key.lower(): name for name, key, _, _ in rows}
        self.heads = frozenset(self.named)
        self.dotted = tuple(head + "." for head in self.heads)

    def __iter__(self) -> Iterator[tuple[str, str, Reader, Matcher]]:
        return iter(self.rows)


def form_params(data: object, *, flat: bool = False) -> Mapping[str, Any] | None:
    """The parameters a query request carries, as the service reads them: botocore's flat
    dict as it is; a body another handler made text or bytes (or a presigned URL's query)
    read as a form, UTF-8. None when it cannot be read as one call: any other body (a
    file, a dict `sending.plain_body` could not read), bytes that are no UTF-8, a parameter given
    twice (also in another case: which one the service takes is not known), or a name of
    other characters than `_NAMES_AS_WRITTEN` (a service comparing names as Java does takes
    ``ı`` for ``i``, ``ſ`` for ``s``; one may trim a space); botocore never sends those.
    ``flat``: ``data`` is a flat dict already (`sending.plain_body` said so)."""
    if flat or (type(data) is dict and is_flat(data)):
        body: Mapping[str, Any] = data  # type: ignore[assignment]
    elif isinstance(data, str | bytes | bytearray):
        try:
            text = data if isinstance(data, str) else bytes(data).decode()
            pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return None
        body = dict(pairs)
        if len(body) != len(pairs):
            return None
    else:
        return None
    if len(set(map(str.lower, body))) != len(body):  # every key is a string here
        return None
    return body if _NAMES_AS_WRITTEN.fullmatch("".join(body)) else None


_NAMES_AS_WRITTEN = re.compile(r"[A-Za-z0-9._-]*")  # botocore's names, a presigned URL's too


def sent_params(body: Mapping[str, Any], readers: Readers) -> dict[str, Any]:
    """The parameters ``readers`` (made by `readers`) read, as ``body`` (a serialized query
    request) carries them."""
    found: dict[str, Any] = {}
    for name, key, read, _ in readers:
        value = read(body, key)
        if value is not _ABSENT:
            found[name] = value
    return found


def as_written(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as `sent_params` reads them back from what botocore writes of them: it
    writes an empty structure as nothing, so a list's items are read up to the first such
    one, and a list of none but them, or a structure of none but them, is not there at all
    (``Tags=[{}]`` sends no tag). An empty list is written (one empty key) and read; below
    `COPIED_DEPTH`, where no value is the `same` as any, a value is left as it is."""
    written = {name: _written(value, COPIED_DEPTH) for name, value in params.items()}
    return {name: value for name, value in written.items() if value is not _ABSENT}


def _written(value: Any, depth: int) -> Any:
    if type(value) is dict and depth:
        members = {name: _written(item, depth - 1) for name, item in value.items()}
        kept = {name: item for name, item in members.items() if item is not _ABSENT}
        return kept if kept else _ABSENT
    if type(value) is list and value and depth:
        items = []
        for item in value:
            written = _written(item, depth - 1)
            if written is _ABSENT:
                break
            items.append(written)
        return items if items else _ABSENT
    return value


def carries(body: Mapping[str, Any], readers: Readers, judged: Mapping[str, Any]) -> bool:
    """Whether ``body`` (a flat query body) carries ``judged`` as it is and nothing else under
    a judged parameter's key: True only when `same` would find `sent_params` of it to be
    ``judged`` and `unread` no key, told in one pass without reading the parameters out (the
    usual request); False when not, or when that cannot be told so (a value that is no
    string, list or dict of them, say): the body is then read."""
    matched = given = 0
    for name, key, _, match in readers:
        value = judged.get(name, _ABSENT)
        if value is not _ABSENT:
            keys = match(body, key, value)
            if keys < 0:
                return False
            matched += keys
            given += 1
    if given != len(judged):  # a parameter no reader reads
        return False
    # each key matched is one under a judged parameter's: any other there (in any case) is one
    # the judgement does not hold, which the service reads
    heads, dotted = readers.heads, readers.dotted
    under = 0
    for key in body:
        lowered = key.lower()
        if lowered in heads or lowered.startswith(dotted):
            under += 1
    return under == matched


def misnamed(body: Mapping[str, Any], readers: Readers) -> str | None:
    """The first judged parameter of ``readers`` under whose name ``body`` holds a key
    botocore never writes: in another case than its own (``skipfinalsnapshot``), or of a
    parameter the client's API lacks (a DocumentDB ``DeleteDBInstance``'s
    ``SkipFinalSnapshot``), which the service, whose endpoint the three APIs share, may read
    all the same. None: none."""
    named, exact = readers.named, readers.exact
    for key in body:
        head = key.partition(".")[0]
        if head not in exact and (name := named.get(head.lower())) is not None:
            return name
    return None


def unread(body: Mapping[str, Any], readers: Readers, values: Mapping[str, Any]) -> str | None:
    """The first parameter of ``readers`` under whose key (in any case) ``body`` holds more
    or fewer keys than ``values`` (what was judged, as read) is written as: keys botocore
    never writes there (``Tags.Tag.9`` after a gap, ``Tags.Tag.0``, ``Tags.member.1``), put
    there by another handler and never read, which the service may read; a list's or a
    structure's own key but for an empty list's one empty key (``ValuesToAdd=all``). None:
    none."""
    counts: dict[str, int] = {}
    bare: dict[str, object] = {}
    for key in body:
        dot = key.find(".")
        if dot > 0:
            prefix = key[:dot].lower()
            counts[prefix] = counts.get(prefix, 0) + 1
        elif key.lower() in readers.lists:
            bare[key.lower()] = body[key]
    if not (counts or bare):  # the usual body of a call with no list or structure
        return None
    for name, key, _, _ in readers:
        value = values.get(name)
        written = _leaves(value) if type(value) in (dict, list) and value else 0
        if counts.get(key.lower(), 0) != written:
            return name
        if key.lower() in bare and not (
            type(value) is list and not value and bare[key.lower()] == ""
        ):
            return name
    return None


def _leaves(value: Any) -> int:
    # the keys botocore's query serializer writes for a value inside a structure or list: an
    # empty list is one empty key, an empty structure none
    if type(value) is dict:
        return sum(_leaves(item) for item in value.values())
    if type(value) is list:
        return sum(_leaves(item) for item in value) if value else 1
    return 1


def readers(input_shape: Any, names: Iterable[str]) -> Readers:
    """For each of ``names`` the input shape has: its name, its key in the body, its reader
    and its matcher; and those it lacks."""
    members = input_shape.members if input_shape is not None else {}
    given = [(name, members[name]) for name in names if name in members]
    return Readers(
        tuple(
            (name, member.serialization.get("name", name), _reader(member), _matcher(member))
            for name, member in given
        ),
        tuple(name for name in names if name not in members),
        frozenset(
            member.serialization.get("name", name).lower()
            for name, member in given
            if member.type_name in ("list", "structure")
        ),
        frozenset(name for name, member in given if member.type_name == "boolean"),
    )


def _reader(shape: Any) -> Reader:
    kind = shape.type_name
    if kind == "structure":
        return _structure_reader(shape)
    if kind == "list":
        return _list_reader(shape)
    convert, text = _CONVERSIONS.get(kind), kind in _TEXT

    def read_scalar(body: Mapping[str, Any], key: str) -> Any:
        return _scalar(body.get(key, _ABSENT), convert, text)

    return read_scalar


def _scalar(value: Any, convert: Callable[[str], Any] | None, text: bool) -> Any:
    """A scalar read from the body: text converted to its shape's type (`_CONVERSIONS`); a
    value of another type where botocore writes only text (a name, a flag: ``text``) read as
    the text it is sent as (another handler's ``True`` or ``5`` in place of a name is the
    name ``True`` or ``5``, which the guard judges as such)."""
    if isinstance(value, str):
        return value if convert is None else convert(value)
    return str(value) if text and value is not _ABSENT else value


_TEXT = frozenset({"string", "boolean"})  # the scalar shapes botocore writes only as text


def _structure_reader(shape: Any) -> Reader:
    # A scalar member (reader None) is read in place, the usual case (a tag's Key and Value):
    # a call per member would cost more than the read.
    members = tuple(
        (
            name,
            member.serialization.get("name", name),
            _CONVERSIONS.get(member.type_name),
            member.type_name in _TEXT,
            None if member.type_name not in ("structure", "list") else _reader(member),
        )
        for name, member in shape.members.items()
    )

    def read_structure(body: Mapping[str, Any], key: str) -> Any:
        structure = {}
        for name, serialized, convert, text, read in members:
            if read is None:
                value = _scalar(body.get(f"{key}.{serialized}", _ABSENT), convert, text)
            else:
                value = read(body, f"{key}.{serialized}")
            if value is not _ABSENT:
                structure[name] = value
        return structure if structure else _ABSENT

    return read_structure


def _list_reader(shape: Any) -> Reader:
    flattened = bool(shape.serialization.get("flattened"))
    item_name = shape.member.serialization.get("name", "member")
    read_item = _reader(shape.member)

    def read_list(body: Mapping[str, Any], key: str) -> Any:
        if body.get(key) == "":  # the query protocol sends an empty list as one empty key
            return []
        prefix = key if flattened else f"{key}.{item_name}"
        items: list[Any] = []
        while True:
            item = read_item(body, f"{prefix}.{len(items) + 1}")
            if item is _ABSENT:
                return items if items else _ABSENT
            items.append(item)

    return read_list


def _matcher(shape: Any) -> Matcher:
    kind = shape.type_name
    if kind == "structure":
        return _structure_matcher(shape)
    if kind == "list":
        return _list_matcher(shape)
    read = _reader(shape)

    def match_scalar(body: Mapping[str, Any], key: str, value: Any) -> int:
        return 1 if _same_scalar(read(body, key), value) else -1

    return match_scalar


def _same_scalar(found: Any, value: Any) -> bool:
    """`same` for a value read of a scalar: the same built-in type, and equal."""
    return type(found) is type(value) and type(value) in _SCALARS and found == value


def _structure_matcher(shape: Any) -> Matcher:
    # A scalar member (matcher None) is read and compared in place, as `_structure_reader`
    # reads it: a tag's Key and Value, the usual case.
    members = {
        name: (
            "." + member.serialization.get("name", name),
            _CONVERSIONS.get(member.type_name),
            None if member.type_name not in ("structure", "list") else _matcher(member),
        )
        for name, member in shape.members.items()
    }

    def match_structure(body: Mapping[str, Any], key: str, value: Any) -> int:
        if type(value) is not dict or not value:  # an empty one is read as none
            return -1
        matched = 0
        for name, item in value.items():
            # a key of another type may say it equals a member's name
            member = members.get(name) if type(name) is str else None
            if member is None:
                return -1
            suffix, convert, match = member
            if match is not None:
                keys = match(body, key + suffix, item)
                if keys < 0:
                    return -1
                matched += keys
                continue
            found = body.get(key + suffix, _ABSENT)
            if convert is not None and isinstance(found, str):
                found = convert(found)
            if not (type(found) is type(item) and type(item) in _SCALARS and found == item):
                return -1  # not `_same_scalar`, in place
            matched += 1
        return matched

    return match_structure


def _list_matcher(shape: Any) -> Matcher:
    flattened = bool(shape.serialization.get("flattened"))
    item_name = shape.member.serialization.get("name", "member")
    match_item = _matcher(shape.member)

    def match_list(body: Mapping[str, Any], key: str, value: Any) -> int:
        if type(value) is not list:
            return -1
        if not value:  # an empty list is sent as one empty key
            return 1 if body.get(key) == "" else -1
        prefix = key if flattened else f"{key}.{item_name}"
        matched = 0
        for index, item in enumerate(value, 1):
            keys = match_item(body, f"{prefix}.{index}", item)
            if keys < 0:
                return -1
            matched += keys
        return matched

    return match_list


def _boolean(value: str) -> Any:
    return {"true": True, "false": False}.get(value, value)


def _integer(value: str) -> Any:
    # ASCII digits only: isdigit() takes "²" (int() refuses it) and "٣", no digits botocore sends
    return int(value) if _DIGITS.fullmatch(value) else value


_DIGITS = re.compile(r"-?[0-9]+")
_CONVERSIONS: dict[str, Callable[[str], Any]] = {
    "boolean": _boolean,
    "integer": _integer,
    "long": _integer,
}
CONVERTED = frozenset(_CONVERSIONS)
"""The shapes whose text the readers convert (botocore writes ``true``, ``false``, digits):
a value of one of them still read as text is other text, put there by another handler."""


def same(judged: Any, sent: Any) -> bool:
    """Whether two parameter values are the same, made of built-in types at every depth and
    equal: ``==`` alone takes an object that says it equals anything for any value (its own
    ``__eq__``), and it is then sent as its ``__str__`` says; an object of no built-in type
    is never the same as anything. Built-in numbers compare as Python compares them, but a
    bool is never the same as a number (``False == 0``, and an integer given ``False`` is
    sent as ``False``, which the service refuses, where ``0`` turns the backups off)."""
    return (
        _built_in(judged, COPIED_DEPTH)
        and _built_in(sent, COPIED_DEPTH)
        and judged == sent
        and _bools_alike(judged, sent)
    )


def _bools_alike(one: Any, other: Any) -> bool:
    """Whether two equal values of built-in types hold a bool in the same places."""
    if (type(one) is bool) is not (type(other) is bool):
        return False
    if type(one) is dict:
        return all(_bools_alike(item, other[key]) for key, item in one.items())
    if type(one) in (list, tuple):
        return all(_bools_alike(*pair) for pair in zip(one, other, strict=True))
    return True


def written_as(readers: Readers, name: str, judged: Any, sent: Any) -> bool:
    """Whether ``sent``, read back from the body, is what botocore writes of the value judged
    for ``name``: the `same`, or for a flag given as a value of another built-in type (by a
    client that does not validate) its truth (botocore's ``QuerySerializer.
    _serialize_type_boolean`` writes ``true`` ``if value``), which is no change of anyone's.
    For the note of a call judged again only: the judgement reads what is sent."""
    if same(judged, sent):
        return True
    return (
        name in readers.flags
        and type(sent) is bool
        and type(judged) in READ_AS_TRUTH
        and sent is bool(judged)
    )


def as_judged(sent: Any, judged: Any) -> bool:
    """Whether what is sent is what was judged: ``sent`` is ``judged`` itself where the
    request was found to carry it (`carries`), else the two are the `same`."""
    return sent is judged or same(judged, sent)


def _built_in(value: Any, depth: int) -> bool:
    """Whether ``value`` is made of built-in types only (lists, tuples, dicts of string keys,
    strings, numbers, None) down to ``depth`` levels, and no deeper (nor holding itself)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth == 0:
        return False
    # loops, not all(): this runs on every call's parameters, mostly strings in dicts
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _SCALARS and not _built_in(item, depth - 1):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _SCALARS and not _built_in(item, depth - 1):
                return False
        return True
    return False


_SCALARS = frozenset({str, int, float, bool, type(None), decimal.Decimal})

"""What a request carries: parameters read back from botocore's serialized request.

rds, docdb and neptune speak AWS's query protocol: at ``before-call`` the request body is a
flat dict (``Tags.Tag.1.Key``, ``ValuesToAdd.AttributeValue.2``...). `sent_params` reads the
parameters the guard judged back out of it, typed by the operation's input shape, so the
guard can hold what is sent against what it decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_ABSENT: Any = object()


def sent_params(body: Mapping[str, Any], input_shape: Any, names: Iterable[str]) -> dict[str, Any]:
    """The parameters ``names`` as ``body`` (a serialized query request) carries them."""
    found: dict[str, Any] = {}
    members = input_shape.members if input_shape is not None else {}
    for name in names:
        shape = members.get(name)
        if shape is None:
            continue
        value = _read(body, shape.serialization.get("name", name), shape)
        if value is not _ABSENT:
            found[name] = value
    return found


def _read(body: Mapping[str, Any], prefix: str, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        structure = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{member.serialization.get('name', name)}"
            value = _read(body, key, member)
            if value is not _ABSENT:
                structure[name] = value
        return structure if structure else _ABSENT
    if kind == "list":
        return _read_list(body, prefix, shape)
    value = body.get(prefix, _ABSENT)
    if value is _ABSENT or not isinstance(value, str):
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind in ("integer", "long"):
        return int(value) if value.lstrip("-").isdigit() else value
    return value


def _read_list(body: Mapping[str, Any], prefix: str, shape: Any) -> Any:
    if body.get(prefix) == "":  # the query protocol sends an empty list as one empty key
        return []
    if shape.serialization.get("flattened"):
        item_prefix = prefix
    else:
        item_prefix = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
    items: list[Any] = []
    while True:
        item = _read(body, f"{item_prefix}.{len(items) + 1}", shape.member)
        if item is _ABSENT:
            return items if items else _ABSENT
        items.append(item)


def plain_copy(value: Any) -> Any:
    """A copy of a parameter value made of lists and dicts (tuples become lists), so that a
    later change to the caller's objects does not change it."""
    if isinstance(value, Mapping):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_copy(item) for item in value]
    return value

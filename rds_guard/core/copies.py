"""Plain copies of a call's parameter values, out of reach of the caller's objects.

The guard decides on a copy of its own, of exact built-in types (`detached`), so that a
change to the caller's objects, or to botocore's ``params`` by a handler holding them, while
the decision's look-ups run, or after it, is not what was judged; `evaluate` judges the same
copy, so that it says what the guard does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COPIED_DEPTH = 8
"""How deep `plain_copy` copies. A guarded parameter is at most a list of dicts of strings;
what lies deeper is no valid parameter (botocore refuses it), and is kept as it is, so that a
list holding itself, or nested ten thousand deep, is not copied for ever."""


def plain_copy(
    value: Any, depth: int = COPIED_DEPTH, *, coerce: bool = True, _copies: Any = None
) -> Any:
    """A copy of a parameter value, of lists, dicts and exact strings, so that a later change
    to the caller's objects does not change it.

    A subclass of ``str``, ``dict``, ``list`` or ``tuple`` is copied as what it holds, read
    through the base type's own methods: its own ``lower()``, ``items()`` or ``__iter__``
    need not say so. With ``coerce`` (the default), a tuple becomes a list, a mapping that is
    no dict a dict, and a subclass of a number the number; without, these are kept as given,
    as botocore will see them (it refuses a mapping, and sends a number through its own
    ``__str__``). Any other object is kept as given. A list or dict met again is its one
    copy: a list holding itself is copied as one. Below ``depth`` levels, the caller's
    objects themselves."""
    kind = type(value)
    if kind is str or value is None or depth == 0:
        return value
    if kind is list and _copies is None:
        copied = _string_dicts(value)
        if copied is not None:
            return copied
    if isinstance(value, str):
        return str.__str__(value)
    copies: dict[int, Any] = {} if _copies is None else _copies
    if id(value) in copies:
        return copies[id(value)]
    if isinstance(value, dict) or (coerce and isinstance(value, Mapping)):
        pairs = dict.items(value) if isinstance(value, dict) else value.items()
        made: dict[Any, Any] = copies.setdefault(id(value), {})
        for key, item in list(pairs):
            made[exact_text(key)] = plain_copy(item, depth - 1, coerce=coerce, _copies=copies)
        return made
    if isinstance(value, list):
        listed: list[Any] = copies.setdefault(id(value), [])
        listed += [
            plain_copy(item, depth - 1, coerce=coerce, _copies=copies)
            for item in list.__iter__(value)
        ]
        return listed
    if isinstance(value, tuple):
        items = tuple.__iter__(value)
        copied = [plain_copy(item, depth - 1, coerce=coerce, _copies=copies) for item in items]
        return copied if coerce else tuple(copied)
    if not coerce:
        return value
    if kind is not bool and isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return value


def plain_params(params: dict[str, Any], names: Iterable[str]) -> None:
    """Each of ``names`` in ``params`` made a `plain_copy`, in place, for a presign past the
    client's wrapper, whose URL the guard never reads: it is signed from what was judged.
    What botocore's validation refuses, or takes and sends as it is (a subclass of a number),
    is not coerced: botocore refuses it as it would."""
    for name in names:
        if name in params:
            params[name] = plain_copy(params[name], coerce=False)


def detached(params: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A copy of ``params`` whose ``names`` are `plain_copy`'s of their own: what a decision
    reads, out of reach of the caller's objects, and of a handler holding ``params``, while
    the decision's look-ups run. What botocore refuses, or sends through its own ``__str__``
    (a subclass of a number), is kept as given (``coerce`` False): the decision sees it as
    botocore will, malformed, and leaves it so."""
    copied = dict(params)
    plain_params(copied, names)
    return copied


_ABSENT = object()


def holds(params: Mapping[str, Any], name: str, decided: object) -> bool:
    """Whether the caller's value of ``name`` in ``params`` still says it holds the value
    decided (then it is left in the call as given: botocore validates and sends it as it
    would without the guard, and what it sends is held against the decision at
    request-created). A string is compared as the text it holds (its class's own ``==`` may
    say anything, or raise), so that a string botocore refuses is refused as given, in
    botocore's own words."""
    given = params.get(name, _ABSENT)
    try:
        if type(decided) is str and isinstance(given, str):
            return str.__eq__(given, decided) is True
        return given is decided or bool(decided == given)
    except Exception:  # its own __eq__ raised: the decided value goes instead
        return False


def exact_text(key: Any) -> Any:
    """A string (a dict's key, a name) as the exact string it holds, read through ``str``'s
    own method, never a subclass's; any other value as it is."""
    return str.__str__(key) if isinstance(key, str) and type(key) is not str else key


def _string_dicts(items: list[Any]) -> list[dict[Any, str]] | None:
    """A copy of a list of dicts whose values are all strings (a tag list, the usual shape),
    or None when ``items`` has another shape."""
    copied = []
    for item in items:
        if type(item) is not dict:
            return None
        for key, text in item.items():
            if type(key) is not str or type(text) is not str:
                return None
        copied.append(item.copy())
    return copied

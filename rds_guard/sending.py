"""A request as botocore sends it, held: its body made of the exact strings and numbers it is
sent as (`plain_body`), and what the guard reads of a request to tell whether it still holds
it (`as_read`, `still_read`)."""

from __future__ import annotations

import decimal
from typing import Any

from .core.copies import exact_text
from .query import url_sent


def plain_body(data: Any) -> tuple[Any, bool]:
    """A request's body as botocore sends it, and whether it is flat (`wire.form_params` takes
    it as it is): for a dict (botocore's flat query body), a new dict of the exact strings and
    numbers it is sent as (`_as_sent`), since each key and value is sent through its own
    ``encode()`` or ``__str__``, and a dict subclass through its own ``items()``. The body
    is a copy, held by the request alone: whoever holds botocore's (a ``before-call``
    handler's ``params["body"]``, another task or thread) cannot change what is sent once it
    is read. ``data`` itself when it is no dict (bytes for a ``bytearray``), or a dict whose
    ``items()`` are no pairs."""
    if type(data) is dict:
        if is_flat(data):
            return dict(data), True
        items = data.items()
    elif isinstance(data, dict):
        items = data.items()
    else:
        return (bytes(data) if isinstance(data, bytearray) else data), False
    try:
        body = {exact_text(key): _as_sent(value) for key, value in list(items)}
    except Exception:  # its items() are no pairs: `wire.form_params` reads it as no call
        return data, False
    return (body, True) if is_flat(body) else (data, False)


def _as_sent(value: Any) -> Any:
    """A flat body's value as it is sent: a string subclass as the string it holds (what the
    guard judged; its own ``encode()`` is not asked), a number of a subclass as the text its
    ``__str__`` gives, which is what urllib sends (an ``(int, Enum)`` member's ``Old.X``)."""
    if isinstance(value, str):
        return str.__str__(value)
    if type(value) not in _SENT and isinstance(value, (int, float)) and type(value) is not bool:
        return str(value)
    return value


def flat_items(data: Any) -> tuple[tuple[str, Any, type], ...] | None:
    """A flat body's items in order, each with its value's exact type (`is_flat`), so that two
    compare equal only when they send the same (``1`` and ``True`` are equal numbers, sent
    apart); None for any other body."""
    if type(data) is dict and is_flat(data):
        return tuple((key, value, type(value)) for key, value in dict.items(data))
    return None


Read = tuple[object, tuple[tuple[str, Any, type], ...] | None, object]
"""What the guard read of a request (`as_read`)."""


def as_read(request: Any) -> Read:
    """What the guard reads of a request to tell whether it still holds it (`still_read`): its
    body, a flat one's items (an edit in place changes them), and its URL (`url_sent`)."""
    return request.data, flat_items(request.data), url_sent(request)


def still_read(request: Any, read: Read) -> bool:
    """Whether ``request`` holds what `as_read` read of it: the same body, its items as they
    were (exact types: an item whose own ``__eq__`` says anything is no flat item), and the
    same URL, or an exact string equal to it."""
    data, items, url = read
    now = url_sent(request)
    return (
        request.data is data
        and flat_items(data) == items
        and (now is url or (type(now) is str and type(url) is str and now == url))
    )


def is_flat(body: dict[Any, Any]) -> bool:
    """Whether each key of ``body`` is an exact string and each value an exact string or
    number, as botocore makes them: any other value is sent as its own ``__str__`` says, or
    as several (a list), and `wire.form_params` reads such a body as no call."""
    for key, value in body.items():  # a loop, not all(): every request's body passes here
        if type(key) is not str or type(value) not in _SENT:
            return False
    return True


_SENT = frozenset({str, int, float, bool, decimal.Decimal})  # botocore takes a Decimal for a float

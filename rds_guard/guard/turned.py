"""Requests another handler made into a call of a guarded operation.

A ``before-call`` handler can rewrite the body of a call the guard does not judge (a
``DescribeDBClusters``) into one it judges (its ``Action`` made ``DeleteDBClusterSnapshot``):
none of the guard's handlers of the guarded operation runs for it, and no judgement precedes
it. One handler under the service's name, on every operation's ``request-created``,
``after-call`` and ``after-call-error``, finds such a request by its body's ``Action``: it is
judged as it is sent (`Guard.unjudged`), and its outcome recorded, as a call of the guarded
operation.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core import operations
from ..core.operations import Operation
from ..records import CONTEXT_KEY, GuardedCall, turned_note
from .hooks import GUARDED

if TYPE_CHECKING:
    from .binding import ClientBinding

TURNED_STAGES = {
    "request-created": "request_created",
    "after-call": "after_call",
    "after-call-error": "after_call_error",
}
"""The events the handler is registered on (under the service's name), each with the
binding's method it hands a turned request to."""


_BY_LOWER = {name.lower(): name for names in GUARDED.values() for name in names}


def turned_handler(binding: ClientBinding) -> Callable[..., Any]:
    """The handler of ``binding``'s client for the events of `TURNED_STAGES`, of every
    operation: nothing for a guarded operation (its own handlers run) nor for a request whose
    body's ``Action`` is its own operation's (the usual call, one look-up)."""
    own = frozenset(GUARDED.get(binding.service, ()))

    def handler(event_name: str = "", **kwargs: Any) -> Any:
        stage, _, rest = event_name.partition(".")
        operation = rest.rpartition(".")[2]
        if operation in own or stage not in TURNED_STAGES:
            return None
        if stage == "request-created":
            row = _turned_into(binding, own, operation, kwargs["request"])
        else:
            call = kwargs.get("context", {}).get(CONTEXT_KEY)
            found = isinstance(call, GuardedCall) and call.unjudged and call.guard is not None
            row = operations.OPERATIONS[call.fields["operation"]] if found else None
        if row is None:
            return None
        return getattr(binding, TURNED_STAGES[stage])(row, **kwargs)

    return handler


def _turned_into(
    binding: ClientBinding, own: frozenset[str], operation: str, request: Any
) -> Operation | None:
    """The guarded operation a request of ``operation`` was made into (an ``Action`` of its
    body names it), its call kept in the request's context to be judged as sent; None:
    none."""
    called = operation.lower()
    turned = [
        _BY_LOWER[action] for action in _actions(request.data)
        if action != called and _BY_LOWER.get(action) in own
    ]  # fmt: skip
    guard = binding.guard() if turned else None
    if guard is None or request.context.get("is_presign_request"):
        return None
    row = operations.OPERATIONS[turned[0]]
    request.context[CONTEXT_KEY] = guard.unjudged(row, turned_note(operation))
    return row


def _actions(data: object) -> list[str]:
    """Every ``Action`` a body gives, lowercased, its name in any case, given once or more
    (which the service reads, in which case, is not known): of botocore's dict, or of a body
    another handler made form text or bytes; nothing of any other body, which cannot be read."""
    if type(data) is dict:
        pairs = list(data.items())
    elif isinstance(data, str | bytes | bytearray):
        text = data if isinstance(data, str) else bytes(data).decode(errors="replace")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
    else:
        return []
    return [
        value.lower() for key, value in pairs
        if type(key) is str and type(value) is str and key.lower() == "action"
    ]  # fmt: skip

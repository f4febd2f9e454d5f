"""Which calls a thread or task has under way: the presign being made, and the call last
judged (the guard finds it at ``request-created`` when a handler detached the request from
its context), and its end when it is stopped there; and where a judged call's state is kept
for its later handlers (`keep`, `kept`): in botocore's request context, or for a presign."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from ..records import CONTEXT_KEY, GuardedCall


class Presign(list[GuardedCall]):
    """The call judged for a presign made through the client's wrapper (no event carries a
    presign's expiry, so the wrapped ``generate_presigned_url`` collects its call here), and
    ``params``: the dict the wrapper hands botocore, which that call's handlers get. A
    presign made inside them with botocore's own function has a dict of its own: it is a
    presign past the wrapper, not the wrapper's."""

    __slots__ = ("params",)

    def __init__(self, params: object) -> None:
        super().__init__()
        self.params = params


presigning: contextvars.ContextVar[Presign | None] = contextvars.ContextVar(
    "rds_guard_presigning", default=None
)
"""The presign under way through the client's wrapper in this thread or task."""

in_progress: contextvars.ContextVar[GuardedCall | None] = contextvars.ContextVar(
    "rds_guard_in_progress", default=None
)
"""The call last judged in this thread or task: found at ``request-created`` when another
handler gave the request a context of its own, without the call kept in it (`ClientBinding.
held`)."""


@contextlib.contextmanager
def ending_if_stopped(call: GuardedCall) -> Iterator[None]:
    """A call stopped at ``request-created`` (blocked, its record unwritten) is no longer in
    progress: a later request of the thread, one no handler of the guard saw built, must not
    be taken for it."""
    try:
        yield
    except BaseException:
        if in_progress.get() is call:
            in_progress.set(None)
        raise


@contextlib.contextmanager
def presign_ending(past_the_wrapper: bool) -> Iterator[None]:
    """Around the last handler of a presign past the wrapper: no request follows it, so once
    it is recorded or refused it is no call a later one of the thread or task may be taken
    for (`kept`)."""
    try:
        yield
    finally:
        if past_the_wrapper:
            in_progress.set(None)


def presigned_past_the_wrapper(context: Mapping[str, Any]) -> bool:
    """A presign made without the client's ``generate_presigned_url`` (botocore's own
    function), also inside another presign's handlers (`keep` keeps it in its context):
    its last ``before-parameter-build`` handler writes its record, the expiry unknown."""
    return bool(context.get("is_presign_request")) and (
        presigning.get() is None or isinstance(context.get(CONTEXT_KEY), GuardedCall)
    )


def keep(
    call: GuardedCall | None,
    context: dict[str, Any],
    params: object,
    *,
    replacing: GuardedCall | None = None,
) -> None:
    """Keep a judged call's state: in the call's context, or for the presign it is (its
    ``params`` the wrapper's, `Presign`; ``replacing`` the state kept for it before). Any
    other call is kept in its context, and `in_progress`; one made past the wrapper is
    marked a presign, whatever a later handler does to the context."""
    if call is None:
        return
    presigned = presigning.get() if context.get("is_presign_request") else None
    if presigned is not None and replacing is not None and replacing in presigned:
        presigned[presigned.index(replacing)] = call
    elif presigned is not None and not presigned and params is presigned.params:
        presigned.append(call)
    else:  # a call, or a presign past the wrapper (its last handler writes its record)
        context[CONTEXT_KEY] = call
        in_progress.set(call)
        call.presign = presigned_past_the_wrapper(context)


def kept(context: Mapping[str, Any], params: object, operation: str | None) -> GuardedCall | None:
    """The call state `keep` kept for the call of ``context`` and ``params`` (None: none; an
    ended call is no state of this one); else the presign of ``operation`` past the wrapper
    last judged in this thread or task: a handler may have taken the state, or botocore's
    mark of a presign, out of its context (no request follows to be held instead)."""
    call = context.get(CONTEXT_KEY)
    if isinstance(call, GuardedCall) and not call.ended:
        return call
    presigned = presigning.get() if context.get("is_presign_request") else None
    if presigned and params is presigned.params:
        return presigned[0]  # one: `presigned_call` takes it
    current = in_progress.get()
    if current is None or not current.presign:
        return None
    return current if current.fields.get("operation") == operation else None

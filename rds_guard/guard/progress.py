"""Which calls a thread or task has under way: the presign being made, and the call last
judged (the guard finds it at ``request-created`` when a handler detached the request from
its context), and its end when it is stopped there; and where a judged call's state is kept
for its later handlers (`keep`, `kept`): in botocore's request context, or for a presign."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from .. import wire
from ..records import CONTEXT_KEY, GuardedCall
from .wrappers import presigning, presigns_built


class Presign:
    """A presign made through the client's wrapper of an ``operation`` the guard judges: its
    request ``context``, claimed before any of its handlers runs (`wrappers.claim_presign`),
    and the ``call`` judged for it (no event carries a presign's expiry, so the wrapped
    ``generate_presigned_url`` takes its call from here). A presign made inside its handlers
    with botocore's own function has a context of its own: it is a presign past the wrapper,
    not the wrapper's."""

    __slots__ = ("call", "context", "operation")

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.call: GuardedCall | None = None
        self.context: dict[str, Any] | None = None


def _presign() -> Presign | None:
    """The presign under way through the client's wrapper (`wrappers.presigning`)."""
    return cast(Presign | None, presigning.get())


in_progress: contextvars.ContextVar[GuardedCall | None] = contextvars.ContextVar(
    "rds_guard_in_progress", default=None
)
"""The call last judged in this thread or task: found at ``request-created`` when another
handler gave the request a context of its own, without the call kept in it (`ClientBinding.
held`)."""


_held: contextvars.ContextVar[tuple[tuple[weakref.ref[Any], object], ...]] = contextvars.ContextVar(
    "rds_guard_held", default=()
)
"""The requests ``request-created`` held last in this thread or task, the latest first (weak
references: they are no call's state; a handler may make other calls before one is signed),
each with what the guard read of it as it held it (`note_held`)."""

_MOST_KEPT = 8
"""How many requests, and presigns past the wrapper, a thread or task keeps noted."""


def note_held(request: Any, read: object) -> None:
    """Note that ``request-created`` held ``request`` as ``read`` says (`wire.as_read`)."""
    kept = [held for held in _held.get()[: _MOST_KEPT - 1] if held[0]() not in (None, request)]
    _held.set(((weakref.ref(request), read), *kept))


def at_signing(request: Any) -> tuple[bool, GuardedCall | None]:
    """What ``before-sign`` does with ``request``: whether to hold it again as a request (it
    no longer holds what ``request-created`` read of it as it held it, or no
    ``request-created`` held it and it is no presign: one made through the client's wrapper
    is held where its URL is read), and the call of the presign past the wrapper it is
    (`note_presign`), to hold and record there."""
    for made, read in _held.get():
        if made() is request:
            return not wire.still_read(request, cast(wire.Read, read)), None
    presigned = taken_presign(request.context)
    wrapper = _presign()
    through = wrapper is not None and wrapper.context is request.context
    return presigned is None and not through, presigned


_presigned: contextvars.ContextVar[tuple[tuple[object, GuardedCall], ...]] = contextvars.ContextVar(
    "rds_guard_presigned", default=()
)
"""The presigns past the client's wrapper judged in this thread or task and not yet signed
(another may be made inside one's handlers), each with its context: held and recorded as
botocore signs it (`note_presign`)."""


def note_presign(context: object, call: GuardedCall) -> None:
    """Note a presign past the wrapper, judged: its URL is never read, so its request is held
    and recorded at ``before-sign``, found by its context (`taken_presign`), which a handler
    may empty but not replace."""
    _presigned.set(((context, call), *_presigned.get()[: _MOST_KEPT - 1]))


def taken_presign(context: object) -> GuardedCall | None:
    """The call of the presign past the wrapper whose context is ``context`` (`note_presign`),
    taken once; None for any other request."""
    noted = _presigned.get()
    for index, (made_in, call) in enumerate(noted):
        if made_in is context:
            _presigned.set(noted[:index] + noted[index + 1 :])
            return call
    return None


def stopped(call: GuardedCall) -> None:
    """A call stopped at ``request-created`` (blocked, its record unwritten) is no longer in
    progress: a later request of the thread, one no handler of the guard saw built, must not
    be taken for it. Called where the guard's check raised (a plain ``except``: a context
    manager of `contextlib` would cost a few µs on every request)."""
    if in_progress.get() is call:
        in_progress.set(None)


def checked(call: GuardedCall, check: Callable[..., None], *args: Any) -> None:
    """``check(*args)``, the guard's check of a request of ``call``; `stopped` if it raises."""
    try:
        check(*args)
    except BaseException:
        stopped(call)
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
    function), also inside another presign's handlers (a context that is not the wrapper's):
    its last ``before-parameter-build`` handler writes its record, the expiry unknown. Told by
    its context as botocore handed it over (`wrappers.presigns_built`), not by the mark in it
    now: a handler may take the mark out of a presign's context, or put it in a call's."""
    built = presigns_built.get()
    if not built or not any(noted is context for noted in built):  # empty but in a presign
        return False
    presigned = _presign()
    return presigned is None or context is not presigned.context


def keep(call: GuardedCall | None, context: dict[str, Any]) -> None:
    """Keep a judged call's state (the last kept for a context replaces the one before): for
    the presign made through the wrapper whose context this is (`Presign`), else in the
    call's context, and `in_progress`; one made past the wrapper is marked a presign,
    whatever a later handler does to the context."""
    if call is None:
        return
    presigned = _presign()
    if presigned is not None and context is presigned.context:
        presigned.call = call
    else:  # a call, or a presign past the wrapper (its last handler writes its record)
        context[CONTEXT_KEY] = call
        in_progress.set(call)
        call.presign = presigned_past_the_wrapper(context)


def kept(context: Mapping[str, Any], operation: str | None) -> GuardedCall | None:
    """The call state `keep` kept for the call of ``context`` (None: none; an ended call is
    no state of this one); else the presign of ``operation`` past the wrapper last judged in
    this thread or task: a handler may have taken the state out of its context (no request
    follows to be held instead)."""
    call = context.get(CONTEXT_KEY)
    if isinstance(call, GuardedCall) and not call.ended:
        return call
    presigned = _presign()
    if presigned is not None and context is presigned.context:
        return presigned.call
    current = in_progress.get()
    if current is None or not current.presign:
        return None
    return current if current.fields.get("operation") == operation else None

"""Which calls a thread or task has under way: the presign being made, and the call last
judged (the guard finds it at ``request-created`` when a handler detached the request from
its context), and its end when it is stopped there; the requests held at ``request-created``
and the presigns past the wrapper, each to be held again as botocore signs it (`at_signing`);
and where a judged call's state is kept for its later handlers (`keep`, `kept`): in
botocore's request context, or for a presign."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, cast

from .. import sending
from ..query import moved_to_query
from ..records import CONTEXT_KEY, GuardedCall
from .changes import signed_how
from .wrappers import presigning, presigns_built


class Presign:
    """A presign made through the client's wrapper of an ``operation`` the guard judges: its
    request ``context``, claimed before any of its handlers runs (`wrappers.claim_presign`),
    and the ``call`` judged for it (no event carries a presign's expiry, so the wrapped
    ``generate_presigned_url`` takes its call from here). A presign made inside its handlers
    with botocore's own function has a context of its own: it is a presign past the wrapper,
    not the wrapper's."""

    __slots__ = ("call", "context", "earlier", "operation")

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.call: GuardedCall | None = None
        self.context: dict[str, Any] | None = None
        self.earlier = _presigned.get()
        """The presigns past the wrapper noted before this one began (`at_signing`)."""


def _presign() -> Presign | None:
    """The presign under way through the client's wrapper (`wrappers.presigning`)."""
    return cast(Presign | None, presigning.get())


in_progress: contextvars.ContextVar[GuardedCall | None] = contextvars.ContextVar(
    "rds_guard_in_progress", default=None
)
"""The call last judged in this thread or task: found at ``request-created`` when another
handler gave the request a context of its own, without the call kept in it (`ClientBinding.
held`)."""


read_requests: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "rds_guard_read_requests", default=None
)
"""While the guard makes one of its reads in this thread or task (`reads.made_by_request`),
the operations whose requests were made meanwhile (`note_request`): a read answered with none
made for it was answered before any request, by a ``before-call`` handler (a program's own
cache, botocore's Stubber), not by the service."""


def note_request(operation: str) -> None:
    """``request-created`` of ``operation``: noted for the guard's read under way, if any."""
    made = read_requests.get()
    if made is not None:
        made.append(operation)


_held: weakref.WeakKeyDictionary[Any, tuple[object, GuardedCall | None, tuple[object, bool]]] = (
    weakref.WeakKeyDictionary()
)
"""Each request ``request-created`` held, while botocore keeps it: what the guard read of it as
it held it, the call it held it as, the region it was to be signed for and whether with
credentials of a handler's own (`note_held`)."""

_presigned: contextvars.ContextVar[tuple[tuple[object, GuardedCall], ...]] = contextvars.ContextVar(
    "rds_guard_presigned", default=()
)
"""The presigns past the client's wrapper judged in this thread or task and not yet signed
(another may be made inside one's handlers), the latest first, each with its context: held
and recorded as botocore signs it (`note_presign`)."""

_MOST_PRESIGNS = 8
"""How many such presigns are kept: one whose signing failed is never taken, and is let go
once more are noted, or at the next note after its guard is no longer in force."""

MOST_HOLDS = 8
"""How often ``request-created`` holds a request given another body or URL each time."""

Signing = Literal["request", "presign"] | None
"""What ``before-sign`` holds of a request (`at_signing`)."""


def note_held(request: Any, read: object | None, rounds: int) -> None:
    """Note that ``request-created`` held ``request`` ``rounds`` times, the last as ``read``
    says (`sending.as_read`), as the call its context holds (the state it found for it, if any).
    It is read again when none held it or the holds gave up (more than `MOST_HOLDS`): it may
    have changed since."""
    context = request.context
    call = context.get(CONTEXT_KEY) if type(context) is dict else None
    settled = read is not None and rounds <= MOST_HOLDS
    seen = read if settled else sending.as_read(request)
    call = call if isinstance(call, GuardedCall) else None
    _held[request] = (seen, call, signed_how(context))


def since_held(
    request: Any, *, query_signed: bool = False
) -> tuple[bool, GuardedCall | None] | None:
    """Whether ``request`` still holds what ``request-created`` last read of it as it held it,
    and is to be signed as it was then (`changes.signed_how`), with the call it held it as;
    None when none held it. ``query_signed``: signed since by a query signer, which moves
    the body into the URL's query (`query.moved_to_query`)."""
    held = _held.get(request)
    if held is None:
        return None
    read, call, (region, another) = held
    now, other = signed_how(request.context)
    still = now is region or (type(now) is str and type(region) is str and now == region)
    read = cast(sending.Read, read)
    still = (
        still
        and other == another
        and (
            sending.still_read(request, read)
            or (query_signed and moved_to_query(request, read[1], read[2]))
        )
    )
    return still, call


def changed_since_held(request: Any, *, query_signed: bool = False) -> bool:
    """Whether ``request`` no longer holds what ``request-created`` last held of it
    (`since_held`, ``query_signed`` as there): then the call it held it as is put back in its
    context (`held_as`), for it to be held again."""
    since = since_held(request, query_signed=query_signed)
    if since is None or since[0]:
        return False
    held_as(request, since[1])
    return True


def held_as(request: Any, call: GuardedCall | None) -> None:
    """Put ``call``, the one ``request-created`` held ``request`` as, back in its context to
    hold it again as that call: a handler may have given it a context of its own."""
    if call is not None and type(request.context) is dict:
        request.context[CONTEXT_KEY] = call


def note_presign(context: object, call: GuardedCall) -> None:
    """Note a presign past the wrapper, judged: its URL is never read, so its request is held
    and recorded at ``before-sign`` (`at_signing`)."""
    kept = [(made_in, other) for made_in, other in _presigned.get() if _in_force(other)]
    _presigned.set(((context, call), *kept[: _MOST_PRESIGNS - 1]))


def _in_force(call: GuardedCall) -> bool:
    return call.guard is not None and call.guard.active


def forget_presigns_of(guard: object) -> None:
    """Let go of the presigns past the wrapper ``guard`` judged that this thread or task
    noted and never signed (its signing failed): a guard uninstalled."""
    _presigned.set(tuple(entry for entry in _presigned.get() if entry[1].guard is not guard))


def at_signing(request: Any, operation: str) -> tuple[Signing, GuardedCall | None]:
    """What ``before-sign`` holds of ``request``, and as which call:

    - nothing, when it still holds what ``request-created`` read of it as it held it (how it
      is to be signed too: `changes.signed_how`), or it is a presign made through the
      client's wrapper (its URL is read once signed);
    - the request again (``"request"``), as the call ``request-created`` held it as (None:
      found as that finds one), when it no longer holds that, or none held it;
    - a presign past the wrapper (``"presign"``), held and recorded there: the one judged with
      its context, else (a handler gave it another) the latest of ``operation``.

    A handler may give the request another context, never another identity."""
    since = since_held(request)
    if since is not None:
        still, call = since
        return (None if still else "request"), call
    context, wrapper = request.context, _presign()
    if wrapper is not None and wrapper.context is context:
        return None, None  # the wrapper's own presign: its URL is read once signed
    noted = _presigned.get()
    found = next((at for at, (made_in, _) in enumerate(noted) if made_in is context), None)
    if found is None:  # a handler gave it another context: the latest of the operation, made
        # inside the wrapper's presign if one is under way (one noted before is none of it)
        earlier = () if wrapper is None else wrapper.earlier
        of_it = (
            at
            for at, entry in enumerate(noted)
            if entry[1].fields["operation"] == operation and all(entry is not e for e in earlier)
        )
        found = next(of_it, None)
    if found is not None:
        _presigned.set(noted[:found] + noted[found + 1 :])
        return "presign", noted[found][1]
    return (None if wrapper is not None else "request"), None


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


def keep(call: GuardedCall | None, context: dict[str, Any], binding: object) -> None:
    """Keep a judged call's state (the last kept for a context replaces the one before), as
    ``binding``'s (the client binding whose handler judged it): for the presign made through
    the wrapper whose context this is (`Presign`), else in the call's context, and
    `in_progress`; one made past the wrapper is marked a presign, whatever a later handler
    does to the context."""
    if call is None:
        return
    call.binding = binding
    presigned = _presign()
    if presigned is not None and context is presigned.context:
        presigned.call = call
    else:  # a call, or a presign past the wrapper (its last handler writes its record)
        context[CONTEXT_KEY] = call
        call.kept_in(context)
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

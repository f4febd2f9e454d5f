"""Which calls a thread or task has under way: the presign being made, and the call last
judged (the guard finds it at ``request-created`` when a handler detached the request from
its context), and its end when it is stopped there."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from ..records import GuardedCall

presigning: contextvars.ContextVar[list[GuardedCall] | None] = contextvars.ContextVar(
    "rds_guard_presigning", default=None
)
"""The calls judged for the presign under way in this thread or task (no event carries a
presign's expiry, so the wrapped ``generate_presigned_url`` collects its call here)."""

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

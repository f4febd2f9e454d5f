"""The stacks of guards: the guards installed on one target, newest in force, and the lock
under which a stack and its hooks change together."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .guard import Guard


class Installed(Protocol):
    """A guard as a stack holds it: made at install, or when it is first needed (a lazy install,
    `install_on_emitter`'s)."""

    order: int
    """When it was installed (`INSTALL_ORDER`)."""

    def resolve(self) -> Guard:
        """The guard (made now, for an install whose guard was not made yet)."""
        ...


INSTALL_ORDER = itertools.count()
"""Numbers installs in the order they are made: of the guards of a client's sessions, the
one installed last is in force (`newest_guard`)."""
INSTALLS = threading.RLock()
"""Held while a stack of guards changes, with the hooks that go with it: an install on a
session while another thread's uninstall removes the session's hooks would otherwise be
hooked and then unhooked, active with nothing to judge its clients' calls."""
# A thread holding it at a fork is not in the child: the child's copy starts free.
os.register_at_fork(after_in_child=INSTALLS._at_fork_reinit)  # type: ignore[attr-defined]


class Stack:
    """The guards installed on one target (a session, an emitter or a client), oldest first.

    The newest is in force; uninstalling it brings back the one before it. ``on_empty``
    callbacks run when the last guard leaves (a session's hooks are removed then). Changes are
    made holding `INSTALLS`.
    """

    def __init__(self) -> None:
        self.guards: list[Installed] = []
        self.on_empty: list[Callable[[], None]] = []

    def top(self) -> Guard | None:
        """The guard in force (resolving one installed lazily), or None."""
        top = self.newest()
        return None if top is None else top.resolve()

    def newest(self) -> Installed | None:
        """The guard installed last, as installed (not resolved), or None."""
        try:
            return self.guards[-1]
        except IndexError:  # none, or the last one left in another thread meanwhile
            return None

    def remove(self, guard: Installed) -> None:
        """Take ``guard`` off the stack; the ``on_empty`` callbacks run when it was the last."""
        with INSTALLS:
            if guard in self.guards:
                self.guards.remove(guard)
                if not self.guards:
                    callbacks, self.on_empty = self.on_empty, []
                    for callback in callbacks:
                        callback()


def newest_guard(stacks: list[Stack]) -> Guard | None:
    """Of the guards in force on ``stacks`` (a client's sessions'), the one installed last
    (a session guarded directly and as boto3's default: whichever install came later)."""
    newest: Installed | None = None
    for stack in stacks:
        top = stack.newest()
        if top is not None and (newest is None or top.order > newest.order):
            newest = top
    return None if newest is None else newest.resolve()


def cannot_enter(guard: object, *, uninstalled: bool) -> RuntimeError:
    """The error of a ``with`` block on a guard that could not guard all of it: one
    uninstalled (entered again after its block, say), or one in a block already, which the
    inner block's end would uninstall for the rest of the outer one. Either way calls would
    be sent unguarded, with nothing said: the block's, or the rest of the outer block's."""
    why = (
        "it is uninstalled (a `with` block of it has ended, or uninstall() was called):"
        " install the policy again for this block"
        if uninstalled
        else "it is in a `with` block already, and leaving this one would uninstall it for"
        " the rest of that one"
    )
    return RuntimeError(f"{guard!r} cannot guard this block: {why}")

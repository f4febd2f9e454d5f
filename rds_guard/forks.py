"""Whether this process was forked where Python's at-fork hooks did not run: uWSGI forks its
workers so unless told ``py-call-osafterfork`` (or ``lazy-apps``), with the C library's
``fork`` alone.

Such a child keeps the interpreter's state as the parent's threads left it: the lock and
condition variable its threads take turns on still count waiters that are not in the child,
so a thread started there can wait for ever, and so can the thread that started it (as it
did at each such fork of a process whose other threads were idle). rds_guard's own clients
and the fleet ledger start no thread in such a process (the threads that bound an answer's
wait, the put workers, the shipping thread): what they would do in one is done in the calling
thread instead. The async guard's worker threads are not spared: aiobotocore starts threads of
its own there anyway (to build its TLS contexts), so its clients cannot be used in such a
child at all.

Imported with the package, so that the process a fork is told from is the one that imported
rds_guard, not one forked since. Every at-fork hook of the package that is a function of its
own is registered through `after_fork_in_child`.
"""

from __future__ import annotations

import os
import types
import weakref
from collections.abc import Callable


def after_fork_in_child(hook: Callable[[], None]) -> None:
    """Have ``hook`` called in the child after each ``os.fork``, as
    ``os.register_at_fork(after_in_child=hook)`` does, in the same place among the hooks,
    but holding ``hook`` weakly: a module-level function is called as long as its module is
    alive, and only as long as that.

    The interpreter keeps its at-fork hooks until the very end of its shutdown, after it has
    cleared every module. A hook held there keeps its module's globals alive through that
    clearing, and with them every module they reach (botocore's among them), which makes
    the interpreter's exit slower by about 1.5 ms (docs/benchmarks.md). The callable
    registered here reaches only this module's globals and a weak reference.

    ``hook`` must be a function: a bound method made for the call would be gone at once."""
    if not isinstance(hook, types.FunctionType):
        raise TypeError(f"an at-fork hook held weakly must be a function, not {hook!r}")
    held = weakref.ref(hook)

    def call() -> None:
        found = held()
        if found is not None:
            found()

    os.register_at_fork(after_in_child=call)


_seen = os.getpid()
"""The process the at-fork hook last ran in (or that imported this module)."""


def _after_fork_in_child() -> None:
    global _seen
    _seen = os.getpid()


after_fork_in_child(_after_fork_in_child)


def forked_unseen() -> bool:
    """True in a process forked where Python's at-fork hooks did not run (see the module's
    text): no thread may be started in it."""
    return os.getpid() != _seen


__all__ = ["after_fork_in_child", "forked_unseen"]

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
own is registered through `after_fork_in_child` or `before_fork`, and a fork waits for the
modules a call imports when it first needs them (`LOADED_WHEN_NEEDED`) to be whole.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
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
    the interpreter's exit slower by about 1 ms (docs/benchmarks.md). The callable
    registered here reaches only this module's globals and a weak reference.

    ``hook`` must be a function: a bound method made for the call would be gone at once."""
    os.register_at_fork(after_in_child=_held_weakly(hook))


def before_fork(hook: Callable[[], None]) -> None:
    """Have ``hook`` called in the forking thread before each ``os.fork``, as
    ``os.register_at_fork(before=hook)`` does, holding it weakly (`after_fork_in_child`)."""
    os.register_at_fork(before=_held_weakly(hook))


def _held_weakly(hook: Callable[[], None]) -> Callable[[], None]:
    if not isinstance(hook, types.FunctionType):
        raise TypeError(f"an at-fork hook held weakly must be a function, not {hook!r}")
    held = weakref.ref(hook)

    def call() -> None:
        found = held()
        if found is not None:
            found()

    return call


LOADED_WHEN_NEEDED = (
    "rds_guard.core.deletion",
    "rds_guard.core.access",
    "rds_guard.aws",
    "rds_guard.audit.redact",
    "unicodedata",
)
"""The modules a guarded call (or `rds_guard.evaluate`) imports when it first needs one, not
with the package: the judges of deletes, sharing and exports, the reads, the redaction of an
error's text, and the names of characters that are not ASCII."""


def _loaded_before_fork() -> None:
    """Finish importing `LOADED_WHEN_NEEDED` before a fork. A child forked while another
    thread is importing one of them gets it half made, under the import lock of a thread it
    does not have: its first call that needs the module would wait for ever. Importing them
    here waits for such a thread to finish, or imports them now (once: a later fork finds
    them loaded)."""
    if "rds_guard.core.decide" not in sys.modules:
        return  # nothing judged, nothing read: nothing can be importing them
    for name in LOADED_WHEN_NEEDED:
        with contextlib.suppress(ImportError):  # as a call would: the call reports it
            importlib.import_module(name)


_seen = os.getpid()
"""The process the at-fork hook last ran in (or that imported this module)."""


def _after_fork_in_child() -> None:
    global _seen
    _seen = os.getpid()


after_fork_in_child(_after_fork_in_child)
before_fork(_loaded_before_fork)


def forked_unseen() -> bool:
    """True in a process forked where Python's at-fork hooks did not run (see the module's
    text): no thread may be started in it."""
    return os.getpid() != _seen


__all__ = ["LOADED_WHEN_NEEDED", "after_fork_in_child", "before_fork", "forked_unseen"]

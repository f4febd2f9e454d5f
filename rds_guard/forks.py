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
rds_guard, not one forked since.
"""

from __future__ import annotations

import os

_seen = os.getpid()
"""The process the at-fork hook last ran in (or that imported this module)."""


def _after_fork_in_child() -> None:
    global _seen
    _seen = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_unseen() -> bool:
    """True in a process forked where Python's at-fork hooks did not run (see the module's
    text): no thread may be started in it."""
    return os.getpid() != _seen


__all__ = ["forked_unseen"]

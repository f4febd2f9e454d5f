"""Whether this process was forked where Python's at-fork hooks did not run: uWSGI forks its
workers so unless told ``py-call-osafterfork`` (or ``lazy-apps``), with the C library's
``fork`` alone.

Such a child keeps the interpreter's state as the parent's threads left it: the lock and
condition variable its threads take turns on still count waiters that are not in the child,
so a thread started there can wait for ever, and the thread that started it with it (seen
each time under uWSGI's way of forking, the parent's threads idle). rds_guard starts no
thread in such a process: what it would do in one is done in the calling thread instead.
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

"""`PutWorkers`: the threads that put a batch's items into the ledger in parallel, which never
hold the process's exit.

A `concurrent.futures.ThreadPoolExecutor` would: the interpreter joins its threads as it exits,
before any `atexit` handler runs, and each of them first finishes every put still queued. With
a ledger that stops answering, each put takes its attempts times the read timeout, so a batch
held the exit for minutes, and the guard's own exit handler, which gives shipping
`spool.CLOSE_WAIT` seconds, never got to run. These threads are daemons: the exit leaves them,
and what they had not put waits in the local log for the next run (``rds-guard audit ship``).
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from ...forks import forked_unseen

_Result = TypeVar("_Result")
_Work = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...]]


class PutWorkers:
    """``submit`` as a thread pool's, on up to ``workers`` daemon threads named
    ``<name>_<n>``, started as work comes (one per item until there are ``workers``). Dropped
    without `shutdown` (a guard collected with its log), its workers end once they have put
    what is queued, as a thread pool's do."""

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._ending: weakref.finalize[Any, PutWorkers] | None = None

    def submit(self, work: Callable[..., _Result], /, *args: Any) -> Future[_Result]:
        """``work(*args)`` on a worker; its outcome in the future returned. `RuntimeError`
        once the interpreter is exiting and no thread can be started, and in a process
        forked where no at-fork hook ran, where none may be (`forks.forked_unseen`)."""
        if forked_unseen():
            raise RuntimeError("no thread may be started in a process forked unseen")
        future: Future[_Result] = Future()
        with self._lock:
            if len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=_work,
                    args=(self._queue,),
                    name=f"{self._name}_{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
                if self._ending is None:  # the workers hold the queue, never this object
                    self._ending = weakref.finalize(self, _end, self._queue, self._threads)
                    # not at exit: the guard's exit handler ships its last run on them then
                    # (`spool`), and the exit leaves daemon threads anyway
                    self._ending.atexit = False
            self._queue.put((future, work, args))
        return future

    def shutdown(self) -> None:
        """Let the workers put what is queued, then end them (waiting for them to end)."""
        with self._lock:  # work submitted from now on goes to new workers
            threads, self._threads = self._threads, []
            queued, self._queue = self._queue, queue.SimpleQueue()
            ending, self._ending = self._ending, None
        if ending is not None:
            ending.detach()
        _end(queued, threads)
        for thread in threads:
            thread.join()


def _end(queued: queue.SimpleQueue[_Work | None], threads: list[threading.Thread]) -> None:
    """Tell each of ``threads`` to end once what ``queued`` holds is done."""
    for _ in threads:
        queued.put(None)


def _work(queued: queue.SimpleQueue[_Work | None]) -> None:
    """A worker: each item's work run, its outcome set, until a None."""
    while (item := queued.get()) is not None:
        future, work, args = item
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = work(*args)
        except BaseException as exc:  # as a pool's worker keeps it, for the caller to read
            future.set_exception(exc)
        else:
            future.set_result(result)


def done_now(work: Callable[..., _Result], *args: Any) -> Future[_Result]:
    """``work(*args)`` called now, in this thread, as a future that holds its outcome (where no
    worker can be started: the interpreter exiting)."""
    future: Future[_Result] = Future()
    try:
        future.set_result(work(*args))
    except Exception as exc:  # as a worker would keep it, for the caller to read
        future.set_exception(exc)
    return future


__all__ = ["PutWorkers", "done_now"]

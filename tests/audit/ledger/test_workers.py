"""The ledger's put workers (`PutWorkers`): a thread pool's `submit`, on daemon threads that
never hold the process's exit, ended by `shutdown` or when the pool is dropped."""

from __future__ import annotations

import gc
import threading

import pytest
from ledger_helpers import wait_until

from rds_guard.audit.ledger.workers import PutWorkers


def _alive(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}_")]


def test_each_outcome_is_its_futures_and_the_workers_are_daemons() -> None:
    pool = PutWorkers(3, "test-outcomes")
    try:
        futures = [pool.submit(lambda n: 10 // n, n) for n in (5, 0, 2, 1)]
        assert futures[0].result(10) == 2
        with pytest.raises(ZeroDivisionError):
            futures[1].result(10)
        assert [f.result(10) for f in futures[2:]] == [5, 10]
        workers = _alive("test-outcomes")
        assert len(workers) == 3 and all(t.daemon for t in workers)
    finally:
        pool.shutdown()
    assert _alive("test-outcomes") == []


def test_shutdown_puts_what_is_queued_then_ends_the_workers_and_later_work_gets_new_ones() -> None:
    pool = PutWorkers(1, "test-shutdown")
    go = threading.Event()
    first = pool.submit(go.wait, 10)
    queued = [pool.submit(lambda n: n, n) for n in range(5)]
    threading.Timer(0.2, go.set).start()
    pool.shutdown()  # waits for all of it
    assert first.result(0) is True and [f.result(0) for f in queued] == list(range(5))
    assert _alive("test-shutdown") == []
    assert pool.submit(lambda: "again").result(10) == "again"
    pool.shutdown()
    assert _alive("test-shutdown") == []


def test_a_pool_dropped_without_shutdown_ends_its_workers() -> None:
    """A guard collected with its log and shipper (never uninstalled), or a shipping thread
    that ends on a fork: its workers end too, as a thread pool's do, once their work is put."""
    pool = PutWorkers(4, "test-dropped")
    futures = [pool.submit(lambda n: n * 2, n) for n in range(8)]
    assert len(_alive("test-dropped")) == 4
    del pool
    gc.collect()
    wait_until(lambda: _alive("test-dropped") == [], 10, "the workers of a dropped pool end")
    assert [f.result(0) for f in futures] == [n * 2 for n in range(8)]

"""Audit throughput: records per second into one file from threads and processes.

Layouts: 1 thread, 8 threads, 4 processes x 2 threads; each with ``fsync`` off and on. Every
run ends with `rds_guard.audit.verify` passing and the record count exact.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rds_guard import audit

FIELDS: dict[str, object] = {
    "service": "rds",
    "operation": "CreateDBClusterSnapshot",
    "region": "us-east-1",
    "snapshot": "orders-manual-20261129",
    "source": "orders",
    "tags": {"team": "payments", "env": "prod", "managed-by": "rds-guard", "compliance": "pci"},
    "injected": ["managed-by", "compliance"],
}
"""The fields of every record the throughput runs write (a typical `requested` record)."""


@dataclass(frozen=True)
class Layout:
    """How many processes, each with how many writer threads."""

    processes: int
    threads: int

    @property
    def label(self) -> str:
        """``1 thread``, ``8 threads`` or ``4 processes x 2 threads``."""
        if self.processes == 1:
            return f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"{self.processes} processes x {self.threads} threads"

    @property
    def writers(self) -> int:
        """Threads writing at once, all processes together."""
        return self.processes * self.threads


LAYOUTS = (Layout(1, 1), Layout(1, 8), Layout(4, 2))
"""The layouts measured."""


@dataclass(frozen=True)
class ThroughputResult:
    """One layout with fsync on or off: records written, seconds taken, verify's verdict."""

    layout: Layout
    fsync: bool
    records: int
    seconds: float
    verified: bool
    verified_records: int
    log_bytes: int
    """The size of the file written."""

    @property
    def per_second(self) -> float:
        """Records per second, all writers together."""
        return self.records / self.seconds if self.seconds > 0 else float("nan")


def _write_span(path: str, fsync: bool, threads: int, per_thread: int) -> tuple[float, float]:
    """Write ``threads x per_thread`` records from this process; (first start, last end)."""
    log = audit.AuditLog(path, fsync=fsync, policy_sha256="0" * 64)
    spans: list[tuple[float, float]] = []
    start_line = threading.Barrier(threads)

    def writer() -> None:
        start_line.wait()
        started = time.perf_counter()
        for _ in range(per_thread):
            log.write("requested", call=audit.new_call_id(), **FIELDS)
        spans.append((started, time.perf_counter()))

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()
    return min(s for s, _ in spans), max(e for _, e in spans)


def _process_main(
    path: str, fsync: bool, threads: int, per_thread: int, ready: Any, go: Any, out: Any
) -> None:
    """A writer process: wait until every process is up, then write and report the span."""
    ready.wait()
    go.wait()
    out.put(_write_span(path, fsync, threads, per_thread))


def run_layout(layout: Layout, *, fsync: bool, records: int, workdir: Path) -> ThroughputResult:
    """Write about ``records`` records with ``layout`` into a fresh file, then verify it.

    Time runs from the first writer's start to the last writer's end; perf_counter is the
    system-wide monotonic clock, so spans from several processes compare.
    """
    per_thread = max(1, records // layout.writers)
    total = per_thread * layout.writers
    path = workdir / f"throughput-{layout.processes}x{layout.threads}-fsync-{fsync}.jsonl"
    path.unlink(missing_ok=True)
    if layout.processes == 1:
        start, end = _write_span(str(path), fsync, layout.threads, per_thread)
    else:
        context = multiprocessing.get_context("fork")
        ready = context.Barrier(layout.processes + 1)
        go = context.Event()
        out = context.Queue()
        procs = [
            context.Process(
                target=_process_main,
                args=(str(path), fsync, layout.threads, per_thread, ready, go, out),
            )
            for _ in range(layout.processes)
        ]
        for proc in procs:
            proc.start()
        ready.wait()
        go.set()
        spans = [out.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError(f"a writer process failed with exit code {proc.exitcode}")
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
    result = audit.verify(path)
    verified = result.ok and result.records == total
    if not verified:
        raise RuntimeError(f"{path}: {result.summary()} (expected {total} records)")
    size = path.stat().st_size
    path.unlink()
    return ThroughputResult(layout, fsync, total, end - start, verified, result.records, size)


def run_throughput(
    records_nofsync: int, records_fsync: int, workdir: Path
) -> list[ThroughputResult]:
    """Every layout with fsync off (``records_nofsync`` records) and on (``records_fsync``)."""
    return [
        run_layout(
            layout,
            fsync=fsync,
            records=records_fsync if fsync else records_nofsync,
            workdir=workdir,
        )
        for fsync in (False, True)
        for layout in LAYOUTS
    ]

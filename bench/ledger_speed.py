"""Fleet ledger speed: shipping throughput (one shipper, a backlog of records) and
``verify --ledger`` time, against moto's server (DynamoDB over HTTP) in a process of its own.

moto's DynamoDB is Python sharing the machine's cores with the shipper: on a small machine it,
not the shipper, sets the pace, so this process's own CPU time is measured too (moto runs in
the other process). Both costs are linear in the records (one conditional put per record; one
query page per ~1 MB of items, then one hash per line), so a run measures fewer records than
the sizes the report speaks of (10,000 shipped, 100,000 verified) and scales linearly, saying
so. The log is `verify_speed.generate_log`'s: real records, chained and sealed.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.verify_speed import generate_log
from rds_guard.audit.ledger import Clients, LedgerTable, Shipper
from rds_guard.audit.ledger.verify import verify_ledger

SHIP_TARGET = 10_000
"""The backlog the report speaks of."""
VERIFY_PER = 100_000
"""The verify time is given per this many records."""

_SERVER = """\
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
while True:
    time.sleep(3600)
"""


@dataclass(frozen=True)
class LedgerResult:
    """One shipping run of a backlog and one ``verify --ledger`` of it."""

    records: int
    ship_seconds: float
    ship_cpu_seconds: float
    verify_seconds: float
    verify_cpu_seconds: float
    workers: int

    @property
    def ship_rate(self) -> float:
        """Records per second shipped (wall)."""
        return self.records / self.ship_seconds

    @property
    def ship_target_seconds(self) -> float:
        """A backlog of `SHIP_TARGET` records at the measured rate."""
        return SHIP_TARGET / self.ship_rate

    @property
    def ship_cpu_us(self) -> float:
        """The shipper's own CPU per record, in µs."""
        return self.ship_cpu_seconds / self.records * 1e6

    @property
    def verify_per_100k(self) -> float:
        """Seconds of ``verify --ledger`` per `VERIFY_PER` records (wall), scaled."""
        return self.verify_seconds / self.records * VERIFY_PER

    @property
    def verify_cpu_per_100k(self) -> float:
        """The verifier's own CPU seconds per `VERIFY_PER` records, scaled."""
        return self.verify_cpu_seconds / self.records * VERIFY_PER


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """moto's server in a child process on 127.0.0.1; yields its URL, stops it after."""
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with opener.open(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=10)


def run_ledger(records: int, workdir: Path, *, workers: int = 16) -> LedgerResult:
    """Ship a ``records``-record log with one shipper, then verify the ledger."""
    log = workdir / "ledger-backlog.jsonl"
    generate_log(log, records)
    try:
        with moto_process() as url:
            table = LedgerTable(Clients("us-east-1", endpoint_url=url), "rds-guard-bench")
            table.create()
            shipper = Shipper(log, table, workers=workers)
            started, cpu = time.perf_counter(), time.process_time()
            shipped = shipper.ship(timeout=None)
            ship_seconds = time.perf_counter() - started
            ship_cpu = time.process_time() - cpu
            shipper.close()
            if shipped.acked != records or shipped.error is not None:
                raise RuntimeError(f"shipping the backlog: {shipped.describe()}")
            started, cpu = time.perf_counter(), time.process_time()
            verified = verify_ledger(table)
            verify_seconds = time.perf_counter() - started
            verify_cpu = time.process_time() - cpu
            if not verified.ok or verified.records != records:
                raise RuntimeError(f"verify --ledger of the backlog: {verified.lines()[:3]}")
    finally:
        log.unlink(missing_ok=True)
        log.with_name(log.name + ".shipped").unlink(missing_ok=True)
    return LedgerResult(records, ship_seconds, ship_cpu, verify_seconds, verify_cpu, workers)

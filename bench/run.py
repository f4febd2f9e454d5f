"""Run every benchmark and write the report: ``python bench/run.py [--quick] [--update-docs]``.

The report goes to .bench/benchmarks.md (ignored by git), or with ``--update-docs`` to
docs/benchmarks.md (``make bench-docs``); the path is printed. Sized to finish within about
ten minutes on a 2-core machine; ``--quick`` runs tiny counts (a check of the harness, not a
measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    aio_overhead,
    audit_throughput,
    by_event,
    cold_start,
    instructions,
    ledger_speed,
    overhead,
    record_encoding,
    scaling,
    verify_speed,
)
from bench.common import ROOT, machine
from bench.overhead import CASES, STUB_TARGETS, PairResult
from bench.profiles import profile_case
from bench.report import RunReport, render
from bench.report_per_call import AioRun

REPORT = ROOT / ".bench" / "benchmarks.md"
"""Where ``make bench`` writes the report (ignored by git)."""

DOCS_REPORT = ROOT / "docs" / "benchmarks.md"
"""Where ``make bench-docs`` (``--update-docs``) writes it."""


@dataclass(frozen=True)
class Sizes:
    """How many of everything one run does."""

    send_calls: int
    fsync_calls: int
    stub_calls: int
    moto_calls: int
    warmup: int
    profile_calls: int
    throughput_records: int
    throughput_fsync_records: int
    verify_records: int
    scaling_calls: int
    scaling_repeats: int
    import_runs: int
    install_runs: int
    cli_runs: int
    importtime_runs: int
    ledger_records: int = 20
    """Records shipped to (and verified in) the fleet ledger on moto; scaled in the report."""
    encoding_rounds: int = 5
    """Rounds of the record-encoding comparison (100 encodings each way per round)."""
    count_instructions: bool = False
    """Count the cold start's instructions under callgrind (some 2 minutes)."""


FULL = Sizes(
    send_calls=3000,
    fsync_calls=800,
    stub_calls=5000,
    moto_calls=300,
    warmup=300,
    profile_calls=1500,
    throughput_records=20_000,
    throughput_fsync_records=1_000,
    verify_records=1_000_000,
    scaling_calls=2000,
    scaling_repeats=5,
    import_runs=40,
    install_runs=15,
    cli_runs=25,
    importtime_runs=5,
    ledger_records=3_000,
    encoding_rounds=500,
    count_instructions=True,
)
QUICK = Sizes(
    send_calls=30,
    fsync_calls=10,
    stub_calls=30,
    moto_calls=5,
    warmup=5,
    profile_calls=20,
    throughput_records=200,
    throughput_fsync_records=20,
    verify_records=2_000,
    scaling_calls=20,
    scaling_repeats=1,
    import_runs=2,
    install_runs=2,
    cli_runs=1,
    importtime_runs=1,
)

_ISOLATED_ENV = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def isolate_environment() -> None:
    """No user AWS config, no real credentials, no proxy for 127.0.0.1, no RDS_GUARD_*."""
    for name in list(os.environ):
        if name.startswith(("RDS_GUARD_", "AWS_")):
            del os.environ[name]
    os.environ.update(_ISOLATED_ENV)
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name, "")
        os.environ[name] = ",".join(p for p in (current, "127.0.0.1", "localhost") if p)


def run_overhead(sizes: Sizes, workdir: Path, server: Any | None) -> list[PairResult]:
    """Every case on the send path, the no-audit cases on the stub path, and moto's."""
    results = []
    for name in CASES:
        calls = sizes.fsync_calls if CASES[name].fsync else sizes.send_calls
        results.append(overhead.send_case(CASES[name], calls, sizes.warmup, workdir))
    for name in ("floor", "a"):
        results.append(overhead.stub_case(CASES[name], sizes.stub_calls, sizes.warmup, workdir))
    if server is not None:
        for name in ("a", "b", "c", "d"):
            results.append(
                overhead.moto_case(server, CASES[name], sizes.moto_calls, sizes.warmup, workdir)
            )
    return results


def run_aio(sizes: Sizes, workdir: Path, python: Path | None) -> AioRun:
    """The async path, in the async environment; skipped (saying why) when it cannot run."""
    if python is None:
        return AioRun([], "", "not asked for (--no-aio)")
    try:
        rows, versions = aio_overhead.run_in(
            python, sizes.send_calls, sizes.fsync_calls, sizes.warmup, workdir
        )
    except aio_overhead.Skipped as skipped:
        return AioRun([], "", str(skipped))
    results = [
        PairResult("aio send", CASES[name], bare, guarded, None, body, reads)
        for name, bare, guarded, body, reads in rows
    ]
    return AioRun(results, versions)


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, write the report, print where it went."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: check the harness")
    parser.add_argument(
        "--no-moto", action="store_true", help="skip moto's server (the moto path, the AWS CLI)"
    )
    parser.add_argument("--no-aio", action="store_true", help="skip the async path")
    parser.add_argument(
        "--aio-python",
        type=Path,
        default=aio_overhead.AIO_PYTHON,
        help="the async environment's Python (default: .venv-aio/bin/python)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--update-docs", action="store_true", help=f"write {DOCS_REPORT.relative_to(ROOT)}"
    )
    where.add_argument("--output", type=Path, help=f"report file (default: {REPORT})")
    args = parser.parse_args(argv)
    output = DOCS_REPORT if args.update_docs else args.output or REPORT
    sizes = QUICK if args.quick else FULL
    isolate_environment()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="rds-guard-bench-") as tmp,
        # moto's server for the moto path and the AWS CLI, or None (--no-moto)
        contextlib.nullcontext() if args.no_moto else overhead.moto_server() as server,
    ):
        workdir = Path(tmp)
        print("per-call overhead ...", flush=True)
        results = run_overhead(sizes, workdir, server)
        print("async per-call overhead ...", flush=True)
        aio = run_aio(sizes, workdir, None if args.no_aio else args.aio_python)
        for r in [*results, *aio.results]:
            print(f"  {r.path:8s} {r.case.name:6s} {r.ratio:.3f}x  +{r.overhead_us:.1f} us")
        if aio.skipped is not None:
            print(f"  aio send skipped: {aio.skipped}")
        print("by event ...", flush=True)
        events = [by_event.measure(CASES[n], sizes.send_calls, sizes.warmup, workdir) for n in "ab"]
        print("profiles ...", flush=True)
        profiles = [profile_case(CASES[n], sizes.profile_calls, workdir) for n in "ab"]
        profiles += [
            profile_case(CASES[n], sizes.profile_calls, workdir, path="stub") for n in STUB_TARGETS
        ]
        print("record encoding ...", flush=True)
        encoding = record_encoding.measure(sizes.encoding_rounds)
        print("cold start ...", flush=True)
        cold = cold_start.run_cold_start(
            sizes.import_runs,
            sizes.install_runs,
            sizes.cli_runs,
            sizes.importtime_runs,
            workdir,
            server,
        )
        counted = None
        if sizes.count_instructions:
            print("instruction counts (callgrind) ...", flush=True)
            counted = instructions.measure_instructions(server, workdir)
        print("audit throughput ...", flush=True)
        throughput = audit_throughput.run_throughput(
            sizes.throughput_records, sizes.throughput_fsync_records, workdir
        )
        print("verify speed ...", flush=True)
        verify = verify_speed.run_verify(sizes.verify_records, workdir)
        print("scaling ...", flush=True)
        points = scaling.run_scaling(sizes.scaling_calls, sizes.scaling_repeats)
        ledger = None
        if server is not None:
            print("fleet ledger ...", flush=True)
            ledger = ledger_speed.run_ledger(sizes.ledger_records, workdir)
    report = RunReport(
        machine(),
        results,
        aio,
        profiles,
        cold,
        throughput,
        verify,
        points,
        time.perf_counter() - started,
        args.quick,
        ledger,
        encoding,
        counted,
        events,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(report), encoding="utf-8")
    print(f"wrote {output} ({report.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Verify speed: ``rds-guard audit verify`` on a large log, against hashing its lines.

The log is generated from one real record (built by `AuditLog`) used as a byte template,
each line sealed with its own SHA-256 digest and chained to the one before, exactly as a
writer seals and chains them. The floor is the least any verifier written in Python must do:
read the file line by line and SHA-256 each line. Peak memory is measured in a fresh process
per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rds_guard import audit

_SEQ_SENTINEL = 987654321987
_PREV_SENTINEL = "p" * 64
_CALL_SENTINEL = "c" * 32

# Runs argv as its only child, then prints its wall time and the child's peak RSS (KiB).
_MEASURE = """\
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(seconds, peak, done.returncode)
print(done.stdout.strip())
"""

_VERIFY_FUNCTION = """\
import sys
from rds_guard.audit import verify
print(verify(sys.argv[1]).summary())
"""


def _template() -> bytes:
    """One real ``requested`` record, up to its ``chain`` (what its digest covers), as a
    %-template over prev, seq and call."""
    fields = {
        "call": _CALL_SENTINEL,
        "service": "rds",
        "operation": "CreateDBClusterSnapshot",
        "region": "us-east-1",
        "snapshot": "orders-manual-20261129",
        "source": "orders",
        "tags": {"team": "payments", "env": "prod", "managed-by": "rds-guard", "compliance": "pci"},
        "injected": ["managed-by", "compliance"],
    }
    record = audit.AuditLog("/dev/null", policy_sha256="0" * 64)._build(
        "requested", fields, _PREV_SENTINEL, _SEQ_SENTINEL
    )
    line = json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if not line.endswith(b',"chain":"sha256"}'):
        raise RuntimeError("template: the record does not end with its chain")
    line = line[:-1].replace(b"%", b"%%")
    for sentinel, slot in (
        (_PREV_SENTINEL.encode(), b"%s"),
        (str(_SEQ_SENTINEL).encode(), b"%d"),
        (_CALL_SENTINEL.encode(), b"%s"),
    ):
        if line.count(sentinel) != 1:
            raise RuntimeError(f"template: {sentinel!r} is not in the record exactly once")
        line = line.replace(sentinel, slot)
    return line


def generate_log(path: Path, records: int) -> int:
    """Write a valid chained log of ``records`` records at ``path``; returns its size in bytes."""
    template = _template()
    prefix = os.urandom(8).hex().encode()
    sha256 = hashlib.sha256
    prev = audit.ZERO_HASH.encode()
    batch: list[bytes] = []
    with open(path, "wb") as out:
        for seq in range(1, records + 1):
            signed = template % (prev, seq, prefix + b"%016x" % seq)
            line = signed + b',"digest":"' + sha256(signed).hexdigest().encode() + b'"}'
            prev = sha256(line).hexdigest().encode()
            batch.append(line)
            if len(batch) >= 10_000:
                batch.append(b"")
                out.write(b"\n".join(batch))
                batch = []
        if batch:
            batch.append(b"")
            out.write(b"\n".join(batch))
    return path.stat().st_size


def hash_floor(path: Path) -> float:
    """Seconds to read ``path`` line by line and SHA-256 every line (hex digest)."""
    sha256 = hashlib.sha256
    start = time.perf_counter()
    with open(path, "rb") as stream:
        for line in stream:
            sha256(line).hexdigest()
    return time.perf_counter() - start


@dataclass(frozen=True)
class ChildRun:
    """A command run in a fresh process: wall time, peak RSS, exit code, first output line."""

    seconds: float
    peak_rss_kib: int
    returncode: int
    output: str


def run_child(argv: list[str]) -> ChildRun:
    """Run ``argv`` as the only child of a fresh measuring process."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True
    )
    first, _, rest = done.stdout.partition("\n")
    seconds, peak, code = first.split()
    return ChildRun(float(seconds), int(peak), int(code), rest.strip())


def _command() -> list[str]:
    script = Path(sys.executable).with_name("rds-guard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rds_guard"]


@dataclass(frozen=True)
class VerifyResult:
    """Verify against the floor on one generated log, and the memory it took."""

    records: int
    size_bytes: int
    generate_seconds: float
    floor_seconds: float
    function_seconds: float
    function_ok: bool
    function_child: ChildRun
    command_child: ChildRun
    small_records: int
    small_child: ChildRun

    @property
    def ratio(self) -> float:
        """verify() over the floor, both in this process."""
        return self.function_seconds / self.floor_seconds


def run_verify(records: int, workdir: Path, small_records: int = 1_000) -> VerifyResult:
    """Generate a ``records``-record log and time verify (function and command) on it."""
    path = workdir / "verify-large.jsonl"
    small = workdir / "verify-small.jsonl"
    start = time.perf_counter()
    size = generate_log(path, records)
    generated = time.perf_counter() - start
    generate_log(small, small_records)
    try:
        floor = hash_floor(path)
        start = time.perf_counter()
        result = audit.verify(path)
        function_seconds = time.perf_counter() - start
        ok = result.ok and result.records == records
        if not ok:
            raise RuntimeError(f"verify of the generated log: {result.summary()}")
        function_child = run_child([sys.executable, "-c", _VERIFY_FUNCTION, str(path)])
        command_child = run_child([*_command(), "audit", "verify", str(path)])
        small_child = run_child([sys.executable, "-c", _VERIFY_FUNCTION, str(small)])
        for child in (function_child, command_child):
            if child.returncode != 0 or not child.output.startswith(f"ok: {records} records"):
                raise RuntimeError(f"verify in a child process: {child}")
    finally:
        path.unlink(missing_ok=True)
        small.unlink(missing_ok=True)
    return VerifyResult(
        records,
        size,
        generated,
        floor,
        function_seconds,
        ok,
        function_child,
        command_child,
        small_records,
        small_child,
    )

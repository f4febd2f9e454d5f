"""Helpers for the audit log tests: writer workers (importable by spawned processes) and checks."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from rds_guard import audit
from rds_guard.errors import AuditError

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def subprocess_env() -> dict[str, str]:
    """The environment for a child Python that must import rds_guard and these helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(TESTS), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, ``args`` its ``sys.argv[1:]``; the timeout only
    detects hangs."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        check=False,
    )


def printed_by(code: str, timeout: float = 120) -> list[str]:
    """The lines ``code`` prints, run by a fresh Python (which must exit 0)."""
    result = run_python(code, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def write_records(
    path: str,
    writer: str,
    count: int,
    hmac_key: bytes | None = None,
    fsync: bool = False,
    pause: float = 0.0,
) -> None:
    """Append ``count`` records, each marked ``notes=["<writer>:<i>"]``."""
    log = audit.AuditLog(path, fsync=fsync, hmac_key=hmac_key)
    try:
        for i in range(count):
            log.write("requested", call=audit.new_call_id(), notes=[f"{writer}:{i}"])
            if pause:
                time.sleep(pause)
    finally:
        log.close()


def write_forever(path: str, threads: int = 2) -> None:
    """Append records from several threads until the process is killed."""

    def loop(name: str) -> None:
        log = audit.AuditLog(path, fsync=False)
        i = 0
        while True:
            log.write("requested", call=audit.new_call_id(), notes=[f"{name}:{i}"])
            i += 1

    workers = [threading.Thread(target=loop, args=(f"k{n}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _strings(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(item) for item in value]


def markers(writers: Iterable[str], count: int) -> set[str]:
    """The notes ``write_records`` leaves for these writers."""
    return {f"{writer}:{i}" for writer in writers for i in range(count)}


def records_of(*paths: Path) -> list[dict[str, object]]:
    """Every record of the files, oldest first; any line that is not a record fails."""
    found: list[dict[str, object]] = []
    for path in paths:
        found.extend(audit.read_records(path))
    return found


def assert_whole(
    paths: list[Path], expected_notes: set[str], hmac_key: bytes | None = None
) -> list[dict[str, object]]:
    """The files hold every expected record exactly once, seq is gap-free, the chain verifies."""
    result = audit.verify(paths, hmac_key=hmac_key)
    assert result.ok, result.summary()
    records = records_of(*paths)
    seqs = [record["seq"] for record in records]
    assert seqs == list(range(1, len(records) + 1))
    notes = [
        note
        for record in records
        if record["event"] == "requested"
        for note in _strings(record["notes"])
    ]
    assert len(notes) == len(set(notes)), "a record was written twice"
    assert set(notes) == expected_notes
    assert result.records == len(records)
    return records


def lines_of(path: Path) -> list[bytes]:
    """The file's lines without their newlines (a torn last line included)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def append_torn_line(path: Path) -> bytes:
    """Cut the last record in half as a crash mid-write would; returns the torn bytes."""
    lines = lines_of(path)
    torn = lines[-1][: len(lines[-1]) // 2]
    with path.open("ab") as stream:
        stream.write(torn)
    return torn


def write_lines(path: Path, lines: list[bytes], *, final_newline: bool = True) -> None:
    """Replace the file's content by ``lines``."""
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path.write_bytes(data)


def make_log(path: Path, count: int, hmac_key: bytes | None = None, **fields: object) -> str:
    """A log of ``count`` records (``notes=["m:<i>"]``); returns its head."""
    with audit.AuditLog(path, fsync=False, hmac_key=hmac_key) as log:
        for i in range(count):
            log.write("requested", call=audit.new_call_id(), notes=[f"m:{i}"], **fields)
    lines = lines_of(path)
    return audit.chain_hash(lines[-1], hmac_key) if lines else audit.ZERO_HASH


def reseal(line: bytes, hmac_key: bytes | None = None) -> bytes:
    """``line`` (changed) sealed again with a fresh own digest, as anyone can for SHA-256 and
    only a key holder for HMAC-SHA256."""
    signed = line[: line.rindex(b',"digest":"')]
    return signed + b',"digest":"' + audit.chain_hash(signed, hmac_key).encode() + b'"}'


def relink(lines: list[bytes], index: int, hmac_key: bytes | None = None) -> None:
    """Rechain (and reseal) every line after ``lines[index]``, whatever that line now holds:
    what someone who can write the file, and holds the key if there is one, can do."""
    for at in range(index, len(lines) - 1):
        digest = audit.chain_hash(lines[at], hmac_key).encode()
        lines[at + 1] = reseal(b'{"prev":"' + digest + lines[at + 1][73:], hmac_key)


def forge_rotated_from(path: Path, name: str) -> None:
    """Make the `rotated` record that starts the log at ``path`` name ``name`` as the file it
    continues, sealed again and the records after it relinked: what anyone who can write a
    plain log can do."""
    lines = lines_of(path)
    record = json.loads(lines[0])
    assert record["event"] == "rotated", "the log does not start with a rotated record"
    field = b'"rotated_from":' + json.dumps(record["rotated_from"]).encode()
    lines[0] = reseal(lines[0].replace(field, b'"rotated_from":' + json.dumps(name).encode()))
    relink(lines, 0)
    write_lines(path, lines)


FIRST_FORMAT_FIELDS = (
    "prev",
    "seq",
    "time",
    "event",
    "call",
    "service",
    "operation",
    "region",
    "snapshot",
    "source",
    "arn",
    "tags",
    "injected",
    "inherited",
    "violations",
    "error",
    "request_id",
    "policy",
    "pid",
    "host",
    "notes",
)
"""The keys of a record in the first format (the first release), in their order."""


def first_format_line(prev: str, seq: int, event: str = "requested", **extra: object) -> bytes:
    """One record exactly as the first release wrote it: no ``chain``, no ``digest``."""
    record: dict[str, object] = dict.fromkeys(FIRST_FORMAT_FIELDS)
    record.update(
        prev=prev,
        seq=seq,
        time="2026-11-29T21:37:11.123456Z",
        event=event,
        call=f"{seq:032x}",
        service="rds",
        operation="CreateDBClusterSnapshot",
        region="eu-west-1",
        snapshot=f"orders-manual-{seq}",
        source="orders",
        tags={"team": "payments"},
        injected=[],
        inherited=[],
        violations=[],
        policy="a" * 64,
        pid=4242,
        host="build-host",
        notes=[f"old:{seq}"],
    )
    record.update(extra)
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def first_format_log(path: Path, count: int, hmac_key: bytes | None = None) -> str:
    """A log of ``count`` records in the first format, chained as the first release chained
    them (SHA-256, or HMAC-SHA256 under ``hmac_key``); returns its head."""
    prev = audit.ZERO_HASH
    with path.open("wb") as stream:
        for seq in range(1, count + 1):
            line = first_format_line(prev, seq)
            stream.write(line + b"\n")
            prev = audit.chain_hash(line, hmac_key)
    return prev


def synthetic_log(path: Path, count: int) -> str:
    """A valid log of ``count`` realistic records written directly (fast); returns its head.

    Each is a record of the first format sealed as writers seal them now: ``chain`` and
    ``digest`` added after its last field.
    """
    prev = audit.ZERO_HASH
    tags = {"team": "payments", "env": "prod"}
    with path.open("wb") as stream:
        for seq in range(1, count + 1):
            old = first_format_line(prev, seq, tags=tags, injected=["env"], notes=[])
            signed = old[:-1] + b',"chain":"sha256"'
            line = signed + b',"digest":"' + hashlib.sha256(signed).hexdigest().encode() + b'"}'
            stream.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()
    return prev


def call_with_timeout(func: Callable[[], object], timeout: float = 10) -> object:
    """Run ``func`` on a daemon thread; a hang fails the test instead of blocking it."""
    outcome: list[tuple[str, object]] = []

    def target() -> None:
        try:
            outcome.append(("value", func()))
        except BaseException as exc:
            outcome.append(("error", exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"hung for more than {timeout}s"
    kind, value = outcome[0]
    if isinstance(value, BaseException) and kind == "error":
        raise value
    return value


def wait_for_lines(path: Path, count: int, timeout: float = 30) -> None:
    """Wait until the file holds at least ``count`` newlines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} did not reach {count} lines in {timeout}s")


def unhooked_fork() -> int:
    """``fork()`` called as C code calls it, so that no at-fork hook runs: as uWSGI forks its
    workers unless told ``py-call-osafterfork``. Only the calling thread goes on in the
    child, the GIL held throughout (``PyDLL``). Without the hooks CPython does not set its
    GIL up again in the child: a parent thread that asked for the GIL at the fork would leave
    the child waiting for ever to hand it over. So around the fork the switch interval is
    made long and a sleep lets threads already asking have it first: the window is made
    small, not closed, as in a server that forks its workers before their threads start."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        time.sleep(0.05)
        pid: int = ctypes.PyDLL(None).fork()
    finally:
        sys.setswitchinterval(interval)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork failed")
    return pid


class UnhookedWorker:
    """A long-lived worker forked without the at-fork hooks (`unhooked_fork`): once told to go
    (`go`), it runs ``work`` and reports (`report`: 0 when it returned, 2 when it raised, b""
    when the child died first), then lives on until the parent lets go of it (`end`). The
    parent closes the child's ends of the pipes, so that a child gone ends a read, never hangs
    it."""

    def __init__(self, work: Callable[[], object]) -> None:
        go_read, self._go = os.pipe()
        self._done, done_write = os.pipe()
        self.pid = unhooked_fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(self._go)
                os.close(self._done)
                os.read(go_read, 1)
                try:
                    work()
                    code = 0
                except Exception:
                    code = 2
                os.write(done_write, bytes([code]))
                os.read(go_read, 1)  # until the parent lets go
            finally:
                os._exit(code)
        os.close(go_read)
        os.close(done_write)

    def go(self) -> bytes:
        """Tell it to run its work; what it reports (`report`)."""
        os.write(self._go, b"g")
        return os.read(self._done, 1)

    def end(self, timeout: float = 20) -> None:
        """Let go of it (it ends), and wait for it."""
        os.close(self._go)
        os.close(self._done)
        wait_child(self.pid, timeout=timeout)


def wait_child(pid: int, timeout: float = 30) -> int:
    """Wait for a forked child; returns its exit code (kills it when it hangs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} hung for more than {timeout}s")


HOLDER = """
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


@contextlib.contextmanager
def stopped_lock_holder(path: Path, timeout: float = 60) -> Iterator[subprocess.Popen[str]]:
    """A process that takes ``path``'s flock and is then stopped (SIGSTOP), as a writer stuck
    on a dead disk would be; killed on leaving."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{holder.pid}/stat").read_text().split(") ")[1][0] != "T":
            assert time.monotonic() < deadline, "the holder never stopped"
            time.sleep(0.01)
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout)


def writer_refuses(path: Path, match: str, key: bytes | None = None) -> None:
    """A writer (keyed with ``key``) refuses to append to the log at ``path``, with an
    `AuditError` matching ``match``, and leaves the file as it was."""
    before = path.read_bytes()
    with pytest.raises(AuditError, match=match):
        audit.AuditLog(path, fsync=False, hmac_key=key).write("requested")
    assert path.read_bytes() == before


def flock_free(path: Path) -> bool:
    """Whether the log's ``flock`` is free: another open file of it (as another process's
    writer opens its own) takes it at once, then lets it go."""
    other = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(other)


def assert_flock_free(path: Path) -> None:
    """The log's ``flock`` is free (`flock_free`)."""
    assert flock_free(path), f"{path}: the log's flock is still held"


@contextlib.contextmanager
def interrupted_once(when: Callable[[FrameType, str], bool]) -> Iterator[list[str]]:
    """A KeyboardInterrupt raised once in this thread, at the first trace event (``call``,
    ``line``, ``return``) for which ``when(frame, event)`` holds: where a pending signal's
    handler would raise it (a trace function stands in for the signal, so that it comes at
    that moment every time). Yields the names of the functions it was raised in; the trace
    before (coverage's, under make test) is put back."""
    raised: list[str] = []
    previous = sys.gettrace()

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if not raised and when(frame, event):
            raised.append(frame.f_code.co_name)
            raise KeyboardInterrupt(f"a signal, in {frame.f_code.co_name}")
        return tracer

    sys.settrace(tracer)
    try:
        yield raised
    finally:
        sys.settrace(previous)

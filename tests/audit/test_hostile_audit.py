"""A hostile environment for the audit log, met through the guard: a symlink (or a FIFO, or a
directory) swapped in at the log path between two guarded calls, a log truncated by someone
else mid-line and at a line boundary, a log deleted between calls, a last line that is not
JSON, a full disk (RLIMIT_FSIZE with SIGXFSZ ignored, in a subprocess) before the
write-ahead record and while the request is in flight, an unwritable log in warn mode and
for a blocked call, audit switched off, secrets the session or the service's answer carries,
a process killed with its call in flight, a forged last record of a keyed log, and threads
sharing one guarded client.

Each ends in an AuditError with nothing sent (counted at a moto server over HTTP), in a
`repaired` record, or in a documented limit that `verify --head` catches, never in a silent
loss. The audit package's own refusal tests are in test_fileio.py and test_writer.py beside
this file; here every fault goes through a guarded client. Timeouts only detect hangs; they
are no performance assertions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import boto3
import pytest
from audit_helpers import run_python
from aws import guarded_client, make_cluster
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import BotoCoreError, EndpointConnectionError, HTTPClientError
from cli_helpers import Run, run_script, script_env
from policies import write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard import audit

HANG_TIMEOUT = 60.0
"""Seconds after which a call is taken to hang: a hang detector, never a speed requirement."""

POLICY = """
version = 1
mode = "enforce"
[tags]
required = ["team"]
[tags.defaults]
managed-by = "rds-guard"
[audit]
path = "audit.jsonl"
"""

TEAM = [{"Key": "team", "Value": "core"}]


def attempt(call: Callable[[], Any]) -> BaseException | None:
    """Run ``call`` in a daemon thread; the exception it raised, if any (hang: failure)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_TIMEOUT)
    assert not worker.is_alive(), f"still running after {HANG_TIMEOUT}s: it hangs"
    return errors[0] if errors else None


class Guarded:
    """A guarded rds client of the moto server, its log, and a counter of snapshots asked."""

    def __init__(self, server: MotoServer, folder: Path, mode: str = "enforce") -> None:
        self.server = server
        self.folder = folder
        self.log = folder / "audit.jsonl"
        self.client = guarded_client(write_policy(folder, POLICY, mode=mode), on=server)
        make_cluster(self.client, tags={"team": "core"})
        self.made = 0

    def snapshot(self) -> BaseException | None:
        """One guarded CreateDBClusterSnapshot with a fresh name; the exception, if any."""
        self.made += 1
        name = f"orders-manual-{self.made}"
        return attempt(
            lambda: self.client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
            )
        )

    def sent(self) -> int:
        """How many CreateDBClusterSnapshot requests reached the server."""
        return self.server.count("CreateDBClusterSnapshot")

    def lines(self) -> list[bytes]:
        return self.log.read_bytes().splitlines()

    def events(self) -> list[str]:
        return [json.loads(line)["event"] for line in self.lines()]

    def head(self) -> str:
        return audit.chain_hash(self.lines()[-1])


@pytest.fixture
def guarded(moto_server: MotoServer, tmp_path: Path) -> Guarded:
    return Guarded(moto_server, tmp_path)


def cli(folder: Path, *args: str) -> Run:
    """The real ``rds-guard ARGS`` in a subprocess (the timeout only detects hangs)."""
    return run_script(*args, env=script_env(folder), timeout=HANG_TIMEOUT)


# --- something else swapped in at the log path --------------------------------------------


def swap_in_symlink_to_a_victim(log: Path) -> Path:
    victim = log.with_name("victim.txt")
    victim.write_text("precious\n")
    log.rename(log.with_name("moved.jsonl"))
    log.symlink_to(victim)
    return victim


def swap_in_symlink_to_the_log_itself(log: Path) -> Path:
    moved = log.with_name("moved.jsonl")
    log.rename(moved)
    log.symlink_to(moved)
    return moved


def swap_in_fifo(log: Path) -> Path:
    log.rename(log.with_name("moved.jsonl"))
    os.mkfifo(log)
    return log


def swap_in_directory(log: Path) -> Path:
    log.rename(log.with_name("moved.jsonl"))
    log.mkdir()
    return log


@pytest.mark.parametrize(
    ("swap", "reason"),
    [
        pytest.param(swap_in_symlink_to_a_victim, "symbolic link", id="symlink-to-a-victim"),
        pytest.param(swap_in_symlink_to_the_log_itself, "symbolic link", id="symlink-to-the-log"),
        pytest.param(swap_in_fifo, "FIFO", id="fifo"),
        pytest.param(swap_in_directory, "directory", id="directory"),
    ],
)
def test_something_swapped_in_between_two_calls_stops_the_second(
    guarded: Guarded, swap: Callable[[Path], Path], reason: str
) -> None:
    """The guard holds the log open after the first call; a symlink (or FIFO, or directory)
    put at the path before the second is noticed: AuditError, the call is not sent, and
    nothing is written through the link."""
    assert guarded.snapshot() is None
    assert guarded.sent() == 1
    first_two = guarded.log.read_bytes()
    target = swap(guarded.log)
    before = target.read_bytes() if target.is_file() else None

    error = guarded.snapshot()

    assert isinstance(error, rds_guard.AuditError), error
    assert reason in str(error) and str(guarded.log) in str(error)
    assert guarded.sent() == 1
    if before is not None:
        assert target.read_bytes() == before
    moved = guarded.log.with_name("moved.jsonl")
    assert moved.read_bytes() == first_two
    assert audit.verify([moved]).ok


# --- truncated by someone else ------------------------------------------------------------


@pytest.mark.parametrize("cut_line", [-1, -3], ids=["in-the-last-line", "in-an-earlier-line"])
def test_a_log_truncated_mid_line_is_repaired_by_the_next_call(
    guarded: Guarded, cut_line: int
) -> None:
    """Someone truncates the log in the middle of a line: the next guarded call drops the
    torn bytes, appends a `repaired` record (their length and SHA-256), and goes on; the
    chain verifies, and only the old head shows that records were lost."""
    for _ in range(2):
        assert guarded.snapshot() is None
    old_head = guarded.head()
    data = guarded.log.read_bytes()
    lines = data.splitlines(keepends=True)
    keep = b"".join(lines[:cut_line])
    torn = lines[cut_line][: len(lines[cut_line]) // 2]
    os.truncate(guarded.log, len(keep) + len(torn))

    assert guarded.snapshot() is None

    assert guarded.sent() == 3
    after = guarded.log.read_bytes()
    assert after.startswith(keep)
    new = [json.loads(line) for line in after[len(keep) :].splitlines()]
    assert [r["event"] for r in new] == ["repaired", "requested", "created"]
    assert new[0]["dropped_bytes"] == len(torn)
    assert new[0]["dropped_sha256"] == hashlib.sha256(torn).hexdigest()
    assert new[0]["seq"] == len(keep.splitlines()) + 1
    assert audit.verify([guarded.log]).ok
    assert audit.verify([guarded.log], head=old_head).reason == "head"


def test_a_log_truncated_at_a_line_boundary_needs_the_head_to_show_it(guarded: Guarded) -> None:
    """Whole records cut off the end leave a valid, shorter chain: verify alone passes (a
    documented limit); verify --head with the head kept from before fails, and keeps failing
    after the next guarded call chains onto the shortened log."""
    for _ in range(3):
        assert guarded.snapshot() is None
    old_head = guarded.head()
    lines = guarded.log.read_bytes().splitlines(keepends=True)
    os.truncate(guarded.log, len(b"".join(lines[:4])))

    plain = cli(guarded.folder, "audit", "verify", str(guarded.log))
    assert (plain.code, plain.out.split(",")[0]) == (0, "ok: 4 records")
    with_head = cli(guarded.folder, "audit", "verify", str(guarded.log), "--head", old_head)
    assert with_head.code == 1
    assert with_head.out.startswith("line 4: head: ")

    assert guarded.snapshot() is None
    assert guarded.events() == ["requested", "created"] * 3
    assert [json.loads(line)["seq"] for line in guarded.lines()] == list(range(1, 7))
    assert audit.verify([guarded.log]).ok
    assert audit.verify([guarded.log], head=old_head).reason == "head"


def test_a_log_deleted_between_calls_starts_a_new_chain(guarded: Guarded) -> None:
    """The log removed between two calls: the next call starts a new file at seq 1 (nothing
    is refused: the guard cannot tell a deleted log from a first run); the old head is the
    only witness, and verify --head reports it."""
    assert guarded.snapshot() is None
    old_head = guarded.head()
    guarded.log.unlink()

    assert guarded.snapshot() is None

    assert guarded.sent() == 2
    first = json.loads(guarded.lines()[0])
    assert (first["seq"], first["prev"]) == (1, audit.ZERO_HASH)
    assert audit.verify([guarded.log]).ok
    assert audit.verify([guarded.log], head=old_head).reason == "head"


# --- a last line that is not a record -----------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(b"not json at all\n", id="text"),
        pytest.param(b'{"prev": "oops"}\n', id="json-but-no-record"),
        pytest.param(b"\x00\xff\xfe garbage \x00\n", id="binary"),
        pytest.param(b"\n", id="empty-line"),
    ],
)
def test_a_damaged_last_line_stops_every_call_until_repair(guarded: Guarded, junk: bytes) -> None:
    """A complete last line that is not a record is damage, not a crash: every guarded call
    is an AuditError naming the file and the line, and nothing is sent, until a person runs
    `rds-guard audit repair`; after that calls go on and the chain verifies."""
    assert guarded.snapshot() is None
    with guarded.log.open("ab") as stream:
        stream.write(junk)
    line = len(guarded.log.read_bytes().splitlines())

    for _ in range(2):
        error = guarded.snapshot()
        assert isinstance(error, rds_guard.AuditError), error
        assert f"{guarded.log}:{line}: line {line} is not an audit record" in str(error)
        assert "rds-guard audit repair" in str(error)
    assert guarded.sent() == 1

    repaired = cli(guarded.folder, "audit", "repair", str(guarded.log))
    assert repaired.code == 0, repaired.err
    assert repaired.out.startswith(f"moved line {line} of {guarded.log}")

    assert guarded.snapshot() is None
    assert guarded.sent() == 2
    assert guarded.events() == ["requested", "created", "repaired", "requested", "created"]
    assert audit.verify([guarded.log]).ok
    damaged = list(guarded.folder.glob("audit.jsonl.damaged-*"))
    assert [path.read_bytes() for path in damaged] == [junk]


# --- a full disk --------------------------------------------------------------------------

GUARDED_CHILD = """
import json, logging, os, resource, signal, sys
import boto3, rds_guard

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write() instead of a kill
logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
LOG = {log!r}
session = boto3.Session(region_name="us-east-1")
rds_guard.install(session, policy={policy!r})
rds = session.client("rds", endpoint_url={url!r})
outcome = {{}}


def snapshot(name):
    try:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name,
            Tags=[{{"Key": "team", "Value": "core"}}],
        )
        return "sent"
    except rds_guard.AuditError as exc:
        return "AuditError: " + str(exc)


def limit(size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

"""
"""A guarded process: `snapshot(name)` answers "sent" or the AuditError that stopped the call,
`limit(size)` sets the file size limit, `outcome` is printed as JSON at the end."""

FULL_DISK = (
    GUARDED_CHILD
    + """
outcome["first"] = snapshot("orders-manual-1")
size = os.path.getsize(LOG)
for room, name in ((0, "no-room"), (200, "room-for-part-of-a-record")):
    limit(size + room)
    outcome[name] = snapshot("orders-manual-" + name)
    limit(resource.RLIM_INFINITY)
    assert os.path.getsize(LOG) == size, "bytes of a refused record were left behind"


def fill_the_disk(**_):
    limit(os.path.getsize(LOG))  # the disk fills while the request is in flight


rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", fill_the_disk)
outcome["in-flight"] = snapshot("orders-manual-in-flight")
limit(resource.RLIM_INFINITY)
rds.meta.events.unregister("before-send.rds.CreateDBClusterSnapshot", fill_the_disk)
outcome["after"] = snapshot("orders-manual-after")
print(json.dumps(outcome))
"""
)


def _in_a_child(
    template: str, guarded: Guarded, moto_server: MotoServer, tmp_path: Path
) -> tuple[dict[str, Any], str]:
    """Run ``template`` (a script of guarded calls, given the log, the policy and the
    server's URL) in a child process with the request counts reset; what it printed, and
    its stderr."""
    script = template.format(
        log=str(guarded.log), policy=str(tmp_path / "rds_guard.toml"), url=moto_server.url
    )
    moto_server.reset_counts()
    result = run_python(script, timeout=HANG_TIMEOUT)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found, result.stderr


def test_a_full_disk_is_an_audit_error_and_nothing_is_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A guarded process whose file size limit is reached (RLIMIT_FSIZE, SIGXFSZ ignored):
    no room for the write-ahead record, or room for part of it, is an AuditError and the call
    is not sent, with no partial line left; a disk that fills while the request is in flight
    loses the outcome record (logged as an error; the call itself succeeded and `requested`
    is there for reconcile); once there is room again calls go on and the chain verifies."""
    guarded = Guarded(moto_server, tmp_path)  # makes the cluster; the child makes the calls
    outcome, stderr = _in_a_child(FULL_DISK, guarded, moto_server, tmp_path)

    assert outcome["first"] == "sent"
    for name in ("no-room", "room-for-part-of-a-record"):
        assert outcome[name].startswith(f"AuditError: rds_guard audit log: {guarded.log}: ")
    assert "file too large" in outcome["no-room"]
    assert "short write" in outcome["room-for-part-of-a-record"]
    assert outcome["in-flight"] == "sent"
    assert outcome["after"] == "sent"
    assert "could not write the 'created' audit record" in stderr

    assert moto_server.count("CreateDBClusterSnapshot") == 3
    records = [json.loads(line) for line in guarded.lines()]
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", "orders-manual-1"),
        ("created", "orders-manual-1"),
        ("requested", "orders-manual-in-flight"),
        ("requested", "orders-manual-after"),
        ("created", "orders-manual-after"),
    ]
    assert guarded.log.read_bytes().endswith(b"\n")
    assert audit.verify([guarded.log]).ok


ROTATE_AT_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from rds_guard.cli import main

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.RLIM_INFINITY))
code = main(["audit", "rotate", {log!r}])
# lifted before the exit: what else the process writes then (coverage's data) is not the test's
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
sys.exit(code)
"""


def test_rotate_at_a_file_size_limit_names_the_short_write_not_a_full_disk(
    tmp_path: Path,
) -> None:
    """The rotated log's first record does not fit under the process's file size limit:
    rotate said "no space left on device (disk full)" for it. It says what happened, as a
    writer does; the log is as it was and no temporary file is left."""
    log = tmp_path / "audit.jsonl"
    audit.AuditLog(log, fsync=False).write("requested", snapshot="orders-manual-1")
    before = log.read_bytes()
    result = run_python(ROTATE_AT_A_FILE_SIZE_LIMIT.format(log=str(log)))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("rds-guard:")]
    assert line.startswith(f"rds-guard: error: {log}: cannot rotate: short write (100 of ")
    assert line.endswith(" bytes; disk full or file size limit?)")
    assert "no space left" not in line
    assert log.read_bytes() == before
    assert not [path.name for path in tmp_path.iterdir() if ".rotating-" in path.name]


TORN_TAIL_ON_A_FULL_DISK = (
    GUARDED_CHILD
    + """
outcome["first"] = snapshot("orders-manual-1")
with open(LOG, "ab") as stream:
    stream.write(b'{{"prev":"' + b"ab" * 40)  # half a line, as a crash mid-write leaves it
torn = open(LOG, "rb").read()
for room in (0, 50):  # no room past the torn bytes, then room for part of the repaired record
    limit(len(torn) + room)
    outcome[f"room-{{room}}"] = snapshot(f"orders-manual-room-{{room}}")
    limit(resource.RLIM_INFINITY)
    outcome[f"room-{{room}}-left-the-torn-line"] = open(LOG, "rb").read() == torn
outcome["after"] = snapshot("orders-manual-after")
print(json.dumps(outcome))
"""
)


def test_a_torn_line_whose_repaired_record_cannot_be_written_stays_in_the_file(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """docs/failures.md: nothing is lost from the log without a record. A torn last line meets
    a full disk (RLIMIT_FSIZE, SIGXFSZ ignored) that has no room for its `repaired` record:
    AuditError, the call is not sent, and the torn bytes are still in the file as they were;
    once there is room the next call records them in `repaired` and goes on."""
    guarded = Guarded(moto_server, tmp_path)
    outcome, _ = _in_a_child(TORN_TAIL_ON_A_FULL_DISK, guarded, moto_server, tmp_path)

    torn = b'{"prev":"' + b"ab" * 40
    for room in ("room-0", "room-50"):
        assert outcome[room].startswith(f"AuditError: rds_guard audit log: {guarded.log}: ")
        assert outcome[f"{room}-left-the-torn-line"], outcome[room]
    assert (outcome["first"], outcome["after"]) == ("sent", "sent")
    assert moto_server.count("CreateDBClusterSnapshot") == 2
    records = [json.loads(line) for line in guarded.lines()]
    events = [r["event"] for r in records]
    assert events == ["requested", "created", "repaired", "requested", "created"]
    assert records[2]["dropped_bytes"] == len(torn)
    assert records[2]["dropped_sha256"] == hashlib.sha256(torn).hexdigest()
    assert audit.verify([guarded.log]).ok


# --- the write-ahead record in warn mode, and a blocked record that cannot be written -------


def obstruct(log: Path) -> None:
    """A directory where the log was: no record can be written there."""
    log.rename(log.with_name("moved.jsonl"))
    log.mkdir()


def test_in_warn_mode_too_a_call_whose_record_cannot_be_written_is_not_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """docs/failures.md: a `requested` record that cannot be written stops the call, "in
    enforce and warn mode alike": warn mode lets violations through, never an unrecorded call."""
    guarded = Guarded(moto_server, tmp_path, mode="warn")
    assert guarded.snapshot() is None
    obstruct(guarded.log)

    error = guarded.snapshot()

    assert isinstance(error, rds_guard.AuditError), error
    assert str(guarded.log) in str(error)
    assert guarded.sent() == 1


def test_an_unwritable_record_is_caught_where_a_caller_catches_botocore_s_errors(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """README: `AuditError` is a botocore `BotoCoreError`, so a caller's ``except
    BotoCoreError`` (a retry wrapper's, say) catches it as it catches botocore's own; the call
    was not sent."""
    guarded = Guarded(moto_server, tmp_path)
    assert guarded.snapshot() is None
    obstruct(guarded.log)
    caught: BotoCoreError | None = None
    try:
        guarded.client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-9", Tags=TEAM
        )
    except BotoCoreError as exc:
        caught = exc
    assert isinstance(caught, rds_guard.AuditError), caught
    assert guarded.sent() == 1


def test_a_blocked_call_whose_record_cannot_be_written_is_still_blocked(
    guarded: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/failures.md: a `blocked` record that cannot be written is logged at ERROR on
    `rds_guard.audit`, and the PolicyViolation is raised all the same (never an AuditError in
    its place, never the call sent)."""
    assert guarded.snapshot() is None
    obstruct(guarded.log)

    with caplog.at_level("ERROR", logger="rds_guard.audit"):
        error = attempt(
            lambda: guarded.client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-x"
            )
        )

    assert isinstance(error, rds_guard.PolicyViolation), error
    assert [v.rule for v in error.violations] == ["tags.required"]
    assert guarded.sent() == 1
    errors = [r for r in caplog.records if r.name == "rds_guard.audit" and r.levelname == "ERROR"]
    assert [r.getMessage().split(" for call ")[0] for r in errors] == [
        "could not write the 'blocked' audit record"
    ]


# --- audit switched off -----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["policy", "argument", "environment"])
def test_enabled_false_writes_and_logs_nothing(
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    """`[audit] enabled = false`: no file, wherever a path comes from (the policy, install's
    argument, $RDS_GUARD_AUDIT_PATH), and no record on `rds_guard.audit`, for an allowed call
    and a blocked one alike; the calls are judged all the same."""
    policy = write_policy(tmp_path, POLICY.replace('path = "audit.jsonl"', "enabled = false"))
    elsewhere = tmp_path / "elsewhere" / "audit.jsonl"
    elsewhere.parent.mkdir()
    if where == "environment":
        monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(elsewhere))
    given = elsewhere if where == "argument" else None
    client = guarded_client(policy, on=moto_server, audit_path=given)
    make_cluster(client, tags={"team": "core"})
    with caplog.at_level("DEBUG", logger="rds_guard.audit"):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
        )
        with pytest.raises(rds_guard.PolicyViolation):
            client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-2"
            )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["elsewhere", "rds_guard.toml"]
    assert [r for r in caplog.records if r.name == "rds_guard.audit"] == []


# --- nothing secret is written ----------------------------------------------------------------

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN0123456789"
HMAC_KEY = "the-audit-log-hmac-key-0123456789"
SECRETS = (
    ACCESS_KEY,
    SECRET_KEY,
    SESSION_TOKEN,
    HMAC_KEY,
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "PreSignedUrl",
    "Authorization",
)
"""The credentials of the session, the log's own key, and what a signature is made of."""


def secret_client(
    server: MotoServer, folder: Path, monkeypatch: pytest.MonkeyPatch, region: str = "us-east-1"
) -> Any:
    """A guarded rds client of the moto server signing with `ACCESS_KEY`, `SECRET_KEY` and
    `SESSION_TOKEN`, its log keyed with `HMAC_KEY`."""
    monkeypatch.setenv("RDS_GUARD_TEST_KEY", HMAC_KEY)
    policy = write_policy(folder, POLICY + 'hmac_key_env = "RDS_GUARD_TEST_KEY"\n')
    session = boto3.Session(
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=SESSION_TOKEN,
    )
    server.attach(session)
    rds_guard.install(session, policy=policy)
    return session.client("rds", endpoint_url=server.url)


def assert_no_secret(log: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the log file nor anything logged by rds_guard holds a secret."""
    written = log.read_text()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("rds_guard"))
    assert "rds_guard.audit" in {r.name for r in caplog.records}, "nothing was logged to check"
    for secret in SECRETS:
        assert secret not in written, secret
        assert secret not in logged, secret


def test_no_credential_signature_or_key_is_written_or_logged(
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/audit.md: credentials, signatures, request headers and `PreSignedUrl` are never
    written. A session with a session token makes a snapshot, a cross-region copy (botocore
    presigns it with the token), a presigned URL, a blocked call and a refused one: the keyed
    log verifies, and neither it nor the `rds_guard` loggers hold any of them or the log's key."""
    east = secret_client(moto_server, tmp_path, monkeypatch)
    west = secret_client(moto_server, tmp_path, monkeypatch, region="us-west-2")
    with caplog.at_level("INFO", logger="rds_guard"):
        make_cluster(east, tags={"team": "core"})
        made = east.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
        )
        west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=made["DBClusterSnapshot"]["DBClusterSnapshotArn"],
            TargetDBClusterSnapshotIdentifier="orders-manual-2",
            SourceRegion="us-east-1",
            Tags=TEAM,
        )
        url = east.generate_presigned_url(
            "create_db_cluster_snapshot",
            Params={
                "DBClusterIdentifier": "orders",
                "DBClusterSnapshotIdentifier": "orders-manual-3",
                "Tags": TEAM,
            },
        )
        with pytest.raises(rds_guard.PolicyViolation):
            east.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-4"
            )
        with pytest.raises(east.exceptions.ClientError):
            east.create_db_cluster_snapshot(
                DBClusterIdentifier="orders",
                DBClusterSnapshotIdentifier="orders-manual-1",
                Tags=TEAM,
            )
    assert SESSION_TOKEN in urllib.parse.unquote(url)
    sent = moto_server.last_params("CopyDBClusterSnapshot")
    assert SESSION_TOKEN in urllib.parse.unquote(sent["PreSignedUrl"])
    log = tmp_path / "audit.jsonl"
    assert [json.loads(line)["event"] for line in log.read_bytes().splitlines()] == [
        "requested",
        "created",
        "requested",
        "created",
        "presigned",
        "blocked",
        "requested",
        "failed",
    ]
    assert audit.verify([log], hmac_key=HMAC_KEY.encode()).ok
    assert_no_secret(log, caplog)


def signature_does_not_match(request: Any, **_: Any) -> AWSResponse:
    """AWS's answer to a request signed with the wrong secret key: the message shows the
    canonical request it expected, signed headers and their values included (the session
    token among them)."""
    token = request.headers.get("X-Amz-Security-Token", b"")
    token = token.decode() if isinstance(token, bytes) else token
    message = (
        "The request signature we calculated does not match the signature you provided. Check"
        " your AWS Secret Access Key and signing method. Consult the service documentation for"
        " details.\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:rds.us-east-1.amazonaws.com\nx-amz-date:20261129T120000Z\n"
        f"x-amz-security-token:{token}\n\n"
        "content-type;host;x-amz-date;x-amz-security-token\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'"
    )
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>sig-1</RequestId>"
        "</ErrorResponse>"
    ).encode()
    return raw_response(request.url, 403, body)


def _refused_by(
    server: MotoServer,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    answer: Callable[..., AWSResponse],
) -> list[dict[str, Any]]:
    """The records of a guarded create (`secret_client`) that ``answer``, a ``before-send``
    handler, refuses; what rds_guard logs meanwhile goes to ``caplog``."""
    client = secret_client(server, folder, monkeypatch)
    client.meta.events.register_first("before-send.rds", answer)
    with caplog.at_level("INFO", logger="rds_guard"), pytest.raises(client.exceptions.ClientError):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
        )
    return [json.loads(line) for line in (folder / "audit.jsonl").read_bytes().splitlines()]


def test_a_session_token_echoed_in_an_error_message_is_not_written(
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call signed with a wrong secret key: AWS refuses it and quotes the request it
    expected, headers and all. The `failed` record says the call failed and why, without the
    session token the answer carries."""
    records = _refused_by(moto_server, tmp_path, monkeypatch, caplog, signature_does_not_match)
    log = tmp_path / "audit.jsonl"
    assert [(r["event"], (r["error"] or {}).get("code")) for r in records] == [
        ("requested", None),
        ("failed", "SignatureDoesNotMatch"),
    ]
    assert_no_secret(log, caplog)


def test_a_session_token_in_an_error_code_is_not_written(
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server (or a proxy in front of it) that puts the request's session token in the
    error's code: the message was redacted, the code written as it came. Both are now."""

    def token_in_the_code(request: Any, **_: Any) -> AWSResponse:
        token = request.headers.get("X-Amz-Security-Token", b"")
        token = token.decode() if isinstance(token, bytes) else token
        body = (
            f"<ErrorResponse><Error><Code>X-Amz-Security-Token={token}</Code>"
            "<Message>refused</Message></Error></ErrorResponse>"
        ).encode()
        return raw_response(request.url, 403, body)

    failed = _refused_by(moto_server, tmp_path, monkeypatch, caplog, token_in_the_code)[-1]
    log = tmp_path / "audit.jsonl"
    assert failed["error"]["code"] == "X-Amz-Security-Token=[redacted]"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("rds_guard"))
    assert SESSION_TOKEN not in log.read_text() and SESSION_TOKEN not in logged


@pytest.mark.parametrize(
    ("access_key", "token", "quoted"),
    [
        (ACCESS_KEY, SESSION_TOKEN + "\r", SESSION_TOKEN),
        ("AKIDLINE\nBREAK0000000", SESSION_TOKEN, "BREAK0000000"),
    ],
    ids=["token-with-a-trailing-CR", "access-key-with-a-line-feed"],
)
def test_a_credential_refused_by_the_http_client_is_not_written(
    moto_server: MotoServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    access_key: str,
    token: str,
    quoted: str,
) -> None:
    """A session token read from a file with Windows line endings (a trailing CR), or an
    access key id with a line break in it: Python's HTTP client refuses the header and quotes
    its value, with no name before it. The program gets botocore's error as it is; the
    `unknown` record and rds_guard's log lines say what happened without the value."""
    session = boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
    )
    moto_server.attach(session)
    rds_guard.install(session, policy=write_policy(tmp_path, POLICY))
    rds = session.client(
        "rds", endpoint_url=moto_server.url, config=Config(retries={"max_attempts": 1})
    )
    with caplog.at_level("INFO", logger="rds_guard"), pytest.raises(HTTPClientError) as raised:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
        )
    assert quoted in str(raised.value)  # the program's error is botocore's
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    log = tmp_path / "audit.jsonl"
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert [r["event"] for r in records] == ["requested", "unknown"]
    assert records[1]["error"] == {
        "code": "HTTPClientError",
        "message": "An HTTP Client raised an unhandled exception: Invalid header value [redacted]",
    }
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("rds_guard"))
    assert "HTTPClientError" in logged
    assert quoted not in logged and quoted not in log.read_text()


def test_a_password_in_the_endpoint_url_is_not_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An endpoint given as ``http://user:password@host`` (a proxy in front of the service)
    that cannot be reached: botocore's error quotes the URL whole. The program gets that error
    as botocore raised it; the `unknown` record names it without the password."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    rds_guard.install(session, policy=write_policy(tmp_path, POLICY))
    rds = session.client(
        "rds",
        endpoint_url="http://admin:S3CRETPASS@127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )
    with (
        caplog.at_level("INFO", logger="rds_guard"),
        pytest.raises(EndpointConnectionError) as raised,
    ):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
        )
    assert "admin:S3CRETPASS@127.0.0.1" in str(raised.value)  # the program's error is botocore's
    log = tmp_path / "audit.jsonl"
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert [r["event"] for r in records] == ["requested", "unknown"]
    assert records[1]["error"] == {
        "code": "EndpointConnectionError",
        "message": 'Could not connect to the endpoint URL: "http://[redacted]@127.0.0.1:9/"',
    }
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("rds_guard"))
    assert "EndpointConnectionError" in logged
    assert "S3CRETPASS" not in logged and "S3CRETPASS" not in log.read_text()


# --- a process killed with its request in flight ----------------------------------------------

KILLED = """
import os, signal, boto3, rds_guard

session = boto3.Session(region_name="us-east-1")
rds_guard.install(session, policy={policy!r})
rds = session.client("rds", endpoint_url={url!r})


def die(**_):  # the service has answered; the outcome record is not written yet
    os.kill(os.getpid(), signal.SIGKILL)


rds.meta.events.register("needs-retry.rds.CreateDBClusterSnapshot", die)
rds.create_db_cluster_snapshot(
    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-killed",
    Tags=[{{"Key": "team", "Value": "core"}}],
)
"""


def test_a_process_killed_with_its_call_in_flight_leaves_requested_for_reconcile(
    guarded: Guarded, moto_server: MotoServer
) -> None:
    """docs/failures.md: a crash between `requested` and the outcome leaves `requested` alone.
    A guarded process is SIGKILLed once the service has made its snapshot: the next guarded
    call (another process) chains on, the log verifies, and `rds-guard reconcile` reports the
    killed call pending, its snapshot existing."""
    script = KILLED.format(policy=str(guarded.folder / "rds_guard.toml"), url=moto_server.url)
    result = run_python(script, timeout=HANG_TIMEOUT)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert guarded.sent() == 1
    killed = json.loads(guarded.lines()[-1])
    assert (killed["event"], killed["snapshot"]) == ("requested", "orders-manual-killed")

    assert guarded.snapshot() is None
    assert guarded.events() == ["requested", "requested", "created"]
    assert audit.verify([guarded.log]).ok

    report = cli(
        guarded.folder,
        "reconcile",
        "--audit",
        str(guarded.log),
        "--endpoint-url",
        moto_server.url,
        "--json",
    )
    assert report.code == 1, report.err
    assert report.json()["pending"] == [
        {"call": killed["call"], "snapshot": "orders-manual-killed", "exists": True}
    ]


# --- a forged last record of a keyed log ------------------------------------------------------


@pytest.mark.parametrize("forgery", ["bytes-edited", "resealed-with-a-guess"])
def test_a_forged_last_record_stops_every_guarded_call_until_a_forced_repair(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """Someone who can write the file but holds no key turns the last record, a `blocked`
    call, into `created`. The application's next guarded calls fail closed (AuditError naming
    the line, nothing sent, nothing written); `rds-guard audit repair` will not take the
    forgery for damage; only `--force` moves it aside, and calls then go on, the keyed chain
    verifying."""
    key = "the audit key"
    monkeypatch.setenv("RDS_GUARD_TEST_KEY", key)
    policy = write_policy(tmp_path, POLICY + 'hmac_key_env = "RDS_GUARD_TEST_KEY"\n')
    client = guarded_client(policy, on=moto_server)
    make_cluster(client, tags={"team": "core"})
    log = tmp_path / "audit.jsonl"
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1", Tags=TEAM
    )
    with pytest.raises(rds_guard.PolicyViolation):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-2"
        )
    lines = log.read_bytes().splitlines()
    forged = lines[-1].replace(b'"event":"blocked"', b'"event":"created"')
    if forgery == "resealed-with-a-guess":
        signed = forged[: forged.rindex(b',"digest":"')]
        guess = hmac.new(b"a guess", signed, hashlib.sha256).hexdigest().encode()
        forged = signed + b',"digest":"' + guess + b'"}'
    log.write_bytes(b"".join(line + b"\n" for line in [*lines[:-1], forged]))
    before = log.read_bytes()

    for name in ("orders-manual-3", "orders-manual-4"):
        error = attempt(
            lambda name=name: client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
            )
        )
        assert isinstance(error, rds_guard.AuditError), error
        assert f"{log}:3: line 3 is not authentic" in str(error)
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert log.read_bytes() == before

    env = script_env(tmp_path, RDS_GUARD_TEST_KEY=key)
    repair = [*("audit", "repair", str(log)), "--key-env", "RDS_GUARD_TEST_KEY"]
    refused = run_script(*repair, env=env, timeout=HANG_TIMEOUT)
    assert refused.code == 1, refused
    assert log.read_bytes() == before
    forced = run_script(*repair, "--force", env=env, timeout=HANG_TIMEOUT)
    assert forced.code == 0, forced

    error = attempt(
        lambda: client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-5", Tags=TEAM
        )
    )
    assert error is None
    assert moto_server.count("CreateDBClusterSnapshot") == 2
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    events = ["requested", "created", "repaired", "requested", "created"]
    assert [r["event"] for r in records] == events
    assert any(note.startswith("forced: line 3") for note in records[2]["notes"])
    assert audit.verify([log], hmac_key=key.encode()).ok


# --- many threads on one guarded client -------------------------------------------------------


def test_threads_sharing_a_guarded_client_lose_no_record(guarded: Guarded) -> None:
    """Eight threads make five snapshots each through one guarded client: every call that
    reached the server has its `requested` record and exactly one outcome under its own call
    id, the seqs have no gap, and the chain verifies."""
    names = [f"orders-manual-t{thread}-{i}" for thread in range(8) for i in range(5)]
    errors: list[BaseException] = []

    def work(mine: list[str]) -> None:
        for name in mine:
            try:
                guarded.client.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
                )
            except BaseException as exc:
                errors.append(exc)

    workers = [threading.Thread(target=work, args=(names[i::8],)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(HANG_TIMEOUT)
    assert not any(worker.is_alive() for worker in workers), "hangs"
    assert errors == []
    assert guarded.sent() == len(names)
    records = [json.loads(line) for line in guarded.lines()]
    assert [r["seq"] for r in records] == list(range(1, 2 * len(names) + 1))
    by_call: dict[str, list[str]] = {}
    for record in records:
        by_call.setdefault(record["call"], []).append(record["event"])
    assert sorted(by_call.values()) == [["requested", "created"]] * len(names)
    created = sorted(r["snapshot"] for r in records if r["event"] == "created")
    assert created == sorted(names)
    assert audit.verify([guarded.log]).ok

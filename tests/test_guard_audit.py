"""The audit trail of guarded calls, written by the guard against a real botocore pipeline:
every event kind, write-ahead refusal proven at the server, and what is never written."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws import (
    assert_a_copy_and_a_delete_of_its_own,
    audit_records,
    east_and_west,
    guarded_client,
    guarded_session,
    make_cluster,
    snapshot_arn,
)
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from policies import AUDITED, write_policy
from servers import DocDBResponder, MotoServer, raw_response

import rds_guard
from rds_guard import audit
from rds_guard.records import CONTEXT_KEY, GuardedCall

GOOD = "orders-daily-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, AUDITED)


def events(tmp_path: Path) -> list[str]:
    return [r["event"] for r in audit_records(tmp_path)]


def test_created_call_writes_requested_then_created(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """requested (before sending) and created share one call id; created names the ARN."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    made = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
    )
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert requested["call"] == created["call"] and len(created["call"]) >= 16
    assert created["snapshot"] == GOOD and created["source"] == "orders"
    assert created["arn"] == made["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    assert created["tags"] == {"team": "core", "managed-by": "rds-guard"}
    assert created["injected"] == ["managed-by"] and created["inherited"] == ["team"]
    assert created["request_id"] == made["ResponseMetadata"]["RequestId"]
    assert created["policy"] == rds_guard.load_policy(policy).sha256
    assert list(created)[:5] == ["prev", "seq", "time", "event", "call"]
    assert audit.verify([tmp_path / "audit.jsonl"]).ok


def test_a_policy_changed_after_loading_is_not_recorded_as_the_file(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """A guard installed with a policy changed from the loaded one (``dataclasses.replace``,
    here to warn mode) judges by the change: its records carry no digest (""), not the
    digest of a file that says otherwise."""
    changed = dataclasses.replace(rds_guard.load_policy(policy), mode="warn")
    session, _ = guarded_session(changed, on=moto_server)
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x")
    records = audit_records(tmp_path)
    assert [r["event"] for r in records] == ["requested", "created"]
    assert [r["policy"] for r in records] == ["", ""] and records[0]["violations"]


@pytest.mark.parametrize("fsync", [True, False])
def test_the_policys_fsync_reaches_each_record_of_a_guarded_call(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    """docs/policy.md: ``fsync = true`` (the default) makes each record durable before the
    call goes on; ``false`` leaves it to the OS. Counted at the system call."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, fsync=fsync), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    synced: list[int] = []  # the inode of each file synced
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counted)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    assert events(tmp_path) == ["requested", "created"]
    log = (tmp_path / "audit.jsonl").stat().st_ino
    assert synced.count(log) == (2 if fsync else 0), "one per record"


def test_blocked_call_writes_blocked_only(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """A blocked call leaves one `blocked` record with every violation, and no `requested`."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds)
    with pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked"
    assert [v["rule"] for v in blocked["violations"]] == ["identifier.pattern", "tags.required"]
    assert set(blocked["violations"][0]) == {"rule", "field", "value", "message"}


def test_failed_call_records_the_error_code(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """The service refused: `failed` with the error code; the caller still gets the ClientError."""
    rds = guarded_client(policy, on=moto_server)
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert events(tmp_path) == ["requested", "failed"]
    assert audit_records(tmp_path)[1]["error"]["code"] == "DBClusterNotFoundFault"


def test_no_response_is_unknown(policy: Path, tmp_path: Path) -> None:
    """A connection error: `requested`, then `unknown` (the snapshot may exist)."""
    session, _ = guarded_session(policy)
    rds = session.client(
        "rds",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )
    with pytest.raises(Exception, match="Could not connect"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    requested, unknown = audit_records(tmp_path)
    assert (requested["event"], unknown["event"]) == ("requested", "unknown")
    assert unknown["call"] == requested["call"]
    assert unknown["error"]["code"] == "EndpointConnectionError"


def test_already_exists_after_a_retry_is_unknown(
    moto_inprocess: None, policy: Path, tmp_path: Path
) -> None:
    """AlreadyExists on a retry may mean the first attempt made it: `unknown`, not `failed`."""
    session = boto3.Session(region_name="us-east-1")
    plain = session.client("rds")
    make_cluster(plain, tags={"team": "core"})
    plain.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    rds_guard.install(session, policy=policy)
    rds = session.client("rds", config=Config(retries={"max_attempts": 3, "mode": "standard"}))
    attempts: list[int] = []

    def lose_first_answer(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) == 1:
            return raw_response(
                request.url,
                500,
                b"<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>",
            )
        return None

    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", lose_first_answer)
    with pytest.raises(rds.exceptions.DBClusterSnapshotAlreadyExistsFault):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert len(attempts) == 2
    assert events(tmp_path) == ["requested", "unknown"]
    assert audit_records(tmp_path)[1]["error"]["code"] == "DBClusterSnapshotAlreadyExistsFault"


ANSWERS = {
    # a proxy's or a firewall's page: botocore raises ClientError (code Unknown) for the
    # status alone, and the log said `created`
    "a 403 page": (403, b"<html><body>Request blocked</body></html>", "failed", "Unknown"),
    "a 429 page": (429, b"<html><body>Slow down</body></html>", "failed", "Unknown"),
    # the service failed: the snapshot may exist (as with no answer), never a refusal
    "a 500": (
        500,
        b"<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>",
        "unknown",
        "InternalFailure",
    ),
    "a 504 page": (504, b"<html><body>Gateway Timeout</body></html>", "unknown", "504"),
}


@pytest.mark.parametrize("answer", list(ANSWERS), ids=list(ANSWERS))
def test_an_error_status_is_an_error_whatever_the_body(
    moto_inprocess: None, policy: Path, tmp_path: Path, answer: str
) -> None:
    """The outcome follows what botocore raises: an error for a status of 300 or more, with
    the code the caller's `ClientError` gives; `unknown` for a 5xx, which says nothing of
    whether the call took effect. One attempt, nothing retried."""
    status, body, event, code = ANSWERS[answer]
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=policy)
    rds = session.client("rds", config=Config(retries={"total_max_attempts": 1}))

    def answer_with(request: Any, **_: Any) -> AWSResponse:
        return raw_response(request.url, status, body)

    rds.meta.events.register("before-send.rds.DeleteDBClusterSnapshot", answer_with)
    with pytest.raises(ClientError) as caught:
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=GOOD)
    assert caught.value.response.get("Error", {}).get("Code", "Unknown") == code
    assert events(tmp_path) == ["requested", event]
    assert audit_records(tmp_path)[1]["error"]["code"] == code


def test_an_answer_naming_no_snapshot_keeps_the_name_sent(
    moto_inprocess: None, policy: Path, tmp_path: Path
) -> None:
    """An answer whose identifier element is empty recorded ``snapshot: ""``: the name
    sent is kept, as for an answer that leaves the element out."""
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=policy)
    rds = session.client("rds")
    body = (
        b'<DeleteDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        b"<DeleteDBClusterSnapshotResult><DBClusterSnapshot>"
        b"<DBClusterSnapshotIdentifier></DBClusterSnapshotIdentifier>"
        b"</DBClusterSnapshot></DeleteDBClusterSnapshotResult>"
        b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
        b"</DeleteDBClusterSnapshotResponse>"
    )

    def answer(request: Any, **_: Any) -> AWSResponse:
        return raw_response(request.url, 200, body)

    rds.meta.events.register("before-send.rds.DeleteDBClusterSnapshot", answer)
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=GOOD)
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
        ("requested", GOOD),
        ("deleted", GOOD),
    ]


@pytest.mark.parametrize("obstacle", ["symlink", "directory", "fifo"])
def test_unwritable_write_ahead_sends_nothing(
    moto_server: MotoServer, policy: Path, tmp_path: Path, obstacle: str
) -> None:
    """If `requested` cannot be written the call is refused with AuditError and never sent:
    an obstacle there from the start fails the install; one put there later, the call."""
    target = tmp_path / "audit.jsonl"
    with pytest.raises(rds_guard.AuditError, match="is at the path, not a regular file"):
        place(obstacle, target, tmp_path)
        guarded_client(policy, on=moto_server)
    remove(target)
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    place(obstacle, target, tmp_path)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.AuditError):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0


@pytest.mark.parametrize("how", ["the file itself", "a hard link"])
def test_a_file_that_is_no_log_at_the_path_is_neither_written_over_nor_the_call_sent(
    moto_server: MotoServer, policy: Path, tmp_path: Path, how: str
) -> None:
    """The attack on docs/audit.md's promise through the guard: the audit path names a token
    with no newline (by mistake, or a hard link someone put there). The call gets
    `NotAnAuditLog` (an AuditError), nothing is sent, and the file keeps its bytes."""
    secret = tmp_path / "token"
    secret.write_bytes(b"ghp_SECRETTOKEN1234")
    target = tmp_path / "audit.jsonl"
    if how == "a hard link":
        os.link(secret, target)
    else:
        secret.rename(target)
        secret = target
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    moto_server.reset_counts()
    with pytest.raises(audit.NotAnAuditLog):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert secret.read_bytes() == b"ghp_SECRETTOKEN1234"


@pytest.mark.parametrize("final_newline", [False, True], ids=["after-the-last-newline", "a-line"])
def test_records_joined_in_the_log_stop_every_call_before_it_is_sent(
    moto_server: MotoServer, policy: Path, tmp_path: Path, final_newline: bool
) -> None:
    """Someone who can write the log removes the newlines between its last three records
    (after the last newline, or with one after them). The next guarded call dropped them as a
    torn line and went on; it is refused with AuditError, never sent, the log as it was."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    for n in range(2):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=f"orders-daily-2026112{n}",
            Tags=TEAM,
        )
    log = tmp_path / "audit.jsonl"
    lines = log.read_bytes().splitlines()
    log.write_bytes(b"\n".join([*lines[:-3], b"".join(lines[-3:])]) + b"\n" * final_newline)
    before = log.read_bytes()
    moto_server.reset_counts()
    with pytest.raises(rds_guard.AuditError, match="damaged"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-daily-20261122",
            Tags=TEAM,
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert log.read_bytes() == before


def place(obstacle: str, target: Path, folder: Path) -> None:
    """Put a symlink, a directory or a FIFO where the audit log goes."""
    if obstacle == "symlink":
        (folder / "elsewhere.jsonl").write_text("")
        target.symlink_to(folder / "elsewhere.jsonl")
    elif obstacle == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)


def remove(target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    else:
        target.unlink()


def test_outcome_write_failure_never_raises(
    moto_server: MotoServer, policy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The snapshot exists: an outcome record that cannot be written is logged, not raised."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})

    def swap_log_for_a_directory(**_: Any) -> None:
        (tmp_path / "audit.jsonl").rename(tmp_path / "moved.jsonl")
        (tmp_path / "audit.jsonl").mkdir()

    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", swap_log_for_a_directory)
    with caplog.at_level(logging.ERROR, logger="rds_guard.audit"):
        made = rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"] == GOOD
    assert any("created" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


class RaisingHandler(logging.Handler):
    """A program's log shipper that raises from ``emit`` (logging's own handlers report
    their failures through ``handleError`` instead)."""

    def emit(self, record: logging.LogRecord) -> None:
        raise ConnectionError("log shipper unreachable")


@pytest.mark.parametrize("outcome_fails", [False, True], ids=["written", "write-fails"])
def test_a_logging_handler_that_raises_fails_neither_the_records_nor_the_call(
    moto_server: MotoServer, policy: Path, tmp_path: Path, outcome_fails: bool
) -> None:
    """A handler on ``rds_guard.audit`` that raises: the create is made and both records
    are in the file, as without it; when the outcome record cannot be written either, the
    snapshot exists all the same and the caller gets its answer (the handler's error, raised
    while the guard logged the failure, reached the caller from ``after-call``)."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    if outcome_fails:

        def swap_log_for_a_directory(**_: Any) -> None:
            (tmp_path / "audit.jsonl").rename(tmp_path / "moved.jsonl")
            (tmp_path / "audit.jsonl").mkdir()

        rds.meta.events.register(
            "before-send.rds.CreateDBClusterSnapshot", swap_log_for_a_directory
        )
    shipper = logging.getLogger("rds_guard.audit")
    handler, level = RaisingHandler(), shipper.level
    shipper.addHandler(handler)
    shipper.setLevel(logging.INFO)
    try:
        made = rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    finally:
        shipper.removeHandler(handler)
        shipper.setLevel(level)
    assert made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"] == GOOD
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    log = tmp_path / ("moved.jsonl" if outcome_fails else "audit.jsonl")
    events = [record["event"] for record in audit.read_records(log)]
    assert events == (["requested"] if outcome_fails else ["requested", "created"])


def test_tagging_untagging_sharing_and_deleting_each_write_their_event(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """tagged, untagged, shared, unshared and deleted, each after its `requested`."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    made = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    arn = made["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "note", "Value": "x"}])
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["note"])
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToAdd=["111122223333"]
    )
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToRemove=["111122223333"]
    )
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=GOOD)
    rds.add_tags_to_resource(  # not a snapshot: neither judged nor recorded
        ResourceName=rds.describe_db_clusters()["DBClusters"][0]["DBClusterArn"],
        Tags=[{"Key": "aws-like", "Value": "x"}],
    )
    found = audit_records(tmp_path)
    assert [r["event"] for r in found] == [
        "requested", "created",
        "requested", "tagged",
        "requested", "untagged",
        "requested", "shared",
        "requested", "unshared",
        "requested", "deleted",
    ]  # fmt: skip
    by_event = {r["event"]: r for r in found}
    assert by_event["tagged"]["tags"] == {"note": "x"} and by_event["tagged"]["arn"] == arn
    assert by_event["untagged"]["tags"] == {"note": None}
    assert by_event["shared"]["notes"] == ["added: 111122223333"]
    assert by_event["unshared"]["notes"] == ["removed: 111122223333"]
    assert by_event["deleted"]["snapshot"] == GOOD
    assert audit.verify([tmp_path / "audit.jsonl"]).ok


def test_blocked_share_and_untag_never_sent(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """Making a snapshot public, sharing outside the list, removing a required tag: unsent."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    made = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD,
            AttributeName="restore",
            ValuesToAdd=["all", "444455556666"],
        )
    assert [v.rule for v in caught.value.violations] == ["sharing.public", "sharing.account"]
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.remove_tags_from_resource(
            ResourceName=made["DBClusterSnapshot"]["DBClusterSnapshotArn"], TagKeys=["team"]
        )
    assert [v.rule for v in caught.value.violations] == ["tags.protected"]
    assert moto_server.actions() == []
    assert events(tmp_path)[-2:] == ["blocked", "blocked"]


def test_a_final_snapshot_on_delete_is_judged_and_recorded(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """A delete with a final snapshot is judged and recorded; a blocked one drops nothing."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.delete_db_cluster(DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="last-one")
    assert [v.rule for v in caught.value.violations] == ["identifier.pattern"]
    assert moto_server.count("DeleteDBCluster") == 0
    assert rds.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"], "still there"
    rds.delete_db_cluster(
        DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="orders-final-20261129"
    )
    requested, created = audit_records(tmp_path)[-2:]
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert created["operation"] == "DeleteDBCluster"
    assert created["snapshot"] == "orders-final-20261129" and created["source"] == "orders"


def test_skip_final_snapshot_is_sent_as_made_and_recorded(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """SkipFinalSnapshot=True under a policy without [deletion] rules: sent as made, and
    recorded as a delete (requested, then deleted; no snapshot was made)."""
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    rds.delete_db_cluster(DBClusterIdentifier="orders", SkipFinalSnapshot=True)
    assert moto_server.count("DeleteDBCluster") == 1
    assert moto_server.last_params("DeleteDBCluster")["SkipFinalSnapshot"] == "true"
    assert events(tmp_path) == ["requested", "deleted"]
    assert audit_records(tmp_path)[1]["snapshot"] is None


def test_warn_requested_record_carries_violations(moto_server: MotoServer, tmp_path: Path) -> None:
    """warn: the call is sent and its `requested` record lists what it broke."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode="warn"), on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
    )
    requested, created = audit_records(tmp_path)
    assert [v["rule"] for v in requested["violations"]] == ["identifier.pattern", "tags.required"]
    assert created["event"] == "created"


def test_documentdb_calls_are_recorded_under_their_service(
    docdb: DocDBResponder, policy: Path, tmp_path: Path
) -> None:
    """DocumentDB through the full pipeline: requested/created, and the service name recorded."""
    client = guarded_client(policy, "docdb", on=docdb)
    make_cluster(client)
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    requested, created = audit_records(tmp_path)
    assert (requested["service"], created["event"]) == ("docdb", "created")
    assert created["arn"].endswith(f":cluster-snapshot:{GOOD}")


def test_secrets_and_presigned_urls_are_never_written(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    """A presigned cross-region copy: no PreSignedUrl, signature or credential in the log."""
    plain = moto_server.client("rds")
    make_cluster(plain, tags={"team": "core"})
    plain.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    source = snapshot_arn(plain, GOOD)
    west = guarded_client(policy, on=moto_server, region="us-west-2")
    with contextlib.suppress(west.exceptions.ClientError):
        west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=source,
            TargetDBClusterSnapshotIdentifier=f"{GOOD}-copy",
            SourceRegion="us-east-1",
            Tags=TEAM,
        )
    assert "PreSignedUrl" in moto_server.last_params("CopyDBClusterSnapshot")
    text = (tmp_path / "audit.jsonl").read_text()
    assert events(tmp_path)[0] == "requested"
    for secret in (
        "PreSignedUrl",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "testing",
        "Authorization",
    ):
        assert secret not in text


@pytest.mark.parametrize("copied", ["a copy", "a deep copy"])
@pytest.mark.parametrize("operation", ["CreateDBClusterSnapshot", "CopyDBClusterSnapshot"])
@pytest.mark.parametrize("answers", [[500, None], [None]], ids=["a retry", "no retry"])
def test_a_handler_that_copies_the_request_context_leaves_the_records_of_one_call(
    moto_server: MotoServer,
    policy: Path,
    tmp_path: Path,
    copied: str,
    operation: str,
    answers: list[int | None],
) -> None:
    """A program's handler gives each request a copy of its context (at ``request-created``,
    before the guard's handler), the first attempt answered 500 or not: one ``requested``
    record and one outcome, as without the handler, also for a cross-region copy (whose
    source URL botocore presigns before the request is made). A copy of the context
    carries the attempt botocore counts there: the same call, not another given its state."""
    plain = moto_server.client("rds")
    make_cluster(plain, tags={"team": "core"})
    if operation == "CopyDBClusterSnapshot":
        plain.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
        client = guarded_client(policy, on=moto_server, region="us-west-2")
        params = {
            "SourceDBClusterSnapshotIdentifier": snapshot_arn(plain, GOOD),
            "TargetDBClusterSnapshotIdentifier": f"{GOOD}-copy",
            "SourceRegion": "us-east-1",
        }
    else:
        client = guarded_client(policy, on=moto_server)
        params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD}
    left = list(answers)

    def copy_context(request: Any, **_: Any) -> None:
        context = request.context
        request.context = dict(context) if copied == "a copy" else copy.deepcopy(context)

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        status = left.pop(0)
        return None if status is None else raw_response(request.url, status, b"")

    client.meta.events.register_first(f"request-created.rds.{operation}", copy_context)
    client.meta.events.register_last(f"before-send.rds.{operation}", answer)
    with contextlib.suppress(ClientError):  # moto's own answer to a cross-region copy
        getattr(client, xform_name(operation))(**params, Tags=TEAM)
    assert left == []
    records = audit_records(tmp_path)
    assert [r["event"] for r in records][:1] == ["requested"] and len(records) == 2
    assert records[0]["call"] == records[1]["call"]
    assert records[1]["event"] in ("created", "failed")


def test_a_call_made_in_a_cross_region_copys_handler_given_its_state_is_recorded_as_itself(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A cross-region copy is requested as botocore presigns its source URL, at
    ``before-call``; a program's ``before-call`` handler after botocore's takes the copy's
    state and makes a delete whose context it gives that state: the delete was taken for the
    copy's first request, sent with no ``requested`` record of its own, its answer recorded
    as the copy's. It is judged as it is sent and recorded as its own call; the copy's own
    request is the copy's."""
    policy = write_policy(tmp_path, AUDITED)
    east = east_and_west(moto_server, GOOD)
    west = guarded_client(policy, on=moto_server, region="us-west-2")
    kept: dict[str, Any] = {}

    def give(context: dict[str, Any], **_: Any) -> None:
        context[CONTEXT_KEY] = kept["copy"]

    def another_call(context: dict[str, Any], **_: Any) -> None:
        if "copy" not in kept:
            kept["copy"] = context[CONTEXT_KEY]
            west.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", give)
            west.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="victim")

    west.meta.events.register("before-call.rds.CopyDBClusterSnapshot", another_call)
    moto_server.reset_counts()
    with contextlib.suppress(ClientError):  # moto's own answer to a cross-region copy
        west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=snapshot_arn(east, GOOD),
            TargetDBClusterSnapshotIdentifier=f"{GOOD}-copy",
            SourceRegion="us-east-1",
            Tags=TEAM,
        )
    assert moto_server.count("CopyDBClusterSnapshot") == 1
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    assert_a_copy_and_a_delete_of_its_own(audit_records(tmp_path))


def test_documentdb_final_snapshots_shares_and_inherited_tags_are_guarded(
    docdb: DocDBResponder, policy: Path, tmp_path: Path
) -> None:
    """DocumentDB: a blocked final snapshot or share never reaches the service; the good ones are
    recorded; a cluster's tags (read with ListTagsForResource) survive the defaults."""
    client = guarded_client(policy, "docdb", on=docdb)
    make_cluster(client, copy_tags=True, tags={"team": "core", "owner": "a"})
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
    )
    assert docdb.tags(GOOD) == {"team": "core", "owner": "a", "managed-by": "rds-guard"}
    assert docdb.count("ListTagsForResource") == 1, "docdb describe results carry no tags"

    docdb.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToAdd=["all"]
        )
    assert [v.rule for v in caught.value.violations] == ["sharing.public"]
    with pytest.raises(rds_guard.PolicyViolation):
        client.delete_db_cluster(DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="last")
    assert docdb.actions() == []
    assert "orders" in docdb.clusters, "the blocked delete dropped nothing"

    client.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=GOOD, AttributeName="restore", ValuesToAdd=["111122223333"]
    )
    client.delete_db_cluster(
        DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="orders-final-20261129"
    )
    assert "orders-final-20261129" in docdb.snapshots
    found = audit_records(tmp_path)
    assert [(r["event"], r["operation"]) for r in found[-4:]] == [
        ("requested", "ModifyDBClusterSnapshotAttribute"),
        ("shared", "ModifyDBClusterSnapshotAttribute"),
        ("requested", "DeleteDBCluster"),
        ("created", "DeleteDBCluster"),
    ]
    assert found[-1]["snapshot"] == "orders-final-20261129" and found[-1]["service"] == "docdb"


def test_stubbed_calls_write_no_outcome_without_requested(policy: Path, tmp_path: Path) -> None:
    """botocore's Stubber answers before the write-ahead hook: nothing was sent, so no
    outcome record may appear without its `requested`."""
    from botocore.stub import Stubber

    rds = guarded_client(policy)
    with Stubber(rds) as stubber:
        stubber.add_response(
            "create_db_cluster_snapshot",
            {"DBClusterSnapshot": {"DBClusterSnapshotIdentifier": GOOD}},
        )
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    log = tmp_path / "audit.jsonl"
    assert not log.exists() or events(tmp_path) == []


STUBBED_CREATE = ("create_db_cluster_snapshot", {"DBClusterSnapshot": {"Status": "creating"}})


def test_a_stubbed_client_answers_its_calls_under_a_warn_policy_that_reads(tmp_path: Path) -> None:
    """docs/policy.md: botocore's Stubber holds answers for the program's calls. The guard's
    read of the source finds none (the Stubber refuses it) and counts as unreadable; in warn
    mode, with tag rules that read the source, the call goes on and gets its stubbed answer,
    with no answer left over and none missing, as without the guard."""
    from botocore.stub import Stubber

    rds = guarded_client(
        write_policy(
            tmp_path,
            'version = 1\nmode = "warn"\n[tags]\nrequired = ["team"]\n'
            '[audit]\npath = "audit.jsonl"\nfsync = false\n',
        )
    )
    with Stubber(rds) as stubber:
        stubber.add_response(*STUBBED_CREATE)
        made = rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
        stubber.assert_no_pending_responses()
    assert made["DBClusterSnapshot"] == {"Status": "creating"}


def test_a_stubbed_client_in_enforce_mode_fails_closed_when_the_read_is_refused(
    tmp_path: Path,
) -> None:
    """enforce, a policy that reads the source: the Stubber refuses the guard's read, and the
    call is not judged without it (required tags could go unchecked): the Stubber's error,
    recorded `failed`, nothing answered."""
    from botocore.stub import Stubber, StubResponseError

    rds = guarded_client(
        write_policy(
            tmp_path,
            'version = 1\n[tags]\nrequired = ["team"]\n'
            '[audit]\npath = "audit.jsonl"\nfsync = false\n',
        )
    )
    with Stubber(rds) as stubber:
        stubber.add_response(*STUBBED_CREATE)
        with pytest.raises(StubResponseError, match="DescribeDBClusters"):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )
    (failed,) = audit_records(tmp_path)
    assert (failed["event"], failed["error"]["code"]) == ("failed", "StubResponseError")


def test_dropped_sessions_release_their_guard_and_log(policy: Path) -> None:
    """A session installed on and dropped without uninstall does not keep its guard, its
    audit log's descriptors (the log's, its lock's) or itself alive: all go in the
    collection that frees the session (a botocore session is a cycle: only a collection
    frees it), not in the one after. Only the log's descriptors are counted: the process's
    other threads (a moto server's, a shipping thread left by another test) open and close
    theirs meanwhile."""
    import gc

    from rds_guard.guard import installs as guard_module

    def log_descriptors(log: str) -> int:
        found = 0
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # closed since it was listed
                found += os.readlink(f"/proc/self/fd/{name}").startswith(log)
        return found

    gc.collect()
    slots_before = len(guard_module._stacks)
    logs: set[str] = set()

    def install_and_drop(sessions: int) -> int:
        for _ in range(sessions):
            session, installed = guarded_session(policy)
            assert installed.audit is not None
            installed.audit.write("blocked", call="x")
            logs.add(str(installed.audit.path))
            session.client("rds")
            del session, installed
        gc.collect()
        (log,) = logs
        return log_descriptors(log)

    assert install_and_drop(30) == 0, "a dropped session's guard kept the log open"
    assert len(guard_module._stacks) == slots_before


def test_a_calls_state_goes_with_its_call_without_a_collection(
    moto_server: MotoServer, policy: Path
) -> None:
    """The guard's state of a call, kept in botocore's request context, refers to no context
    or request (a weak reference to the request it was last held in): once the calls
    return, no state of theirs is left for the cycle collector to find."""
    import gc

    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, tags={"team": "core"})
    calls: set[str] = set()

    def note(context: dict[str, Any], **_: Any) -> None:
        calls.add(context[CONTEXT_KEY].call)

    rds.meta.events.register("after-call.rds.CreateDBClusterSnapshot", note)
    gc.collect()
    gc.disable()
    try:
        for day in range(20):
            name = f"orders-daily-{20261100 + day}"
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
            )
        left = [o for o in gc.get_objects() if isinstance(o, GuardedCall) and o.call in calls]
    finally:
        gc.enable()
    assert len(calls) == 20 and left == []
    assert events(policy.parent) == ["requested", "created"] * 20


def test_hmac_key_is_the_variables_own_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key that is not UTF-8 is used as its bytes by the guard and by verify alike."""
    monkeypatch.setitem(os.environb, b"RDS_GUARD_TEST_KEY", b"\xffsecret")
    path = write_policy(
        tmp_path,
        'version = 1\n[audit]\npath = "audit.jsonl"\nfsync = false\n'
        'hmac_key_env = "RDS_GUARD_TEST_KEY"\n',
    )
    _, guard = guarded_session(path)
    assert guard.audit is not None
    guard.audit.write("blocked", call="a")
    guard.audit.write("blocked", call="b")
    assert audit.verify([tmp_path / "audit.jsonl"], hmac_key=b"\xffsecret").ok
    with pytest.raises(audit.KeyRequired):
        audit.verify([tmp_path / "audit.jsonl"])


def test_a_guard_without_the_key_of_a_keyed_log_says_where_a_program_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy without ``hmac_key_env`` on a log written with a key: the record cannot be
    chained, and the error says how a program gives the key (the policy's ``[audit]
    hmac_key_env``) before how a command does (``--key-env``)."""
    monkeypatch.setenv("RDS_GUARD_TEST_KEY", "secret")
    keyed = write_policy(
        tmp_path / "keyed",
        'version = 1\n[audit]\npath = "../audit.jsonl"\nfsync = false\n'
        'hmac_key_env = "RDS_GUARD_TEST_KEY"\n',
    )
    _, guard = guarded_session(keyed)
    assert guard.audit is not None
    guard.audit.write("blocked", call="a")
    guard.uninstall()
    plain = write_policy(
        tmp_path / "plain", 'version = 1\n[audit]\npath = "../audit.jsonl"\nfsync = false\n'
    )
    _, guard = guarded_session(plain)
    assert guard.audit is not None
    with pytest.raises(audit.KeyRequired) as caught:
        guard.audit.write("blocked", call="b")
    guard.uninstall()
    said = str(caught.value)
    assert "in the policy, [audit] hmac_key_env naming the environment variable" in said
    assert said.index("hmac_key_env") < said.index("--key-env VAR")


@pytest.mark.parametrize("given", ["audit_path", "RDS_GUARD_AUDIT_PATH"])
def test_a_relative_audit_path_stays_where_it_was_at_install(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """A daemon that changes directory after install (``chdir("/")``) keeps one log: a
    relative ``audit_path`` or $RDS_GUARD_AUDIT_PATH names the file in the directory of the
    install, as the policy's own ``[audit] path`` does the one beside the policy. Otherwise
    the next call would start an unconnected log, seq 1, in the new directory."""
    started, moved = tmp_path / "started", tmp_path / "moved"
    started.mkdir()
    moved.mkdir()
    policy = write_policy(tmp_path / "policy", AUDITED)
    monkeypatch.chdir(started)
    if given == "audit_path":
        session, _ = guarded_session(policy, on=moto_server, audit_path="audit.jsonl")
    else:
        monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", "audit.jsonl")
        session, _ = guarded_session(policy, on=moto_server)
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    team = [{"Key": "team", "Value": "payments"}]
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-20261201",
        Tags=team,
    )
    monkeypatch.chdir(moved)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-20261202",
        Tags=team,
    )
    assert [r["seq"] for r in audit_records(started)] == [1, 2, 3, 4]
    assert not (moved / "audit.jsonl").exists()


def test_a_relative_audit_path_in_a_directory_that_is_gone_is_an_audit_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working directory was removed under the process: a relative ``audit_path`` can
    be found nowhere, and install says so (AuditError), not with an OSError of its own."""
    policy = write_policy(tmp_path / "policy", AUDITED)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(rds_guard.AuditError, match=r"audit\.jsonl: the audit log cannot be found"):
        rds_guard.install(boto3.Session(region_name="us-east-1"), policy, audit_path="audit.jsonl")

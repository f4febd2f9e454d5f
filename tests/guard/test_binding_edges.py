"""Edges of the client binding (`rds_guard.guard.binding`): what the guard reads of a
request or a presigned URL, and what it says of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore
import botocore.config
import pytest
from aws import audit_records, guarded_client, guarded_session, make_cluster, make_instance
from policies import AUDITED, BACKUPS, write_policy
from servers import MotoServer, raw_response

import rds_guard

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


def test_a_retention_sent_as_other_text_is_a_change_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler sends the retention as text botocore never writes for an
    integer (``0.0``): how the service reads it cannot be judged, so the call is blocked as
    ``request.changed`` on the parameter, and nothing is sent."""
    rds = guarded_client(write_policy(tmp_path, BACKUPS), on=moto_server)
    make_instance(moto_server.client("rds"), "orders")

    def as_text(params: dict[str, Any], **_: Any) -> None:
        params["body"]["BackupRetentionPeriod"] = "0.0"

    rds.meta.events.register("before-call.rds.ModifyDBInstance", as_text)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=3)
    rules = [(v.rule, v.field) for v in caught.value.violations]
    assert ("request.changed", "BackupRetentionPeriod") in rules
    assert moto_server.count("ModifyDBInstance") == 0
    assert audit_records(tmp_path)[-1]["event"] == "blocked"


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_an_unsigned_presign_on_an_endpoint_with_a_query_is_its_plain_url(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """An ``UNSIGNED`` client whose endpoint URL has a query of its own: an unsigned presign
    of a compliant call is the endpoint's URL, that query and all, which carries no call; it
    is not read as one another handler changed. The plain client's URL, no violation."""
    session, _ = guarded_session(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED)
    endpoint = f"{moto_server.url}/?tenant=blue"
    rds = moto_server.client("rds", session=session, config=unsigned, endpoint_url=endpoint)
    plain = moto_server.client("rds", config=unsigned, endpoint_url=endpoint)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}

    def presign(client: Any) -> str:
        url: str = client.generate_presigned_url(
            "create_db_cluster_snapshot", Params=params, ExpiresIn=600
        )
        return url

    url = presign(rds)
    assert url == presign(plain)
    assert "tenant=blue" in url
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["violations"]) == ("presigned", [])


def test_a_request_given_an_ended_calls_context_is_held_as_its_own_call(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A before-call handler keeps the first call's context and gives it to the next call's
    request: the first call ended, so its state is no judgement of the next one, which is
    held and recorded as itself (a ``requested`` and a ``created`` record of its own)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    kept: list[dict[str, Any]] = []

    def reuse(params: dict[str, Any], **_: Any) -> None:
        if kept:
            params["context"] = kept[0]
        else:
            kept.append(params["context"])

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", reuse)
    second = GOOD[:-1] + "8"
    for name in (GOOD, second):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, Tags=TEAM
        )
    records = audit_records(tmp_path)
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", GOOD),
        ("created", GOOD),
        ("requested", second),
        ("created", second),
    ]
    assert records[2]["call"] != records[0]["call"]


def test_a_retry_given_a_new_context_after_its_call_was_sent_is_judged_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The first attempt is recorded ``requested`` and answered 503; a request-created handler
    put before the guard's gives the retry a context of its own (without the call): the
    call sent is no judgement of a request that reaches the guard with none, which is
    judged as it is sent and recorded as such."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    attempts: list[int] = []

    def on_retry(request: Any, **_: Any) -> None:
        attempts.append(1)
        if len(attempts) == 2:
            request.context = {}

    def unavailable(request: Any, **_: Any) -> Any:
        if len(attempts) == 1:
            return raw_response(request.url, 503, b"<Error><Code>Unavailable</Code></Error>")
        return None

    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", on_retry)
    rds.meta.events.register("before-send.rds.CreateDBClusterSnapshot", unavailable)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert len(attempts) == 2
    first, retry, outcome = audit_records(tmp_path)
    assert [first["event"], retry["event"], outcome["event"]] == ["requested"] * 2 + ["created"]
    assert retry["call"] != first["call"] == outcome["call"]
    assert any("judged as it was sent" in note for note in retry["notes"])

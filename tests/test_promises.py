"""Promises of the README and docs/operations.md that no other file attacks: where the audit
log goes when three places name one, and the calls the guard leaves alone (a tag call on a
database rather than a snapshot, another snapshot attribute than ``restore``, a stop that
makes no snapshot) go out as made and are not recorded, even under a policy they would break.
Requests are counted at the moto server."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws import guarded_client, make_cluster, make_instance
from botocore import xform_name
from policies import write_policy
from servers import ACCOUNT_ID, MotoServer

STRICT_TAGS = """\
version = 1
mode = "enforce"

[tags]
required = ["team"]

[tags.allowed]
env = ["prod"]

[sharing]
public = false

[audit]
path = "audit.jsonl"
fsync = false
"""
"""Tag and sharing rules that every call below would break, were it judged."""


def events(log: Path) -> list[str]:
    return [json.loads(line)["event"] for line in log.read_text().splitlines()]


@pytest.mark.parametrize("winner", ["argument", "environment", "policy"])
def test_the_audit_log_goes_to_the_argument_then_the_environment_then_the_policy(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, winner: str
) -> None:
    """README: `audit_path` > `$RDS_GUARD_AUDIT_PATH` > the policy's `[audit] path`. Only the
    place that wins gets the records; the others are not even created."""
    places = {name: tmp_path / name / "audit.jsonl" for name in ("argument", "environment")}
    policy = write_policy(tmp_path / "policy", STRICT_TAGS)
    places["policy"] = policy.parent / "audit.jsonl"
    for place in places.values():
        place.parent.mkdir(exist_ok=True)
    order = ["argument", "environment", "policy"]
    given = order[order.index(winner) :]
    if "environment" in given:
        monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(places["environment"]))
    audit_path = places["argument"] if "argument" in given else None
    client = guarded_client(policy, on=moto_server, audit_path=audit_path)
    make_cluster(client, tags={"team": "core"})
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-1",
        Tags=[{"Key": "team", "Value": "core"}],
    )
    assert {name: place.exists() for name, place in places.items()} == {
        name: name == winner for name in places
    }
    assert events(places[winner]) == ["requested", "created"]


CLUSTER_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:cluster:orders"
DB_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:orders"
LEFT_ALONE: list[Any] = [
    pytest.param(
        "AddTagsToResource",
        {"ResourceName": CLUSTER_ARN, "Tags": [{"Key": "env", "Value": "qa"}]},
        id="tag-a-cluster",
    ),
    pytest.param(
        "AddTagsToResource",
        {"ResourceName": DB_ARN, "Tags": [{"Key": "env", "Value": "qa"}]},
        id="tag-an-instance",
    ),
    pytest.param(
        "RemoveTagsFromResource",
        {"ResourceName": CLUSTER_ARN, "TagKeys": ["team"]},
        id="untag-a-cluster",
    ),
    pytest.param(
        "ModifyDBClusterSnapshotAttribute",
        {
            "DBClusterSnapshotIdentifier": "orders-manual-1",
            "AttributeName": "other",
            "ValuesToAdd": ["all"],
        },
        id="another-attribute",
    ),
    pytest.param("StopDBInstance", {"DBInstanceIdentifier": "orders"}, id="stop-no-snapshot"),
]


def call(client: Any, operation: str, params: dict[str, Any]) -> None:
    """Make the call; a refusal by moto is no matter here (the call went)."""
    with contextlib.suppress(client.exceptions.ClientError):
        getattr(client, xform_name(operation))(**params)


@pytest.mark.parametrize(("operation", "params"), LEFT_ALONE)
def test_a_call_the_guard_does_not_judge_goes_as_made_and_is_not_recorded(
    moto_server: MotoServer, tmp_path: Path, operation: str, params: dict[str, Any]
) -> None:
    """docs/operations.md: tag operations on other resources, other snapshot attributes, a
    stop without a snapshot: not judged, not recorded. Each would break the policy were it a
    snapshot's; through a guarded client each reaches the server once, byte for byte the
    request an unguarded client sends, and the log stays empty."""
    plain = moto_server.client("rds")
    make_cluster(plain, tags={"team": "core"})
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1"
    )
    make_instance(plain, "orders", tags={"team": "core"})
    client = guarded_client(write_policy(tmp_path, STRICT_TAGS), on=moto_server)
    moto_server.reset_counts()
    call(plain, operation, params)
    as_made = moto_server.last_params(operation)

    moto_server.reset_counts()
    call(client, operation, params)

    assert moto_server.actions() == [operation]
    assert moto_server.last_params(operation) == as_made
    log = tmp_path / "audit.jsonl"
    assert not log.exists() or events(log) == []

"""A request another handler made out of a call the guard does not judge into one it judges
(a `before-call` handler rewriting a DescribeDBClusters body into a delete) is judged as it
is sent, and recorded as the guarded call it became: before, the guard had no handler on it,
and a held snapshot was deleted with no record."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_client, make_cluster
from policies import HOLD_ONLY, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.records import turned_note


def two_snapshots(server: MotoServer) -> None:
    """``free`` may be deleted; ``held`` is on hold (made unguarded: no record)."""
    rds = server.client("rds")
    make_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="free")
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )


def snapshots_left(server: MotoServer) -> set[str]:
    found = server.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


def delete_body(name: str) -> dict[str, str]:
    return {"Action": "DeleteDBClusterSnapshot", "Version": "2014-10-31",
            "DBClusterSnapshotIdentifier": name}  # fmt: skip


def turn_describes_into(rds: Any, body: object) -> None:
    """A before-call handler that makes every DescribeDBClusters of ``rds`` send ``body``."""

    def turn(params: dict[str, Any], **_: Any) -> None:
        params["body"] = body

    rds.meta.events.register("before-call.rds.DescribeDBClusters", turn)


HELD = delete_body("held")
DESCRIBE = {"Action": "DescribeDBClusters", "Version": "2014-10-31"}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (HELD, ("deletion.hold", "Tags.legal-hold")),
        (urllib.parse.urlencode(HELD), ("deletion.hold", "Tags.legal-hold")),
        (urllib.parse.urlencode(HELD).encode(), ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": "deletedbclustersnapshot"}, ("request.changed", "Action")),
        (
            {
                **DESCRIBE,
                "action": "DeleteDBClusterSnapshot",
                "DBClusterSnapshotIdentifier": "held",
            },
            ("request.changed", "body"),
        ),
        (
            urllib.parse.urlencode(DESCRIBE) + "&Action=DeleteDBClusterSnapshot"
            "&DBClusterSnapshotIdentifier=held",
            ("request.changed", "body"),
        ),
    ],
    ids=["dict", "text", "bytes", "action-lowercased", "second-action-key", "action-twice"],
)
def test_a_describe_made_into_the_delete_of_a_held_snapshot_is_blocked(
    moto_server: MotoServer, tmp_path: Path, body: object, rule: tuple[str, str]
) -> None:
    """Its Action named in any case, or given twice (which one the service reads is not
    known): judged as the delete, blocked, and recorded; nothing sent."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)
    turn_describes_into(rds, body)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.describe_db_clusters()
    assert rule in [(v.rule, v.field) for v in caught.value.violations]
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert "held" in snapshots_left(moto_server)
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")
    assert turned_note("DescribeDBClusters") in blocked["notes"]


def test_in_warn_mode_a_describe_made_into_a_delete_is_sent_and_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode sends it, as without the guard, and records it as the delete it became,
    before and after (botocore reads the delete's answer as a describe's, and raises: the
    outcome is unknown), with the rule it breaks; a describe left as it is gets no record."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)
    rds.describe_db_clusters()
    assert audit_records(tmp_path) == []
    turn_describes_into(rds, delete_body("held"))
    moto_server.reset_counts()
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):  # botocore's, as unguarded
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    assert "held" not in snapshots_left(moto_server)
    requested, deleted = audit_records(tmp_path)
    # botocore parses the delete's answer as a describe's and raises: the outcome is unknown
    assert (requested["event"], deleted["event"]) == ("requested", "unknown")
    assert requested["call"] == deleted["call"] and requested["snapshot"] == "held"
    assert "deletion.hold" in [v["rule"] for v in requested["violations"]]


def test_a_describe_made_into_an_allowed_delete_is_sent_and_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)
    turn_describes_into(rds, delete_body("free"))
    moto_server.reset_counts()
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):  # botocore's, as unguarded
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    requested, deleted = audit_records(tmp_path)
    assert (requested["event"], requested["snapshot"], requested["violations"]) == (
        "requested",
        "free",
        [],
    )
    assert deleted["event"] == "unknown" and turned_note("DescribeDBClusters") in requested["notes"]
    bare = moto_server.client("rds")  # the same handler without the guard: the same error
    turn_describes_into(bare, delete_body("held"))
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):
        bare.describe_db_clusters()

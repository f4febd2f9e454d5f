"""Edges of `rds_guard.guard.turned`: a request another handler made into a guarded call is
read as it is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_client, make_cluster
from odd_values import EncodesAs
from policies import HOLD_ONLY, write_policy
from servers import MotoServer

import rds_guard


@pytest.mark.parametrize("where", ["name", "value"])
def test_a_describe_whose_body_is_sent_as_a_delete_is_judged_as_that_delete(
    moto_server: MotoServer, tmp_path: Path, where: str
) -> None:
    """A before-call handler replaces a describe's body with one sent as the delete of a
    snapshot on hold, through a string's own ``encode()``: a key that reads ``Note`` and is
    sent as ``Action``, or an ``Action`` that reads ``DescribeDBClusters``. The guard reads
    the body as botocore sends it, judges the delete and blocks it; nothing deleted."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )

    def turn(params: dict[str, Any], **_: Any) -> None:
        action: dict[str, str] = (
            {EncodesAs("Note", "Action"): "DeleteDBClusterSnapshot"}
            if where == "name"
            else {"Action": EncodesAs("DescribeDBClusters", "DeleteDBClusterSnapshot")}
        )
        params["body"] = {
            **action,
            "Version": "2014-10-31",
            "DBClusterSnapshotIdentifier": "held",
        }

    rds.meta.events.register("before-call.rds.DescribeDBClusters", turn)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.describe_db_clusters()
    assert caught.value.operation == "DeleteDBClusterSnapshot"
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="held")
    assert len(found["DBClusterSnapshots"]) == 1
    blocked = audit_records(tmp_path)[-1]
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")

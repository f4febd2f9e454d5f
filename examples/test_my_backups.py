"""The pytest plugin in use: a team's backup code, tested against the snapshot policy.

Run it with the policy named on the command line (or by ``rds_guard_policy`` in the
``[pytest]`` ini, or found as ``$RDS_GUARD_POLICY`` / ``./rds_guard.toml``)::

    pytest examples/test_my_backups.py --rds-guard-policy examples/rds_guard.toml

``take_backup`` is the code under test. The ``rds`` fixture depends on ``rds_guard_policy``,
so its client is created after the guard is installed: a client created at import time would
not be guarded. moto stands in for AWS, as in the team's other tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

import rds_guard

TODAY = datetime.now(UTC).strftime("%Y%m%d")


def take_backup(rds: Any, cluster: str, kind: str = "daily") -> str:
    """The team's backup code: snapshot ``cluster`` as ``<cluster>-<kind>-<date>``."""
    name = f"{cluster}-{kind}-{TODAY}"
    rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name)
    return name


@pytest.fixture
def rds(rds_guard_policy: rds_guard.Guard) -> Iterator[Any]:
    """An RDS client made after the guard, with an ``orders`` cluster that passes its tags on."""
    with mock_aws():
        client = boto3.client("rds", region_name="us-east-1")
        client.create_db_cluster(
            DBClusterIdentifier="orders",
            Engine="aurora-postgresql",
            MasterUsername="admin",
            MasterUserPassword="not-a-real-password",
            CopyTagsToSnapshot=True,
            Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}],
        )
        yield client


def test_daily_backup_is_compliant_and_keeps_the_cluster_tags(
    rds: Any, rds_guard_audit: Callable[[], list[dict[str, Any]]]
) -> None:
    """The snapshot is made, with the cluster's tags and the policy's, and audited."""
    name = take_backup(rds, "orders")
    arn = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)["DBClusterSnapshots"][
        0
    ]["DBClusterSnapshotArn"]
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
    assert tags["team"] == "orders" and tags["env"] == "prod"
    assert tags["backup-policy"] == "standard-35d"
    assert [record["event"] for record in rds_guard_audit()] == ["requested", "created"]


def test_weekly_backup_breaks_the_naming_policy(rds: Any) -> None:
    """``weekly`` is not in the policy's pattern: the call is stopped before it is sent."""
    with pytest.raises(rds_guard.PolicyViolation) as blocked:
        take_backup(rds, "orders", kind="weekly")
    assert [violation.rule for violation in blocked.value.violations] == ["identifier.pattern"]
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []

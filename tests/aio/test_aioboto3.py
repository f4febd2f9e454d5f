"""The guard inside aioboto3: `rds_guard.install(aioboto3.Session(), ...)` guards the
session's async clients, against the moto server over HTTP. Run by `make test` in an
environment of its own (aioboto3 pins aiobotocore, which pins botocore)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aioboto3
import pytest
from aws import audit_records, make_cluster, snapshot_tags
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"


def test_an_aioboto3_session_is_guarded(moto_server: MotoServer, tmp_path: Path) -> None:
    make_cluster(moto_server.client("rds"), copy_tags=True, tags={"team": "core"})
    session = aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    guard = rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))

    async def work() -> None:
        async with session.client("rds", endpoint_url=moto_server.url) as rds:
            with pytest.raises(rds_guard.PolicyViolation):
                await rds.create_db_cluster_snapshot(
                    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
                )
            await rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
            )

    asyncio.run(asyncio.wait_for(work(), timeout=120))
    assert guard.active
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert snapshot_tags(moto_server.client("rds"), GOOD) == {
        "team": "core",
        "managed-by": "rds-guard",
    }
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked", "requested", "created"]

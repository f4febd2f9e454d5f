"""A writer that holds the audit log's lock and hangs stops no guarded call for good: after
the policy's `lock_timeout` the call fails with `AuditError` naming the file, nothing sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from audit_helpers import make_log, stopped_lock_holder
from aws import guarded_client, make_cluster
from policies import AUDITED, write_policy
from servers import MotoServer

from rds_guard.errors import AuditError


def test_a_stopped_lock_holder_fails_the_call_in_time_and_nothing_is_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    policy = write_policy(
        tmp_path, AUDITED.replace("fsync = false", "fsync = false\nlock_timeout = 0.3")
    )
    rds = guarded_client(policy, on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    log = tmp_path / "audit.jsonl"
    make_log(log, 1)
    with stopped_lock_holder(log):
        started = time.monotonic()
        with pytest.raises(AuditError) as caught:
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-20261129"
            )
        assert time.monotonic() - started < 30
    assert str(log) in str(caught.value)
    assert moto_server.count("CreateDBClusterSnapshot") == 0

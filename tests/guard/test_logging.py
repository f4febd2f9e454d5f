"""Logs people read: one short line per guarded call at INFO on `rds_guard`, and nothing else
of the package at INFO but the JSON records on `rds_guard.audit`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from aws import guarded_client, make_cluster
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"


def test_one_line_per_guarded_call(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    with caplog.at_level(logging.DEBUG, logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
        with pytest.raises(rds_guard.PolicyViolation):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
            )
        rds.describe_db_clusters()
    lines = [r for r in caplog.records if r.name == "rds_guard" and r.levelno == logging.INFO]
    assert [r.getMessage() for r in lines] == [
        f"rds CreateDBClusterSnapshot {GOOD}: allowed; tags added: managed-by; kept: team",
        "rds CreateDBClusterSnapshot test2: blocked: identifier.pattern",
    ]
    others = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name not in ("rds_guard", "rds_guard.audit")
    ]
    assert [r.name for r in others if r.name.startswith("rds_guard")] == []
    audit = [r for r in caplog.records if r.name == "rds_guard.audit"]
    assert [json.loads(r.getMessage())["event"] for r in audit] == [
        "requested",
        "created",
        "blocked",
    ]

"""The AWS CLI plugin in-process, on a botocore session as the ``aws`` command makes one: the
guard installed once for all of a command's clients; and the pytest plugin's fixtures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from audit_helpers import records_of
from aws import make_cluster
from policies import EXAMPLE, write_policy
from servers import MotoServer

import rds_guard.awscli

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

TODAY = datetime.now(UTC).strftime("%Y%m%d")
CLUSTER_TAGS = {"team": "orders", "env": "prod"}


def test_the_plugin_loads_the_policy_once_for_all_of_a_command_s_clients(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two rds clients made before the first guarded operation: the policy is loaded at that
    operation, once; the other client's calls are judged by it (a policy file changed since
    is not read again), each call recorded once (requested, then created)."""
    log = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, EXAMPLE)
    monkeypatch.setenv("RDS_GUARD_POLICY", str(policy))
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(log))
    session = botocore.session.Session()
    rds_guard.awscli.awscli_initialize(session.get_component("event_emitter"))
    first = moto_server.client("rds", session=session)
    second = moto_server.client("rds", session=session)
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    tags = [{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}]
    first.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=f"orders-daily-{TODAY}", Tags=tags
    )
    policy.write_text("this is [not a policy\n")
    second.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=f"orders-manual-{TODAY}",
        Tags=tags,
    )
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        second.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="Test2", Tags=tags
        )
    assert [r["event"] for r in records_of(log)] == ["requested", "created"] * 2 + ["blocked"]
    assert moto_server.count("CreateDBClusterSnapshot") == 2


SHARED_LOG_TEST = """
import os
import subprocess
import sys

import boto3
from moto import mock_aws

from aws import make_cluster

WRITE = (
    "import sys; from rds_guard import audit;"
    " audit.AuditLog(sys.argv[1], fsync=False, policy_sha256=sys.argv[2])"
    ".write('blocked', call='other')"
)


@mock_aws
def test_shared(rds_guard_policy, rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    log = os.environ["RDS_GUARD_AUDIT_PATH"]
    subprocess.run([sys.executable, "-c", WRITE, log, rds_guard_policy.policy.sha256], check=True)
    assert rds_guard_audit() == []
"""


def test_audit_callable_leaves_out_another_process_s_records_under_the_same_policy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a log several processes share ($RDS_GUARD_AUDIT_PATH), another process's record is
    not the test's, even when that process's guard runs with the same policy (a parallel
    worker of the same suite)."""
    pytester.syspathinsert(TESTS)
    write_policy(pytester.path, EXAMPLE)
    shared = pytester.path / "shared.jsonl"
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(shared))
    pytester.makepyfile(test_shared=SHARED_LOG_TEST)
    result = pytester.runpytest("--rds-guard-policy", "rds_guard.toml")
    result.assert_outcomes(passed=1)
    assert shared.read_text().count('"event":"blocked"') == 1

"""`rds_guard.install(policy=...)` without a target guards boto3's default session: the one
`boto3.client()` uses now, and one `boto3.setup_default_session` sets up later."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from aws import REGION, make_cluster
from policies import STRICT, write_policy
from servers import MotoServer

import rds_guard


def blocked(client: object) -> bool:
    try:
        client.create_db_cluster_snapshot(  # type: ignore[attr-defined]
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    except rds_guard.PolicyViolation:
        return True
    return False


def test_boto3_client_is_guarded_and_so_is_a_later_default_session(
    moto_inprocess: None, tmp_path: Path
) -> None:
    original = boto3.setup_default_session
    make_cluster(boto3.client("rds", region_name=REGION))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        assert guard.active
        assert blocked(boto3.client("rds", region_name=REGION))
        boto3.setup_default_session(region_name=REGION)
        assert blocked(boto3.client("rds"))
    finally:
        guard.uninstall()
    assert boto3.setup_default_session is original
    assert not blocked(boto3.client("rds", region_name=REGION))


@pytest.mark.parametrize("route", ["saved-setup-function", "set-directly"])
def test_a_default_session_put_in_place_otherwise_is_guarded_too(
    moto_server: MotoServer, tmp_path: Path, route: str
) -> None:
    """`from boto3 import setup_default_session`, taken before the install, calls boto3's own
    function; a program may also set `boto3.DEFAULT_SESSION` itself. The session
    `boto3.client()` then uses is guarded all the same (it was not, and the guard said it was
    active): nothing is sent."""
    setup, fetch = boto3.setup_default_session, boto3._get_default_session
    make_cluster(moto_server.client("rds"))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        if route == "saved-setup-function":
            setup(region_name=REGION)
        else:
            boto3.DEFAULT_SESSION = boto3.Session(region_name=REGION)
        moto_server.reset_counts()
        assert guard.active
        assert blocked(boto3.client("rds", endpoint_url=moto_server.url))
        assert moto_server.count("CreateDBClusterSnapshot") == 0
    finally:
        guard.uninstall()
        boto3.DEFAULT_SESSION = None
    assert (boto3.setup_default_session, boto3._get_default_session) == (setup, fetch)


def test_a_session_of_ones_own_is_not_the_default_one(moto_inprocess: None, tmp_path: Path) -> None:
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        own = boto3.Session(region_name=REGION).client("rds")
        make_cluster(own)
        assert not blocked(own)
    finally:
        guard.uninstall()


def test_without_boto3_a_target_is_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(TypeError, match="boto3 is not installed"):
        rds_guard.install(policy=write_policy(tmp_path, STRICT))

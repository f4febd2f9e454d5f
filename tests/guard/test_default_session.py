"""`rds_guard.install(policy=...)` without a target guards boto3's default session: the one
`boto3.client()` uses now, and one `boto3.setup_default_session` sets up later."""

from __future__ import annotations

import types
from pathlib import Path

import boto3
import botocore.exceptions
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


def blocked_and_unsent(guard: rds_guard.Guard, client: object, server: MotoServer) -> bool:
    """``guard`` is active, and the call it forbids, made through ``client``, is blocked and
    never reaches ``server``."""
    server.reset_counts()
    return guard.active and blocked(client) and server.count("CreateDBClusterSnapshot") == 0


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


@pytest.mark.parametrize("route", ["saved-setup-function", "assigned"])
def test_clients_made_from_boto3_default_session_itself_are_guarded(
    moto_server: MotoServer, tmp_path: Path, route: str
) -> None:
    """A default session boto3's own `setup_default_session` put in place (a reference taken
    before the install), or one a program set itself, was hooked only when `boto3.client()`
    next fetched it: a client made from `boto3.DEFAULT_SESSION` before then was not guarded,
    its call sent and unrecorded, while the guard said it was active. The session is hooked
    as `boto3.DEFAULT_SESSION` is read or set; after the uninstall boto3 is a plain module."""
    setup = boto3.setup_default_session
    make_cluster(moto_server.client("rds"))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        assert not hasattr(boto3, "hook") and "hook" not in dir(boto3)  # no name of boto3's
        if route == "saved-setup-function":
            setup(region_name=REGION)
            client = boto3.DEFAULT_SESSION.client("rds", endpoint_url=moto_server.url)
        else:
            session = boto3.Session(region_name=REGION)
            boto3.DEFAULT_SESSION = session
            client = session.client("rds", endpoint_url=moto_server.url)
        assert blocked_and_unsent(guard, client, moto_server)
    finally:
        guard.uninstall()
        boto3.DEFAULT_SESSION = None
    assert type(boto3) is types.ModuleType


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


def test_the_default_session_in_place_is_guarded_at_install(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A client of the default session in place, made with ``boto3.DEFAULT_SESSION.client``
    (not through ``boto3.client``, which fetches the session): the session was hooked only
    at the next fetch, so the client went unguarded, sent, while the guard said active."""
    boto3.setup_default_session(region_name=REGION)
    make_cluster(moto_server.client("rds"))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        client = boto3.DEFAULT_SESSION.client("rds", endpoint_url=moto_server.url)
        assert blocked_and_unsent(guard, client, moto_server)
    finally:
        guard.uninstall()
        boto3.DEFAULT_SESSION = None


def test_the_latest_install_is_in_force_on_a_session_guarded_both_ways(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """Guarded directly (a), as the default (b), then directly again (c): c, the latest
    install, is in force (the default session's hook, made after the direct one, won)."""
    boto3.setup_default_session(region_name=REGION)
    session = boto3.DEFAULT_SESSION
    warn = (
        'version = 1\nmode = "warn"\n[naming]\npattern = "^orders-.*$"\n[audit]\nenabled = false\n'
    )
    guards = [
        rds_guard.install(session, policy=write_policy(tmp_path / "a", warn)),
        rds_guard.install(policy=write_policy(tmp_path / "b", warn)),
        rds_guard.install(session, policy=write_policy(tmp_path / "c", STRICT)),
    ]
    try:
        boto3.client("rds")
        client = session.client("rds")
        make_cluster(client)
        assert blocked(client)
        guards[2].uninstall()  # then b, the latest of those left
        assert not blocked(client)
    finally:
        for guard in guards:
            guard.uninstall()
        boto3.DEFAULT_SESSION = None


def test_a_default_session_that_cannot_be_made_fails_where_it_fails_without_the_guard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A profile that does not exist: the install makes no default session, so it raises
    nothing; ``boto3.client`` raises botocore's error, as it does without the guard; the
    uninstall leaves boto3's functions its own (installs and uninstalls never wrap them
    twice)."""
    setup, fetch = boto3.setup_default_session, boto3._get_default_session
    policy = write_policy(tmp_path, STRICT)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    guard = rds_guard.install(policy=policy)
    try:
        assert boto3.DEFAULT_SESSION is None
        with pytest.raises(botocore.exceptions.ProfileNotFound):
            boto3.client("rds", region_name=REGION)
    finally:
        guard.uninstall()
    assert (boto3.setup_default_session, boto3._get_default_session) == (setup, fetch)
    monkeypatch.delenv("AWS_PROFILE")
    rds_guard.install(policy=policy).uninstall()
    assert (boto3.setup_default_session, boto3._get_default_session) == (setup, fetch)


def test_a_program_that_sets_up_the_default_session_when_there_is_none_still_does(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Installed first, as the README says, with no default session yet: the install makes
    none (it made one from the environment, so a program that sets up its own only when
    ``boto3.DEFAULT_SESSION`` is None skipped its region and credentials, and talked to the
    environment's region). The program's session is the one its clients use, guarded."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    make_cluster(moto_server.client("rds"))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        assert boto3.DEFAULT_SESSION is None
        if boto3.DEFAULT_SESSION is None:  # the program's own set-up
            boto3.setup_default_session(region_name=REGION)
        client = boto3.client("rds", endpoint_url=moto_server.url)
        assert client.meta.region_name == REGION
        assert blocked_and_unsent(guard, client, moto_server)
    finally:
        guard.uninstall()
        boto3.DEFAULT_SESSION = None


@pytest.mark.parametrize("target", ["a-session", "the-default-session"])
def test_a_guard_the_program_does_not_keep_stays_in_force_through_collections(
    moto_server: MotoServer, tmp_path: Path, target: str
) -> None:
    """The table of each session's guards holds them weakly (a dropped session's go with
    it): the session holds its own, and boto3 its default session's. A program that installs
    and keeps nothing but the session (or nothing at all) is guarded after any number of
    collections, by the same guard: nothing is sent."""
    import gc
    import weakref

    policy = write_policy(tmp_path, STRICT)
    make_cluster(moto_server.client("rds"))
    session = boto3.Session(region_name=REGION) if target == "a-session" else None
    guard = rds_guard.install(session, policy) if session else rds_guard.install(policy=policy)
    installed = weakref.ref(guard)
    del guard
    try:
        for _ in range(3):
            gc.collect()
        assert installed() is not None, "the guard was collected"
        client = moto_server.client("rds", session=session or boto3._get_default_session())
        gc.collect()
        assert blocked(client)
        assert moto_server.count("CreateDBClusterSnapshot") == 0
    finally:
        kept = installed()
        if kept is not None:
            kept.uninstall()

"""A request another handler makes to be signed for another region than its client's, after
the guard judged the call there: the service acts on that region's resources, which the guard
never read. moto's server reads the region from the request's signature, as AWS does, so the
handler reaches the other region's snapshot: a snapshot of the same name under a legal hold
there was deleted, judged by the unheld one of the client's region. Requests counted at the
server, by action."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from audit_helpers import records_of
from aws import REGION, make_cluster
from policies import BACKUPS, write_policy
from servers import MotoServer

import rds_guard

OTHER = "us-west-2"
SNAPSHOT = "orders-snap"


def _sign_elsewhere(context: dict[str, Any], **_: Any) -> None:
    context.setdefault("signing", {})["region"] = OTHER


def _before_call_on_the_client(session: Any, rds: Any) -> None:
    rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", _sign_elsewhere)


def _request_created_on_the_session(session: Any, rds: Any) -> None:
    """Last under the operation's name, on the session before its client is made: it runs
    after the guard held the request and recorded it. (Under the service's name it would
    send the guard's reads to ``OTHER`` too, where they find the hold.)"""

    def handler(request: Any, **_: Any) -> None:
        _sign_elsewhere(request.context)

    session.events.register_last("request-created.rds.DeleteDBClusterSnapshot", handler)


class _Signing:
    """A signing context that is no mapping: botocore's signer only calls its ``get`` and
    ``[]``."""

    def __init__(self, region: str) -> None:
        self.region = region

    def get(self, key: str, default: object = None) -> object:
        return self.region if key == "region" else default

    def __getitem__(self, key: str) -> object:
        if key != "region":
            raise KeyError(key)
        return self.region


class _EqualToAny(str):
    """A region that says it equals any other."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        return True


class _Context(dict[str, Any]):
    """A request context of another class than dict, as a handler may give a request."""


def _no_mapping_on_the_client(session: Any, rds: Any) -> None:
    def handler(context: dict[str, Any], **_: Any) -> None:
        context["signing"] = _Signing(OTHER)

    rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)


def _equal_to_any_on_the_client(session: Any, rds: Any) -> None:
    def handler(context: dict[str, Any], **_: Any) -> None:
        context["signing"] = {"region": _EqualToAny(OTHER)}

    rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)


def _context_replaced_on_the_client(session: Any, rds: Any) -> None:
    """After the guard's ``request-created`` handler: a context of its own, signed elsewhere."""

    def handler(request: Any, **_: Any) -> None:
        request.context = _Context(request.context, signing={"region": OTHER})

    rds.meta.events.register("request-created.rds.DeleteDBClusterSnapshot", handler)


PLACES: dict[str, Callable[[Any, Any], None]] = {
    "before-call on the client": _before_call_on_the_client,
    "request-created on the session, after the guard's": _request_created_on_the_session,
    "a signing context that is no mapping": _no_mapping_on_the_client,
    "a region equal to any": _equal_to_any_on_the_client,
    "a context of another class, after the guard's request-created": (
        _context_replaced_on_the_client
    ),
}


def _rig(
    moto_server: MotoServer, tmp_path: Path, mode: str, place: Callable[[Any, Any], None]
) -> tuple[Any, Any, Any]:
    """A guarded rds client of ``REGION``, the program's handler in its ``place``; plain
    clients of both regions, each with cluster ``orders`` and its snapshot ``SNAPSHOT``, held
    only in ``OTHER``."""
    plains = []
    for region, tags in ((REGION, []), (OTHER, [{"Key": "legal-hold", "Value": "true"}])):
        plain = moto_server.client("rds", region_name=region)
        make_cluster(plain)
        plain.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=SNAPSHOT, Tags=tags
        )
        plains.append(plain)
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    moto_server.attach(session)
    policy = BACKUPS.replace("minimum_age_days = 7\n", "")
    rds_guard.install(session, policy=write_policy(tmp_path, policy, mode=mode))
    if place is _request_created_on_the_session:
        place(session, None)
    rds = moto_server.client("rds", session=session)
    if place is not _request_created_on_the_session:
        place(session, rds)
    moto_server.reset_counts()
    return rds, plains[0], plains[1]


def _snapshots(plain: Any) -> list[str]:
    found = plain.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return [s["DBClusterSnapshotIdentifier"] for s in found]


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_a_delete_signed_for_another_region_is_never_sent(
    moto_server: MotoServer, tmp_path: Path, place: Callable[[Any, Any], None]
) -> None:
    """The held snapshot of ``OTHER`` was deleted, the records saying ``deleted`` in
    ``REGION``. Now: ``request.changed`` on ``region``, nothing sent, both still there."""
    rds, here, there = _rig(moto_server, tmp_path, "enforce", place)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] region") as caught:
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert f"signed for another region ({OTHER})" in str(caught.value)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert _snapshots(here) == [SNAPSHOT] and _snapshots(there) == [SNAPSHOT]
    records = records_of(tmp_path / "audit.jsonl")
    assert records[-1]["event"] in {"blocked", "unknown"}
    assert any(
        v["rule"] == "request.changed" and v["field"] == "region"
        for r in records
        for v in r["violations"]
    )


def test_in_warn_mode_it_goes_and_is_recorded_once_as_changed(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warned and sent, as a change in warn mode is: the ``requested`` record says
    ``request.changed`` on ``region`` once (held at ``request-created``, not again at
    signing); the outcome is ``unknown`` (it is no call the guard judged), with the ARN the
    service answered with, of ``OTHER``."""
    rds, _, there = _rig(moto_server, tmp_path, "warn", _before_call_on_the_client)
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert moto_server.count("DeleteDBClusterSnapshot") == 1 and _snapshots(there) == []
    records = records_of(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["requested", "unknown"]
    assert [(v["rule"], v["field"]) for v in records[0]["violations"]] == [
        ("request.changed", "region")
    ]
    assert f":rds:{OTHER}:" in records[1]["arn"]


def test_a_handler_naming_the_clients_own_region_changes_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Signing set to the client's own region, as an endpoint's rules may: no violation."""

    def same(_: Any, rds: Any) -> None:
        def handler(context: dict[str, Any], **_: Any) -> None:
            context.setdefault("signing", {})["region"] = REGION

        rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)

    rds, here, there = _rig(moto_server, tmp_path, "enforce", same)
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    assert _snapshots(here) == [] and _snapshots(there) == [SNAPSHOT]
    events = [(r["event"], r["violations"]) for r in records_of(tmp_path / "audit.jsonl")]
    assert events == [("requested", []), ("deleted", [])]


@pytest.mark.parametrize("event", ["choose-signer", "before-sign"])
def test_a_presigned_url_signed_for_another_region_is_refused(
    moto_server: MotoServer, tmp_path: Path, event: str
) -> None:
    """The client's presign, its signing region set by a handler as it is signed: the URL's
    credential scope names ``OTHER``, where a GET deleted the held snapshot, recorded
    ``presigned`` in the client's region. Refused: no URL, nothing recorded as presigned."""

    def place(_: Any, rds: Any) -> None:
        def handler(context: Any = None, request: Any = None, **_: Any) -> None:
            _sign_elsewhere(context if context is not None else request.context)

        rds.meta.events.register(f"{event}.rds.DeleteDBClusterSnapshot", handler)

    rds, _, there = _rig(moto_server, tmp_path, "enforce", place)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] region"):
        rds.generate_presigned_url(
            "delete_db_cluster_snapshot", Params={"DBClusterSnapshotIdentifier": SNAPSHOT}
        )
    assert _snapshots(there) == [SNAPSHOT]
    assert "presigned" not in [r["event"] for r in records_of(tmp_path / "audit.jsonl")]


class _TwoFaced(dict[str, Any]):
    """A signing context whose ``get`` says the client's region, its ``[]`` another: botocore
    asks the first whether there is one, and signs for the second."""

    def get(self, key: str, default: object = None) -> object:
        return REGION if key == "region" else super().get(key, default)


def test_a_region_read_as_botocore_reads_it_is_judged_so(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The region the signer signs for is the ``["region"]`` of a signing context whose
    ``get("region")`` is true: one whose ``get`` says the client's region was taken for it."""

    def place(_: Any, rds: Any) -> None:
        def handler(context: dict[str, Any], **__: Any) -> None:
            context["signing"] = _TwoFaced(region=OTHER)

        rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)

    rds, _, there = _rig(moto_server, tmp_path, "enforce", place)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed\] region"):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0 and _snapshots(there) == [SNAPSHOT]


def test_a_request_given_credentials_of_its_own_is_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler that has the request signed with other credentials (its context's
    ``request_credentials``, which botocore's signer takes over the client's): the service
    acts as another principal, whose resources were never read. ``request.changed`` on
    ``credentials``, their values never shown; nothing sent."""
    from botocore.credentials import Credentials

    def place(_: Any, rds: Any) -> None:
        def handler(context: dict[str, Any], **__: Any) -> None:
            other = Credentials("AKIAOTHERACCOUNT0001", "other-secret-key")
            context.setdefault("signing", {})["request_credentials"] = other

        rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)

    rds, here, _ = _rig(moto_server, tmp_path, "enforce", place)
    with pytest.raises(
        rds_guard.PolicyViolation, match=r"request\.changed\] credentials"
    ) as caught:
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert "other-secret-key" not in str(caught.value)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0 and _snapshots(here) == [SNAPSHOT]
    assert "other-secret-key" not in (tmp_path / "audit.jsonl").read_text()


def test_a_signing_context_that_cannot_be_read_fails_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler's signing context whose ``get`` raises: the guard reads nothing of it (no
    error of its own, no violation) and botocore's signer raises the handler's error as it
    reads it, as on a bare client; nothing sent either way."""

    class Unreadable(dict[str, Any]):
        def get(self, key: str, default: object = None) -> object:
            raise LookupError(f"no {key} here")

    def handler(context: dict[str, Any], **_: Any) -> None:
        context["signing"] = Unreadable()

    rds, _, _ = _rig(moto_server, tmp_path, "enforce", lambda _s, c: None)
    bare = moto_server.client("rds")
    for client in (bare, rds):
        client.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", handler)
        with pytest.raises(LookupError, match=r"no \w+ here"):
            client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=SNAPSHOT)
    assert moto_server.count("DeleteDBClusterSnapshot") == 0

"""The AWS side of the integration tests, in one place: clusters and instances to snapshot, a
snapshot's tags, guarded sessions and clients and the records their guards wrote, a count of
what a client sent, and IAM's refusal of one operation (`deny`).

Everything here talks to whatever answers the client: moto in-process (``moto_inprocess``),
the moto server or the DocumentDB fake (tests/servers.py, with their own request counts). The
policies the guard is installed with are in tests/policies.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import boto3
from audit_helpers import records_of
from botocore.awsrequest import AWSResponse
from botocore.credentials import RefreshableCredentials
from core_fixtures import tag_dict, tag_list
from servers import DocDBResponder, MotoServer, raw_response

import rds_guard
from rds_guard.records import CONTEXT_KEY

REGION = "us-east-1"
PASSWORD = "password-1"
ENGINES = {"rds": "aurora-postgresql", "docdb": "docdb", "neptune": "neptune"}
"""The cluster engine each service's `make_cluster` asks for (moto refuses docdb's)."""

_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def service_of(client: Any) -> str:
    """``"rds"``, ``"docdb"`` or ``"neptune"``: the service ``client`` calls."""
    name: str = client.meta.service_model.service_name
    return name


def make_cluster(
    client: Any,
    name: str = "orders",
    *,
    copy_tags: bool = False,
    tags: Mapping[str, str] | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Create cluster ``name`` through ``client`` (a master user, but for a Neptune client,
    which has none); returns the DBCluster the service answers with.

    ``copy_tags``: send CopyTagsToSnapshot=True (else it is not sent: false, as on AWS);
    ``tags``: the cluster's own tags (None: no Tags sent); ``engine``: the client's service's
    engine unless given (moto's rds API also makes neptune clusters).
    """
    service = service_of(client)
    params: dict[str, Any] = {"DBClusterIdentifier": name, "Engine": engine or ENGINES[service]}
    if copy_tags:
        params["CopyTagsToSnapshot"] = True
    if service != "neptune":
        params.update(MasterUsername="admin", MasterUserPassword=PASSWORD)
    if tags is not None:
        params["Tags"] = tag_list(tags)
    cluster: dict[str, Any] = client.create_db_cluster(**params)["DBCluster"]
    return cluster


def east_and_west(server: Any, source: str) -> Any:
    """On ``server`` (a `servers.MotoServer`): cluster ``orders`` (team core) in us-east-1
    with snapshot ``source``, and one in us-west-2 with snapshot ``victim``, each made by a
    plain client; returns the us-east-1 one (to name the source of a cross-region copy)."""
    east = server.client("rds")
    make_cluster(east, tags={"team": "core"})
    east.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=source
    )
    west = server.client("rds", region="us-west-2")
    make_cluster(west, tags={"team": "core"})
    west.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="victim"
    )
    return east


def assert_a_copy_and_a_delete_of_its_own(records: list[dict[str, Any]]) -> None:
    """The records of a copy requested, then of a delete made from its handler (requested and
    deleted under an id of its own), then the copy's outcome."""
    calls = [(r["event"], r["call"], r["operation"]) for r in records]
    copy_call, delete_call = calls[0][1], calls[1][1]
    assert calls[:3] == [
        ("requested", copy_call, "CopyDBClusterSnapshot"),
        ("requested", delete_call, "DeleteDBClusterSnapshot"),
        ("deleted", delete_call, "DeleteDBClusterSnapshot"),
    ]
    assert len(calls) == 4 and calls[3][1:] == (copy_call, "CopyDBClusterSnapshot")


def make_instance(
    client: Any, name: str, *, copy_tags: bool = False, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Create a small PostgreSQL instance ``name`` through ``client``; returns its DBInstance.

    ``copy_tags`` and ``tags`` as for `make_cluster`.
    """
    params: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "AllocatedStorage": 20,
        "MasterUsername": "admin",
        "MasterUserPassword": PASSWORD,
    }
    if copy_tags:
        params["CopyTagsToSnapshot"] = True
    if tags is not None:
        params["Tags"] = tag_list(tags)
    instance: dict[str, Any] = client.create_db_instance(**params)["DBInstance"]
    return instance


def make_member(client: Any, name: str, cluster: str = "orders") -> dict[str, Any]:
    """Create instance ``name`` in ``cluster`` through ``client``, with the cluster engine of
    the client's service (`ENGINES`); returns its DBInstance."""
    instance: dict[str, Any] = client.create_db_instance(
        DBInstanceIdentifier=name,
        DBClusterIdentifier=cluster,
        Engine=ENGINES[service_of(client)],
        DBInstanceClass="db.r5.large",
    )["DBInstance"]
    return instance


def tags_of(client: Any, arn: str) -> dict[str, str]:
    """The tags the service holds for the resource ``arn``."""
    return tag_dict(client.list_tags_for_resource(ResourceName=arn)["TagList"])


def snapshot_arn(client: Any, snapshot: str) -> str:
    """The ARN of cluster snapshot ``snapshot``, as the service describes it."""
    found = client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)
    arn: str = found["DBClusterSnapshots"][0]["DBClusterSnapshotArn"]
    return arn


def snapshot_tags(client: Any, snapshot: str) -> dict[str, str]:
    """The tags the service holds for cluster snapshot ``snapshot``."""
    return tags_of(client, snapshot_arn(client, snapshot))


HOUSE_NAME = "orders-manual-20261201"
HOUSE_TAGS = ({"Key": "team", "Value": "core"},)


def house_defaults(params: dict[str, Any], model: Any, **_: Any) -> None:
    """A program's own ``before-parameter-build`` handler: a name and tags for a cluster
    snapshot made without them (registered under the service's name, it runs after the
    guard's handler, which is under the operation's)."""
    if model.name == "CreateDBClusterSnapshot":
        params.setdefault("DBClusterSnapshotIdentifier", HOUSE_NAME)
        params.setdefault("Tags", [dict(tag) for tag in HOUSE_TAGS])


def guarded_session(
    policy: Path | rds_guard.Policy,
    *,
    on: MotoServer | DocDBResponder | None = None,
    audit_path: Path | None = None,
) -> tuple[Any, rds_guard.Guard]:
    """A boto3 session (us-east-1, dummy credentials whatever the environment says) with a
    guard installed from ``policy``, and that guard.

    ``on``: the fake that answers the session's clients (attached to the session); None for
    in-process moto, or for clients a test points somewhere itself.
    """
    session = boto3.Session(region_name=REGION, **_DUMMY_CREDENTIALS)
    if on is not None:
        on.attach(session)
    return session, rds_guard.install(session, policy=policy, audit_path=audit_path)


def guarded_client(
    policy: Path | rds_guard.Policy,
    service: str = "rds",
    *,
    on: MotoServer | DocDBResponder | None = None,
    region: str = REGION,
    audit_path: Path | None = None,
) -> Any:
    """A client of ``service`` made from a `guarded_session`: of the moto server when ``on`` is
    one (its requests counted there), else answered in-process (moto, or the DocumentDB fake
    given as ``on``)."""
    session, _ = guarded_session(policy, on=on, audit_path=audit_path)
    if isinstance(on, MotoServer):
        return on.client(service, region=region, session=session)
    return session.client(service, region_name=region)


def audit_records(folder: Path) -> list[dict[str, Any]]:
    """The records in ``folder``'s ``audit.jsonl``, where the policies of tests/policies.py
    written there send them, oldest first; none while there is no log."""
    path = folder / "audit.jsonl"
    return records_of(path) if path.exists() else []


class SentCounter:
    """``before-send`` handler: the operations that reached the wire, in order (in-process
    moto answers in ``before-send`` too, after this handler)."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, event_name: str, **_: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


def count_sent(client: Any) -> SentCounter:
    """Start counting the operations ``client`` sends; returns the counter."""
    counter = SentCounter()
    client.meta.events.register(f"before-send.{service_of(client)}", counter)
    return counter


def deny(client: Any, operation: str, message: str | None = None) -> None:
    """Answer ``operation`` on ``client`` with AWS's 403 AccessDenied, as IAM would for a role
    without that permission: a ``before-send`` handler put first, so no fake sees the request
    (botocore's own event, nothing of rds_guard's), and botocore parses the answer as AWS's.
    ``message``: the error's message (XML-escaped here), else IAM's usual one."""
    service = service_of(client)
    said = escape(message or f"User is not authorized to perform: rds:{operation}")
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        f"<Message>{said}</Message></Error>"
        "<RequestId>denied-1</RequestId></ErrorResponse>"
    ).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        return raw_response(request.url, 403, body)

    client.meta.events.register_first(f"before-send.{service}.{operation}", answer)


def held_snapshot(server: MotoServer) -> Any:
    """A plain client of ``server``, and a cluster snapshot ``held`` on legal hold."""
    plain = server.client("rds")
    make_cluster(plain)
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )
    return plain


def expiring_credentials() -> dict[str, Any]:
    """Refreshable credentials' metadata (dummy keys) that expires in five minutes: inside
    botocore's mandatory refresh window, so that every request signed refreshes them."""
    expiry = datetime.now(UTC) + timedelta(minutes=5)
    return {
        "access_key": "testing",
        "secret_key": "testing",
        "token": None,
        "expiry_time": expiry.isoformat(),
    }


def refreshing_as(change: Callable[[], None]) -> RefreshableCredentials:
    """Credentials refreshed each time a request is signed (`expiring_credentials`), ``change``
    run as each refresh waits: what another of the program's threads may do meanwhile."""

    def refresh() -> dict[str, Any]:
        change()
        return expiring_credentials()

    return RefreshableCredentials.create_from_metadata(refresh(), refresh, "sts-assume-role")


HANDED_ON = [
    "its state and body",
    "a copy of its state taken before it was sent",
    "its whole context",
]
"""What a program gives another call's request of a call in flight (`handing_on`)."""


def handing_on(given: str) -> tuple[dict[str, Any], Callable[..., None], Callable[..., None]]:
    """A program that hands a call in flight on to another call's request: what it keeps of
    the first call, its ``before-call`` handler that keeps it there (the body, the context and
    a deep copy of the guard's state), and its ``before-call`` handler that gives the next
    request ``given`` (one of `HANDED_ON`) once the program has put the first call's state
    under ``"call"`` (from a later handler of that call, once it is requested)."""
    first: dict[str, Any] = {}

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "body" not in first:
            first["body"], first["context"] = dict(params["body"]), context
            first["copy"] = copy.deepcopy(context[CONTEXT_KEY])

    def hand_on(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "call" not in first:
            return
        if given == "its whole context":
            params["context"] = first["context"]
            return
        params["body"] = dict(first["body"])
        context[CONTEXT_KEY] = first["call" if given == "its state and body" else "copy"]

    return first, keep, hand_on

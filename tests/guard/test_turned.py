"""A request another handler made out of a call the guard does not judge into one it judges
(a `before-call` handler rewriting a DescribeDBClusters body into a delete) is judged as it
is sent, and recorded as the guarded call it became: before, the guard had no handler on it,
and a held snapshot was deleted with no record."""

from __future__ import annotations

import contextlib
import io
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_client, make_cluster, make_instance
from botocore.awsrequest import AWSResponse
from policies import HOLD_ONLY, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.guard.progress import in_progress
from rds_guard.records import CONTEXT_KEY, turned_note


def two_snapshots(server: MotoServer) -> None:
    """``free`` may be deleted; ``held`` is on hold (made unguarded: no record)."""
    rds = server.client("rds")
    make_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="free")
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )


def snapshots_left(server: MotoServer) -> set[str]:
    found = server.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


def delete_body(name: str) -> dict[str, str]:
    return {"Action": "DeleteDBClusterSnapshot", "Version": "2014-10-31",
            "DBClusterSnapshotIdentifier": name}  # fmt: skip


def turn_describes_into(client: Any, body: object, service: str = "rds") -> None:
    """A before-call handler that makes every DescribeDBClusters of ``client`` send ``body``."""

    def turn(params: dict[str, Any], **_: Any) -> None:
        params["body"] = body

    client.meta.events.register(f"before-call.{service}.DescribeDBClusters", turn)


class Subclassed(dict[str, str]):
    """A body of a dict subclass: botocore sends it as it sends any dict."""


class Text(str):
    """A string subclass: sent as the string it holds."""

    __slots__ = ()


class Disguised(str):
    """A string that holds one operation's name and encodes as another's, as urllib sends
    it: judged and sent as the string it holds."""

    __slots__ = ()

    def encode(self, *_: Any, **__: Any) -> bytes:
        return b"DeleteDBClusterSnapshot"


HELD = delete_body("held")
DESCRIBE = {"Action": "DescribeDBClusters", "Version": "2014-10-31"}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (HELD, ("deletion.hold", "Tags.legal-hold")),
        (urllib.parse.urlencode(HELD), ("deletion.hold", "Tags.legal-hold")),
        (urllib.parse.urlencode(HELD).encode(), ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": "deletedbclustersnapshot"}, ("request.changed", "Action")),
        (
            {
                **DESCRIBE,
                "action": "DeleteDBClusterSnapshot",
                "DBClusterSnapshotIdentifier": "held",
            },
            ("request.changed", "body"),
        ),
        (
            urllib.parse.urlencode(DESCRIBE) + "&Action=DeleteDBClusterSnapshot"
            "&DBClusterSnapshotIdentifier=held",
            ("request.changed", "body"),
        ),
        (
            "Action=DeleteDBClusterSnapshot&DBClusterSnapshotIdentifier=held"
            "&Action=DescribeDBClusters&Version=2014-10-31",
            ("request.changed", "body"),
        ),
        (Subclassed(HELD), ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": Text("DeleteDBClusterSnapshot")}, ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": b"DeleteDBClusterSnapshot"}, ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": ["DeleteDBClusterSnapshot"]}, ("deletion.hold", "Tags.legal-hold")),
        (HELD | {"Action": {"DeleteDBClusterSnapshot"}}, ("deletion.hold", "Tags.legal-hold")),
        ({**HELD, "Action": Disguised("DescribeDBClusters")}, ("deletion.hold", "Tags.legal-hold")),
        ({**HELD, "Version": ["2014-10-31"]}, ("deletion.hold", "Tags.legal-hold")),
        (
            {
                "Version": "2014-10-31",
                b"Action": "DeleteDBClusterSnapshot",
                "DBClusterSnapshotIdentifier": "held",
            },
            ("deletion.hold", "Tags.legal-hold"),
        ),
        (io.BytesIO(urllib.parse.urlencode(HELD).encode()), ("deletion.hold", "Tags.legal-hold")),
        (memoryview(urllib.parse.urlencode(HELD).encode()), ("deletion.hold", "Tags.legal-hold")),
    ],
    ids=[
        "dict",
        "text",
        "bytes",
        "action-lowercased",
        "second-action-key",
        "action-twice",
        "action-twice-delete-first",
        "dict-subclass",
        "str-subclass-action",
        "bytes-action",
        "list-action",
        "set-action",
        "action-encoding-as-a-delete",
        "a-list-elsewhere",
        "bytes-key",
        "file",
        "memoryview",
    ],
)
def test_a_describe_made_into_the_delete_of_a_held_snapshot_is_blocked(
    moto_server: MotoServer, tmp_path: Path, body: object, rule: tuple[str, str]
) -> None:
    """Its Action named in any case, or given twice (which one the service reads is not
    known), of any type botocore sends (a str subclass through its own encode(), each item of
    a set), in a body of any form: judged as the delete, as it is sent, blocked, and recorded;
    nothing sent."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)
    turn_describes_into(rds, body)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.describe_db_clusters()
    assert rule in [(v.rule, v.field) for v in caught.value.violations]
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert "held" in snapshots_left(moto_server)
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBClusterSnapshot")
    assert turned_note("DescribeDBClusters") in blocked["notes"]


def test_in_warn_mode_a_describe_made_into_a_delete_is_sent_and_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode sends it, as without the guard, and records it as the delete it became,
    before and after (botocore reads the delete's answer as a describe's, and raises: the
    outcome is unknown), with the rule it breaks; a describe left as it is gets no record."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)
    rds.describe_db_clusters()
    assert audit_records(tmp_path) == []
    turn_describes_into(rds, delete_body("held"))
    moto_server.reset_counts()
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):  # botocore's, as unguarded
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    assert "held" not in snapshots_left(moto_server)
    requested, deleted = audit_records(tmp_path)
    # botocore parses the delete's answer as a describe's and raises: the outcome is unknown
    assert (requested["event"], deleted["event"]) == ("requested", "unknown")
    assert requested["call"] == deleted["call"] and requested["snapshot"] == "held"
    assert "deletion.hold" in [v["rule"] for v in requested["violations"]]


def test_a_describe_made_into_an_allowed_delete_is_sent_and_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)
    turn_describes_into(rds, delete_body("free"))
    moto_server.reset_counts()
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):  # botocore's, as unguarded
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    requested, deleted = audit_records(tmp_path)
    assert (requested["event"], requested["snapshot"], requested["violations"]) == (
        "requested",
        "free",
        [],
    )
    assert deleted["event"] == "unknown" and turned_note("DescribeDBClusters") in requested["notes"]
    bare = moto_server.client("rds")  # the same handler without the guard: the same error
    turn_describes_into(bare, delete_body("held"))
    with pytest.raises(KeyError, match="DescribeDBClustersResult"):
        bare.describe_db_clusters()


@pytest.mark.parametrize(
    ("service", "query", "field"),
    [
        ("rds", "Action=DeleteDBClusterSnapshot&DBClusterSnapshotIdentifier=held", "url"),
        ("neptune", "Action=DeleteDBSnapshot&DBSnapshotIdentifier=held", "Action"),
    ],
    ids=["rds", "neptune-naming-an-rds-only-delete"],
)
@pytest.mark.parametrize("where", ["url", "params"])
def test_a_describe_given_a_query_naming_a_delete_is_blocked(
    moto_server: MotoServer, tmp_path: Path, service: str, query: str, field: str, where: str
) -> None:
    """An Action put in the URL's query, which a service may read as the body's, or in the
    request's ``params``, which botocore puts there; one the client's API lacks is blocked
    on the Action (botocore's model of it was looked up, and raised OperationNotFoundError)."""
    client = guarded_client(write_policy(tmp_path, HOLD_ONLY), service, on=moto_server)
    two_snapshots(moto_server)

    def add_query(request: Any, **_: Any) -> None:
        if where == "url":
            request.url += "?" + query
        else:
            request.params = dict(urllib.parse.parse_qsl(query))

    client.meta.events.register_first(f"request-created.{service}.DescribeDBClusters", add_query)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.describe_db_clusters()
    assert ("request.changed", field) in [(v.rule, v.field) for v in caught.value.violations]
    assert (
        moto_server.count("DeleteDBClusterSnapshot") == moto_server.count("DeleteDBSnapshot") == 0
    )
    records = audit_records(tmp_path)
    assert [(r["event"], r["operation"]) for r in records] == [("blocked", query[7:].split("&")[0])]


class TellsTheGuardNothing(Mapping[str, str]):
    """Params that say what they hold to anyone but rds_guard's code, to which they fail."""

    def __init__(self, held: dict[str, str]) -> None:
        self._held = held

    def __getitem__(self, key: str) -> str:
        return self._held[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def items(self) -> Any:
        if sys._getframe(1).f_globals.get("__name__", "").startswith("rds_guard"):
            raise RuntimeError("nothing for the guard")
        return self._held.items()


def test_params_that_cannot_be_read_by_the_guard_are_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A describe given params that fail only when the guard reads them, naming the delete
    of a held snapshot: they were left as they were, read as no call, and botocore, reading
    them again, sent the delete with no record. The guard replaces them by params no call
    has: the delete is never sent."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)

    def add_params(request: Any, **_: Any) -> None:
        request.data = b""  # moto reads the query only when there is no body
        request.params = TellsTheGuardNothing(
            {"Action": "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier": "held"}
        )

    rds.meta.events.register_first("request-created.rds.DescribeDBClusters", add_params)
    moto_server.reset_counts()
    with contextlib.suppress(Exception):  # what moto answers is no concern here
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert "held" in snapshots_left(moto_server)


def test_a_neptune_describe_made_into_an_rds_only_delete_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The three services share one endpoint, which carries out any of their actions: a
    Neptune client's request made into DeleteDBSnapshot, which its API lacks, cannot be read
    as one of its calls; it is blocked on the Action and recorded."""
    plain = moto_server.client("rds")
    make_instance(plain, "db1")
    plain.create_db_snapshot(
        DBInstanceIdentifier="db1",
        DBSnapshotIdentifier="held",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )
    neptune = guarded_client(write_policy(tmp_path, HOLD_ONLY), "neptune", on=moto_server)
    body = {"Action": "DeleteDBSnapshot", "Version": "2014-10-31", "DBSnapshotIdentifier": "held"}
    turn_describes_into(neptune, body, service="neptune")
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        neptune.describe_db_clusters()
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "Action")]
    assert moto_server.count("DeleteDBSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["operation"]) == ("blocked", "DeleteDBSnapshot")


THROTTLED = (
    b"<ErrorResponse><Error><Code>Throttling</Code><Message>x</Message></Error></ErrorResponse>"
)


class Canned:
    """A raw answer body for botocore's parser."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def test_a_retried_turned_request_is_one_call(moto_server: MotoServer, tmp_path: Path) -> None:
    """botocore makes the request again for each attempt: the turned call is recorded once,
    requested then its outcome, under one call id."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)
    turn_describes_into(rds, delete_body("free"))
    attempts: list[int] = []

    def throttle_once(request: Any, **_: Any) -> Any:
        attempts.append(1)
        if len(attempts) > 1:
            return None
        return AWSResponse(request.url, 400, {}, Canned(THROTTLED))

    rds.meta.events.register_first("before-send.rds.DescribeDBClusters", throttle_once)
    with pytest.raises(KeyError):  # botocore reads the delete's answer as a describe's
        rds.describe_db_clusters()
    assert len(attempts) == 2
    records = audit_records(tmp_path)
    assert [r["event"] for r in records] == ["requested", "unknown"]
    assert records[0]["call"] == records[1]["call"]


def test_a_turned_request_given_a_context_of_its_own_still_gets_its_outcome(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)

    def turn(params: dict[str, Any], **_: Any) -> None:
        params["body"], params["context"] = delete_body("free"), {}

    rds.meta.events.register("before-call.rds.DescribeDBClusters", turn)
    with pytest.raises(KeyError):
        rds.describe_db_clusters()
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "unknown"]


def test_a_call_cut_off_before_its_answer_is_no_later_requests_outcome(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A describe made into a delete is recorded `requested`, then cut off before its answer
    (a KeyboardInterrupt, or an async call's cancellation: no after-call of any kind). The
    next plain describe in the thread took it as the call in progress, and its answer was
    recorded as the delete's outcome: `deleted`, of a snapshot never deleted. That call is
    left for reconcile, as any call cut off in flight."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)
    turned: list[int] = []

    def turn_once(params: dict[str, Any], **_: Any) -> None:
        if not turned:
            turned.append(1)
            params["body"] = delete_body("free")

    def cut_off(**_: Any) -> None:
        if len(turned) == 1:
            turned.append(2)
            raise KeyboardInterrupt

    rds.meta.events.register("before-call.rds.DescribeDBClusters", turn_once)
    rds.meta.events.register_first("before-send.rds.DescribeDBClusters", cut_off)
    moto_server.reset_counts()
    try:
        with pytest.raises(KeyboardInterrupt):
            rds.describe_db_clusters()
        rds.describe_db_clusters()
    finally:
        in_progress.set(None)  # the cut-off call: not this thread's next test's
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert {"free", "held"} <= snapshots_left(moto_server)
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested"]


@pytest.mark.parametrize("own_context", [False, True], ids=["its-context", "a-new-context"])
def test_a_plain_call_made_while_a_turned_call_is_in_flight_leaves_it_its_outcome(
    moto_server: MotoServer, tmp_path: Path, own_context: bool
) -> None:
    """A handler of the turned delete's request (a metrics hook at ``before-send``) makes a
    plain describe of the same operation on the same client while the delete is in flight:
    the delete still gets its outcome, found through the call in progress when another
    handler gave its request a context of its own, and the describe records nothing."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY, mode="warn"), on=moto_server)
    two_snapshots(moto_server)
    nested: list[int] = []

    def turn(params: dict[str, Any], **_: Any) -> None:
        if not nested:
            params["body"] = delete_body("free")
            if own_context:
                params["context"] = {}

    def metrics(**_: Any) -> None:
        if not nested:
            nested.append(1)
            rds.describe_db_clusters()

    rds.meta.events.register("before-call.rds.DescribeDBClusters", turn)
    rds.meta.events.register_first("before-send.rds.DescribeDBClusters", metrics)
    with pytest.raises(KeyError):  # botocore reads the delete's answer as a describe's
        rds.describe_db_clusters()
    assert moto_server.count("DeleteDBClusterSnapshot") == 1
    requested, ended = audit_records(tmp_path)
    assert (requested["event"], ended["event"]) == ("requested", "unknown")
    assert ended["call"] == requested["call"]


def test_a_plain_request_of_an_operation_not_judged_is_left_as_it_is(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The handler under the service's name sees every request of the client; one that is
    plainly a call of its own operation (botocore's dict body, its one Action, no URL query)
    is left alone: the same body object, as botocore made it, no call kept in its context
    (it is marked as having none: no call still in progress is its own), no call in progress
    set, no record."""
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    two_snapshots(moto_server)
    made: list[object] = []
    seen: list[tuple[object, bool, object]] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        made.append(params["body"])

    def after(request: Any, **_: Any) -> None:  # the last request-created handler
        seen.append((request.data, request.context.get(CONTEXT_KEY, "absent"), in_progress.get()))

    rds.meta.events.register("before-call.rds", before)
    rds.meta.events.register_last("request-created", after)
    rds.describe_db_clusters()
    rds.describe_db_cluster_snapshots(DBClusterIdentifier="orders", MaxRecords=20)
    assert len(seen) == len(made) == 2
    for body, (data, kept, current) in zip(made, seen, strict=True):
        assert data is body and type(data) is dict
        assert (kept, current) == (None, None)
    assert made[1] == {
        "Action": "DescribeDBClusterSnapshots",
        "Version": "2014-10-31",
        "DBClusterIdentifier": "orders",
        "MaxRecords": 20,
    }
    assert audit_records(tmp_path) == []

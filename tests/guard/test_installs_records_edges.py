"""Installs on boto3's default session (boto3's module of a class of its own, its setup
function wrapped by others), audit logs turned off or named by an empty path, the ledger's
region, the outcome and request records of out-of-the-way answers, tags and look-ups,
params a handler sets that cannot be read, and the settings of the clients rds_guard makes
(reconcile's retries, endpoints and settings botocore cannot use)."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws import REGION, audit_records, make_cluster
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from policies import AUDITED, DEFAULTS_ONLY, HOLD_ONLY, LEDGER, STRICT, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard.audit.ledger import LedgerTable
from rds_guard.cli import reconcile as cli_reconcile
from rds_guard.clients import ClientSettingsError
from rds_guard.snapshot_keys import ByKey, CallsByKey


def blocked_and_unsent(guard: rds_guard.Guard, client: object, server: MotoServer) -> bool:
    """``guard`` is active, and the create it forbids, made through ``client``, is blocked
    and never reaches ``server``."""
    server.reset_counts()
    try:
        client.create_db_cluster_snapshot(  # type: ignore[attr-defined]
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    except rds_guard.PolicyViolation:
        return guard.active and server.count("CreateDBClusterSnapshot") == 0
    return False


class _OwnModule(types.ModuleType):
    """A module class of its own, as a lazy-import tool gives the modules it loads."""


@pytest.fixture
def boto3_of_its_own_class() -> Iterator[None]:
    """boto3's module, of a class of its own for the test."""
    boto3.__class__ = _OwnModule
    try:
        yield
    finally:
        boto3.__class__ = types.ModuleType


def test_a_default_session_set_up_on_a_boto3_of_its_own_class_is_guarded(
    boto3_of_its_own_class: None, moto_server: MotoServer, tmp_path: Path
) -> None:
    """boto3's module is left of its own class by the install (``boto3.DEFAULT_SESSION`` then
    hooks nothing as it is read): a session ``boto3.setup_default_session`` puts in place is
    hooked as the function returns, so a client made from ``boto3.DEFAULT_SESSION`` at once
    is guarded, its forbidden call never sent."""
    make_cluster(moto_server.client("rds"))
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    try:
        assert type(boto3) is _OwnModule
        boto3.setup_default_session(region_name=REGION)
        client = boto3.DEFAULT_SESSION.client("rds", endpoint_url=moto_server.url)
        assert blocked_and_unsent(guard, client, moto_server)
    finally:
        guard.uninstall()
        boto3.DEFAULT_SESSION = None


def test_an_uninstall_leaves_a_setup_function_another_wrapper_put_in_place(
    tmp_path: Path,
) -> None:
    """A wrapper of ``boto3.setup_default_session`` another library puts in place while the
    default session is guarded is its own: the uninstall takes back only the guard's own
    wrappers, and leaves that one in place."""
    original = boto3.setup_default_session
    guard = rds_guard.install(policy=write_policy(tmp_path, STRICT))
    guarded = boto3.setup_default_session

    def theirs(**kwargs: object) -> None:
        guarded(**kwargs)

    try:
        boto3.setup_default_session = theirs
        guard.uninstall()
        assert boto3.setup_default_session is theirs
    finally:
        guard.uninstall()
        boto3.setup_default_session = original
        boto3.DEFAULT_SESSION = None


AUDIT_OFF = """\
version = 1
mode = "enforce"

[tags]
required = ["team"]

[audit]
enabled = false
path = "audit.jsonl"
"""


def test_a_guard_whose_policy_turns_the_audit_log_off_writes_none(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """``[audit] enabled = false``: the guard judges and blocks as ever, and no log is
    opened or written, even one the policy names."""
    session = boto3.Session(region_name=REGION)
    guard = rds_guard.install(session, policy=write_policy(tmp_path, AUDIT_OFF))
    rds = session.client("rds")
    make_cluster(rds)
    with pytest.raises(rds_guard.PolicyViolation, match="team"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1"
        )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-2",
        Tags=[{"Key": "team", "Value": "core"}],
    )
    assert guard.audit is None
    assert not (tmp_path / "audit.jsonl").exists()


def test_an_empty_audit_path_is_refused_at_install(moto_inprocess: None, tmp_path: Path) -> None:
    """``audit_path=""`` names no file (made absolute, it would be the working directory):
    the install says the path is empty, and installs nothing."""
    session = boto3.Session(region_name=REGION)
    with pytest.raises(rds_guard.AuditError, match=r"the audit log's path \(audit_path\) is empty"):
        rds_guard.install(session, policy=write_policy(tmp_path, AUDITED), audit_path="")
    rds = session.client("rds")
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
    )  # not guarded: the install failed


def test_the_ledger_is_reached_in_its_own_region_not_the_guarded_sessions(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """A session of eu-west-1 guarded by a policy whose ledger is in us-east-1, every call
    waiting for the ledger (``mode = "required"``): the ledger's clients go to the ledger's
    region, where its table is, so the call is made and its records shipped."""
    session = boto3.Session(region_name="eu-west-1")
    guard = rds_guard.install(session, policy=write_policy(tmp_path, LEDGER, mode="required"))
    try:
        rds = aws.client("rds", region="eu-west-1", session=session)
        make_cluster(rds, "orders")
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-20261129"
        )
        assert rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    finally:
        guard.uninstall()


def test_an_answer_of_status_300_is_recorded_as_the_error_botocore_raises(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """A 300 answer to a guarded delete (a proxy's, its body a success document, which
    botocore parses as one below 301): botocore raises a `ClientError` for any status of 300
    or more, and the outcome record says the call failed, never that the snapshot went."""
    session = boto3.Session(region_name=REGION)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = session.client("rds", config=Config(retries={"total_max_attempts": 1}))
    body = (
        b'<DeleteDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        b"<DeleteDBClusterSnapshotResult/><ResponseMetadata><RequestId>r1</RequestId>"
        b"</ResponseMetadata></DeleteDBClusterSnapshotResponse>"
    )

    def answer_with(request: Any, **_: Any) -> AWSResponse:
        return raw_response(request.url, 300, body)

    rds.meta.events.register("before-send.rds.DeleteDBClusterSnapshot", answer_with)
    with pytest.raises(ClientError):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-manual-20261129")
    requested, ended = audit_records(tmp_path)
    assert (requested["event"], ended["event"]) == ("requested", "failed")
    assert ended["error"]["code"] == "Unknown"


CREATED = (
    b'<CreateDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
    b"<CreateDBClusterSnapshotResult/><ResponseMetadata><RequestId>r1</RequestId>"
    b"</ResponseMetadata></CreateDBClusterSnapshotResponse>"
)
"""A create's answer, as the service gives it, for a test that answers at ``before-send``."""


def test_a_tag_without_a_value_a_later_handler_adds_is_recorded_with_an_empty_value(
    tmp_path: Path,
) -> None:
    """The program's own handler, after the guard's, adds a tag with no ``Value`` (AWS
    gives it an empty one): the call as changed is judged again and goes, and its records
    give that tag the empty value it is sent with, never the text ``None`` (the create is
    answered at ``before-send``: moto takes no tag without a value)."""
    session = boto3.Session(region_name=REGION)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))

    def add_a_note(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateDBClusterSnapshot":
            params["Tags"] = [*params.get("Tags", []), {"Key": "note"}]

    session.events.register("before-parameter-build.rds", add_a_note)
    rds = session.client("rds")
    sent: list[str] = []

    def answer_with(request: Any, **_: Any) -> AWSResponse:
        text = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent.append(text)
        return raw_response(request.url, 200, CREATED)

    rds.meta.events.register_first("before-send.rds", answer_with)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-20261129",
        Tags=[{"Key": "team", "Value": "core"}],
    )
    (body_sent,) = sent
    assert "Tags.Tag.3.Key=note" in body_sent and "Tags.Tag.3.Value" not in body_sent
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert requested["tags"] == {"team": "core", "managed-by": "rds-guard", "note": ""}
    assert created["tags"] == requested["tags"]


def test_a_presign_whose_expiry_is_no_number_of_seconds_records_no_expiry(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """``ExpiresIn=True`` is no number of seconds (a bool), and the URL botocore signs does
    not say a whole number of them: the ``presigned`` record gives no expiry rather than
    one a second away."""
    session = boto3.Session(region_name=REGION)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = session.client("rds")
    make_cluster(rds)
    url = rds.generate_presigned_url(
        "create_db_cluster_snapshot",
        Params={
            "DBClusterIdentifier": "orders",
            "DBClusterSnapshotIdentifier": "orders-manual-20261129",
            "Tags": [{"Key": "team", "Value": "core"}],
        },
        ExpiresIn=True,
    )
    assert "X-Amz-Expires=True" in url
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["expires"]) == ("presigned", None)


def test_warn_mode_sends_a_call_whose_look_up_is_refused_with_no_error_code(
    tmp_path: Path,
) -> None:
    """The read of the source (whose tags the policy's default must be sent with) is
    answered with a 400 whose error names no code (a proxy's, say): in warn mode the failed
    look-up stops nothing, the call is sent as made, and its record's `tags.inherit` names
    the error's type for the code it lacks."""
    session = boto3.Session(region_name=REGION)
    rds_guard.install(session, policy=write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"))
    rds = session.client("rds", config=Config(retries={"total_max_attempts": 1}))
    refused = b"<ErrorResponse><Error><Message>no</Message></Error></ErrorResponse>"
    sent: list[str] = []

    def answer_with(request: Any, **_: Any) -> AWSResponse:
        text = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent.append(text.split("&", 1)[0])
        if text.startswith("Action=CreateDBClusterSnapshot&"):
            return raw_response(request.url, 200, CREATED)
        return raw_response(request.url, 400, refused)

    rds.meta.events.register_first("before-send.rds", answer_with)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-20261129"
    )
    assert sent == ["Action=DescribeDBClusters", "Action=CreateDBClusterSnapshot"]
    requested, created_record = audit_records(tmp_path)
    assert (requested["event"], created_record["event"]) == ("requested", "created")
    (violation,) = requested["violations"]
    assert violation["rule"] == "tags.inherit"
    assert "ClientError" in violation["message"]


def test_a_delete_by_arn_of_a_snapshot_that_does_not_exist_records_its_name(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """A delete naming its snapshot by ARN, under a hold rule: the look-up of the snapshot
    finds none, the caller gets the service's own error, and the ``failed`` record names the
    snapshot as the service lists it (the ARN's name), as every other record does."""
    session = boto3.Session(region_name=REGION)
    rds_guard.install(session, policy=write_policy(tmp_path, HOLD_ONLY))
    rds = session.client("rds")
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:Orders-Gone"
    with pytest.raises(ClientError):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=arn)
    (failed,) = audit_records(tmp_path)
    assert failed["event"] == "failed"
    assert failed["error"]["code"] == "DBClusterSnapshotNotFoundFault"
    assert failed["snapshot"] == "orders-gone"


@pytest.mark.parametrize(
    ("setting", "read"),
    [
        ("max_attempts = 7", ("total_max_attempts", 7)),
        ("retry_mode = adaptive", ("mode", "adaptive")),
    ],
)
def test_retries_the_profile_sets_apply_to_reconciles_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str, read: tuple[str, object]
) -> None:
    """The profile's own retry settings (a count, or a mode) apply to the clients
    ``rds-guard reconcile`` makes, as the environment's do: the package's default of three
    attempts is for when neither says anything."""
    config = tmp_path / "config"
    config.write_text(f"[default]\n{setting}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    client = cli_reconcile.make_client("rds", region="us-east-1")
    key, value = read
    assert client.meta.config.retries[key] == value


def test_a_setting_botocore_cannot_use_names_only_the_variable_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``AWS_MAX_ATTEMPTS=junk``: the error making reconcile's client names the variable
    whose value botocore's message quotes, and no other whose value merely occurs in the
    message's words."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "junk")
    monkeypatch.setenv("AWS_PAGER", "base")  # "base" is in "with base 10", unquoted
    with pytest.raises(ClientSettingsError) as refused:
        cli_reconcile.make_client("rds", region="us-east-1")
    assert str(refused.value).endswith("'junk' (from $AWS_MAX_ATTEMPTS)")


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://admin:S3CRET#x@127.0.0.1:1", True),
        ("http://127.0.0.1:port", False),
    ],
)
def test_an_endpoint_whose_port_is_no_number_is_refused_with_a_hint_for_a_password(
    url: str, hint: bool
) -> None:
    """An endpoint URL botocore takes and cannot sign for, its port no number, is refused
    as reconcile's client is made; when the URL carries a user's password, whose raw ``#``
    or ``?`` ends the host, the error says how to write them, and never the password."""
    with pytest.raises(ClientSettingsError) as refused:
        cli_reconcile.make_client("rds", region="us-east-1", endpoint_url=url)
    message = str(refused.value)
    assert "S3CRET" not in message
    assert ("is written %23 or %3F" in message) is hint


class _Unreadable:
    """Params no one can read: iterating them fails."""

    def __iter__(self) -> Iterator[tuple[str, str]]:
        raise RuntimeError("not today")


def test_params_another_handler_sets_that_cannot_be_read_are_refused_on_the_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``request-created`` handler put before the guard's sets the request's ``params`` to
    an object that fails as it is read: the guard never sends what it could not read, and
    refuses the call as changed on its URL (`PolicyViolation`, not the object's own error),
    nothing sent."""
    session = boto3.Session(region_name=REGION)
    moto_server.attach(session)
    rds_guard.install(session, policy=write_policy(tmp_path, AUDITED))
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)

    def set_params(request: Any, **_: Any) -> None:
        request.params = _Unreadable()

    rds.meta.events.register_first("request-created.rds.CreateDBClusterSnapshot", set_params)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match="url"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-manual-20261129",
            Tags=[{"Key": "team", "Value": "core"}],
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def test_values_by_snapshot_key_match_a_record_that_does_not_say_its_type() -> None:
    """A key of no type stands for a snapshot of either type: asked for with no type, the
    first value that is not empty; asked for with a type it has no value of its own under,
    the value of the key of no type; forgetting a typed key forgets the untyped one too,
    never the other type's."""
    by_key: ByKey[set[str]] = ByKey()
    by_key.set(("snapshot", "a"), set())
    by_key.set(("cluster-snapshot", "a"), {"c1"})
    assert by_key.get((None, "a")) == {"c1"}
    untyped: ByKey[int] = ByKey()
    untyped.set((None, "b"), 1)
    assert untyped.get(("snapshot", "b")) == 1
    untyped.set(("snapshot", "b"), 2)
    untyped.set(("cluster-snapshot", "b"), 3)
    assert untyped.get(("snapshot", "b")) == 2
    assert sorted(untyped.pop(("snapshot", "b"))) == [1, 2]
    assert list(untyped.items()) == [(("cluster-snapshot", "b"), 3)]


def test_calls_by_snapshot_key_are_discarded_from_exactly_their_key_and_taken_once() -> None:
    """A call discarded under a typed key leaves the same call under the key of no type;
    discarded under its own key, it is gone, and so is the key it emptied; the calls taken
    for a snapshot are forgotten."""
    calls = CallsByKey()
    calls.add((None, "a"), "c1")
    calls.discard(("snapshot", "a"), "c1")
    assert calls.get((None, "a")) == {"c1"}
    calls.add(("snapshot", "a"), "c2")
    calls.discard(("snapshot", "a"), "c2")
    assert [key for key, _ in calls.items()] == [(None, "a")]
    assert calls.take(("snapshot", "a")) == {"c1"}
    assert calls.take(("snapshot", "a")) == set()
    assert list(calls.items()) == []

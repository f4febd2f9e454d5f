"""Edges of the wire checks (`rds_guard.wire`): what is sent is what was judged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.config
import botocore.session
import pytest
from aws import audit_records, guarded_client, guarded_session, make_cluster
from botocore.serialize import create_serializer
from policies import AUDITED, RULE_OF_EACH_KIND, write_policy
from servers import MotoServer

from rds_guard import wire
from rds_guard.core.copies import COPIED_DEPTH
from rds_guard.core.operations import OPERATIONS

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]
MANAGED = {"Key": "managed-by", "Value": "rds-guard"}
SERIALIZER = create_serializer("query", include_validation=False)


class SaysEqual:
    """A tag value of no built-in type whose ``__eq__`` says it equals anything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return "staging"


def readers_and_body(
    service: str, operation: str, params: dict[str, Any]
) -> tuple[wire.Readers, dict[str, Any]]:
    """The readers of ``operation``'s judged parameters on ``service``, and the flat body
    botocore's query serializer makes of ``params``."""
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    body: dict[str, Any] = SERIALIZER.serialize_to_request(params, model)["body"]
    return wire.readers(model.input_shape, OPERATIONS[operation].judged), body


def test_a_judged_parameter_the_clients_api_lacks_is_never_taken_as_carried() -> None:
    """docdb's DeleteDBInstance has no SkipFinalSnapshot: a judgement that holds it (a
    client that does not validate) is not what any body of that client carries."""
    params = {"DBInstanceIdentifier": "orders-1"}
    readers, body = readers_and_body("docdb", "DeleteDBInstance", params)
    judged = {**params, "SkipFinalSnapshot": False}
    assert not wire.carries(body, readers, judged)
    assert not wire.same(judged, wire.sent_params(body, readers))


def test_an_empty_list_judged_is_not_carried_by_other_text_under_its_key() -> None:
    """An empty ``ValuesToAdd`` is sent as one empty key: the key given other text (by
    another handler) is not the judgement."""
    params = {"DBClusterSnapshotIdentifier": GOOD, "AttributeName": "restore", "ValuesToAdd": []}
    readers, body = readers_and_body("rds", "ModifyDBClusterSnapshotAttribute", params)
    assert body["ValuesToAdd"] == ""
    assert wire.carries(body, readers, params)
    assert not wire.carries({**body, "ValuesToAdd": "all"}, readers, params)


def test_a_value_nested_deeper_than_the_guard_copies_is_never_the_same() -> None:
    """Below `COPIED_DEPTH` a judgement holds the caller's own objects: a value nested deeper
    is never the same as anything, whatever its innermost object says of itself."""
    deep: Any = SaysEqual()
    sent: Any = "staging"
    for _ in range(COPIED_DEPTH + 1):
        deep, sent = [deep], [sent]
    assert not wire.same(deep, sent)
    assert not wire.same(sent, deep)


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_the_body_botocore_hands_on_is_no_longer_what_is_sent_once_judged(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A before-call handler keeps botocore's serialized body; a before-sign handler, which
    runs after the guard held the request, renames the snapshot in the body it kept: the
    request sends the guard's copy, as judged and recorded, in warn mode too
    (docs/operations.md says so)."""
    rds = guarded_client(write_policy(tmp_path, AUDITED, mode=mode), on=moto_server)
    make_cluster(rds)
    kept: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        kept.append(params["body"])

    def rename(**_: Any) -> None:
        kept[0]["DBClusterSnapshotIdentifier"] = "evil"

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", keep)
    rds.meta.events.register("before-sign.rds.CreateDBClusterSnapshot", rename)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    found = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"] for s in found] == [GOOD]
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]


def test_a_value_that_says_it_equals_anything_mended_by_a_later_handler_is_judged_again(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The caller's tag value is an object that says it equals anything; a handler after the
    guard's mends it into an allowed value: the call is judged again as it now stands (the
    object's word that nothing changed is not taken), and goes."""
    rds = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND), on=moto_server)
    make_cluster(rds)

    def mend(params: dict[str, Any], **_: Any) -> None:
        params["Tags"] = [*TEAM, {"Key": "env", "Value": "prod"}, MANAGED]

    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", mend)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[*TEAM, {"Key": "env", "Value": SaysEqual()}, MANAGED],
    )
    found = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"] for s in found] == [GOOD]


def test_a_value_that_says_it_equals_anything_replaced_in_the_body_is_judged_as_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode, a client that does not validate: the caller's tag value is an object that
    says it equals anything (warned about as invalid), and a before-call handler writes
    another value in its place in the body: the request is judged again as it is sent (the
    object's word that the body is the judgement is not taken), and its record says what
    the value sent breaks."""
    session, _ = guarded_session(
        write_policy(tmp_path, RULE_OF_EACH_KIND, mode="warn"), on=moto_server
    )
    unvalidated = botocore.config.Config(parameter_validation=False)
    rds = moto_server.client("rds", session=session, config=unvalidated)
    make_cluster(rds)

    def staging(params: dict[str, Any], **_: Any) -> None:
        for key, value in list(params["body"].items()):
            if key.startswith("Tags.") and isinstance(value, SaysEqual):
                params["body"][key] = "staging"

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", staging)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[*TEAM, {"Key": "env", "Value": SaysEqual()}, MANAGED],
    )
    requested = [r for r in audit_records(tmp_path) if r["event"] == "requested"]
    assert requested, audit_records(tmp_path)
    rules = {(v["rule"], v["field"]) for v in requested[-1]["violations"]}
    assert ("tags.allowed", "Tags.env") in rules, requested[-1]

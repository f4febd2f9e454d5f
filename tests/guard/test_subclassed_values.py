"""What is judged and recorded is what is sent, whatever the objects a call is made of.

botocore sends a ``str`` through its own ``encode()``, a ``dict`` through its own ``items()``;
the guard read them through ``lower()``, ``get()`` and ``==``. A caller's (or a handler's)
subclass overriding one side made a call the policy refuses go out recorded as one it allows.
Against moto's server over HTTP: the server's own copy of each request is held against the
records, and a call the guard blocks is never counted there.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_client, make_cluster
from policies import WARN, write_policy
from servers import MotoServer

import rds_guard

POLICY = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-manual-[0-9]{8}$"

[tags]
required = ["team"]

[tags.allowed]
env = ["prod"]

[tags.forced]
backup-policy = "standard-35d"

[audit]
path = "audit.jsonl"
fsync = false
"""

GOOD = "orders-manual-20261129"


class EncodesAs(str):
    """A string that holds one text and is sent as another."""

    def __new__(cls, held: str, sent: str) -> EncodesAs:
        made = super().__new__(cls, held)
        made.sent = sent
        return made

    def encode(self, *_: Any, **__: Any) -> bytes:
        return self.sent.encode()


class LowersAs(str):
    """A string whose lower() is another string."""

    def __new__(cls, held: str, lowered: str) -> LowersAs:
        made = super().__new__(cls, held)
        made.lowered = lowered
        return made

    def lower(self) -> str:
        return self.lowered


class ItemsSayQa(dict[str, str]):
    """A tag whose items() (what botocore serializes) say env = qa, whatever it holds."""

    def items(self) -> Any:
        return [("Key", "env"), ("Value", "qa")]


def sent_tags(server: MotoServer, action: str) -> dict[str, str]:
    """The tags of the last ``action`` request, as the server read them."""
    form = server.last_params(action)
    return {
        form[key]: form[key.removesuffix(".Key") + ".Value"]
        for key in form
        if key.startswith("Tags.Tag.") and key.endswith(".Key")
    }


@pytest.fixture
def rds(moto_server: MotoServer, tmp_path: Path) -> Any:
    client = guarded_client(write_policy(tmp_path, POLICY), on=moto_server)
    make_cluster(client)
    moto_server.reset_counts()
    return client


def test_strings_sent_as_other_text_are_sent_as_what_they_hold(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=EncodesAs(GOOD, "test2"),
        Tags=[
            {"Key": "team", "Value": "core"},
            {"Key": "env", "Value": EncodesAs("prod", "qa")},
            {"Key": "backup-policy", "Value": EncodesAs("standard-35d", "none")},
        ],
    )
    form = moto_server.last_params("CreateDBClusterSnapshot")
    assert form["DBClusterSnapshotIdentifier"] == GOOD
    sent = sent_tags(moto_server, "CreateDBClusterSnapshot")
    assert sent == {"team": "core", "env": "prod", "backup-policy": "standard-35d"}
    requested, created = audit_records(tmp_path)
    assert requested["event"] == "requested" and requested["violations"] == []
    assert requested["snapshot"] == created["snapshot"] == GOOD
    assert requested["tags"] == created["tags"] == sent


def test_a_string_whose_lower_says_otherwise_is_judged_as_what_it_holds(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=LowersAs("Test3", GOOD),
            Tags=[{"Key": "team", "Value": "core"}],
        )
    assert [v.rule for v in caught.value.violations] == ["identifier.pattern"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert (blocked["event"], blocked["snapshot"]) == ("blocked", "test3")


def test_a_tag_whose_items_say_otherwise_is_sent_as_what_it_holds(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Under a policy that adds no tags (the guard leaves the caller's list in the call)."""
    without_forced = POLICY.replace('[tags.forced]\nbackup-policy = "standard-35d"\n', "")
    rds = guarded_client(write_policy(tmp_path, without_forced), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[{"Key": "team", "Value": "core"}, ItemsSayQa(Key="env", Value="prod")],
    )
    sent = sent_tags(moto_server, "CreateDBClusterSnapshot")
    assert sent["env"] == "prod"
    assert audit_records(tmp_path)[0]["tags"] == sent


def test_a_forced_tag_sent_as_other_text_is_sent_as_what_it_holds(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[{"Key": "team", "Value": "core"}],
    )
    arn = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=GOOD)["DBClusterSnapshots"][
        0
    ]["DBClusterSnapshotArn"]
    rds.add_tags_to_resource(
        ResourceName=arn,
        Tags=[{"Key": "backup-policy", "Value": EncodesAs("standard-35d", "none")}],
    )
    assert sent_tags(moto_server, "AddTagsToResource") == {"backup-policy": "standard-35d"}
    tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert {"Key": "backup-policy", "Value": "standard-35d"} in tags
    assert audit_records(tmp_path)[-1]["tags"] == {"backup-policy": "standard-35d"}


def test_a_late_handlers_strings_are_sent_as_what_they_hold(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-parameter-build`` handler registered after the guard's, and a
    ``before-call`` one editing the serialized body, each put in a string sent as a name the
    pattern refuses: what goes out is what the strings hold, judged (the body's is a change
    of name) and recorded as such."""

    def late_parameter(params: dict[str, Any], **_: Any) -> None:
        params["Tags"] = [dict(tag, Value=EncodesAs(tag["Value"], "")) for tag in params["Tags"]]

    def late_body(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = EncodesAs("orders-manual-20261130", "test2")

    events = rds.meta.events
    events.register("before-parameter-build.rds.CreateDBClusterSnapshot", late_parameter)
    events.register("before-call.rds.CreateDBClusterSnapshot", late_body)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[{"Key": "team", "Value": "core"}],
    )
    form = moto_server.last_params("CreateDBClusterSnapshot")
    assert form["DBClusterSnapshotIdentifier"] == "orders-manual-20261130"
    assert sent_tags(moto_server, "CreateDBClusterSnapshot") == {
        "team": "core",
        "backup-policy": "standard-35d",
    }
    requested, created = audit_records(tmp_path)
    assert requested["snapshot"] == created["snapshot"] == "orders-manual-20261130"
    assert requested["violations"] == []


class Environment(enum.StrEnum):
    """A correct program's string enum."""

    PROD = "prod"


def test_string_subclasses_of_a_correct_program_are_sent_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A warn guard with no tags of its own is invisible: an enum's member and a plain
    subclass reach the server exactly as a bare client sends them."""
    bare = moto_server.client("rds")
    make_cluster(bare)
    guarded = guarded_client(write_policy(tmp_path, WARN), on=moto_server)

    class Name(str):
        pass

    sent = []
    for client, name in ((bare, "orders-manual-20261129"), (guarded, "orders-manual-20261130")):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=Name(name),
            Tags=[{"Key": Name("env"), "Value": Environment.PROD}],
        )
        form = moto_server.last_params("CreateDBClusterSnapshot")
        sent.append({key: value for key, value in form.items() if key.startswith("Tags")})
    assert sent[0] == sent[1] == {"Tags.Tag.1.Key": "env", "Tags.Tag.1.Value": "prod"}

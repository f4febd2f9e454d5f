"""What is judged and recorded is what is sent, whatever the objects a call is made of.

botocore sends a ``str`` through its own ``encode()``, a ``dict`` through its own ``items()``;
the guard read them through ``lower()``, ``get()`` and ``==``. A caller's (or a handler's)
subclass overriding one side made a call the policy refuses go out recorded as one it allows.
Against moto's server over HTTP: the server's own copy of each request is held against the
records, and a call the guard blocks is never counted there.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import types
from pathlib import Path
from typing import Any

import botocore.signers
import pytest
from aws import audit_records, guarded_client, guarded_session, make_cluster, make_instance
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.parsers import ResponseParserError
from odd_values import EncodesAs
from policies import WARN, write_policy
from servers import MotoServer, raw_response

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

NO_FORCED_TAGS = POLICY.replace('[tags.forced]\nbackup-policy = "standard-35d"\n', "")
"""`POLICY` adding no tags: the guard leaves the caller's tag list in the call as made."""

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


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


class EncodesAsAndRefusesComparison(EncodesAs):
    """A string sent as another text, whose ``==`` raises: the guard leaves it in the call
    (it holds the text decided), and what goes out must still be what it holds."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("== of a caller's own class")

    __hash__ = str.__hash__


def test_a_string_left_in_the_call_that_refuses_comparison_is_sent_as_what_it_holds(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    """Compared as the text it holds, such a name is left in the call as given: it is still
    sent, and recorded, as the compliant name it holds, never as ``test2``."""
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=EncodesAsAndRefusesComparison(GOOD, "test2"),
        Tags=TEAM,
    )
    assert moto_server.last_params("CreateDBClusterSnapshot")["DBClusterSnapshotIdentifier"] == GOOD
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [
        ("requested", GOOD),
        ("created", GOOD),
    ]


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


class LowerRaises(str):
    """A string whose lower() raises."""

    def lower(self) -> str:
        raise RuntimeError("lower() of a caller's own class")


class LowersToNone(str):
    """A string whose lower() gives no string at all."""

    def lower(self) -> Any:
        return None


UNREADABLE_LOWER = [LowersToNone("nosuch"), LowerRaises("nosuch")]
UNREADABLE_IDS = ["lower-gives-none", "lower-raises"]


@pytest.mark.parametrize("source", UNREADABLE_LOWER, ids=UNREADABLE_IDS)
def test_a_source_not_found_is_the_service_s_answer_whatever_its_name_s_lower_says(
    moto_server: MotoServer, tmp_path: Path, source: str
) -> None:
    """No tags given: the source's are read for the required one, and that look-up fails (no
    such instance). The caller gets the service's own ``DBInstanceNotFound``, as without the
    guard, and the ``failed`` record names the source as it holds it. The record's fields were
    read through the subclass's own ``lower()``: an ``AttributeError`` or its
    ``RuntimeError`` from the guard instead."""
    rds = guarded_client(write_policy(tmp_path, POLICY), on=moto_server)
    moto_server.reset_counts()
    with pytest.raises(ClientError) as raised:
        rds.create_db_snapshot(
            DBInstanceIdentifier=source, DBSnapshotIdentifier="nosuch-manual-20261129"
        )
    assert raised.value.response["Error"]["Code"] == "DBInstanceNotFound"
    assert "CreateDBSnapshot" not in moto_server.actions()
    assert [(r["event"], r["source"]) for r in audit_records(tmp_path)] == [("failed", "nosuch")]


@pytest.mark.parametrize("source", UNREADABLE_LOWER, ids=UNREADABLE_IDS)
@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_call_botocore_would_refuse_is_judged_whatever_its_name_s_lower_says(
    moto_server: MotoServer, tmp_path: Path, source: str, mode: str
) -> None:
    """A client that does not validate, a tag value of the wrong type (``request.invalid``,
    found before any look-up): enforce blocks it, warn sends it and the caller gets the
    service's answer, as without the guard; either way its record names the source as it
    holds it, never read through the subclass's own ``lower()``."""
    session, _ = guarded_session(write_policy(tmp_path, POLICY, mode=mode), on=moto_server)
    rds = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    call = {
        "DBInstanceIdentifier": source,
        "DBSnapshotIdentifier": "nosuch-manual-20261129",
        "Tags": [{"Key": "team", "Value": 5}],
    }
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation, match=r"request\.invalid"):
            rds.create_db_snapshot(**call)
        assert moto_server.count("CreateDBSnapshot") == 0
        assert [(r["event"], r["source"]) for r in audit_records(tmp_path)] == [
            ("blocked", "nosuch")
        ]
    else:
        with pytest.raises(ClientError) as raised:
            rds.create_db_snapshot(**call)
        assert raised.value.response["Error"]["Code"] == "DBInstanceNotFound"
        assert audit_records(tmp_path)[0]["source"] == "nosuch"


@pytest.mark.parametrize(
    ("name", "snapshot"),
    [
        (LowersAs("Test3", GOOD), "test3"),
        (LowersAs("orders-Weekly-20261129", GOOD), "orders-weekly-20261129"),
        (LowerRaises("Test3"), "test3"),
    ],
    ids=["lowers-to-a-good-name", "lowers-to-another-name", "lower-raises"],
)
def test_evaluate_judges_a_string_whose_lower_says_otherwise_as_the_guard_does(
    rds: Any, moto_server: MotoServer, tmp_path: Path, name: str, snapshot: str
) -> None:
    """`evaluate` says what the guard does: both judge what the string holds, not what its
    own lower() says (nor raise what it raises)."""
    policy = rds_guard.load_policy(tmp_path / "rds_guard.toml")
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": name, "Tags": TEAM}
    decision = rds_guard.evaluate(policy, "CreateDBClusterSnapshot", params)
    assert not decision.allowed
    assert [v.rule for v in decision.violations] == ["identifier.pattern"]
    assert decision.snapshot == snapshot
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(**params)
    assert [v.rule for v in caught.value.violations] == ["identifier.pattern"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert blocked["snapshot"] == decision.snapshot


def test_a_tag_whose_items_say_otherwise_is_judged_as_sent_and_never_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Under a policy that adds no tags (the guard leaves the caller's list in the call): the
    guard decided on what the tag holds (env = prod), botocore serializes what its items()
    say (env = qa), and the request is judged as it is sent: blocked, nothing sent."""
    rds = guarded_client(write_policy(tmp_path, NO_FORCED_TAGS), on=moto_server)
    make_cluster(rds)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=GOOD,
            Tags=[{"Key": "team", "Value": "core"}, ItemsSayQa(Key="env", Value="prod")],
        )
    assert ("tags.allowed", "Tags.env") in {(v.rule, v.field) for v in caught.value.violations}
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert blocked["tags"]["env"] == "qa", "the record states what would be sent"


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


class Touchy(dict):  # type: ignore[type-arg]
    """A tag that refuses to be compared: its own ``__eq__`` raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("a Touchy tag is never compared")

    __hash__ = None  # type: ignore[assignment]


def test_a_tag_that_refuses_to_be_compared_is_sent_as_it_holds(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """botocore never compares a caller's values; the guard does, to leave them in the call.
    One whose ``__eq__`` raises is replaced by the value decided, which it holds: the call
    goes as without the guard, and the snapshot gets the tag."""
    rds = guarded_client(write_policy(tmp_path, NO_FORCED_TAGS), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[Touchy(Key="team", Value="core")],
    )
    assert sent_tags(moto_server, "CreateDBClusterSnapshot") == {"team": "core"}
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]


class SaysEqual:
    """No string: equal to anything (its own ``__eq__``), sent as what its ``__str__`` says."""

    def __init__(self, sent: str) -> None:
        self.sent = sent

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return self.sent


def test_a_body_value_that_says_it_equals_anything_is_never_sent(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``before-call`` handler puts into the serialized body an object that compares equal
    to the name judged and is sent as ``test2``: a body botocore never makes, read as no
    call (``request.changed`` on ``body``)."""

    def late_body(params: dict[str, Any], **_: Any) -> None:
        params["body"]["DBClusterSnapshotIdentifier"] = SaysEqual("test2")

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", late_body)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.changed", "body")]
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def test_a_retry_given_a_value_that_says_it_equals_anything_is_never_sent(
    rds: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    """The first attempt is answered 500; a ``needs-retry`` handler puts such an object in
    the retry's body as a forced tag's value: the retry is held again, and never sent."""
    attempts = []

    def fail_first(request: Any, **_: Any) -> Any:
        attempts.append(request.body)
        if len(attempts) == 1:
            error = b"<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>"
            return raw_response(request.url, 500, error)
        return None

    def change_retry(request_dict: Any, **_: Any) -> None:
        if request_dict is not None:
            request_dict["body"]["Tags.Tag.2.Value"] = SaysEqual("none")

    events = rds.meta.events
    events.register_first("before-send.rds.CreateDBClusterSnapshot", fail_first)
    events.register_first("needs-retry.rds.CreateDBClusterSnapshot", change_retry)
    with pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert len(attempts) == 1 and moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "blocked", "unknown"]


def test_a_late_handlers_object_that_says_it_equals_anything_is_judged_as_no_string(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A client that does not validate: a ``before-parameter-build`` handler registered after
    the guard's puts in the name such an object, equal to the name judged. It is judged as
    sent, no string: blocked, for the call and for a presign past the client's wrapper
    (botocore's own ``generate_presigned_url``, which no request-created follows), where the
    call as the later handler left it is checked for what botocore's validation would refuse
    before it is judged again: ``request.invalid``."""
    session, _ = guarded_session(write_policy(tmp_path, POLICY), on=moto_server)
    rds = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    make_cluster(rds)
    moto_server.reset_counts()

    def late(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = SaysEqual("test2")

    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", late)
    call = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(**call)
    assert "request.changed" in {v.rule for v in caught.value.violations}
    with pytest.raises(rds_guard.PolicyViolation) as presign:
        botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", Params=call)
    assert ("request.invalid", "DBClusterSnapshotIdentifier") in {
        (v.rule, v.field) for v in presign.value.violations
    }
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def test_the_callers_tags_changed_while_the_guard_reads_the_source_are_not_what_is_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The caller's own tag list changes while the guard's look-up of the source runs (a
    handler on that look-up here; another thread of the program alike), under a policy that
    adds no tags (which would build a list of its own): the guard judged, and sends, its own
    copy of the call as made."""
    inheriting = NO_FORCED_TAGS.replace(
        'required = ["team"]', 'required = ["team"]\ninherit = "always"'
    )
    rds = guarded_client(write_policy(tmp_path, inheriting), on=moto_server)
    make_cluster(rds)
    tags = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]

    def flip(**_: Any) -> None:
        tags[1]["Value"] = "qa"

    rds.meta.events.register("after-call.rds.DescribeDBClusters", flip)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=tags
    )
    assert tags[1]["Value"] == "qa", "the look-up ran, and changed the caller's list"
    sent = sent_tags(moto_server, "CreateDBClusterSnapshot")
    assert sent["env"] == "prod"
    requested, created = audit_records(tmp_path)
    assert requested["tags"] == created["tags"] == sent


def test_a_call_botocore_refuses_is_refused_word_for_word(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """What botocore refuses is left to it as given: its message quotes the value as the
    caller made it (a tuple, a mapping that is no dict, a subclass of int, of dict, of str,
    of list, an enum's member)."""

    class Count(int):
        pass

    class Name(str):
        pass

    class Names(list[str]):
        pass

    wrongs = (
        {"Tags": [{"Key": "a", "Value": ("b",)}]},
        {"Tags": [types.MappingProxyType({"Kee": "a"})]},
        {"DBClusterSnapshotIdentifier": Count(5)},
        {"Tags": collections.OrderedDict(a=1)},
        {"Tags": Environment.PROD},
        {"Tags": [Name("k")]},
        {"Tags": [{"Key": "a", "Value": Names(["b"])}]},
        {"DBClusterSnapshotIdentifier": Names(["x"])},
    )
    refusals = []
    bare = moto_server.client("rds")
    guarded = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    for client in (bare, guarded):
        for wrong in wrongs:
            with pytest.raises(ParamValidationError) as refused:
                client.create_db_cluster_snapshot(
                    **{"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD} | wrong
                )
            refusals.append(str(refused.value))
    assert refusals[: len(wrongs)] == refusals[len(wrongs) :]
    assert moto_server.count("CreateDBClusterSnapshot") == 0


class Field(enum.StrEnum):
    """A correct program's names for a tag's fields."""

    KEY = "Key"
    VALUE = "Value"


def test_a_tag_keyed_by_an_enum_is_sent_and_recorded_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A tag whose field names are an enum's members: the bytes a bare client sends, and
    records with no note of a change (no handler changed anything)."""
    rds = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[{Field.KEY: "team", Field.VALUE: "core"}],
    )
    assert sent_tags(moto_server, "CreateDBClusterSnapshot") == {"team": "core"}
    requested, created = audit_records(tmp_path)
    assert requested["notes"] == created["notes"] == []


class Days(int, enum.Enum):
    """An enum of ints whose members print as ``Days.WEEK``, which urllib sends as such."""

    WEEK = 7


def test_a_number_is_sent_as_its_own_str_gives_it_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The guard does not make a number of a subclass into another text: urllib sends what
    its ``__str__`` gives (``Days.WEEK``, which AWS refuses), with the guard as without."""
    bare = moto_server.client("rds")
    make_instance(bare, "db1")
    guarded = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    sent = []
    for client in (bare, guarded):
        with contextlib.suppress(ClientError, ResponseParserError):  # moto answers it with a 500
            client.modify_db_instance(DBInstanceIdentifier="db1", BackupRetentionPeriod=Days.WEEK)
        sent.append(moto_server.last_params("ModifyDBInstance")["BackupRetentionPeriod"])
    assert sent == ["Days.WEEK", "Days.WEEK"]

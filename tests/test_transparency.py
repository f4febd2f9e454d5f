"""A guard in warn mode that adds no tags must be invisible to a correct program: the same
requests reach the server and the program gets the same results, errors included."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import boto3
import pytest
from aws import (
    audit_records,
    deny,
    guarded_client,
    guarded_session,
    make_cluster,
    snapshot_arn,
    snapshot_tags,
)
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from policies import BACKUPS, DEFAULTS_ONLY, WARN, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.records import CONTEXT_KEY

# moto makes up resource ids and endpoint host names afresh for every resource, and names an
# automated snapshot after the minute it was made (two runs may straddle a minute).
_VOLATILE_KEYS = {"ResponseMetadata", "HostedZoneId"}
_GENERATED_ID = re.compile(r"\b(cluster|cluster-ro|db)-[A-Za-z0-9]{12,}\b")
_AUTOMATED_NAME = re.compile(r"\brds:([a-z0-9-]+?)-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}\b")


def normalized(value: Any) -> Any:
    """A response with what differs between two identical runs (times, random ids) masked."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, datetime.datetime):
        return "<time>"
    if isinstance(value, str):
        return _AUTOMATED_NAME.sub(r"rds:\1-<minute>", _GENERATED_ID.sub("<id>", value))
    return value


def outcome(call: Callable[[], Any]) -> Any:
    """What the program sees: the normalized response, or the error's class and code."""
    try:
        return normalized(call())
    except ClientError as error:
        return ("ClientError", error.response["Error"]["Code"])
    except ParamValidationError as error:
        return ("ParamValidationError", str(error))


def program(rds: Any) -> list[Any]:
    """A correct backup program that uses every guarded operation, and some that fail."""
    tags = [{"Key": "team", "Value": "core"}]
    seen = [
        outcome(lambda: make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "prod"})),
        outcome(
            lambda: rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-daily-20261129"
            )
        ),
        outcome(
            lambda: rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders",
                DBClusterSnapshotIdentifier="orders-manual-20261129",
                Tags=tags,
            )
        ),
        outcome(
            lambda: rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-daily-20261129"
            )
        ),
        outcome(lambda: rds.create_db_cluster_snapshot(DBClusterIdentifier="orders")),
        outcome(
            lambda: rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier="orders-daily-20261129",
                TargetDBClusterSnapshotIdentifier="orders-daily-20261129-copy",
                CopyTags=True,
            )
        ),
        outcome(
            lambda: rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier="missing",
                TargetDBClusterSnapshotIdentifier="orders-daily-20261130",
            )
        ),
        outcome(lambda: rds.describe_db_cluster_snapshots(DBClusterIdentifier="orders")),
    ]
    arn = snapshot_arn(rds, "orders-daily-20261129")
    seen += [
        outcome(
            lambda: rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "x", "Value": "1"}])
        ),
        outcome(lambda: rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["x"])),
        outcome(lambda: rds.list_tags_for_resource(ResourceName=arn)),
        outcome(
            lambda: rds.modify_db_cluster_snapshot_attribute(
                DBClusterSnapshotIdentifier="orders-daily-20261129",
                AttributeName="restore",
                ValuesToAdd=["111122223333"],
            )
        ),
        outcome(
            lambda: rds.delete_db_cluster_snapshot(
                DBClusterSnapshotIdentifier="orders-daily-20261129-copy"
            )
        ),
        outcome(
            lambda: rds.delete_db_cluster(
                DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="orders-manual-20261130"
            )
        ),
        outcome(lambda: rds.describe_db_cluster_snapshots()),
    ]
    return seen


def run(
    server: MotoServer,
    install: Callable[[Any], object] | None,
    watch: Callable[..., None] | None = None,
) -> tuple[list[Any], list[Any]]:
    """The program's results and the requests the server got; ``watch`` is the program's own
    handler of every rds request's ``before-send`` and ``after-call``."""
    server.reset_state()
    server.reset_counts()
    session = boto3.Session(region_name="us-east-1")
    server.attach(session)
    if install is not None:
        install(session)
    if watch is not None:
        for event in ("before-send.rds", "after-call.rds"):
            session.events.register(event, watch)
    results = program(server.client("rds", session=session))
    sent = [(r.action, r.params) for r in server.requests()]
    return results, sent


def test_warn_guard_without_tags_is_invisible(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Same requests at the server, same results and errors, with and without the guard."""
    policy = write_policy(tmp_path, WARN)
    bare_results, bare_sent = run(moto_server, None)
    guarded_results, guarded_sent = run(
        moto_server, lambda session: rds_guard.install(session, policy=policy)
    )
    assert guarded_sent == bare_sent
    assert guarded_results == bare_results
    assert ("ClientError", "DBClusterSnapshotAlreadyExistsFault") in bare_results
    assert any(isinstance(r, tuple) and r[0] == "ParamValidationError" for r in bare_results)
    assert (tmp_path / "audit.jsonl").stat().st_size > 0, "the guard was there and recorded"
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    requested = {r["operation"] for r in records if r["event"] == "requested"}
    assert requested == {
        "CreateDBClusterSnapshot",
        "CopyDBClusterSnapshot",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "ModifyDBClusterSnapshotAttribute",
        "DeleteDBClusterSnapshot",
        "DeleteDBCluster",
    }, "every guarded call of the program was judged and sent"
    warned = [v["rule"] for r in records if r["event"] == "requested" for v in r["violations"]]
    assert "identifier.pattern" in warned, "a name the policy forbids went out, warned about"


def test_a_programs_own_handler_can_pickle_and_copy_the_call_context_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A program's handler (a tracer, say) that pickles or deep-copies the call's ``context``
    can do so with the guard as without it, with any of pickle's protocols: the guard's state
    there (its documented key, DESIGN.md) travels as plain data, without the guard, which
    holds locks and files. Every other key is as botocore made it."""

    def watching(seen: list[Any]) -> Callable[..., None]:
        def watch(event_name: str, **kwargs: Any) -> None:
            context = kwargs["context"] if "context" in kwargs else kwargs["request"].context
            plain = {k: v for k, v in context.items() if k != "client_config"}  # no pickle
            for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                pickle.loads(pickle.dumps(plain, protocol=protocol))
            copy.deepcopy(plain)
            seen.append((event_name, sorted(set(context) - {CONTEXT_KEY})))

        return watch

    bare_seen: list[Any] = []
    guarded_seen: list[Any] = []
    policy = write_policy(tmp_path, WARN)
    bare = run(moto_server, None, watching(bare_seen))
    guarded = run(
        moto_server,
        lambda session: rds_guard.install(session, policy=policy),
        watching(guarded_seen),
    )
    assert guarded == bare
    assert guarded_seen == bare_seen
    assert len(bare_seen) >= 2 * len(bare[1])


def test_a_programs_own_handler_can_print_the_call_context_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A program's handler (a tracer, say) that writes the call's ``context`` out as text,
    every value through ``str`` and ``repr``, can do so with the guard as without it, at
    every event of a request, for a call the guard has nothing to judge in too (a
    ModifyDBInstance that keeps the backups: its state in the context is judged by nobody)."""

    def watching(seen: list[Any]) -> Callable[..., None]:
        def watch(event_name: str, **kwargs: Any) -> None:
            context = kwargs["context"] if "context" in kwargs else kwargs["request"].context
            json.dumps(context, default=str)
            for value in context.values():
                str(value), repr(value)
            seen.append(event_name)

        return watch

    def traced(install: Callable[[Any], object] | None) -> tuple[list[Any], list[Any]]:
        seen: list[Any] = []
        moto_server.reset_state()
        session = boto3.Session(region_name="us-east-1")
        moto_server.attach(session)
        if install is not None:
            install(session)
        for stage in ("before-parameter-build", "before-call", "request-created", "after-call"):
            session.events.register(f"{stage}.rds", watching(seen))
        rds = moto_server.client("rds", session=session)
        results = program(rds)
        rds.create_db_instance(
            DBInstanceIdentifier="ledger",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="password-1",
        )
        modified = outcome(
            lambda: rds.modify_db_instance(DBInstanceIdentifier="ledger", AllocatedStorage=30)
        )
        results.append(modified["DBInstance"]["DBInstanceIdentifier"])  # moto's ids are random
        return results, seen

    policy = write_policy(tmp_path, WARN)
    bare = traced(None)
    guarded = traced(lambda session: rds_guard.install(session, policy=policy))
    assert guarded == bare
    assert "before-parameter-build.rds.ModifyDBInstance" in bare[1]
    assert guarded[0][-1] == "ledger", "the modify went through"


READS = ("Describe", "List")
"""What the guard may add to a warn-mode program's requests: its read-only look-ups."""

WARN_WITH_TAG_RULES = WARN.replace(
    "[audit]",
    '[tags]\nrequired = ["team", "owner"]\n\n[tags.allowed]\nenv = ["prod"]\n\n[audit]',
)
"""`WARN` with tag rules and still no tag of its own to add: the guard reads the sources to
judge their tags, and adds nothing."""


def test_warn_guard_with_tag_rules_but_no_tags_of_its_own_changes_no_request(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Tag rules make the guard read (Describe, ListTagsForResource) and warn, but a guard
    that adds no tag sends every other request as the program made it, and the program sees
    the same results and errors."""
    policy = write_policy(tmp_path, WARN_WITH_TAG_RULES)
    bare_results, bare_sent = run(moto_server, None)
    guarded_results, guarded_sent = run(
        moto_server, lambda session: rds_guard.install(session, policy=policy)
    )
    assert guarded_results == bare_results
    changes = [r for r in guarded_sent if not r[0].startswith(READS)]
    assert changes == [r for r in bare_sent if not r[0].startswith(READS)]
    assert len(guarded_sent) > len(bare_sent), "the guard read nothing: the test tests nothing"
    assert len(changes) >= 8
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    warned = {v["rule"] for r in records if r["event"] == "requested" for v in r["violations"]}
    assert {"identifier.pattern", "tags.required"} <= warned


def test_warn_guard_that_cannot_read_the_source_sends_the_call_as_made(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/policy.md: when the source's tags cannot be read (AccessDenied), warn mode sends
    the call exactly as the caller made it, without the policy's tags, so AWS's own copy of
    the cluster's tags is left to work; the requested record carries `tags.inherit`."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "prod"})
    deny(rds, "DescribeDBClusters")
    moto_server.reset_counts()
    with caplog.at_level("WARNING", logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1"
        )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    assert moto_server.last_params("CreateDBClusterSnapshot") == {
        "Action": "CreateDBClusterSnapshot",
        "Version": "2014-10-31",
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": "orders-manual-1",
    }
    assert snapshot_tags(rds, "orders-manual-1") == {"team": "core", "env": "prod"}
    assert "[tags.inherit]" in caplog.text
    requested, created = [
        json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()
    ]
    assert [v["rule"] for v in requested["violations"]] == ["tags.inherit"]
    assert created["event"] == "created"


def _holding_itself() -> list[Any]:
    """A list whose one item is the list itself."""
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _tag_holding_itself() -> list[dict[str, Any]]:
    """A tag list whose one tag's Value is that tag."""
    tag: dict[str, Any] = {"Key": "team"}
    tag["Value"] = tag
    return [tag]


REFUSED_BY_BOTOCORE = {
    "Tags None": {"Tags": None},
    "a Value None": {"Tags": [{"Key": "team", "Value": None}]},
    "a field besides Key and Value": {"Tags": [{"Key": "team", "Value": "a", "Owner": "b"}]},
    "a tag that is not a dict": {"Tags": [MappingProxyType({"Key": "team", "Value": "a"})]},
    "an unknown parameter, the cluster missing": {"DBClusterIdentifier": "missing", "Bogus": 1},
    "a name of the wrong type, the cluster missing": {
        "DBClusterIdentifier": "missing",
        "DBClusterSnapshotIdentifier": 42,
    },
    "Tags holding themselves": {"Tags": _holding_itself()},
    "a tag holding itself": {"Tags": _tag_holding_itself()},
}
"""Calls of CreateDBClusterSnapshot that botocore's parameter validation refuses, by what
is wrong with them (beside a cluster ``orders`` and a good snapshot name)."""


@pytest.mark.parametrize("mode", ["warn", "enforce"])
@pytest.mark.parametrize("change", list(REFUSED_BY_BOTOCORE), ids=list(REFUSED_BY_BOTOCORE))
def test_a_call_botocore_refuses_is_refused_and_sends_nothing(
    moto_server: MotoServer, tmp_path: Path, mode: str, change: str
) -> None:
    """A guard that adds a tag (and so reads the source) neither makes valid a call botocore
    refuses, by rewriting its Tags, nor reads for one before botocore refuses it. In warn mode
    the program gets botocore's own `ParamValidationError`, word for word; in enforce mode that
    or a `PolicyViolation` (one of its kind). Either way nothing reaches the server, not even
    a read."""
    params = {
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": "orders-manual-20261129",
        **REFUSED_BY_BOTOCORE[change],
    }
    moto_server.reset_state()
    bare = moto_server.client("rds")
    with pytest.raises(ParamValidationError) as refused:
        bare.create_db_cluster_snapshot(**params)
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode=mode), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    moto_server.reset_counts()
    with pytest.raises(ParamValidationError) as guarded:
        rds.create_db_cluster_snapshot(**params)
    assert moto_server.requests() == []
    if mode == "warn":
        assert type(guarded.value) is ParamValidationError
        assert str(guarded.value) == str(refused.value)


class RefusesComparison(str):
    """A string whose ``==`` raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("== of a caller's own class")

    __hash__ = str.__hash__


def test_a_string_that_refuses_comparison_where_botocore_takes_none_is_refused_word_for_word(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """``CopyTags`` given a string whose ``==`` raises: botocore refuses it, naming its type.
    The guard put its own plain copy in the call in its place, and botocore's message named
    ``str``; the call is refused word for word as without the guard, nothing sent."""
    params = {
        "SourceDBClusterSnapshotIdentifier": "orders-manual-20261129",
        "TargetDBClusterSnapshotIdentifier": "orders-manual-20261130",
        "CopyTags": RefusesComparison("yes"),
    }
    bare = moto_server.client("rds")
    with pytest.raises(ParamValidationError) as refused:
        bare.copy_db_cluster_snapshot(**params)
    assert "RefusesComparison" in str(refused.value)
    rds = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    moto_server.reset_counts()
    with pytest.raises(ParamValidationError) as guarded:
        rds.copy_db_cluster_snapshot(**params)
    assert str(guarded.value) == str(refused.value)
    assert moto_server.requests() == []


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_call_without_its_name_is_refused_before_any_read(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A snapshot name counts as given before the read only when the policy's template fills
    it in: under a policy without one, a call missing it read the source first (enforce: the
    program got the read's DBClusterNotFoundFault, and a `failed` record). botocore's own
    `ParamValidationError`, nothing sent, nothing recorded."""
    params = {"DBClusterIdentifier": "nowhere"}
    moto_server.reset_state()
    with pytest.raises(ParamValidationError) as refused:
        moto_server.client("rds").create_db_cluster_snapshot(**params)
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode=mode), on=moto_server)
    moto_server.reset_counts()
    with pytest.raises(ParamValidationError) as guarded:
        rds.create_db_cluster_snapshot(**params)
    assert moto_server.requests() == []
    assert str(guarded.value) == str(refused.value)
    assert not (tmp_path / "audit.jsonl").exists() or not (tmp_path / "audit.jsonl").read_text()


def test_a_call_botocore_then_refuses_is_not_warned_about(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """warn: the guard's verdict waits for every ``before-parameter-build`` handler, and a
    call botocore's validation still refuses then (a tag Value of None) gets botocore's error
    alone: no warning of a call that is never made, no record."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    moto_server.reset_counts()
    with caplog.at_level("WARNING", logger="rds_guard"), pytest.raises(ParamValidationError):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-manual-20261129",
            **REFUSED_BY_BOTOCORE["a Value None"],
        )
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    assert moto_server.requests() == []
    assert audit_records(tmp_path) == []


NOT_A_DICT: dict[str, Any] = {
    "a string": "abc",
    "a number": 1,
    "key and value pairs": [("DBClusterIdentifier", "orders")],
    "a mapping that is no dict": MappingProxyType(
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "orders-manual-1"}
    ),
}
"""``Params`` of a presign that botocore does not take: it fails on each, in its own way."""


@pytest.mark.parametrize("params", list(NOT_A_DICT.values()), ids=list(NOT_A_DICT))
def test_a_presign_of_params_that_are_no_dict_fails_as_botocore_fails(
    moto_server: MotoServer, tmp_path: Path, params: Any
) -> None:
    """Warn mode, nothing added: the guarded client raises what the bare one raises, word for
    word, and signs nothing, records nothing."""
    bare = moto_server.client("rds")
    rds = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    errors = []
    for client in (bare, rds):
        with pytest.raises(Exception) as failed:
            client.generate_presigned_url("create_db_cluster_snapshot", Params=params)
        errors.append((type(failed.value), str(failed.value)))
    assert errors[0] == errors[1]
    assert not (tmp_path / "audit.jsonl").exists()


WRONG_PRESIGNS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "no method": ((), {}),
    "a keyword it does not take": (("create_db_cluster_snapshot",), {"Bogus": 1}),
    "too many arguments": (("create_db_cluster_snapshot", {}, 60, None, "extra"), {}),
    "one argument twice": (("create_db_cluster_snapshot",), {"ClientMethod": "x"}),
}
"""``generate_presigned_url`` called in ways Python refuses before botocore does anything."""


@pytest.mark.parametrize("call", list(WRONG_PRESIGNS.values()), ids=list(WRONG_PRESIGNS))
def test_a_presign_called_wrongly_fails_as_the_method_fails(
    moto_server: MotoServer, tmp_path: Path, call: tuple[tuple[Any, ...], dict[str, Any]]
) -> None:
    """The `TypeError` names ``generate_presigned_url`` and counts its arguments, word for word
    as without the guard (not the guard's own method), and nothing is recorded."""
    args, kwargs = call
    bare = moto_server.client("rds")
    rds = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    errors = []
    for client in (bare, rds):
        with pytest.raises(TypeError) as failed:
            client.generate_presigned_url(*args, **kwargs)
        errors.append(str(failed.value))
    assert "generate_presigned_url()" in errors[0]
    assert errors[1] == errors[0]
    assert not (tmp_path / "audit.jsonl").exists()


def test_a_mapping_that_is_no_dict_is_refused_by_a_guard_whose_client_does_not_validate(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Without validation botocore would sign it: the guard refuses it with botocore's own
    error rather than let a URL out that it never judged."""
    session, _ = guarded_session(write_policy(tmp_path, WARN), on=moto_server)
    rds = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    with pytest.raises(ParamValidationError, match="Invalid type for parameter input"):
        rds.generate_presigned_url(
            "create_db_cluster_snapshot", Params=NOT_A_DICT["a mapping that is no dict"]
        )
    assert not (tmp_path / "audit.jsonl").exists()


def test_a_value_botocore_would_refuse_sent_without_validation_is_not_blamed_on_a_handler(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """parameter_validation off and a name given as bytes, no other handler anywhere: botocore
    sends it as it serializes it, which differs from what the guard judged. The warning said
    "changed by another handler"; it names both causes. The call is sent as without it."""
    session, _ = guarded_session(write_policy(tmp_path, WARN), on=moto_server)
    rds = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    make_cluster(rds)
    moto_server.reset_counts()
    with caplog.at_level("WARNING", logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=b"orders-manual-1"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    changed = [r.getMessage() for r in caplog.records if "[request.changed]" in r.getMessage()]
    assert changed and all(
        "or sent as botocore serializes a value its validation would refuse, with "
        "parameter_validation off" in message
        for message in changed
    )


def test_tags_given_as_a_generator_without_validation_are_sent_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """parameter_validation off and Tags given as a generator: botocore sends what it yields.
    The guard read the generator itself (to record the tags sent) before botocore did, so
    the snapshot was made without them, and the warning blamed another handler. It never
    iterates what is no list or tuple: the snapshot gets the tags, as without it."""
    session, _ = guarded_session(write_policy(tmp_path, WARN), on=moto_server)
    rds = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    make_cluster(rds)
    tags = [{"Key": "team", "Value": "core"}]
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-20261129",
        Tags=(tag for tag in tags),
    )
    listed = moto_server.client("rds").describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier="orders-manual-20261129"
    )
    assert listed["DBClusterSnapshots"][0]["TagList"] == tags


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("describe_db_snapshots", {"DBSnapshotIdentifier": "orders-manual-1"}),
        ("describe_db_cluster_snapshots", {"DBClusterSnapshotIdentifier": "orders-manual-1"}),
    ],
)
def test_a_presign_of_an_operation_the_guard_does_not_judge_hands_on_the_callers_dict(
    moto_server: MotoServer, tmp_path: Path, method: str, params: dict[str, Any]
) -> None:
    """botocore hands a presign's ``Params`` to the ``before-parameter-build`` handlers as the
    caller's own dict: a handler's change to it is seen by the caller. The guard copied it for
    every operation; it copies only what it judges (and writes into), and these URLs and the
    caller's dicts come out as without it."""
    bare = moto_server.client("rds")
    rds = guarded_client(write_policy(tmp_path, WARN), on=moto_server)
    seen = []
    for client in (bare, rds):
        operation = client.meta.method_to_api_mapping[method]

        def add_marker(params: dict[str, Any], **_: Any) -> None:
            params["MaxRecords"] = 20

        client.meta.events.register(f"before-parameter-build.rds.{operation}", add_marker)
        given = dict(params)
        url = client.generate_presigned_url(method, Params=given, ExpiresIn=60)
        seen.append((given, re.sub(r"X-Amz-(Date|Signature)=[^&]+", "", url)))
    assert seen[0][0] == {**params, "MaxRecords": 20}
    assert seen[1] == seen[0]


def _nested(kind: str, depth: int) -> Any:
    value: Any = {} if kind == "dict" else []
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


@pytest.mark.parametrize(("kind", "depth"), [("dict", 900), ("list", 5000)])
def test_a_judged_parameter_nested_past_pythons_limit_is_sent_as_without_the_guard(
    moto_server: MotoServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    depth: int,
) -> None:
    """parameter_validation off, warn mode, a judged parameter (``SkipFinalSnapshot``) given
    as a dict nested 900 deep or a list nested 5,000 deep: the call is sent and the URL signed
    as without the guard (the same answer, one request each), with a ``request.invalid``
    warning (naming the operation where botocore's report is too deep to write: it named a
    parameter "is"). Before, reading back what botocore writes of the judged value walked it
    to Python's recursion limit: a RecursionError from the guard's own code."""
    session, _ = guarded_session(write_policy(tmp_path, WARN), on=moto_server)
    unvalidated = Config(parameter_validation=False)
    rds = moto_server.client("rds", session=session, config=unvalidated)
    bare = moto_server.client("rds", config=unvalidated)
    make_cluster(bare)
    params = {"DBClusterIdentifier": "nowhere", "SkipFinalSnapshot": _nested(kind, depth)}
    moto_server.reset_counts()
    caplog.set_level("WARNING", logger="rds_guard")
    outcomes = [
        outcome(lambda client=client: client.delete_db_cluster(**params)) for client in (bare, rds)
    ]
    assert outcomes[0] == outcomes[1] and moto_server.count("DeleteDBCluster") == 2
    urls = [
        client.generate_presigned_url("delete_db_cluster", Params=params).partition("&X-Amz")[0]
        for client in (bare, rds)
    ]
    assert urls[0] == urls[1] and "Action=DeleteDBCluster" in urls[0]
    deep = "[request.invalid] DeleteDBCluster: a value is nested too deep for its validation"
    assert ("[request.invalid] SkipFinalSnapshot: Invalid type" if kind == "dict" else deep) in (
        caplog.text
    )
    events = [record["event"] for record in audit_records(tmp_path)]
    assert events == ["requested", "failed", "presigned"]


class _UnshowableFlag:
    """A value whose own ``__str__`` raises, as botocore's validation report writes it."""

    def __str__(self) -> str:
        raise RuntimeError("a value that cannot be shown")


def test_a_value_that_cannot_be_shown_fails_where_botocore_fails_after_every_handler(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A validating Neptune client, warn mode (rules on deletes), a judged parameter whose
    own ``__str__`` raises: botocore's validation raises it once every
    ``before-parameter-build`` handler has run, and so it does under the guard. Before, the
    guard's run of that validation in its own handler raised it first, and the program's
    handler registered after the guard's never saw the call."""
    session, _ = guarded_session(write_policy(tmp_path, BACKUPS, mode="warn"), on=moto_server)
    seen: dict[str, list[str]] = {"bare": [], "guarded": []}
    for name, client in (
        ("bare", moto_server.client("neptune")),
        ("guarded", moto_server.client("neptune", session=session)),
    ):
        client.meta.events.register(
            "before-parameter-build", lambda model, name=name, **_: seen[name].append(model.name)
        )
        with pytest.raises(RuntimeError, match="a value that cannot be shown"):
            client.delete_db_cluster(
                DBClusterIdentifier="nowhere", SkipFinalSnapshot=_UnshowableFlag()
            )
    assert seen == {"bare": ["DeleteDBCluster"], "guarded": ["DeleteDBCluster"]}

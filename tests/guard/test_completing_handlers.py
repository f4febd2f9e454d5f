"""A program's own ``before-parameter-build`` handler that completes its calls (a house name,
house tags) runs after the guard's, which botocore calls first (exact event names before the
service's). The guard judges such a call as completed: a call its validation refused as it
stood is judged after every handler, and a call with violations is held again once they have
all run, before anything is blocked or warned about.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.signers
import pytest
from aws import HOUSE_NAME, audit_records, house_defaults, make_cluster, snapshot_tags
from botocore.exceptions import ParamValidationError
from policies import TEAM_REQUIRED, write_policy
from servers import MotoServer

import rds_guard

NAME = "DBClusterSnapshotIdentifier"

TAG_RULES_AND_A_DEFAULT = TEAM_REQUIRED.replace(
    "[audit]", '[tags.defaults]\nmanaged = "g"\n\n[audit]'
)


def on_snapshots(change: Callable[[dict[str, Any]], object]) -> Callable[..., None]:
    """A ``before-parameter-build`` handler making ``change`` to CreateDBClusterSnapshot
    calls only."""

    def handler(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateDBClusterSnapshot":
            change(params)

    return handler


def house_client(server: MotoServer, policy: Path | None) -> Any:
    """An rds client of a session whose program completes its snapshot calls, guarded by
    ``policy`` (None: no guard), with a cluster ``orders`` that passes on no tags."""
    server.reset_state()
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-parameter-build.rds", house_defaults)
    if policy is not None:
        rds_guard.install(session, policy=policy)
    rds = server.client("rds", session=session)
    make_cluster(rds)
    server.reset_counts()
    return rds


def made(server: MotoServer, rds: Any, **params: Any) -> tuple[str, dict[str, str]]:
    """Make a snapshot of ``orders`` through ``rds``: its name and tags, as the service holds
    them, after exactly one CreateDBClusterSnapshot request."""
    answer = rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", **params)
    name = answer["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"]
    assert server.count("CreateDBClusterSnapshot") == 1
    return name, snapshot_tags(rds, name)


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_call_completed_by_the_program_is_judged_as_completed(
    moto_server: MotoServer, tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The call without its name: the guard's read of the source waited for botocore's
    validation, which refused the call as it stood, so the program got a
    `ParamValidationError` it would never have got without the guard."""
    bare = made(moto_server, house_client(moto_server, None))
    rds = house_client(moto_server, write_policy(tmp_path, TEAM_REQUIRED, mode=mode))
    with caplog.at_level("WARNING", logger="rds_guard"):
        assert made(moto_server, rds) == bare == (HOUSE_NAME, {"team": "core"})
    assert "rds_guard" not in caplog.text, "a complete call warned about"
    requested, created = audit_records(tmp_path)
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert (requested["snapshot"], requested["tags"]) == (HOUSE_NAME, {"team": "core"})
    assert requested["violations"] == [] and requested["notes"] == []


def test_a_call_completed_by_the_program_gets_the_policys_tags_with_its_own(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Judged after the program's handler, the call still gets the policy's default, beside
    the program's tags (the guard's rewrite is made before botocore builds the request)."""
    rds = house_client(moto_server, write_policy(tmp_path, TAG_RULES_AND_A_DEFAULT))
    assert made(moto_server, rds) == (HOUSE_NAME, {"team": "core", "managed": "g"})
    requested = audit_records(tmp_path)[0]
    assert requested["injected"] == ["managed"] and requested["violations"] == []


def test_a_violation_the_program_mends_after_the_guard_blocks_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A named call without tags breaks `tags.required` when the guard judges it; the
    program's handler then adds the tag: the call as completed goes, its records say what
    changed after the judgement."""
    rds = house_client(moto_server, write_policy(tmp_path, TEAM_REQUIRED, mode="enforce"))
    assert made(moto_server, rds, DBClusterSnapshotIdentifier="orders-manual-1") == (
        "orders-manual-1",
        {"team": "core"},
    )
    requested = audit_records(tmp_path)[0]
    assert requested["violations"] == []
    assert requested["notes"] == ["changed after rds_guard judged it: Tags"]


def test_a_violation_no_handler_mends_is_still_blocked_after_them_all(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The program's handler adds nothing to a call that has Tags already: blocked, nothing
    sent, one blocked record."""
    rds = house_client(moto_server, write_policy(tmp_path, TEAM_REQUIRED, mode="enforce"))
    with pytest.raises(rds_guard.PolicyViolation) as blocked:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="orders-manual-1",
            Tags=[{"Key": "env", "Value": "prod"}],
        )
    assert [v.rule for v in blocked.value.violations] == ["tags.required"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


NAMING_ONLY = TEAM_REQUIRED.replace(
    '[tags]\nrequired = ["team"]', '[naming]\npattern = "^orders-.+$"'
)
"""A naming rule and nothing to read: the guard judges a call without its name at once."""


@pytest.mark.parametrize("policy", [TEAM_REQUIRED, NAMING_ONLY], ids=["reads", "reads nothing"])
@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_call_no_handler_completes_gets_botocores_own_refusal(
    moto_server: MotoServer, tmp_path: Path, mode: str, policy: str
) -> None:
    """A call left without its name (no handler of the program's): botocore's own
    `ParamValidationError`, word for word, nothing sent, not even the guard's read, no
    record; a policy with nothing to read blocked it (`identifier.missing`) or warned."""
    moto_server.reset_state()
    with pytest.raises(ParamValidationError) as refused:
        moto_server.client("rds").create_db_cluster_snapshot(DBClusterIdentifier="orders")
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=write_policy(tmp_path, policy, mode=mode))
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    moto_server.reset_counts()
    with pytest.raises(ParamValidationError) as guarded:
        rds.create_db_cluster_snapshot(DBClusterIdentifier="orders")
    assert (type(guarded.value), str(guarded.value)) == (ParamValidationError, str(refused.value))
    assert moto_server.requests() == []
    assert audit_records(tmp_path) == []


def test_a_violation_a_handler_hides_and_a_later_one_brings_back_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """One handler takes the name away after the guard judged the call (no tags: a violation
    pending), a handler registered last puts it back: the call is the one judged, blocked."""
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-parameter-build.rds", on_snapshots(lambda p: p.pop(NAME)))
    rds_guard.install(session, policy=write_policy(tmp_path, TEAM_REQUIRED, mode="enforce"))
    moto_server.reset_state()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    rds.meta.events.register_last(  # after the guard's last handler
        "before-parameter-build", on_snapshots(lambda p: p.setdefault(NAME, "orders-manual-1"))
    )
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as blocked:
        rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", **{NAME: "orders-manual-1"})
    assert [v.rule for v in blocked.value.violations] == ["tags.required"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_call_a_handler_leaves_without_its_name_gets_botocores_own_refusal(
    moto_server: MotoServer, tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The program's handler adds tags but no name: nothing to read, so nothing but
    botocore's validation says the call is incomplete; judged anyway, it was blocked
    (`identifier.missing`) or warned about, with a record, for a call botocore refuses."""
    session = boto3.Session(region_name="us-east-1")
    session.events.register(
        "before-parameter-build.rds",
        lambda params, **_: params.setdefault("Tags", [{"Key": "team", "Value": "core"}]),
    )
    rds_guard.install(session, policy=write_policy(tmp_path, TEAM_REQUIRED, mode=mode))
    moto_server.reset_state()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    moto_server.reset_counts()
    with caplog.at_level("WARNING", logger="rds_guard"), pytest.raises(ParamValidationError) as e:
        rds.create_db_cluster_snapshot(DBClusterIdentifier="orders")
    assert type(e.value) is ParamValidationError
    assert moto_server.requests() == []
    assert audit_records(tmp_path) == [] and "rds_guard" not in caplog.text


def test_a_presign_past_the_clients_wrapper_without_its_name_gets_botocores_own_class(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """botocore's own presign function, called with the client: a call missing its name is
    refused with botocore's exact `ParamValidationError`, as before."""
    with pytest.raises(ParamValidationError) as bare:
        botocore.signers.generate_presigned_url(
            moto_server.client("rds"),
            "create_db_cluster_snapshot",
            Params={"DBClusterIdentifier": "orders"},
        )
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=write_policy(tmp_path, TEAM_REQUIRED, mode="enforce"))
    rds = moto_server.client("rds", session=session)
    with pytest.raises(ParamValidationError) as refused:
        botocore.signers.generate_presigned_url(
            rds, "create_db_cluster_snapshot", Params={"DBClusterIdentifier": "orders"}
        )
    assert (type(refused.value), str(refused.value)) == (ParamValidationError, str(bare.value))
    assert audit_records(tmp_path) == []


def test_a_presign_past_the_clients_wrapper_refused_at_the_guards_last_handler_is_refused(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler takes the name away after the guard's exact handler judged it (a name the
    pattern refuses); one registered after the guard's last handler puts it back. A call is
    judged again at request-created; a presign has no later event: left to botocore, the URL
    was signed for the refused name with no verdict and no record. Refused now."""
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-parameter-build.rds", on_snapshots(lambda p: p.pop(NAME)))
    rds_guard.install(session, policy=write_policy(tmp_path, NAMING_ONLY, mode="enforce"))
    rds = moto_server.client("rds", session=session)
    rds.meta.events.register_last(
        "before-parameter-build", on_snapshots(lambda p: p.setdefault(NAME, "BAD"))
    )
    with pytest.raises(ParamValidationError, match="DBClusterSnapshotIdentifier"):
        botocore.signers.generate_presigned_url(
            rds, "create_db_cluster_snapshot", Params={"DBClusterIdentifier": "o", NAME: "BAD"}
        )
    assert audit_records(tmp_path) == []


def test_a_call_mended_after_the_guard_still_says_which_tags_the_policy_added(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The guard added its default; the program's handler then adds the required tag to the
    Tags the guard wrote: the records still name the default as the policy's."""
    session = boto3.Session(region_name="us-east-1")
    session.events.register(
        "before-parameter-build.rds",
        on_snapshots(lambda p: p["Tags"].append({"Key": "team", "Value": "core"})),
    )
    policy = write_policy(tmp_path, TAG_RULES_AND_A_DEFAULT, mode="enforce")
    rds_guard.install(session, policy=policy)
    moto_server.reset_state()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    moto_server.reset_counts()
    assert made(moto_server, rds, **{NAME: "orders-manual-1"}) == (
        "orders-manual-1",
        {"managed": "g", "team": "core"},
    )
    requested = audit_records(tmp_path)[0]
    assert (requested["injected"], requested["violations"]) == (["managed"], [])


def test_a_name_a_handler_registered_after_the_guards_fills_in_goes(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A handler the program registers last after the guard's (on the client it made): the
    call botocore sends is named, and is judged as sent, at request-created."""
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=write_policy(tmp_path, NAMING_ONLY, mode="enforce"))
    moto_server.reset_state()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    rds.meta.events.register_last(
        "before-parameter-build", on_snapshots(lambda p: p.setdefault(NAME, "orders-manual-1"))
    )
    moto_server.reset_counts()
    assert made(moto_server, rds)[0] == "orders-manual-1"
    requested, created = audit_records(tmp_path)
    assert (requested["snapshot"], requested["violations"]) == ("orders-manual-1", [])
    assert created["event"] == "created"


def aws_tag(params: dict[str, Any]) -> None:
    """A handler's change that breaks the policy: a tag key AWS reserves."""
    params["Tags"] = [*params.get("Tags", []), {"Key": "aws:bad", "Value": "x"}]


@pytest.mark.parametrize(
    ("change", "signed"),
    [(aws_tag, False), (lambda p: p.setdefault("Tags", [{"Key": "team", "Value": "core"}]), True)],
    ids=["breaks it", "completes it"],
)
def test_a_presign_past_the_clients_wrapper_is_judged_after_every_handler(
    moto_server: MotoServer,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], object],
    signed: bool,
) -> None:
    """botocore's own presign function, called with the client: judged and recorded at the
    guard's exact handler, before the program's handler changed the call (a URL signed with
    a tag AWS reserves, recorded as compliant; a call the handler completes refused)."""
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-parameter-build.rds", on_snapshots(change))
    rds_guard.install(session, policy=write_policy(tmp_path, TEAM_REQUIRED, mode="enforce"))
    moto_server.reset_state()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    params = {"DBClusterIdentifier": "orders", NAME: "orders-manual-1"}
    presign = functools.partial(
        botocore.signers.generate_presigned_url, rds, "create_db_cluster_snapshot", Params=params
    )
    if not signed:
        with pytest.raises(rds_guard.PolicyViolation, match="aws:"):
            presign()
        assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]
        return
    url = presign()
    assert "Tags.Tag.1.Key=team" in url
    (record,) = audit_records(tmp_path)
    assert (record["event"], record["tags"], record["violations"]) == (
        "presigned",
        {"team": "core"},
        [],
    )

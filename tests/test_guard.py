"""The guard inside a real botocore pipeline: moto over HTTP on 127.0.0.1, in-process moto,
and a DocumentDB fake answering ``before-send``. Requests are counted at the server, by action,
to prove what a guarded call did and did not send."""

from __future__ import annotations

import contextlib
import copy
import logging
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from aws import guarded_client, guarded_session, make_cluster, snapshot_arn, snapshot_tags
from botocore.exceptions import ParamValidationError
from policies import AUDITED, DEFAULTS_ONLY, STRICT, WARN, write_policy
from servers import DocDBResponder, MotoServer, query_answer

import rds_guard

GOOD = "orders-daily-20261129"
TEAM_ENV = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]


def test_a_compliant_call_goes_through_once_with_the_policy_tags_added(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A compliant call goes through once, with the policy's default and forced tags added."""
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    make_cluster(rds)
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM_ENV
    )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert snapshot_tags(rds, GOOD) == {
        "team": "core",
        "env": "prod",
        "managed-by": "rds-guard",
        "backup-policy": "standard",
    }


def test_identifier_block_sends_only_the_source_look_up(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """When the identifier alone blocks the call, the source is still read (read-only) so
    that every violation is listed; the create is never sent."""
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "qa"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    assert [v.rule for v in caught.value.violations] == ["identifier.pattern", "tags.allowed"]
    assert moto_server.actions() == ["DescribeDBClusters"]


def test_tag_block_only_reads_the_source(moto_server: MotoServer, tmp_path: Path) -> None:
    """A call blocked on inherited tags made only read-only look-ups, never the create."""
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "qa"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [("tags.allowed", "Tags.env")]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert set(moto_server.actions()) <= {"DescribeDBClusters", "ListTagsForResource"}
    assert moto_server.count("DescribeDBClusters") == 1


def test_policy_violation_is_a_param_validation_error(moto_inprocess: None, tmp_path: Path) -> None:
    """PolicyViolation is botocore's ParamValidationError and lists every violation, a line each."""
    rds = guarded_client(write_policy(tmp_path, STRICT))
    make_cluster(rds)
    with pytest.raises(ParamValidationError) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="Bad--Name-",
            Tags=[{"Key": "Team", "Value": "x"}, {"Key": "env", "Value": "qa"}],
        )
    error = caught.value
    assert isinstance(error, rds_guard.PolicyViolation)
    assert error.operation == "CreateDBClusterSnapshot"
    rules = [v.rule for v in error.violations]
    assert rules == ["identifier.aws", "identifier.pattern", "tags.required", "tags.allowed"]
    text = str(error)
    for violation in error.violations:
        assert f"[{violation.rule}] {violation.field}" in text
    assert "there is 'Team'" in text


@pytest.mark.parametrize("service", ["rds", "neptune"])
def test_inherited_tags_survive_the_defaults(
    moto_server: MotoServer, tmp_path: Path, service: str
) -> None:
    """CopyTagsToSnapshot: the snapshot keeps the cluster's tags and gets the policy's."""
    client = guarded_client(write_policy(tmp_path, STRICT), service, on=moto_server)
    cluster_tags = {"team": "core", "env": "prod", "aws:cloudformation:stack": "s", "owner": "a"}
    make_cluster(client, copy_tags=True, tags=cluster_tags)
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
    )
    sent = moto_server.last_params("CreateDBClusterSnapshot")
    assert not any(v.startswith("aws:") for v in sent.values()), "aws: keys are never sent"
    tags = snapshot_tags(client, GOOD)
    assert {k: v for k, v in tags.items() if not k.startswith("aws:")} == {
        "team": "core",
        "env": "prod",
        "owner": "a",
        "managed-by": "rds-guard",
        "backup-policy": "standard",
    }


def test_caller_tags_switch_inheritance_off_as_aws_does(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """inherit = true: a caller who sends Tags gets no inherited tags, exactly as from AWS."""
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "prod", "owner": "a"})
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM_ENV
    )
    assert "owner" not in snapshot_tags(rds, GOOD)
    assert moto_server.count("DescribeDBClusters") == 0, "no need to read the source"


def test_inherit_always_keeps_source_tags_beside_the_callers(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """inherit = "always": the source's tags are kept even when the caller sent Tags."""
    rds = guarded_client(write_policy(tmp_path, STRICT, inherit="always"), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "other", "env": "prod", "owner": "a"})
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM_ENV
    )
    tags = snapshot_tags(rds, GOOD)
    assert tags["owner"] == "a"
    assert tags["team"] == "core", "the caller's value wins on a clash"


def test_copy_with_copy_tags_keeps_the_source_snapshots_tags(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """CopyDBClusterSnapshot with CopyTags=True: the copy keeps the source snapshot's tags."""
    plain = moto_server.client("rds")
    make_cluster(plain)
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-daily-20261128",
        Tags=[*TEAM_ENV, {"Key": "owner", "Value": "a"}],
    )
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="orders-daily-20261128",
        TargetDBClusterSnapshotIdentifier="orders-daily-20261128-copy",
        CopyTags=True,
    )
    assert snapshot_tags(rds, "orders-daily-20261128-copy") == {
        "team": "core",
        "env": "prod",
        "owner": "a",
        "managed-by": "rds-guard",
        "backup-policy": "standard",
    }


COPIED_TAGS = {
    "team": "core",
    "env": "prod",
    "managed-by": "rds-guard",
    "backup-policy": "standard",
}
"""The tags of a copy of a snapshot tagged `TEAM_ENV`, under `STRICT`."""


def test_a_copy_of_a_source_named_by_its_arn_reads_its_tags_on_the_arn(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A copy's source may be named by its ARN, which a Describe does not take: the guard
    lists the tags on the ARN (one read), and the copy is made with them."""
    plain = moto_server.client("rds")
    make_cluster(plain)
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-daily-20261128",
        Tags=TEAM_ENV,
    )
    arn = snapshot_arn(plain, "orders-daily-20261128")
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    moto_server.reset_counts()
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=arn,
        TargetDBClusterSnapshotIdentifier="orders-daily-20261128-copy",
        CopyTags=True,
    )
    assert moto_server.actions() == ["ListTagsForResource", "CopyDBClusterSnapshot"]
    assert moto_server.last_params("ListTagsForResource")["ResourceName"] == arn
    assert snapshot_tags(rds, "orders-daily-20261128-copy") == COPIED_TAGS


def test_a_copy_of_an_automated_snapshot_describes_it_as_automated(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """AWS's DescribeDBClusterSnapshots: "If this identifier is for an automated snapshot,
    the SnapshotType parameter must also be specified." Copying an automated snapshot (named
    ``rds:...``) to keep it, the commonest backup job, reads it as one."""
    plain = moto_server.client("rds")
    make_cluster(plain)
    (automated,) = plain.describe_db_cluster_snapshots(SnapshotType="automated")[
        "DBClusterSnapshots"
    ]
    name = automated["DBClusterSnapshotIdentifier"]
    assert name.startswith("rds:orders-")
    plain.add_tags_to_resource(ResourceName=automated["DBClusterSnapshotArn"], Tags=TEAM_ENV)
    rds = guarded_client(write_policy(tmp_path, STRICT), on=moto_server)
    moto_server.reset_counts()
    target = f"{name[4:]}-copy"
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=name,
        TargetDBClusterSnapshotIdentifier=target,
        CopyTags=True,
    )
    assert moto_server.last_params("DescribeDBClusterSnapshots")["SnapshotType"] == "automated"
    assert snapshot_tags(rds, target) == COPIED_TAGS


def test_a_forced_tag_of_the_making_call_is_written_back_as_it_is_or_not_at_all(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A forced `{operation}` tag holds the name of the call that made the snapshot: a
    tag-sync job writing the snapshot's tags back as they are goes through (the snapshot's
    tags read to tell); setting it to the tag request's own name, or any other value, is
    `tags.forced`, and no AddTagsToResource is sent."""
    policy = 'version = 1\nmode = "enforce"\n[tags.forced]\nmade-by = "{operation}"\n'
    rds = guarded_client(write_policy(tmp_path, policy), on=moto_server)
    make_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    assert snapshot_tags(rds, GOOD) == {"made-by": "CreateDBClusterSnapshot"}
    arn = snapshot_arn(rds, GOOD)
    moto_server.reset_counts()
    for value in ("AddTagsToResource", "CopyDBClusterSnapshot"):
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            rds.add_tags_to_resource(
                ResourceName=arn, Tags=[{"Key": "made-by", "Value": value}, *TEAM_ENV]
            )
        assert [(v.rule, v.field) for v in caught.value.violations] == [
            ("tags.forced", "Tags.made-by")
        ]
        assert "{operation}" in caught.value.violations[0].message
        assert "(it carries 'CreateDBClusterSnapshot')" in caught.value.violations[0].message
    assert moto_server.count("AddTagsToResource") == 0
    synced = [{"Key": "made-by", "Value": "CreateDBClusterSnapshot"}, *TEAM_ENV]
    rds.add_tags_to_resource(ResourceName=arn, Tags=synced)
    assert moto_server.count("AddTagsToResource") == 1
    assert snapshot_tags(rds, GOOD) == {
        "made-by": "CreateDBClusterSnapshot",
        "team": "core",
        "env": "prod",
    }


def test_policy_without_tag_work_makes_no_extra_call(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """No defaults, no forced tags, no tag rules: the guard reads nothing and sends one request."""
    rds = guarded_client(write_policy(tmp_path, WARN, enabled=False), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    moto_server.reset_counts()
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD)
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    assert "Tags.Tag.1.Key" not in moto_server.last_params("CreateDBClusterSnapshot")
    assert snapshot_tags(rds, GOOD) == {"team": "core"}, "AWS's own copy was left alone"


def test_warn_mode_logs_and_sends(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """warn: every violation is logged at WARNING on 'rds_guard' and the call is sent."""
    rds = guarded_client(write_policy(tmp_path, STRICT, mode="warn"), on=moto_server)
    make_cluster(rds)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "rds_guard"]
    assert any("identifier.pattern" in m for m in messages)
    assert any("tags.required" in m and "Tags.team" in m for m in messages)
    assert snapshot_tags(rds, "test2")["managed-by"] == "rds-guard"


def test_each_line_the_guard_logs_is_one_line_whatever_the_call_holds(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tag key and value holding line breaks, sent in warn mode: each message the guard
    logs (each violation at WARNING, the call's verdict at INFO) stays one line, so no line
    of the application's log is forged; the break is shown escaped."""
    rds = guarded_client(write_policy(tmp_path, STRICT, mode="warn"), on=moto_server)
    make_cluster(rds)
    forged = "x\nrds_guard: rds CreateDBClusterSnapshot forged: allowed\u2028"
    with caplog.at_level(logging.INFO, logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier="test2",
            Tags=[{"Key": forged, "Value": forged}],
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "rds_guard"]
    assert any("tags.aws" in m for m in messages)
    assert any("x\\nrds_guard" in m for m in messages)
    assert all(len(m.splitlines()) == 1 and m.isprintable() for m in messages), messages


def test_a_call_without_an_identifier_is_named_by_the_generate_template(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """No identifier: the policy's generate template names the snapshot."""
    rds = guarded_client(write_policy(tmp_path, STRICT))
    make_cluster(rds, name="Orders")
    made = rds.create_db_cluster_snapshot(DBClusterIdentifier="Orders", Tags=TEAM_ENV)
    name = made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"]
    assert name.startswith("orders-manual-") and len(name) == len("orders-manual-20261129")


def test_caller_objects_are_never_mutated(moto_inprocess: None, tmp_path: Path) -> None:
    """The caller's kwargs, Tags list and tag dicts come back exactly as they went in."""
    rds = guarded_client(write_policy(tmp_path, STRICT))
    make_cluster(rds)
    tags = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]
    kwargs: dict[str, Any] = {"DBClusterIdentifier": "orders", "Tags": tags}
    before = copy.deepcopy(kwargs)
    rds.create_db_cluster_snapshot(**kwargs)
    assert kwargs == before and kwargs["Tags"] is tags and tags == before["Tags"]


def test_clients_made_before_install_and_calls_after_uninstall_are_unguarded(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """Clients made before a session install are not reached; uninstall silences the rest."""
    session = boto3.Session(region_name="us-east-1")
    early = session.client("rds")
    make_cluster(early)
    guard = rds_guard.install(session, policy=write_policy(tmp_path, STRICT))
    during = session.client("rds")
    early.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="early"
    )
    with pytest.raises(rds_guard.PolicyViolation):
        during.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x1"
        )
    assert guard.active
    guard.uninstall()
    assert not guard.active
    during.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x1"
    )
    after = session.client("rds")
    after.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x2")


def test_a_guards_policy_cannot_be_swapped_under_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """``guard.policy = <a warn policy>`` made calls judged in warn mode by half of the
    guard (its leniency was settled at install from the enforce policy) while every record
    carried the enforce file's digest. The policy is read-only; the call is still blocked
    and never sent."""
    session, guard = guarded_session(write_policy(tmp_path, STRICT), on=moto_server)
    enforced = guard.policy
    with pytest.raises(AttributeError):
        guard.policy = rds_guard.Policy(mode="warn")  # type: ignore[misc]
    assert guard.policy is enforced
    rds = moto_server.client("rds", session=session)
    make_cluster(rds, copy_tags=True, tags={"team": "core", "env": "qa"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    guard.uninstall()


def test_leaving_the_with_block_uninstalls_the_guard(moto_inprocess: None, tmp_path: Path) -> None:
    """Leaving the with block makes the guard inert."""
    session = boto3.Session(region_name="us-east-1")
    rds = None
    with rds_guard.install(session, policy=write_policy(tmp_path, STRICT)) as guard:
        rds = session.client("rds")
        make_cluster(rds)
        with pytest.raises(rds_guard.PolicyViolation):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
            )
    assert not guard.active
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x")


def test_a_guard_whose_block_has_ended_refuses_another_block(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Entered again after its block (a loop around ``with guard:``), or after uninstall(),
    a guard refuses the block: its calls would go unguarded, with nothing said."""
    session = boto3.Session(region_name="us-east-1")
    guard = rds_guard.install(session, policy=write_policy(tmp_path, STRICT))
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    moto_server.reset_counts()
    with guard, pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )
    with pytest.raises(RuntimeError, match="cannot guard this block: it is uninstalled"):  # noqa: SIM117
        with guard:
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="y"
            )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    again = rds_guard.install(session, policy=write_policy(tmp_path, STRICT))
    again.uninstall()
    with pytest.raises(RuntimeError, match="it is uninstalled"):
        again.__enter__()


def test_a_guard_in_a_block_refuses_a_block_inside_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A block of the guard inside its own block is refused before it starts: leaving it
    would have uninstalled the guard for the rest of the outer block. The outer block stays
    guarded, and its end uninstalls the guard."""
    session = boto3.Session(region_name="us-east-1")
    with rds_guard.install(session, policy=write_policy(tmp_path, STRICT)) as guard:
        rds = moto_server.client("rds", session=session)
        make_cluster(rds)
        with pytest.raises(RuntimeError, match="in a `with` block already"), guard:
            pass  # never reached
        assert guard.active
        moto_server.reset_counts()
        with pytest.raises(rds_guard.PolicyViolation):
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="bad-2"
            )
        assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert not guard.active


def test_a_suspended_guard_can_guard_a_block(moto_inprocess: None, tmp_path: Path) -> None:
    """A guard another install took over from is not uninstalled: it may be entered, and
    leaving its block uninstalls it, bringing back none (the newer one stays in force)."""
    session = boto3.Session(region_name="us-east-1")
    first = rds_guard.install(session, policy=write_policy(tmp_path, STRICT))
    second = rds_guard.install(session, policy=write_policy(tmp_path / "warn", STRICT, mode="warn"))
    with first:
        assert second.active and not first.active
    assert second.active
    second.uninstall()
    assert not first.active  # leaving its block removed it from the stack


def test_reinstall_replaces_the_earlier_guard(moto_inprocess: None, tmp_path: Path) -> None:
    """A second install on the same session takes over the clients the first one guarded."""
    session = boto3.Session(region_name="us-east-1")
    first = rds_guard.install(session, policy=write_policy(tmp_path, STRICT))
    rds = session.client("rds")
    make_cluster(rds)
    second = rds_guard.install(session, policy=write_policy(tmp_path / "warn", STRICT, mode="warn"))
    assert not first.active and second.active
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x")
    first.uninstall()  # an inert guard's uninstall must not touch the new one
    assert second.active
    later = session.client("rds")
    later.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="y")
    assert snapshot_tags(later, "y")["managed-by"] == "rds-guard", "the warn guard still adds tags"


def test_direct_client_install_wins_over_the_session(moto_inprocess: None, tmp_path: Path) -> None:
    """A client guarded by its session and directly is guarded once, by the direct guard."""
    rds = guarded_client(write_policy(tmp_path, STRICT))
    make_cluster(rds)
    direct = rds_guard.install(rds, policy=write_policy(tmp_path / "warn", STRICT, mode="warn"))
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x")
    tags = rds.list_tags_for_resource(ResourceName=snapshot_arn(rds, "x"))["TagList"]
    assert [t["Key"] for t in tags].count("managed-by") == 1
    direct.uninstall()
    with pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="y"
        )


def test_install_takes_a_botocore_session_and_a_client(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """install() takes a botocore Session and an rds/docdb/neptune client too."""
    policy = write_policy(tmp_path, STRICT)
    session = botocore.session.Session()
    rds_guard.install(session, policy=policy)
    rds = session.create_client("rds", region_name="us-east-1")
    make_cluster(rds)
    with pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )
    neptune = boto3.client("neptune", region_name="us-east-1")
    rds_guard.install(neptune, policy=policy)
    with pytest.raises(rds_guard.PolicyViolation):
        neptune.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )


def test_install_refuses_other_targets(tmp_path: Path) -> None:
    """A client of another service is a ValueError naming it; other objects a TypeError."""
    policy = write_policy(tmp_path, STRICT)
    with pytest.raises(ValueError, match="'s3'"):
        rds_guard.install(boto3.client("s3", region_name="us-east-1"), policy=policy)
    with pytest.raises(TypeError, match="str"):
        rds_guard.install("rds", policy=policy)


def test_without_a_policy_install_looks_at_the_environment_then_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """policy=None: $RDS_GUARD_POLICY, then ./rds_guard.toml, else a PolicyError saying where."""
    session = boto3.Session(region_name="us-east-1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(rds_guard.PolicyError, match=r"RDS_GUARD_POLICY.*rds_guard\.toml"):
        rds_guard.install(session)
    write_policy(tmp_path, STRICT, mode="warn")
    assert rds_guard.install(session).policy.mode == "warn"
    monkeypatch.setenv("RDS_GUARD_POLICY", str(write_policy(tmp_path / "other", STRICT)))
    assert rds_guard.install(session).policy.mode == "enforce"
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "missing.toml"))
    with pytest.raises(rds_guard.PolicyError, match=r"missing\.toml"):
        rds_guard.install(session)


def test_an_empty_audit_path_variable_counts_as_unset_and_an_empty_policy_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: an empty $RDS_GUARD_AUDIT_PATH counts as unset (the policy's path is used, the
    calls still recorded); an empty $RDS_GUARD_POLICY is a PolicyError (no policy, no guard),
    even with ./rds_guard.toml there."""
    monkeypatch.chdir(tmp_path)
    write_policy(tmp_path, AUDITED)
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", "")
    guard = rds_guard.install(boto3.Session(region_name="us-east-1"))
    try:
        assert guard.audit is not None and guard.audit.path == tmp_path / "audit.jsonl"
    finally:
        guard.uninstall()
    monkeypatch.setenv("RDS_GUARD_POLICY", "")
    with pytest.raises(rds_guard.PolicyError, match="RDS_GUARD_POLICY"):
        rds_guard.install(boto3.Session(region_name="us-east-1"))


def test_unset_hmac_key_is_a_policy_error_at_install(tmp_path: Path) -> None:
    """hmac_key_env naming an unset variable fails at install, not at the first call, with
    the line of the file that names it (README: PolicyError reads PATH:LINE: key: ...); a
    policy made from text, or a file changed since it was read, has no line to give."""
    body = 'version = 1\n\n[audit]\nhmac_key_env = "RDS_GUARD_TEST_KEY"\n'
    path = write_policy(tmp_path, body)
    session = boto3.Session(region_name="us-east-1")
    with pytest.raises(rds_guard.PolicyError, match="RDS_GUARD_TEST_KEY") as caught:
        rds_guard.install(session, policy=path)
    assert (caught.value.key, caught.value.line) == ("audit.hmac_key_env", 4)
    assert str(caught.value).startswith(f"{path}:4: audit.hmac_key_env: ")
    read = rds_guard.load_policy(path)
    path.write_text("# moved down\n" + body)
    with pytest.raises(rds_guard.PolicyError) as changed:
        rds_guard.install(session, policy=read)
    assert changed.value.line is None
    with pytest.raises(rds_guard.PolicyError) as from_text:
        rds_guard.install(session, policy=rds_guard.Policy.from_toml(body))
    assert from_text.value.line is None


def test_documentdb_gets_the_policy_tags_and_never_sees_a_blocked_call(
    docdb: DocDBResponder, tmp_path: Path
) -> None:
    """DocumentDB: completed tags reach the service; a blocked call never reaches it."""
    client = guarded_client(write_policy(tmp_path, STRICT), "docdb", on=docdb)
    make_cluster(client)
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM_ENV
    )
    assert docdb.tags(GOOD) == {
        "team": "core",
        "env": "prod",
        "managed-by": "rds-guard",
        "backup-policy": "standard",
    }
    docdb.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
        )
    assert docdb.count("CreateDBClusterSnapshot") == 0


def test_a_cross_region_copy_whose_source_cannot_be_read_is_tags_inherit(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A copy from another region whose tags the guard would have to keep: tags.inherit, unsent.
    Its ways out are the two that help: no access granted lets a client of this region read a
    source in another."""
    west = guarded_client(write_policy(tmp_path, STRICT), on=moto_server, region="us-west-2")
    source = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:orders-daily-20261128"
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=source,
            TargetDBClusterSnapshotIdentifier="orders-daily-20261128-copy",
            CopyTags=True,
            SourceRegion="us-east-1",
        )
    assert [v.rule for v in caught.value.violations] == ["tags.inherit"]
    message = caught.value.violations[0].message
    assert "the source is in us-east-1, the client in us-west-2" in message
    assert message.endswith(": send Tags explicitly, or set inherit = false in [tags]")
    assert "grant read access" not in message
    assert moto_server.count("CopyDBClusterSnapshot") == 0
    # evaluate, told the client's region, says the same whatever tags it is given offline
    offline = rds_guard.evaluate(
        rds_guard.load_policy(write_policy(tmp_path, STRICT)),
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": source,
            "TargetDBClusterSnapshotIdentifier": "orders-daily-20261128-copy",
            "CopyTags": True,
        },
        source_tags={"team": "payments", "env": "prod"},
        region="us-west-2",
    )
    assert offline.violations == caught.value.violations


def test_cross_region_copy_presigns_with_the_policy_tags(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presigned cross-region copy deep-copies the call context: the guard's state survives."""
    plain_east = moto_server.client("rds")
    make_cluster(plain_east)
    plain_east.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-daily-20261128"
    )
    policy = write_policy(tmp_path, STRICT, inherit=False)
    west = guarded_client(policy, on=moto_server, region="us-west-2")
    source = snapshot_arn(plain_east, "orders-daily-20261128")
    moto_server.reset_counts()
    # moto may refuse the cross-region source; the request was still built and sent.
    with contextlib.suppress(west.exceptions.ClientError):
        west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=source,
            TargetDBClusterSnapshotIdentifier="orders-daily-20261128-copy",
            SourceRegion="us-east-1",
            Tags=TEAM_ENV,
        )
    sent = moto_server.last_params("CopyDBClusterSnapshot")
    assert "PreSignedUrl" in sent
    assert "managed-by" in sent["PreSignedUrl"], "the presigned request carries the final tags"
    assert moto_server.count("CopyDBClusterSnapshot") == 1


def test_a_callers_tag_without_a_value_is_sent_without_one_beside_the_policys_tags(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A caller's tag given with no ``Value`` goes with no ``Value`` field, as a bare client
    sends it, when the guard rewrites the list to add a default tag (it went as ``Value=``,
    an empty value); the tag the guard adds has its value. (moto answers such a tag with a
    500: the request is read and answered at ``before-send``.)"""
    plain = moto_server.client("rds")
    make_cluster(plain)
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    tags = [{"Key": "team"}, {"Key": "env", "Value": ""}]
    sent: list[dict[str, str]] = []

    model = plain.meta.service_model
    operation = model.operation_model("CreateDBClusterSnapshot")

    def answer(request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent.append(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
        result = {"DBClusterSnapshot": {"DBClusterSnapshotIdentifier": "orders-1"}}
        return query_answer(model, request, operation, result, "rid")

    for client in (plain, rds):
        client.meta.events.register_first("before-send.rds.CreateDBClusterSnapshot", answer)
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-1", Tags=tags
        )
    given = [{k: v for k, v in form.items() if k.startswith("Tags.Tag.")} for form in sent]
    assert given[0] == {"Tags.Tag.1.Key": "team", "Tags.Tag.2.Key": "env", "Tags.Tag.2.Value": ""}
    assert given[1] == given[0] | {"Tags.Tag.3.Key": "managed-by", "Tags.Tag.3.Value": "rds-guard"}
    assert tags == [{"Key": "team"}, {"Key": "env", "Value": ""}], "the caller's list untouched"

"""``rds-guard eval`` of what the second release judges: deletes under ``[deletion]`` (with
``--snapshot-created`` and ``--source-tag`` standing for what the guard would read of the
snapshot), exports under ``[export]``, stops that make a snapshot, and what each records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import assert_one_error_line, eval_json, rules_of, run_eval
from policies import write_policy

import rds_guard
from rds_guard.cli import eval as cli_eval
from rds_guard.core.operations import OPERATIONS, snake_case

DELETION_POLICY = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"

[export]
s3_buckets = ["acme-backups-*"]

[deletion]
final_snapshot = "required"
automated_backups = "keep"
minimum_age_days = 7

[deletion.hold_tags]
legal-hold = "true"
"""

SNAPSHOT = "orders-manual-20261120"
SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{SNAPSHOT}"
DELETE_SNAPSHOT = ("DeleteDBClusterSnapshot", "--param", f"DBClusterSnapshotIdentifier={SNAPSHOT}")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, DELETION_POLICY)


def days_ago(days: float) -> str:
    """An ISO 8601 time ``days`` ago, without a zone (so UTC)."""
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


# --- database deletes -----------------------------------------------------------------------


def test_a_delete_without_a_final_snapshot_is_judged_and_recorded(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    result = run_eval(
        capsys, policy, "DeleteDBCluster",
        "--param", "DBClusterIdentifier=orders", "--param", "SkipFinalSnapshot=true",
    )  # fmt: skip
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        "blocked: rds DeleteDBCluster breaks 2 rules; in enforce mode it would not be sent",
        "  [deletion.final_snapshot] SkipFinalSnapshot: a final snapshot is required ([deletion]"
        ' final_snapshot = "required"): pass FinalDBSnapshotIdentifier instead of'
        " SkipFinalSnapshot=True",
        "  [deletion.automated_backups] DeleteAutomatedBackups: the automated backups must be"
        ' kept ([deletion] automated_backups = "keep"): pass DeleteAutomatedBackups=False (when'
        " it is not given, AWS deletes them)",
        "params:",
        "  DBClusterIdentifier = orders",
        "  SkipFinalSnapshot = true",
        "injected: none",
        "inherited: none",
        "record: blocked, with its violations",
        "  note: the delete takes the automated backups of orders with it (DeleteAutomatedBackups"
        " not given)",
    ]


def test_a_delete_in_warn_mode_records_its_violations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warn = write_policy(tmp_path, DELETION_POLICY, mode="warn")
    result = run_eval(
        capsys, warn, "DeleteDBInstance",
        "--param", "DBInstanceIdentifier=db1", "--param", "SkipFinalSnapshot=true",
        "--param", "DeleteAutomatedBackups=false",
    )  # fmt: skip
    assert result.code == 1
    assert (
        "record: requested, with its violations, then deleted if the service accepts it"
        " (no final snapshot is made)"
    ) in result.out.splitlines()


def test_a_delete_with_a_final_snapshot_records_the_snapshot(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    args = (
        "DeleteDBCluster", "--param", "DBClusterIdentifier=orders",
        "--param", "FinalDBSnapshotIdentifier=orders-manual-20261129",
        "--param", "DeleteAutomatedBackups=false",
    )  # fmt: skip
    result = run_eval(capsys, policy, *args)
    assert result.code == 0
    assert result.out.splitlines()[-2:] == [
        "record: requested, then created if the service accepts it",
        "  note: the delete keeps the automated backups of orders (DeleteAutomatedBackups=false)",
    ]


# --- snapshot deletes: --snapshot-created and --source-tag ----------------------------------


def test_a_snapshot_delete_is_judged_by_age_and_hold(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    created = days_ago(1)
    result = run_eval(
        capsys, policy, *DELETE_SNAPSHOT,
        "--snapshot-created", created, "--source-tag", "legal-hold=true",
        "--source-tag", "team=payments",
    )  # fmt: skip
    assert (result.code, result.err) == (1, "")
    lines = result.out.splitlines()
    assert lines[0] == (
        "blocked: rds DeleteDBClusterSnapshot breaks 2 rules; in enforce mode it would not be sent"
    )
    assert lines[1].startswith(
        "  [deletion.too_young] DBClusterSnapshotIdentifier: a snapshot may be deleted only when"
        f" 7 days old ([deletion] minimum_age_days): it was made {created}Z, 24 hours ago"
    )
    assert lines[2] == (
        "  [deletion.hold] Tags.legal-hold: the snapshot is on hold (legal-hold = true): it may"
        " not be deleted"
    )
    assert lines[-3:] == [
        "record: blocked, with its violations",
        f"  snapshot_created: {created}+00:00",
        "  hold tags: legal-hold = true",
    ]


@pytest.mark.parametrize(
    ("age", "tags", "rules"),
    [
        (8, ["team=payments"], []),
        (6.9, ["team=payments"], ["deletion.too_young"]),
        (8, ["legal-hold=true"], ["deletion.hold"]),
        (8, ["legal-hold=false"], []),
    ],
)
def test_snapshot_created_and_source_tags_stand_for_the_snapshot(
    capsys: pytest.CaptureFixture[str], policy: Path, age: float, tags: list[str], rules: list[str]
) -> None:
    source_tags = [word for tag in tags for word in ("--source-tag", tag)]
    code, document = eval_json(
        capsys, policy, *DELETE_SNAPSHOT, "--snapshot-created", days_ago(age), *source_tags
    )
    assert (code, rules_of(document)) == (1 if rules else 0, rules)


def test_snapshot_created_without_a_zone_is_utc(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    """The same moment, six days and 23 hours ago, written without a zone, with Z and with
    +00:00: too young each time."""
    moment = datetime.now(UTC) - timedelta(days=6, hours=23)
    for written in (
        moment.strftime("%Y-%m-%dT%H:%M:%S"),
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    ):
        code, document = eval_json(
            capsys, policy, *DELETE_SNAPSHOT, "--snapshot-created", written, "--source-tag", "a=b"
        )
        assert (code, rules_of(document)) == (1, ["deletion.too_young"]), written
    assert_one_error_line(
        run_eval(capsys, policy, *DELETE_SNAPSHOT, "--snapshot-created", "last week"),
        "--snapshot-created", "ISO 8601", "last week",
    )  # fmt: skip


@pytest.mark.parametrize("written", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_utc_cannot_hold_is_refused(
    capsys: pytest.CaptureFixture[str], policy: Path, written: str
) -> None:
    """A time whose zone puts it before year 1 or after 9999 in UTC: one line and exit 2
    from the command, a ValueError naming the argument from `evaluate`."""
    assert_one_error_line(
        run_eval(capsys, policy, *DELETE_SNAPSHOT, "--snapshot-created", written),
        "--snapshot-created", written, "out of range",
    )  # fmt: skip
    moment = datetime.fromisoformat(written)
    loaded = rds_guard.load_policy(policy)
    for name in ("snapshot_created", "now"):
        with pytest.raises(ValueError, match=f"{name} is out of range"):
            rds_guard.evaluate(
                loaded,
                "DeleteDBClusterSnapshot",
                {"DBClusterSnapshotIdentifier": "orders-manual-20261129"},
                **{name: moment},
            )


def test_what_cannot_be_judged_offline_is_said(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    """Without --snapshot-created the age is not judged, without --source-tag the snapshot is
    taken to carry no hold tag: the human report says so, --json says so on stderr."""
    result = run_eval(capsys, policy, *DELETE_SNAPSHOT)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[-3:] == [
        "record: requested, then deleted if the service accepts it",
        "not judged: the snapshot's age ([deletion] minimum_age_days = 7): give"
        " --snapshot-created TIME",
        "not judged: the hold tags ([deletion.hold_tags] legal-hold): the snapshot is taken to"
        " carry none; give --source-tag KEY=VALUE for each tag it carries",
    ]
    as_json = run_eval(capsys, policy, *DELETE_SNAPSHOT, "--json")
    assert as_json.json()["allowed"] is True
    assert [line.split(": ")[:3] for line in as_json.err.splitlines()] == [
        ["rds-guard", "note", "the snapshot's age ([deletion] minimum_age_days = 7)"],
        ["rds-guard", "note", "the hold tags ([deletion.hold_tags] legal-hold)"],
    ]
    given = run_eval(
        capsys, policy, *DELETE_SNAPSHOT,
        "--snapshot-created", days_ago(30), "--source-tag", "team=payments",
    )  # fmt: skip
    assert given.code == 0 and "not judged" not in given.out
    unreadable = run_eval(capsys, policy, *DELETE_SNAPSHOT, "--source-unreadable")
    assert unreadable.code == 1 and "not judged" not in unreadable.out


@pytest.mark.parametrize(
    ("service", "args", "said"),
    [
        (
            "rds",
            ("DeleteDBInstance", "--param", "DBInstanceIdentifier=o-1", "--param",
             "SkipFinalSnapshot=true", "--param", "DeleteAutomatedBackups=false"),
            "the instance ([deletion] final_snapshot = \"required\"): it is taken to be an"
            " ordinary one; the guard reads it, and lets a cluster member, a read replica, an"
            " RDS Custom instance or one in a failure state go without a final snapshot",
        ),
        (
            "neptune",
            ("DeleteDBCluster", "--param", "DBClusterIdentifier=g", "--param",
             "FinalDBSnapshotIdentifier=g-manual-20261120"),
            "the database's engine ([deletion] automated_backups = \"keep\"): it is taken to"
            " be an RDS one, whose automated backups go with it; the guard reads it, and lets"
            " a DocumentDB or Neptune cluster's delete go",
        ),
        (
            "neptune",
            ("ModifyDBInstance", "--param", "DBInstanceIdentifier=g-1", "--param",
             "BackupRetentionPeriod=0"),
            "the instance ([deletion] automated_backups = \"keep\"): it is taken to be no"
            " cluster member; the guard reads it, and lets BackupRetentionPeriod=0 on a cluster"
            " member go (its automated backups are the cluster's)",
        ),
    ],
)  # fmt: skip
def test_what_the_guard_would_read_of_the_database_is_said_when_it_decides(
    capsys: pytest.CaptureFixture[str],
    policy: Path,
    service: str,
    args: tuple[str, ...],
    said: str,
) -> None:
    """Offline there is no database to read: where its kind would decide the call (an
    exemption from the final snapshot, an engine without automated backups to keep), the
    report says what it was taken to be."""
    result = run_eval(capsys, policy, *args, "--service", service)
    assert result.code == 1
    assert result.out.splitlines()[-1] == f"not judged: {said}"
    allowed = run_eval(capsys, policy, "DeleteDBCluster", "--param", "DBClusterIdentifier=g",
                       "--param", "FinalDBSnapshotIdentifier=g-manual-20261120", "--param",
                       "DeleteAutomatedBackups=false")  # fmt: skip
    assert allowed.code == 0 and "not judged" not in allowed.out


def test_a_tag_operation_may_not_lift_a_hold(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    untag = ("RemoveTagsFromResource", "--param", f"ResourceName={SNAPSHOT_ARN}")
    code, document = eval_json(
        capsys, policy, *untag, "--param", "TagKeys=legal-hold", "--source-tag", "legal-hold=true"
    )
    assert (code, rules_of(document)) == (1, ["deletion.hold"])
    result = run_eval(capsys, policy, *untag, "--param", "TagKeys=legal-hold")
    assert result.code == 0
    assert result.out.splitlines()[-1].startswith("not judged: the hold tags")
    other = run_eval(capsys, policy, *untag, "--param", "TagKeys=team")
    assert other.code == 0 and "not judged" not in other.out


# --- the other operations of the second release ---------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "rules"),
    [
        (
            "StartExportTask",
            ["ExportTaskIdentifier=e1", f"SourceArn={SNAPSHOT_ARN}", "S3BucketName=scratch",
             "IamRoleArn=arn:aws:iam::123456789012:role/export", "KmsKeyId=alias/export"],
            ["export.bucket"],
        ),
        (
            "StartExportTask",
            ["ExportTaskIdentifier=e1", f"SourceArn={SNAPSHOT_ARN}",
             "S3BucketName=acme-backups-eu", "IamRoleArn=arn:aws:iam::123456789012:role/export",
             "KmsKeyId=alias/export"],
            [],
        ),
        (
            "DeleteTenantDatabase",
            ["DBInstanceIdentifier=db1", "TenantDBName=shop", "SkipFinalSnapshot=true"],
            ["deletion.final_snapshot"],
        ),
        (
            "DeleteTenantDatabase",
            ["DBInstanceIdentifier=db1", "TenantDBName=shop",
             "FinalDBSnapshotIdentifier=shop-final"],
            ["identifier.pattern"],
        ),
        ("StopDBInstance", ["DBInstanceIdentifier=db1", "DBSnapshotIdentifier=db1-stop"],
         ["identifier.pattern"]),
        ("StopDBInstance", ["DBInstanceIdentifier=db1", "DBSnapshotIdentifier=db1-daily-20261129"],
         []),
        ("DeleteDBInstanceAutomatedBackup", ["DbiResourceId=db-ABCDEF"],
         ["deletion.automated_backups"]),
        ("DeleteDBClusterAutomatedBackup", ["DbClusterResourceId=cluster-ABCDEF"],
         ["deletion.automated_backups"]),
        ("DeleteDBClusterGroupAutomatedBackup", ["DBClusterGroupResourceId=clustergroup-ab12"],
         ["deletion.automated_backups"]),
        ("DeleteDBClusterGroup", ["DBClusterGroupIdentifier=orders"],
         ["deletion.automated_backups"]),
        ("DeleteDBClusterGroup",
         ["DBClusterGroupIdentifier=orders", "DeleteAutomatedBackups=true"],
         ["deletion.automated_backups"]),
        ("DeleteDBClusterGroup",
         ["DBClusterGroupIdentifier=orders", "DeleteAutomatedBackups=false"], []),
        ("CreateDBClusterGroupSnapshot",
         ["DBClusterGroupIdentifier=db1", "DBClusterGroupSnapshotIdentifier=weekly"],
         ["identifier.pattern"]),
    ],
)  # fmt: skip
def test_the_second_release_operations_are_judged(
    capsys: pytest.CaptureFixture[str],
    policy: Path,
    operation: str,
    params: list[str],
    rules: list[str],
) -> None:
    words = [word for param in params for word in ("--param", param)]
    code, document = eval_json(capsys, policy, operation, *words)
    assert (code, rules_of(document)) == (1 if rules else 0, rules)


def test_a_group_delete_that_keeps_its_backups_says_why_it_is_not_judged(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    result = run_eval(
        capsys, policy, "DeleteDBClusterGroup",
        "--param", "DBClusterGroupIdentifier=orders", "--param", "DeleteAutomatedBackups=false",
    )  # fmt: skip
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        "allowed: rds DeleteDBClusterGroup is not judged (DeleteAutomatedBackups=False keeps"
        " the automated backups); it would be sent as is"
    )


def test_an_export_records_its_bucket_and_key(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    result = run_eval(
        capsys, policy, "StartExportTask",
        "--param", "ExportTaskIdentifier=e1", "--param", f"SourceArn={SNAPSHOT_ARN}",
        "--param", "S3BucketName=acme-backups-eu", "--param", "KmsKeyId=alias/export",
        "--param", "IamRoleArn=arn:aws:iam::123456789012:role/export",
    )  # fmt: skip
    assert result.code == 0
    assert result.out.splitlines()[-3:] == [
        "record: requested, then exported if the service accepts it",
        "  note: bucket: acme-backups-eu",
        "  note: kms key: alias/export",
    ]


def test_a_stop_without_a_snapshot_is_not_judged(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    result = run_eval(capsys, policy, "StopDBInstance", "--param", "DBInstanceIdentifier=db1")
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        "allowed: rds StopDBInstance is not judged (no DBSnapshotIdentifier, so no snapshot is"
        " made); it would be sent as is"
    )
    assert not any(line.startswith("record:") for line in result.out.splitlines())


# --- spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_spelling_the_core_accepts_names_the_operation(name: str) -> None:
    """eval takes its spellings from the core's one table (operations.operation_name)."""
    service = sorted(OPERATIONS[name].services)[0]
    for spelling in (name, snake_case(name), snake_case(name).replace("_", "-"), name.upper()):
        assert cli_eval.operation_name(service, spelling) == name


def test_an_export_of_an_automated_snapshot_names_it_as_the_service_lists_it() -> None:
    """The record's `snapshot` is the identifier the ARN names, ``rds:`` and all (as for a
    tag operation): `reconcile` finds it under that name in the service's listing."""
    policy = rds_guard.Policy.from_toml(DELETION_POLICY)
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:Orders-2026-11-29-03-00"
    params = {
        "ExportTaskIdentifier": "e1",
        "SourceArn": arn,
        "S3BucketName": "acme-backups-eu",
        "IamRoleArn": "arn:aws:iam::123456789012:role/export",
        "KmsKeyId": "alias/export",
    }
    decision = rds_guard.evaluate(policy, "StartExportTask", params)
    assert (decision.snapshot, decision.arn) == ("rds:orders-2026-11-29-03-00", arn)

"""A client made with ``parameter_validation`` off (its config or its profile) sends what
botocore's validation would refuse, as its serializer reads it: a name given as bytes goes
out as text, ``1`` as ``true``. The guard judges parameters as botocore validates them, so
such a call is ``request.invalid``: blocked in enforce mode, never let past the rules it
would slip by. Against the moto server, counting requests by action."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_session, make_cluster, make_instance, snapshot_arn
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from policies import BACKUPS, STRICT, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.guard.validation import _parameter_of, _problems

HELD = "orders-manual-20261129"
SIGNATURE = "X-Amz-Signature=0123456789abcdef"


def _unvalidated(server: MotoServer, tmp_path: Path, mode: str = "enforce") -> Any:
    """A guarded rds client that does not validate its parameters, a cluster "orders" and
    its snapshot `HELD` (on hold, made a moment ago) made with a plain client; counts wiped."""
    plain = server.client("rds")
    make_cluster(plain)
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=HELD,
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )
    session, _ = guarded_session(write_policy(tmp_path, BACKUPS, mode=mode), on=server)
    client = server.client("rds", session=session, config=Config(parameter_validation=False))
    server.reset_counts()
    return client


class _Spanning:
    """A value whose text (botocore's report writes it) runs over two lines, the second
    quoting a signature and what the report writes after a value."""

    def __init__(self, second: str = f"?{SIGNATURE}, type: x") -> None:
        self.second = second

    def __str__(self) -> str:
        return f"https://rds.us-west-2.amazonaws.com/\n{self.second}"


CALLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "a flag given as 1": (
        "DeleteDBCluster",
        {"DBClusterIdentifier": "orders", "SkipFinalSnapshot": 1},
        "SkipFinalSnapshot",
    ),
    "a name given as bytes": (
        "DeleteDBClusterSnapshot",
        {"DBClusterSnapshotIdentifier": HELD.encode()},
        "DBClusterSnapshotIdentifier",
    ),
    "a tag key given as bytes": (
        "RemoveTagsFromResource",
        {"ResourceName": "ARN", "TagKeys": [b"legal-hold"]},
        "TagKeys[0]",
    ),
    "an unknown parameter": (
        "DeleteDBCluster",
        {
            "DBClusterIdentifier": "orders",
            "FinalDBSnapshotIdentifier": "orders-final-20261130",
            "DeleteAutomatedBackups": False,
            "Bogus": 1,
        },
        "Bogus",
    ),
    "a required parameter missing": (
        "RemoveTagsFromResource",
        {"TagKeys": ["legal-hold"]},
        "ResourceName",
    ),
    "a presigned URL given as bytes": (
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": HELD,
            "TargetDBClusterSnapshotIdentifier": "orders-copy",
            "PreSignedUrl": f"https://rds.us-west-2.amazonaws.com/?{SIGNATURE}".encode(),
        },
        "PreSignedUrl",
    ),
    "a presigned URL whose text spans lines": (
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": HELD,
            "TargetDBClusterSnapshotIdentifier": "orders-copy",
            "PreSignedUrl": _Spanning(),
        },
        "PreSignedUrl",
    ),
    "a presigned URL whose second line starts as a problem does": (
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": HELD,
            "TargetDBClusterSnapshotIdentifier": "orders-copy",
            "PreSignedUrl": _Spanning(f"Invalid length: {SIGNATURE}"),
        },
        "PreSignedUrl",
    ),
}


@pytest.mark.parametrize("case", list(CALLS), ids=list(CALLS))
def test_a_call_of_the_wrong_types_is_blocked_and_never_sent(
    moto_server: MotoServer, tmp_path: Path, case: str
) -> None:
    """Each call would slip past a rule as the service reads it (a database deleted without
    a final snapshot, a held snapshot deleted or its hold tag removed): `request.invalid`,
    one `blocked` record naming the parameter and quoting none of its value, nothing sent."""
    client = _unvalidated(moto_server, tmp_path)
    operation, params, parameter = CALLS[case]
    if params.get("ResourceName") == "ARN":
        params = {**params, "ResourceName": snapshot_arn(client, HELD)}
        moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        getattr(client, xform_name(operation))(**params)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.invalid", parameter)]
    assert moto_server.count(operation) == 0
    (blocked,) = audit_records(tmp_path)
    assert blocked["event"] == "blocked"
    assert blocked["violations"][0]["rule"] == "request.invalid"
    assert "0123456789abcdef" not in json.dumps(blocked)


def test_a_well_typed_call_of_such_a_client_is_judged_as_ever(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The same client's well-typed calls: judged by the rules (the held snapshot stays), and
    a compliant one sent once."""
    client = _unvalidated(moto_server, tmp_path)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=HELD)
    assert {v.rule for v in caught.value.violations} == {"deletion.hold", "deletion.too_young"}
    client.delete_db_cluster(
        DBClusterIdentifier="orders",
        FinalDBSnapshotIdentifier="orders-final-20261130",
        DeleteAutomatedBackups=False,
    )
    assert moto_server.count("DeleteDBCluster") == 1
    assert moto_server.count("DeleteDBClusterSnapshot") == 0


def test_in_warn_mode_the_call_is_warned_about_and_sent(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Warn mode: a WARNING names `request.invalid`, and the call goes as the client sends it;
    its `requested` record carries the violation, as a warned call's record does."""
    client = _unvalidated(moto_server, tmp_path, mode="warn")
    with caplog.at_level("WARNING", logger="rds_guard"):
        client.delete_db_cluster(
            DBClusterIdentifier="orders", SkipFinalSnapshot=1, DeleteAutomatedBackups=False
        )
    assert "[request.invalid] SkipFinalSnapshot" in caplog.text
    assert moto_server.count("DeleteDBCluster") == 1
    requested, _ = audit_records(tmp_path)
    assert requested["event"] == "requested"
    assert [(v["rule"], v["field"]) for v in requested["violations"]][:1] == [
        ("request.invalid", "SkipFinalSnapshot")
    ]


def test_a_name_left_to_the_policys_template_is_no_invalid_call(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A call that names no snapshot, for `naming.generate` to name it, lacks a parameter
    botocore requires; it is not `request.invalid` on a client that does not validate (the
    guard fills the name in before anything is sent): it is sent once, named by the
    template."""
    make_cluster(moto_server.client("rds"))
    session, _ = guarded_session(write_policy(tmp_path, STRICT), on=moto_server)
    client = moto_server.client("rds", session=session, config=Config(parameter_validation=False))
    moto_server.reset_counts()
    tags = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]
    made = client.create_db_cluster_snapshot(DBClusterIdentifier="orders", Tags=tags)
    assert made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"].startswith("orders-manual-")
    assert moto_server.count("CreateDBClusterSnapshot") == 1


PRESIGNS: dict[str, tuple[str, dict[str, Any], str]] = {
    "a flag given as 1": CALLS["a flag given as 1"],
    "a name given as bytes": (
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": HELD,
            "TargetDBClusterSnapshotIdentifier": b"orders-copy-0123456789abcdef",
        },
        "TargetDBClusterSnapshotIdentifier",
    ),
}


@pytest.mark.parametrize("case", list(PRESIGNS), ids=list(PRESIGNS))
def test_a_presign_of_the_wrong_types_is_blocked_and_gets_no_url(
    moto_server: MotoServer, tmp_path: Path, case: str
) -> None:
    """A presign is judged like the call: the URL would carry the parameters as the
    serializer reads them. `request.invalid`, quoting none of the value; one `blocked`
    record and no `presigned` one; no URL, nothing sent."""
    client = _unvalidated(moto_server, tmp_path)
    operation, params, parameter = PRESIGNS[case]
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.generate_presigned_url(xform_name(operation), Params=params, ExpiresIn=600)
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.invalid", parameter)]
    assert "0123456789abcdef" not in str(caught.value)
    assert "value: 1" not in str(caught.value)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]
    assert "0123456789abcdef" not in (tmp_path / "audit.jsonl").read_text()
    assert moto_server.count(operation) == 0


def test_validation_turned_off_in_the_profile_is_seen_too(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``parameter_validation = false`` in the AWS config file, not the client's `Config`:
    the client sends ``1`` as ``true`` all the same, so the delete that would skip its final
    snapshot is `request.invalid` and never sent."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nparameter_validation = false\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    make_cluster(moto_server.client("rds"))
    session, _ = guarded_session(write_policy(tmp_path, BACKUPS), on=moto_server)
    client = moto_server.client("rds", session=session)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_cluster(
            DBClusterIdentifier="orders", SkipFinalSnapshot=1, DeleteAutomatedBackups=False
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [
        ("request.invalid", "SkipFinalSnapshot")
    ]
    assert moto_server.count("DeleteDBCluster") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


@pytest.mark.parametrize(
    ("line", "parameter"),
    [
        ('Missing required parameter in input: "DBClusterIdentifier"', "DBClusterIdentifier"),
        ('Missing required parameter in Tags[0]: "Key"', "Tags[0].Key"),
        ('Unknown parameter in input: "Bogus", must be one of: A, B', "Bogus"),
        ("Invalid type for parameter Tags[0].Value, value: 1, type: int", "Tags[0].Value"),
    ],
)
def test_each_form_of_botocores_report_names_its_parameter(line: str, parameter: str) -> None:
    """Every form botocore's validation report takes, the nested missing member included
    (no guarded operation has one today; a future model may)."""
    assert _parameter_of(line, "fallback") == parameter


def test_a_modify_db_instance_is_judged_by_its_retention_alone(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """ModifyDBInstance is judged by BackupRetentionPeriod alone: another parameter of the
    wrong type is the service's, sent as the client sends it, no record; a retention it
    would read as 0 (`b"0"`: the serializer sends `0`) is blocked, nothing sent."""
    client = _unvalidated(moto_server, tmp_path)
    make_instance(moto_server.client("rds"), "orders")
    moto_server.reset_counts()
    client.modify_db_instance(
        DBInstanceIdentifier="orders", MultiAZ="false", BackupRetentionPeriod=7
    )
    assert moto_server.count("ModifyDBInstance") == 1
    assert audit_records(tmp_path) == []
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=b"0")
    assert [v.rule for v in caught.value.violations] == ["request.invalid"]
    assert moto_server.count("ModifyDBInstance") == 1


def test_in_warn_mode_a_retention_read_as_zero_is_recorded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """warn: `Decimal(0)` goes out as `0` and the backups are turned off: its records say
    so (it went unrecorded, read as no zero)."""
    client = _unvalidated(moto_server, tmp_path, mode="warn")
    make_instance(moto_server.client("rds"), "orders")
    client.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=Decimal(0))
    (instance,) = moto_server.client("rds").describe_db_instances()["DBInstances"]
    assert instance["BackupRetentionPeriod"] == 0
    requested, deleted = audit_records(tmp_path)
    rules = [v["rule"] for v in requested["violations"]]
    assert rules == ["request.invalid", "deletion.automated_backups"]
    assert deleted["event"] == "deleted"


class _Items:
    """Parameters that are no mapping, though they have ``get()`` and ``items()``, which a
    presign and the serializer of a client that does not validate read all the same."""

    def __init__(self) -> None:
        self._params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "weekly"}

    def get(self, key: str, default: Any = None) -> Any:
        return self._params.get(key, default)

    def items(self) -> Any:
        return self._params.items()


def test_a_presign_of_parameters_that_are_no_mapping_gets_no_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """No URL is signed from parameters the guard cannot judge: botocore's own
    `ParamValidationError`, as a client that validates raises it, and no record."""
    client = _unvalidated(moto_server, tmp_path)
    with pytest.raises(ParamValidationError, match="Invalid type for parameter input"):
        client.generate_presigned_url(
            "create_db_cluster_snapshot",
            Params=_Items(),  # type: ignore[arg-type]
            ExpiresIn=600,
        )
    assert audit_records(tmp_path) == []


def test_a_report_without_its_problems_apart_is_read_by_how_a_problem_starts() -> None:
    """Where botocore's report does not tell its problems apart, its lines are put back
    together by how each of its problems starts: a value's lines stay with its problem."""

    class Report:
        def generate_report(self) -> str:
            return (
                "Invalid type for parameter PreSignedUrl, value: a\nb c, type: <class 'V'>,"
                " valid types: <class 'str'>\nMissing required parameter in input: \"X\""
            )

    assert _problems(Report()) == [
        "Invalid type for parameter PreSignedUrl, value: a\nb c, type: <class 'V'>, valid"
        " types: <class 'str'>",
        'Missing required parameter in input: "X"',
    ]


class _RaisesOnItem(dict):  # type: ignore[type-arg]
    """A tag whose own ``__getitem__`` raises: botocore's serializer never calls it."""

    def __getitem__(self, key: Any) -> Any:
        raise RuntimeError("a tag read by its own __getitem__")


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_value_whose_own_methods_raise_under_validation_is_judged_not_raised(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A client that does not validate, given a tag (a dict subclass) whose own
    ``__getitem__`` raises, which botocore's serializer never calls: the guard's run of
    botocore's validation over the call raised the caller's own error where the client
    sends the call. It is ``request.invalid`` now: warned about and sent as without the guard
    (warn), blocked with nothing sent (enforce)."""
    client = _unvalidated(moto_server, tmp_path, mode=mode)
    tags = [{"Key": "team", "Value": "core"}, _RaisesOnItem(Key="owner", Value="me")]

    def create() -> Any:
        return client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=f"orders-manual-2026120{len(mode)}",
            Tags=tags,
        )

    if mode == "warn":
        create()
        assert moto_server.count("CreateDBClusterSnapshot") == 1
    else:
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            create()
        assert "request.invalid" in [v.rule for v in caught.value.violations]
        assert moto_server.count("CreateDBClusterSnapshot") == 0
    first = audit_records(tmp_path)[0]
    assert "request.invalid" in [v["rule"] for v in first["violations"]]


@pytest.mark.parametrize("value", [True, 5], ids=["True", "5"])
def test_a_later_handlers_value_botocore_would_refuse_is_invalid_too(
    moto_server: MotoServer, tmp_path: Path, value: object
) -> None:
    """A call with violations is judged again after every ``before-parameter-build`` handler
    when one changed it: a later handler renames the held snapshot to ``True`` (a snapshot of
    that name is on hold too). Judged again without a type check, the name was never looked
    up, nothing was wrong with it, and the request went as judged: the other held snapshot
    deleted. It is ``request.invalid`` as the program's own such value is: nothing sent."""
    client = _unvalidated(moto_server, tmp_path)
    moto_server.client("rds").create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=str(value),
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = value

    client.meta.events.register("before-parameter-build.rds.DeleteDBClusterSnapshot", rename)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=HELD)
    assert [(v.rule, v.field) for v in caught.value.violations] == [
        ("request.invalid", "DBClusterSnapshotIdentifier")
    ]
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


def _enforcing(rules: str) -> str:
    """A policy of ``rules`` alone, in enforce mode, every call recorded in audit.jsonl."""
    return (
        f'version = 1\nmode = "enforce"\n\n{rules}\n[audit]\npath = "audit.jsonl"\nfsync = false\n'
    )


ENV_DEV = _enforcing('[tags.allowed]\nenv = ["dev"]\n')


def test_a_later_handlers_copy_flag_botocore_would_refuse_is_invalid_too(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The same for ``CopyTags=1``, which botocore sends as ``true``: a copy given a tag the
    policy does not allow (``env=qa``), which a later handler drops for the source's tags
    (``env=prod``, not allowed either). Judged again as given, ``1`` read no source tags and
    the copy went, taking ``env=prod``. Now ``request.invalid``: nothing sent."""
    plain = moto_server.client("rds")
    make_cluster(plain)
    source = plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=HELD,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    session, _ = guarded_session(write_policy(tmp_path, ENV_DEV), on=moto_server)
    client = moto_server.client("rds", session=session, config=Config(parameter_validation=False))

    def copy_tags(params: dict[str, Any], **_: Any) -> None:
        del params["Tags"]
        params["CopyTags"] = 1

    client.meta.events.register("before-parameter-build.rds.CopyDBClusterSnapshot", copy_tags)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=source,
            TargetDBClusterSnapshotIdentifier="orders-copy",
            Tags=[{"Key": "env", "Value": "qa"}],
        )
    assert [(v.rule, v.field) for v in caught.value.violations] == [("request.invalid", "CopyTags")]
    assert moto_server.count("CopyDBClusterSnapshot") == 0


EXPORT_TO = _enforcing('[export]\ns3_buckets = ["ok-bucket"]\n')


def test_a_call_a_later_handler_mends_is_not_called_invalid(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """An export to a bucket the policy does not list, mended by a later handler to one it
    does: checked for what botocore's validation would refuse, the call is checked whole,
    not only the parameters the guard judges (``ExportTaskIdentifier`` and ``IamRoleArn``
    are given): it goes."""
    session, _ = guarded_session(write_policy(tmp_path, EXPORT_TO), on=moto_server)
    client = moto_server.client("rds", session=session, config=Config(parameter_validation=False))

    def mend(params: dict[str, Any], **_: Any) -> None:
        params["S3BucketName"] = "ok-bucket"

    client.meta.events.register("before-parameter-build.rds.StartExportTask", mend)
    with contextlib.suppress(ClientError):  # moto may have no such snapshot
        client.start_export_task(
            ExportTaskIdentifier="orders-export",
            SourceArn=f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{HELD}",
            S3BucketName="bad-bucket",
            IamRoleArn="arn:aws:iam::123456789012:role/export",
            KmsKeyId="key",
        )
    assert moto_server.count("StartExportTask") == 1


def test_a_later_handlers_name_botocore_would_refuse_is_recorded_and_judged_in_warn_mode(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Warn mode: the held snapshot's delete, renamed by a later handler to ``5`` (a snapshot
    of that name is on hold). Its records said nothing was wrong: no ``request.invalid``, and
    the name never looked up. They carry both now: the value botocore's validation would
    refuse, and the hold of the snapshot the name sent, ``5``, names."""
    client = _unvalidated(moto_server, tmp_path, mode="warn")
    moto_server.client("rds").create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="5",
        Tags=[{"Key": "legal-hold", "Value": "true"}],
    )

    def rename(params: dict[str, Any], **_: Any) -> None:
        params["DBClusterSnapshotIdentifier"] = 5

    client.meta.events.register("before-parameter-build.rds.DeleteDBClusterSnapshot", rename)
    client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=HELD)
    requested = audit_records(tmp_path)[0]
    rules = [(v["rule"], v["field"]) for v in requested["violations"]]
    assert ("request.invalid", "DBClusterSnapshotIdentifier") in rules
    assert ("deletion.hold", "Tags.legal-hold") in rules

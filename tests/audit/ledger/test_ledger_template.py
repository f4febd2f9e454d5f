"""examples/ledger.yaml, the CloudFormation of the fleet ledger, holds what the code builds:
the table and indexes `ledger init` makes, a bucket locked in compliance mode, an ECC signing
key, and writers that can put their own account's items and nothing else. moto's
CloudFormation deploys it (but ignores a bucket's Object Lock and bucket policies, so those
are read from the template, not from the deployed bucket)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ledger_helpers import BUCKET, REGION, ship, write_log

from rds_guard.audit.ledger import Clients, LedgerTable
from rds_guard.audit.ledger.checkpoints import CheckpointStore, name_of, write_checkpoint
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.items import TABLE_SCHEMA
from rds_guard.audit.ledger.verify import verify_ledger

TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "ledger.yaml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    document = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
    found: dict[str, Any] = document["Resources"]
    return found


def test_the_deploy_command_in_the_header_gives_every_parameter_without_a_default() -> None:
    """The command the template's header shows deploys as written: CloudFormation refuses
    a deploy that leaves out a parameter without a default (the bucket's name)."""
    text = TEMPLATE.read_text()
    parameters = yaml.load(text, Loader=_Loader)["Parameters"]
    needed = {name for name, spec in parameters.items() if "Default" not in spec}
    header = "".join(
        line.lstrip("# ").rstrip("\\ \n") + " "
        for line in text.splitlines()
        if line.startswith("#")
    )
    command = header.split("aws cloudformation deploy", 1)[1].split("#")[0]
    overrides = command.split("--parameter-overrides", 1)[1].split("--")[0].split()
    given = {override.split("=", 1)[0] for override in overrides if "=" in override}
    assert needed and needed <= given, f"the header's deploy leaves out {needed - given}"
    assert given <= set(parameters)


def test_the_table_is_the_one_ledger_init_makes(resources: dict[str, Any]) -> None:
    table = resources["Ledger"]["Properties"]
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert table[key] == TABLE_SCHEMA[key]
    assert table["DeletionProtectionEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_bucket_keeps_every_checkpoint_in_compliance_mode(resources: dict[str, Any]) -> None:
    bucket = resources["Checkpoints"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    statements = resources["CheckpointsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    create_only = next(s for s in statements if s["Sid"] == "CreateOnly")
    assert create_only["Condition"] == {"Null": {"s3:if-none-match": "true"}}


def test_the_key_signs_with_ecdsa(resources: dict[str, Any]) -> None:
    key = resources["SigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")


def test_writers_put_their_own_accounts_items_and_nothing_else(resources: dict[str, Any]) -> None:
    statements = resources["WriterPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:DescribeTable",
    }
    put = next(s for s in statements if s["Action"] == "dynamodb:PutItem")
    assert put["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["${aws:PrincipalAccount}/*"]}
    }
    auditor = resources["AuditorPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not any(
        action.endswith(("PutItem", "DeleteItem", "UpdateItem", "PutObject", "Sign"))
        for statement in auditor
        for action in statement["Action"]
    )


def test_moto_deploys_the_template(moto_inprocess: None) -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto: no support for AWS::S3::BucketPolicy
        cloudformation.create_stack(
            StackName="rds-guard-ledger",
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": "BucketName", "ParameterValue": "rds-guard-checkpoints"}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cloudformation.describe_stacks(StackName="rds-guard-ledger")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    table = boto3.client("dynamodb", region_name="us-east-1").describe_table(
        TableName="rds-guard-audit"
    )["Table"]
    assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == [
        "kind",
        "snapshot",
    ]


def _noting_actions() -> tuple[Clients, set[str]]:
    """New clients of the ledger, and the set each request they make adds its IAM action to."""
    clients = Clients(REGION)
    sent: set[str] = set()

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        sent.add(_iam_action(model.service_model.signing_name, model.name, params))

    for client in (clients.s3, clients.kms, clients.dynamodb):
        client.meta.events.register("before-parameter-build", note)
    return clients, sent


def _granted(resources: dict[str, Any], policy: str) -> set[str]:
    statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
    return {
        action
        for statement in statements
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }


def _iam_action(service: str, operation: str, params: dict[str, Any]) -> str:
    """The IAM action a request needs (S3's are not named after its operations)."""
    if service == "s3":
        if operation == "GetObject":
            return "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
        return {
            "ListObjectVersions": "s3:ListBucketVersions",
            "ListObjectsV2": "s3:ListBucket",
        }.get(operation, f"s3:{operation}")
    return f"{service}:{operation}"


def test_the_checkpointer_policy_grants_every_request_a_checkpointer_makes(
    resources: dict[str, Any], table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """The checkpointer lists the checkpoints with their versions and reads one a delete
    marker hides at its version: without s3:ListBucketVersions and s3:GetObjectVersion in its
    policy, every checkpoint would be refused by AWS (moto checks no permission). Its requests,
    those of a run that meets a delete marker included, against the policy's actions."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    write_checkpoint(table, store)
    store.clients.s3.delete_object(Bucket=BUCKET, Key=store.location.key(name_of(2)))
    clients, sent = _noting_actions()
    outcome = write_checkpoint(
        LedgerTable(clients, table.name),
        CheckpointStore(clients, store.location, store.kms_key),
        scan=True,
    )
    assert outcome.checkpoint is not None and outcome.checkpoint.number == 3
    assert {"s3:ListBucketVersions", "s3:GetObjectVersion", "kms:Sign", "dynamodb:Scan"} <= sent
    assert sorted(sent - _granted(resources, "CheckpointerPolicy")) == []


def test_the_auditor_policy_grants_every_request_a_scanning_verify_makes(
    resources: dict[str, Any], table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """``audit verify --ledger --checkpoints --scan``: its requests against the auditor's
    actions (moto checks no permission)."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    clients, sent = _noting_actions()
    history = read_history(CheckpointStore(clients, store.location, store.kms_key))
    result = verify_ledger(LedgerTable(clients, table.name), history=history, scan=True)
    assert result.ok and "dynamodb:Scan" in sent
    assert sorted(sent - _granted(resources, "AuditorPolicy")) == []

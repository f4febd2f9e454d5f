"""``rds-guard ledger init``: the table (and its indexes), the checkpoints' bucket (versioned,
Object Lock in compliance mode) and the signing key, made for development against an
emulator (moto's server) or a sandbox account. Production accounts use
examples/ledger.yaml (CloudFormation), which also sets what an emulator ignores: point-in-time
recovery, deletion protection, the bucket policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .items import TABLE_SCHEMA
from .location import Clients, S3Location
from .table import LedgerTable, error_code

RETENTION_DAYS = 1
"""The default retention of a development bucket (a real one keeps checkpoints for years:
see examples/ledger.yaml)."""


@dataclass
class Provisioned:
    """What `provision` made (``made``), found already there as it would have made it
    (``found``), and found there otherwise (``unfit``: what differs), one line each."""

    made: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    unfit: list[str] = field(default_factory=list)

    def note(self, name: str, what: str, unlike: list[str] | None) -> None:
        """Say that ``name`` (as ``what`` says it) was made (``unlike`` None), or found there:
        as made (``unlike`` empty) or otherwise (``unlike``: how it differs)."""
        if unlike is None:
            self.made.append(f"{name} {what}")
        elif unlike:
            self.unfit.append(f"{name}: {'; '.join(unlike)}")
        else:
            self.found.append(f"{name} {what}")


def provision(
    clients: Clients,
    table: str,
    checkpoints: S3Location | None = None,
    kms_key: str | None = None,
    *,
    retention_days: int = RETENTION_DAYS,
    done: Provisioned | None = None,
) -> Provisioned:
    """Make the table, and the bucket and key when given, unless they exist; noted in
    ``done`` (a new `Provisioned` when None) as each is made, so that a caller given an error
    halfway still knows what was made before it."""
    done = Provisioned() if done is None else done
    ledger = LedgerTable(clients, table)
    there = ledger.describe()
    if there is None:
        try:
            ledger.create()
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
            ledger.wait_until_active()  # made meanwhile: another `ledger init` at the same time
            there = ledger.describe()
            if there is None:
                raise
    done.note(
        f"table {table}",
        f"(indexes snapshot and kind) in {clients.region}",
        None if there is None else _table_unlike(there),
    )
    if checkpoints is not None:
        name = checkpoints.bucket
        made = _bucket(clients, name, retention_days)
        lock = {} if made else _lock(clients, name)
        retention = f"{retention_days} day(s)" if made else _retention(lock)
        done.note(
            f"bucket {name}",
            f"(versioned, Object Lock: compliance, {retention})",
            None if made else _bucket_unlike(clients, name, lock),
        )
    if kms_key is not None:
        key = _key(clients, kms_key)
        done.note(
            f"KMS key {kms_key}",
            "(ECC_NIST_P256, sign and verify)",
            None if key is None else _key_unlike(key),
        )
    return done


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(key["AttributeName"], key["KeyType"]) for key in schema]


def _table_unlike(found: dict[str, Any]) -> list[str]:
    """How the table described by ``found`` (DescribeTable's ``Table``) differs from what
    `TABLE_SCHEMA` makes: its key, the type of each key attribute, and each index's name and
    key (what an index projects is not read)."""
    types = {a["AttributeName"]: a["AttributeType"] for a in found.get("AttributeDefinitions", [])}
    wanted_types = {
        a["AttributeName"]: a["AttributeType"] for a in TABLE_SCHEMA["AttributeDefinitions"]
    }
    unlike = []
    if _keys(found.get("KeySchema", [])) != _keys(TABLE_SCHEMA["KeySchema"]):
        shown = ", ".join(f"{n} ({k})" for n, k in _keys(found.get("KeySchema", [])))
        unlike.append(f"its key is {shown or 'none'}, not stream (HASH), seq (RANGE)")
    indexes = {i["IndexName"]: i for i in found.get("GlobalSecondaryIndexes", [])}
    for index in TABLE_SCHEMA["GlobalSecondaryIndexes"]:
        there = indexes.get(index["IndexName"])
        if there is None:
            unlike.append(f"it has no index {index['IndexName']}")
        elif _keys(there.get("KeySchema", [])) != _keys(index["KeySchema"]):
            unlike.append(f"its index {index['IndexName']} has another key")
    for attribute, kind in sorted(wanted_types.items()):
        if attribute in types and types[attribute] != kind:
            unlike.append(f"its attribute {attribute} is of type {types[attribute]}, not {kind}")
    return unlike


def _retention(lock: dict[str, Any]) -> str:
    """A bucket's default retention, from its Object Lock configuration (`_lock`), as
    `provision` says it."""
    rule = lock.get("Rule", {}).get("DefaultRetention", {})
    if rule.get("Years"):  # AWS answers one of the two; an emulator may answer both
        return f"{rule['Years']} year(s)"
    return f"{rule['Days']} day(s)" if rule.get("Days") else "no default retention"


def _lock(clients: Clients, name: str) -> dict[str, Any]:
    """Bucket ``name``'s Object Lock configuration (empty: it has none)."""
    try:
        answer = clients.s3.get_object_lock_configuration(Bucket=name)
    except ClientError as exc:
        if error_code(exc) != "ObjectLockConfigurationNotFoundError":
            raise
        return {}
    found: dict[str, Any] = answer.get("ObjectLockConfiguration", {})
    return found


def _bucket_unlike(clients: Clients, name: str, lock: dict[str, Any]) -> list[str]:
    """How bucket ``name`` (its Object Lock configuration ``lock``) differs from what
    checkpoints need: versioned, Object Lock on, compliance mode by default (a checkpoint is
    put with no mode of its own)."""
    unlike = []
    if clients.s3.get_bucket_versioning(Bucket=name).get("Status") != "Enabled":
        unlike.append("it is not versioned")
    if lock.get("ObjectLockEnabled") != "Enabled":
        unlike.append("Object Lock is not enabled")
    else:
        mode = lock.get("Rule", {}).get("DefaultRetention", {}).get("Mode")
        if mode != "COMPLIANCE":
            unlike.append(
                f"its default retention is {mode or 'none'}, not COMPLIANCE: a checkpoint"
                " could be deleted"
            )
    return unlike


def _key_unlike(found: dict[str, Any]) -> list[str]:
    """How the KMS key described by ``found`` (DescribeKey's ``KeyMetadata``) differs from a
    checkpoint signer (ECC_NIST_P256, SIGN_VERIFY, enabled)."""
    unlike = []
    for name, wanted in (("KeySpec", "ECC_NIST_P256"), ("KeyUsage", "SIGN_VERIFY")):
        if found.get(name) != wanted:
            unlike.append(f"its {name} is {found.get(name)}, not {wanted}")
    if found.get("KeyState", "Enabled") != "Enabled":
        unlike.append(f"it is {found.get('KeyState')}, not Enabled")
    return unlike


def _bucket(clients: Clients, name: str, days: int) -> bool:
    """True when bucket ``name`` was not there and is made, locked for ``days`` by default."""
    s3 = clients.s3
    try:
        s3.head_bucket(Bucket=name)
        return False
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, object] = {"Bucket": name, "ObjectLockEnabledForBucket": True}
    region = s3.meta.region_name
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}},
        },
    )
    return True


def _key(clients: Clients, key: str) -> dict[str, Any] | None:
    """Key ``key``'s description (DescribeKey's ``KeyMetadata``); None when it was not there
    and is made (an alias only: a key id names a key that cannot be made again)."""
    kms = clients.kms
    try:
        found: dict[str, Any] = kms.describe_key(KeyId=key)["KeyMetadata"]
        return found
    except ClientError as exc:
        if error_code(exc) != "NotFoundException" or not key.startswith("alias/"):
            raise
    made = kms.create_key(
        KeySpec="ECC_NIST_P256",
        KeyUsage="SIGN_VERIFY",
        Description="rds_guard: signs the fleet ledger's checkpoints",
    )
    kms.create_alias(AliasName=key, TargetKeyId=made["KeyMetadata"]["KeyId"])
    return None

"""``rds-guard ledger init``: the table (and its indexes), the checkpoints' bucket (versioned,
Object Lock in compliance mode) and the signing key, made for development against an
emulator (moto's server) or a sandbox account. Production accounts use
examples/ledger.yaml (CloudFormation), which also sets what an emulator ignores: point-in-time
recovery, deletion protection, the bucket policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from .location import Clients, S3Location
from .table import LedgerTable, error_code

RETENTION_DAYS = 1
"""The default retention of a development bucket (a real one keeps checkpoints for years:
see examples/ledger.yaml)."""


@dataclass
class Provisioned:
    """What `provision` made (``made``) and found already there (``found``), one line each."""

    made: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def note(self, made: bool, what: str) -> None:
        """Say that ``what`` was made (or found)."""
        (self.made if made else self.found).append(what)


def provision(
    clients: Clients,
    table: str,
    checkpoints: S3Location | None = None,
    kms_key: str | None = None,
    *,
    retention_days: int = RETENTION_DAYS,
) -> Provisioned:
    """Make the table, and the bucket and key when given, unless they exist."""
    done = Provisioned()
    made = LedgerTable(clients, table).create()
    done.note(made, f"table {table} (indexes snapshot and kind) in {clients.region}")
    if checkpoints is not None:
        made = _bucket(clients, checkpoints.bucket, retention_days)
        done.note(
            made,
            f"bucket {checkpoints.bucket} (versioned, Object Lock: compliance, "
            f"{retention_days} day(s))",
        )
    if kms_key is not None:
        done.note(_key(clients, kms_key), f"KMS key {kms_key} (ECC_NIST_P256, sign and verify)")
    return done


def _bucket(clients: Clients, name: str, days: int) -> bool:
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


def _key(clients: Clients, key: str) -> bool:
    kms = clients.kms
    try:
        kms.describe_key(KeyId=key)
        return False
    except ClientError as exc:
        if error_code(exc) != "NotFoundException" or not key.startswith("alias/"):
            raise
    made = kms.create_key(
        KeySpec="ECC_NIST_P256",
        KeyUsage="SIGN_VERIFY",
        Description="rds_guard: signs the fleet ledger's checkpoints",
    )
    kms.create_alias(AliasName=key, TargetKeyId=made["KeyMetadata"]["KeyId"])
    return True

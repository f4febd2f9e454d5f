"""Who may get at a snapshot's data: sharing it (Modify*SnapshotAttribute on ``restore``) and
exporting it to S3 (StartExportTask)."""

from __future__ import annotations

from . import operations, rules
from .calls import Decision, Request
from .folding import folded


def judge_sharing(request: Request) -> Decision:
    """Modify*SnapshotAttribute on ``restore``: who may restore the snapshot."""
    params, sharing = request.params, request.policy.sharing
    attribute = params.get("AttributeName")
    # AWS documents "restore"; any spelling it might read as that is judged (fails closed)
    if not (isinstance(attribute, str) and folded(attribute) == "restore"):
        return request.untouched()
    added = rules.string_items(params.get("ValuesToAdd"))
    removed = rules.string_items(params.get("ValuesToRemove"))
    violations = rules.check_sharing(added, public=sharing.public, accounts=sharing.accounts)
    notes = tuple(
        f"{label}: {', '.join(values)}"
        for label, values in (("added", added), ("removed", removed))
        if values
    )
    snapshot = request.reference()
    return request.decision(
        violations=tuple(violations),
        snapshot=operations.snapshot_name(snapshot) if snapshot is not None else None,
        notes=notes,
        outcome="shared" if added else "unshared",
    )


def judge_export(request: Request) -> Decision:
    """StartExportTask: may the snapshot's data go to this bucket. The record notes the bucket,
    prefix and KMS key (never the role's credentials)."""
    params, export = request.params, request.policy.export
    bucket = params.get("S3BucketName")
    bucket = bucket if isinstance(bucket, str) else None
    violations = rules.check_export(bucket, enabled=export.enabled, buckets=export.s3_buckets)
    notes = tuple(
        f"{label}: {value}"
        for label, value in (
            ("bucket", bucket),
            ("prefix", params.get("S3Prefix")),
            ("kms key", params.get("KmsKeyId")),
        )
        if isinstance(value, str) and value
    )
    arn = request.reference()
    return request.decision(
        violations=tuple(violations),
        snapshot=operations.listed_name(arn) if arn is not None else None,
        arn=arn,
        notes=notes,
    )

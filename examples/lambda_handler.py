"""A nightly snapshot Lambda with rds_guard: every snapshot it takes is checked and audited.

Deploy this file with rds_guard (and its policy) in the function's package and invoke it on a
schedule, e.g. an EventBridge rule with one of these inputs::

    {"clusters": ["orders", "billing"]}               # these clusters
    {"tag": {"key": "backup", "value": "nightly"}}    # every cluster with this tag

Each cluster gets a ``<cluster>-daily-<YYYYMMDD>`` snapshot (UTC date), made with no Tags of
its own: the policy's default and forced tags are added and, when the cluster has
CopyTagsToSnapshot set, its tags are kept (the guard merges them, as AWS would have copied
them without the added tags). A cluster whose snapshot the policy blocks is reported and
logged at ERROR, and the others are still taken. The handler returns
``{"created": [...], "blocked": [{"cluster", "violations"}], "failed": [{"cluster", "error"}]}``.

The guard is installed once, at import (the function's cold start), on the session every
client here is made from, before any client is created: a client created earlier would not be
guarded. A missing or broken policy fails the cold start, so the function fails closed.

Configuration (environment variables of the function):

- ``RDS_GUARD_POLICY``: the policy file, e.g. ``/var/task/rds_guard.toml``; without it the
  guard reads ``./rds_guard.toml``, and a Lambda's working directory is its package root.
- ``RDS_GUARD_AUDIT_PATH``: unset or empty, ``/tmp/rds-guard-audit.jsonl``. ``/tmp`` is the
  only writable place in Lambda, and it lives only as long as the execution environment: that
  file is *not* the audit trail. The trail that lasts is the ``rds_guard.audit`` logger, on
  which the guard emits every record as one JSON line at INFO; Lambda ships the function's log
  output to CloudWatch Logs, one event per record. The Python runtime's root logger is at
  WARNING, hence the ``setLevel(INFO)`` below. Keep the log group's retention (or a
  subscription that copies it elsewhere) as long as your audit requirements say;
  ``rds-guard audit verify`` checks a chain exported back into a file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

import rds_guard

logger = logging.getLogger("nightly_snapshots")
logger.setLevel(logging.INFO)
# The audit records, one JSON line each, go to CloudWatch Logs through Lambda's log handler.
logging.getLogger("rds_guard.audit").setLevel(logging.INFO)

SESSION = boto3.Session()
GUARD = rds_guard.install(
    SESSION, audit_path=os.environ.get("RDS_GUARD_AUDIT_PATH") or "/tmp/rds-guard-audit.jsonl"
)
RDS = SESSION.client("rds")  # made after install, so guarded; reused across invocations


def clusters_tagged(key: str, value: str) -> list[str]:
    """The identifiers of every DB cluster carrying the tag ``key=value``."""
    found: list[str] = []
    for page in RDS.get_paginator("describe_db_clusters").paginate():
        for cluster in page["DBClusters"]:
            tags = {tag["Key"]: tag.get("Value") for tag in cluster.get("TagList", [])}
            if tags.get(key) == value:
                found.append(cluster["DBClusterIdentifier"])
    return found


def handler(event: Mapping[str, Any], context: object) -> dict[str, list[Any]]:
    """Snapshot the clusters the event names, or those with the event's tag; report each."""
    if "clusters" in event:
        clusters = list(event["clusters"])
    else:
        clusters = clusters_tagged(event["tag"]["key"], event["tag"]["value"])
    today = datetime.now(UTC).strftime("%Y%m%d")
    report: dict[str, list[Any]] = {"created": [], "blocked": [], "failed": []}
    for cluster in clusters:
        name = f"{cluster}-daily-{today}"
        try:
            RDS.create_db_cluster_snapshot(
                DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name
            )
        except rds_guard.PolicyViolation as blocked:
            violations = [str(violation) for violation in blocked.violations]
            logger.error("snapshot of %s blocked by the policy: %s", cluster, "; ".join(violations))
            report["blocked"].append({"cluster": cluster, "violations": violations})
        except ClientError as error:
            logger.error("snapshot of %s failed: %s", cluster, error)
            report["failed"].append({"cluster": cluster, "error": error.response["Error"]["Code"]})
        else:
            logger.info("snapshot %s of %s requested", name, cluster)
            report["created"].append(name)
    return report

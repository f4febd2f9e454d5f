"""Snapshots from an asyncio service, guarded: aiobotocore with rds_guard.

    python examples/async_snapshots.py orders billing

takes a ``<cluster>-daily-<YYYYMMDD>`` snapshot of each cluster concurrently, on one async
client, and prints what it did as JSON: ``{"created": [...], "blocked": [{"cluster",
"violations"}], "failed": [{"cluster", "error"}]}``. A cluster the service refuses (one that
does not exist, a name taken already) is reported, and the others' calls run to their end.
The guard is installed once on the aiobotocore session, before the client is created; every
call the client makes is judged, completed and audited as in a synchronous program (the
source's tags are read with awaited calls on the same client, and records written with fsync
go through a worker thread, off the event loop).

Configuration as for every AWS client (``AWS_ENDPOINT_URL``, ``AWS_REGION``, profiles...),
plus ``RDS_GUARD_POLICY`` (default ``./rds_guard.toml``) and ``RDS_GUARD_AUDIT_PATH``.
Needs ``pip install 'rds_guard[aio]'``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import ClientError

import rds_guard


async def snapshot(rds: Any, cluster: str, day: str) -> dict[str, Any]:
    """One cluster's snapshot: what was made, or what the policy said."""
    name = f"{cluster}-daily-{day}"
    try:
        await rds.create_db_cluster_snapshot(
            DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name
        )
    except rds_guard.PolicyViolation as blocked:
        return {"cluster": cluster, "violations": [str(v) for v in blocked.violations]}
    except ClientError as refused:  # caught here: one cluster's error cancels no other call
        return {"cluster": cluster, "error": refused.response["Error"]["Code"]}
    return {"created": name}


async def main(clusters: list[str]) -> dict[str, Any]:
    """Snapshot ``clusters`` concurrently through one guarded async client."""
    session = get_session()
    guard = rds_guard.install(session)  # $RDS_GUARD_POLICY, else ./rds_guard.toml
    day = datetime.now(UTC).strftime("%Y%m%d")
    try:
        async with session.create_client("rds") as rds:
            done = await asyncio.gather(*(snapshot(rds, cluster, day) for cluster in clusters))
    finally:
        guard.uninstall()
    return {
        "created": [d["created"] for d in done if "created" in d],
        "blocked": [d for d in done if "violations" in d],
        "failed": [d for d in done if "error" in d],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:])), indent=2))

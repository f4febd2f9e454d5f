"""Edges of the guard's presign handling: a URL signed past the client's wrapper, whose
query the guard never reads, is signed from what was judged; a method set on the client is
wrapped where it is."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import botocore.signers
import pytest
from aws import audit_records, guarded_client, make_cluster
from odd_values import EncodesAs
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


def test_a_presign_past_the_wrapper_is_signed_as_judged_not_as_the_callers_string_encodes(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A presign made with botocore's own function (past the client's wrapper: its URL is
    never read) of a name whose own ``encode()`` gives another: the URL carries the name
    judged and recorded, not the one the caller's string would send."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)
    params = {
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": EncodesAs(GOOD, "weekly"),
        "Tags": TEAM,
    }
    url = botocore.signers.generate_presigned_url(rds, "create_db_cluster_snapshot", params)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["DBClusterSnapshotIdentifier"] == [GOOD]
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("presigned", GOOD)]


def test_a_presign_through_a_method_set_on_the_client_is_held_against_its_url(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A ``generate_presigned_url`` set on the client itself (a tracer's wrapper) before the
    guard is installed on the client: the guard wraps it where it is, so the URL it returns
    is read and held against the judgement, like the class's: a ``before-sign`` handler that
    renames the snapshot in the request (after every handler of the parameters) is caught
    on the URL, blocked, and no URL returned."""
    rds = moto_server.client("rds")
    original = rds.generate_presigned_url
    rds.generate_presigned_url = lambda *args, **kwargs: original(*args, **kwargs)
    rds_guard.install(rds, policy=write_policy(tmp_path, AUDITED))
    make_cluster(rds)

    def rename(request: Any, **_: Any) -> None:
        request.data["DBClusterSnapshotIdentifier"] = "weekly"

    rds.meta.events.register("before-sign.rds.CreateDBClusterSnapshot", rename)
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    with pytest.raises(rds_guard.PolicyViolation, match="weekly"):
        rds.generate_presigned_url("create_db_cluster_snapshot", Params=params, ExpiresIn=600)
    assert [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)] == [("blocked", "weekly")]

"""Edges of `rds_guard.guard.changes`: what the guard says of a request another handler
changed after it judged the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, guarded_client, make_cluster, snapshot_tags
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]


def test_a_late_handler_dropping_only_the_policys_default_tag_is_blocked(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The call is compliant as the caller made it, and the guard adds the policy's default
    tag; a before-call handler takes that tag out of the body. As sent the call breaks no
    rule, but the policy would set the tag it lacks: ``request.changed`` on ``Tags``,
    blocked, and nothing sent."""
    rds = guarded_client(write_policy(tmp_path, AUDITED), on=moto_server)
    make_cluster(rds)

    def drop_default(params: dict[str, Any], **_: Any) -> None:
        body = params["body"]
        dropped = [k for k, v in body.items() if k.startswith("Tags.") and v == "managed-by"]
        assert dropped, body
        prefix = dropped[0].rpartition(".")[0]
        for key in [k for k in body if k.startswith(prefix + ".")]:
            del body[key]

    rds.meta.events.register("before-call.rds.CreateDBClusterSnapshot", drop_default)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    assert ("request.changed", "Tags") in [(v.rule, v.field) for v in caught.value.violations]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert audit_records(tmp_path)[-1]["event"] == "blocked"
    with pytest.raises(rds.exceptions.ClientError):
        snapshot_tags(rds, GOOD)

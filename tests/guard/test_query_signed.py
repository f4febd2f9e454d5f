"""A client made to sign its calls as presigns are signed (``signature_version="v4-query"``):
botocore's signer moves the body into the URL's query as it signs. The guard holds the
request once more after the signer; that move is the signer's, not another handler's change,
and a change made around it is still one. Against moto's server over HTTP, the requests
counted there by action."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.config
import pytest
from aws import audit_records, guarded_session, make_cluster
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard

GOOD = "orders-manual-20261129"
TAGS = [{"Key": "team", "Value": "core"}, {"Key": "cost centre/é", "Value": "a + b=c/@é"}]
SIGN = "before-sign.rds.CreateDBClusterSnapshot"


def _query_signed(moto_server: MotoServer, tmp_path: Path, mode: str, token: bool) -> Any:
    """An rds client of a session guarded by `AUDITED` in ``mode`` that signs its calls with
    a query signature, with a session token or without (its signature then has one more
    parameter)."""
    policy = write_policy(tmp_path, AUDITED.replace('"enforce"', f'"{mode}"'))
    session, _ = guarded_session(policy, on=moto_server)
    config = botocore.config.Config(signature_version="v4-query")
    extra = {"aws_session_token": "token"} if token else {}
    rds = moto_server.client("rds", session=session, config=config, **extra)
    make_cluster(rds)
    moto_server.reset_counts()
    return rds


@pytest.mark.parametrize("token", [False, True], ids=["keys", "temporary-credentials"])
@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_compliant_call_of_a_query_signing_client_goes_as_without_the_guard(
    moto_server: MotoServer, tmp_path: Path, mode: str, token: bool
) -> None:
    """The signer's move was read as a query another handler gave the request: every
    compliant call refused (``request.changed`` on ``url``; warn: warned and recorded)."""
    rds = _query_signed(moto_server, tmp_path, mode, token)
    created = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TAGS
    )
    assert created["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"] == GOOD
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    records = audit_records(tmp_path)
    assert [(r["event"], r["violations"]) for r in records] == [
        ("requested", []),
        ("created", []),
    ]
    arn = created["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert tags == [*TAGS, {"Key": "managed-by", "Value": "rds-guard"}]


def _renamed(request: Any, **_: Any) -> None:
    request.data["DBClusterSnapshotIdentifier"] = "Not-Compliant"


def _queried(request: Any, **_: Any) -> None:
    request.url += "?DBClusterSnapshotIdentifier=Not-Compliant"


CHANGES: dict[str, Callable[..., None]] = {"body renamed": _renamed, "query given": _queried}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_the_signer_moves_into_the_query_is_still_a_change(
    moto_server: MotoServer, tmp_path: Path, change: Callable[..., None]
) -> None:
    """A handler after the guard's at ``before-sign`` renames the snapshot in the body, or
    gives the URL a query naming it (the signer merges the two): held after the signer, the
    request is no longer what the signer makes of the one held, and is refused."""
    rds = _query_signed(moto_server, tmp_path, "enforce", token=False)
    rds.meta.events.register(SIGN, change)
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TAGS
        )
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [r["event"] for r in audit_records(tmp_path)][:2] == ["requested", "blocked"]

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
from aws import audit_records, guarded_session, make_cluster, refreshing_as
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
    policy = write_policy(tmp_path, AUDITED, mode=mode)
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
    _refused(rds, moto_server, tmp_path)


def _refused(rds: Any, moto_server: MotoServer, tmp_path: Path) -> None:
    """A compliant call of ``rds`` is refused as changed since held: nothing sent."""
    with pytest.raises(rds_guard.PolicyViolation, match=r"request\.changed"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TAGS
        )
    assert "CreateDBClusterSnapshot" not in moto_server.actions()
    assert [r["event"] for r in audit_records(tmp_path)][:2] == ["requested", "blocked"]


def _token_in_body(request: Any, **_: Any) -> None:
    request.data["X-Amz-Security-Token"] = "token"


def _signature_in_url(request: Any, **_: Any) -> None:
    request.url += "?X-Amz-Signature=0"


def _signature_in_body(request: Any, **_: Any) -> None:
    request.data["X-Amz-Signature"] = "0"


SIGNATURE_NAMES: dict[str, Callable[..., None]] = {
    "a token in the body": _token_in_body,
    "a signature in the URL": _signature_in_url,
    "a signature in the body": _signature_in_body,
}


@pytest.mark.parametrize("token", [False, True], ids=["keys", "temporary-credentials"])
@pytest.mark.parametrize("change", SIGNATURE_NAMES.values(), ids=SIGNATURE_NAMES.keys())
def test_a_signature_parameter_given_before_the_signer_is_a_change(
    moto_server: MotoServer, tmp_path: Path, change: Callable[..., None], token: bool
) -> None:
    """The hold after the signer passes the signature's parameters by their names: a handler
    after the guard's that gives the body or the URL one of those names lands it among the
    operation's parameters, where the signer puts it, before its own: refused."""
    rds = _query_signed(moto_server, tmp_path, "enforce", token=token)
    rds.meta.events.register(SIGN, change)
    _refused(rds, moto_server, tmp_path)


@pytest.mark.parametrize("rename", [True, False], ids=["renamed", "left as it was"])
def test_a_request_changed_while_the_query_signer_refreshes_its_credentials_is_refused(
    moto_server: MotoServer, tmp_path: Path, rename: bool
) -> None:
    """botocore's signer reads the credentials after every ``before-sign`` handler and then
    moves the body into the query: another thread that kept the request renames the snapshot
    while the refresh waits, and the signer signs the new name into the URL. Held after the
    signer: refused, nothing sent. Control: a refresh during which nothing changes sends the
    call as judged."""
    kept: list[Any] = []

    def change() -> None:
        if kept and rename:
            _renamed(kept[0])

    rds = _query_signed(moto_server, tmp_path, "enforce", token=False)
    rds._request_signer._credentials = refreshing_as(change)
    rds.meta.events.register(
        "request-created.rds.CreateDBClusterSnapshot", lambda request, **_: kept.append(request)
    )
    if rename:
        _refused(rds, moto_server, tmp_path)
        return
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TAGS
    )
    assert moto_server.actions() == ["CreateDBClusterSnapshot"]
    assert [r["event"] for r in audit_records(tmp_path)] == ["requested", "created"]

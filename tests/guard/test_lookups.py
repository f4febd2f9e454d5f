"""A failed look-up of the source says what failed: a source that does not exist raises the
service's own error; access denied is tags.inherit naming the code; an endpoint that cannot
be reached raises the connection error. Each records `failed` or `blocked`, nothing sent. In
warn mode a failed look-up stops nothing: the call is sent as made."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from aws import audit_records, deny, guarded_client, make_cluster
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from policies import DEFAULTS_ONLY, write_policy
from servers import MotoServer, raw_response

import rds_guard

GOOD = "orders-manual-20261129"


def _bare_error(moto_server: MotoServer) -> ClientError:
    """What a bare client's CreateDBClusterSnapshot of a cluster that does not exist raises."""
    bare = moto_server.client("rds")
    with pytest.raises(bare.exceptions.DBClusterNotFoundFault) as without:
        bare.create_db_cluster_snapshot(
            DBClusterIdentifier="ordres", DBClusterSnapshotIdentifier=GOOD
        )
    return without.value


def test_a_source_that_does_not_exist_raises_the_services_own_error(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Raised as the call itself raises it without the guard: of the operation called, not
    of the guard's DescribeDBClusters."""
    without = _bare_error(moto_server)
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    moto_server.reset_counts()
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as guarded:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="ordres", DBClusterSnapshotIdentifier=GOOD
        )
    assert guarded.value.operation_name == "CreateDBClusterSnapshot"
    assert guarded.value.response["Error"] == without.response["Error"]
    assert "when calling the CreateDBClusterSnapshot operation" in str(guarded.value)
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (failed,) = audit_records(tmp_path)
    assert failed["event"] == "failed"
    assert failed["error"]["code"] == "DBClusterNotFoundFault"
    assert (failed["snapshot"], failed["source"]) == (GOOD, "ordres")


class OddlyMadeError(ClientError):  # type: ignore[misc]
    """A service error of a class made otherwise than botocore's."""

    def __init__(self, message: str) -> None:
        error = {"Code": "DBClusterNotFoundFault", "Message": message}
        super().__init__({"Error": error}, "DescribeDBClusters")


def test_a_read_error_of_a_class_made_otherwise_is_raised_as_it_is(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)

    def refuse(**_: Any) -> None:
        raise OddlyMadeError("no such cluster")

    rds.meta.events.register("before-call.rds.DescribeDBClusters", refuse)
    with pytest.raises(OddlyMadeError) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="ordres", DBClusterSnapshotIdentifier=GOOD
        )
    assert caught.value.operation_name == "DescribeDBClusters"
    assert moto_server.count("CreateDBClusterSnapshot") == 0


@pytest.mark.parametrize(
    "policy",
    [
        DEFAULTS_ONLY,
        'version = 1\nmode = "warn"\n[tags]\nrequired = ["team"]\n'
        '[audit]\npath = "audit.jsonl"\nfsync = false\n',
    ],
    ids=["defaults", "rules only"],
)
def test_warn_mode_sends_a_call_whose_source_does_not_exist_as_made(
    moto_server: MotoServer, tmp_path: Path, policy: str
) -> None:
    """warn: a look-up that fails does not stop the call. It is sent as the caller made it
    (without the policy's tags, which would drop the source's), and the program gets the
    service's answer to its own call, word for word as without the guard: the error of
    CreateDBClusterSnapshot, not of the guard's DescribeDBClusters."""
    without = _bare_error(moto_server)
    rds = guarded_client(write_policy(tmp_path, policy, mode="warn"), on=moto_server)
    moto_server.reset_counts()
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as guarded:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="ordres", DBClusterSnapshotIdentifier=GOOD
        )
    assert guarded.value.operation_name == "CreateDBClusterSnapshot"
    assert guarded.value.response["Error"] == without.response["Error"]
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert "Tags" not in moto_server.last_params("CreateDBClusterSnapshot")
    requested, failed = audit_records(tmp_path)
    assert (requested["event"], failed["event"]) == ("requested", "failed")
    assert failed["error"]["code"] == "DBClusterNotFoundFault"
    assert failed["call"] == requested["call"]
    # the warning says what is wrong: a name with no source, not access to grant
    for violation in requested["violations"]:
        assert violation["rule"] == "tags.inherit"
        assert (
            "check the source's name (the service says it does not exist)" in violation["message"]
        )
        assert "grant read access" not in violation["message"]
    assert [v["rule"] for v in requested["violations"]] == (
        ["tags.inherit"] if policy == DEFAULTS_ONLY else []
    )


def test_access_denied_is_tags_inherit_naming_the_code(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    deny(rds, "DescribeDBClusters")
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    (violation,) = caught.value.violations
    assert violation.rule == "tags.inherit"
    assert "AccessDenied" in violation.message and "grant read access" in violation.message
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = audit_records(tmp_path)
    assert "AccessDenied" in blocked["violations"][0]["message"]


@pytest.mark.parametrize(
    ("answer", "advice"),
    [
        ("DBInstanceNotFound", "check the source's name"),
        ("denied, saying NotFound", "grant read access to the source"),
    ],
)
def test_warn_mode_advice_follows_the_services_error_code_not_its_words(
    moto_server: MotoServer, tmp_path: Path, answer: str, advice: str
) -> None:
    """warn: an instance that does not exist (its code, `DBInstanceNotFound`) is a name to
    check; access denied is access to grant, even when its message ends in "NotFound"."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"), on=moto_server)
    if answer.startswith("denied"):
        rds.create_db_instance(
            DBInstanceIdentifier="db1",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            CopyTagsToSnapshot=True,
        )
        deny(rds, "DescribeDBInstances", message="User may not read: NotFound")
    with contextlib.suppress(ClientError):  # the service's own answer to the call as made
        rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=GOOD)
    requested = audit_records(tmp_path)[0]
    (violation,) = requested["violations"]
    assert violation["rule"] == "tags.inherit"
    assert advice in violation["message"]


def test_an_unreachable_endpoint_raises_the_connection_error(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """The look-up cannot connect (the create would be answered by in-process moto)."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY))
    rds.meta.events.register_first(
        "before-send.rds.DescribeDBClusters",
        lambda request, **_: (_ for _ in ()).throw(
            EndpointConnectionError(endpoint_url=request.url)
        ),
    )
    sent: list[str] = []
    rds.meta.events.register(
        "before-send.rds.CreateDBClusterSnapshot", lambda **_: sent.append("x")
    )
    with pytest.raises(EndpointConnectionError):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    assert sent == []
    (failed,) = audit_records(tmp_path)
    assert (failed["event"], failed["error"]["code"]) == ("failed", "EndpointConnectionError")


def test_warn_mode_sends_a_call_whose_look_up_cannot_connect(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """warn: the look-up cannot connect, the call itself can: it is sent as made and made."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"))
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    rds.meta.events.register_first(
        "before-send.rds.DescribeDBClusters",
        lambda request, **_: (_ for _ in ()).throw(
            EndpointConnectionError(endpoint_url=request.url)
        ),
    )
    made = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
    )["DBClusterSnapshot"]
    assert made["TagList"] == [{"Key": "team", "Value": "core"}]  # AWS's own copy, intact
    requested, created = audit_records(tmp_path)
    assert [v["rule"] for v in requested["violations"]] == ["tags.inherit"]
    assert "EndpointConnectionError" in requested["violations"][0]["message"]
    assert created["event"] == "created"


def test_an_empty_source_name_is_never_looked_up(moto_server: MotoServer, tmp_path: Path) -> None:
    """A Describe without a name lists every cluster: its first is not the source. The call
    goes as made, for the service to refuse."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})
    moto_server.reset_counts()
    with pytest.raises(rds.exceptions.ClientError):
        rds.create_db_cluster_snapshot(DBClusterIdentifier="", DBClusterSnapshotIdentifier=GOOD)
    assert moto_server.count("DescribeDBClusters") == 0
    assert "team" not in json.dumps(audit_records(tmp_path)[0]["tags"])


def test_a_look_up_failing_in_another_handlers_words_logs_no_signing_value(
    moto_inprocess: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another handler's exception (a proxy's, say) may quote the signed request: its
    session token and signature reached the DEBUG line that says the look-up failed."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY))
    make_cluster(rds)

    def refuse(request: object, **_: object) -> None:
        raise RuntimeError(
            "proxy refused: {'X-Amz-Security-Token': b'SESSIONTOKENxyz', 'Authorization':"
            " b'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/rds/aws4_request,"
            " Signature=a7a5d83e6137'}"
        )

    rds.meta.events.register_first("before-send.rds.DescribeDBClusters", refuse)
    with caplog.at_level("DEBUG", logger="rds_guard"), pytest.raises(rds_guard.PolicyViolation):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    (said,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not")]
    assert "proxy refused" in said
    for secret in ("SESSIONTOKENxyz", "AKIDEXAMPLE", "a7a5d83e6137"):
        assert secret not in said


def test_warn_a_look_up_refused_with_a_token_in_its_code_keeps_no_token(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """warn: a look-up's error code is all that is kept of it (`Unreadable`), and a server or
    proxy writes the code as it likes: one quoting the request's session token was kept
    whole. It is redacted, as a record's is; the call is sent as made."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"), on=moto_server)
    make_cluster(rds, copy_tags=True, tags={"team": "core"})

    def token_in_the_code(request: Any, **_: Any) -> AWSResponse:
        body = (
            b"<ErrorResponse><Error><Code>X-Amz-Security-Token=TOKENINTHECODE</Code>"
            b"<Message>no</Message></Error></ErrorResponse>"
        )
        return raw_response(request.url, 400, body)

    rds.meta.events.register_first("before-send.rds.DescribeDBClusters", token_in_the_code)
    moto_server.reset_counts()
    with caplog.at_level("INFO", logger="rds_guard"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    written = json.dumps(audit_records(tmp_path))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "X-Amz-Security-Token=[redacted]" in written + logged
    assert "TOKENINTHECODE" not in written + logged


SHARED = "arn:aws:rds:us-east-1:111122223333:snapshot:theirs-20261129"
"""A snapshot another account shares: copied by its ARN, as AWS requires."""


def _as_aws_answers_for_a_shared_snapshot(rds: Any) -> None:
    """AWS's answer to ListTagsForResource of another account's snapshot (moto lists none):
    InvalidParameterValue, "does not match an RDS resource in this region"."""

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if "111122223333" not in urllib.parse.unquote(body):
            return None
        return raw_response(
            request.url,
            400,
            b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>"
            b"<Message>The specified resource name does not match an RDS resource in this "
            b"region.</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        )

    rds.meta.events.register_first("before-send.rds.ListTagsForResource", refuse)


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_copy_of_a_snapshot_another_account_shares_has_its_tags_unreadable(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """Its tags cannot be read in this account (AWS answers InvalidParameterValue): the look-up
    is unreadable, as a source in another region is, and no access granted would help. It
    failed the copy with that error, as if the copy had (enforce: `failed`, nothing sent)."""
    rds = guarded_client(write_policy(tmp_path, DEFAULTS_ONLY, mode=mode), on=moto_server)
    _as_aws_answers_for_a_shared_snapshot(rds)
    moto_server.reset_counts()
    copy = {
        "SourceDBSnapshotIdentifier": SHARED,
        "TargetDBSnapshotIdentifier": GOOD,
        "CopyTags": True,
    }
    if mode == "enforce":
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            rds.copy_db_snapshot(**copy)
        (violation,) = caught.value.violations
        assert violation.rule == "tags.inherit"
        assert "another account shares" in violation.message
        assert "grant read access" not in violation.message
        assert moto_server.count("CopyDBSnapshot") == 0
        assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]
    else:
        with contextlib.suppress(ClientError):  # moto has no such snapshot: AWS would copy it
            rds.copy_db_snapshot(**copy)
        assert moto_server.count("CopyDBSnapshot") == 1
        assert "Tags.Tag.1.Key" not in moto_server.last_params("CopyDBSnapshot")  # as made
        (violation,) = audit_records(tmp_path)[0]["violations"]
        assert violation["rule"] == "tags.inherit"
        assert "another account shares" in violation["message"]
        assert "grant read access" not in violation["message"]

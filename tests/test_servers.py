"""Tests of the test infrastructure itself (tests/servers.py, tests/conftest.py).

They prove the fakes count what really reached them, and pin the moto behaviours the guard's
integration tests depend on, so a moto upgrade that changes them fails here first.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
import pytest
from aws import make_cluster, make_instance, tags_of
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer
from core_fixtures import tag_dict
from servers import ACCOUNT_ID, DocDBResponder, MotoServer, parse_query

TEAM = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]
TEAM_DICT = {"team": "core", "env": "prod"}
MARKUP = 'a&b <c> "d" ü'  # must survive the XML round trip


def cluster_snapshot_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT_ID}:cluster-snapshot:{name}"


def block(**_: Any) -> None:
    raise RuntimeError("blocked before sending")


# --------------------------------------------------------------------------------------------
# The moto server: real HTTP, counting by action
# --------------------------------------------------------------------------------------------


def test_server_listens_on_loopback_over_http(moto_server: MotoServer) -> None:
    assert urllib.parse.urlsplit(moto_server.url).hostname == "127.0.0.1"
    rds = moto_server.client("rds")
    response = rds.describe_db_clusters()
    assert response["ResponseMetadata"]["HTTPHeaders"]["server"].startswith("Werkzeug")
    assert moto_server.actions() == ["DescribeDBClusters"]


def test_counts_by_action_and_service(moto_server: MotoServer) -> None:
    rds = moto_server.client("rds")
    neptune = moto_server.client("neptune")
    make_cluster(rds)
    make_cluster(neptune, "graph")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="a")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="b")
    neptune.create_db_cluster_snapshot(DBClusterIdentifier="graph", DBClusterSnapshotIdentifier="c")

    assert moto_server.count("CreateDBClusterSnapshot") == 3
    assert moto_server.count("CreateDBClusterSnapshot", service="rds") == 2
    assert moto_server.count("CreateDBClusterSnapshot", service="neptune") == 1
    assert moto_server.count("CreateDBCluster") == 2
    assert moto_server.count("CopyDBClusterSnapshot") == 0
    assert moto_server.actions() == [
        "CreateDBCluster",
        "CreateDBCluster",
        "CreateDBClusterSnapshot",
        "CreateDBClusterSnapshot",
        "CreateDBClusterSnapshot",
    ]
    assert [r.service for r in moto_server.requests()] == [
        "rds",
        "neptune",
        "rds",
        "rds",
        "neptune",
    ]


def test_failed_requests_are_counted_too(moto_server: MotoServer) -> None:
    rds = moto_server.client("rds")
    with pytest.raises(ClientError) as info:
        rds.create_db_cluster_snapshot(DBClusterIdentifier="nope", DBClusterSnapshotIdentifier="x")
    assert info.value.response["Error"]["Code"] == "DBClusterNotFoundFault"
    assert moto_server.count("CreateDBClusterSnapshot") == 1


def test_a_call_stopped_before_sending_is_not_counted(moto_server: MotoServer) -> None:
    rds = moto_server.client("rds")
    make_cluster(rds)
    rds.meta.events.register("before-parameter-build.rds.CreateDBClusterSnapshot", block)
    with pytest.raises(RuntimeError, match="blocked"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert moto_server.actions() == ["CreateDBCluster"]


def test_untagged_clients_are_recorded_under_the_signing_name(moto_server: MotoServer) -> None:
    # rds, neptune and docdb all sign as "rds" and send identical bodies: without the header
    # that MotoServer.client/attach adds, the server can only see "rds".
    neptune = botocore.session.Session().create_client(
        "neptune",
        region_name="us-east-1",
        endpoint_url=moto_server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    neptune.describe_db_clusters()
    assert moto_server.requests()[-1].service == "rds"
    moto_server.attach(neptune)
    neptune.describe_db_clusters()
    assert moto_server.requests()[-1].service == "neptune"


def test_attach_to_a_boto3_session_reaches_later_clients(moto_server: MotoServer) -> None:
    session = boto3.Session()
    moto_server.attach(session)
    neptune = session.client("neptune", endpoint_url=moto_server.url)
    neptune.describe_db_clusters()
    assert moto_server.count("DescribeDBClusters", service="neptune") == 1


def test_client_from_a_given_session(moto_server: MotoServer) -> None:
    session = boto3.Session()
    seen: list[str] = []
    session.events.register("before-call.rds", lambda event_name, **_: seen.append(event_name))
    moto_server.client("rds", session=session).describe_db_clusters()
    assert seen == ["before-call.rds.DescribeDBClusters"]
    assert moto_server.count("DescribeDBClusters", service="rds") == 1


def test_request_params_are_recorded_and_the_body_reaches_moto_intact(
    moto_server: MotoServer,
) -> None:
    rds = moto_server.client("rds")
    long_value = "ü-" + "v" * 250
    make_cluster(rds, tags={"team": long_value, "a b": ""})
    params = moto_server.last_params("CreateDBCluster")
    assert params["Tags.Tag.1.Key"] == "team"
    assert params["Tags.Tag.1.Value"] == long_value
    assert params["Tags.Tag.2.Value"] == ""
    # moto parsed the very same body.
    cluster = rds.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]
    assert tag_dict(cluster["TagList"]) == {"team": long_value, "a b": ""}
    with pytest.raises(LookupError):
        moto_server.last_params("CopyDBClusterSnapshot")


def test_concurrent_requests_are_all_counted(moto_server: MotoServer) -> None:
    rds = moto_server.client("rds")
    errors: list[BaseException] = []

    def describe() -> None:
        try:
            for _ in range(5):
                rds.describe_db_clusters()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=describe) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert moto_server.count("DescribeDBClusters") == 20


def test_reset_counts_and_reset_state(moto_server: MotoServer) -> None:
    rds = moto_server.client("rds")
    make_cluster(rds)
    moto_server.reset_counts()
    assert moto_server.actions() == []
    assert moto_server.count("CreateDBCluster") == 0

    assert len(rds.describe_db_clusters()["DBClusters"]) == 1
    moto_server.reset_state()
    assert rds.describe_db_clusters()["DBClusters"] == []
    # The reset itself (/moto-api) is not a recorded request.
    assert moto_server.actions() == ["DescribeDBClusters", "DescribeDBClusters"]


def test_moto_server_fixture_starts_clean(
    moto_server_process: MotoServer, moto_server: MotoServer
) -> None:
    assert moto_server is moto_server_process
    assert moto_server.actions() == []
    assert moto_server.client("rds").describe_db_clusters()["DBClusters"] == []


def test_a_stopped_server_refuses_connections() -> None:
    server = MotoServer()
    server.client("rds").describe_db_clusters()
    server.stop()
    client = server.client("rds", config=botocore.config.Config(retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        client.describe_db_clusters()


# --------------------------------------------------------------------------------------------
# moto's RDS / Neptune behaviours the guard's tests rely on (pinned)
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=["rds", "neptune"])
def cluster_client(request: pytest.FixtureRequest, moto_server: MotoServer) -> tuple[str, Any]:
    """(service, client) with a cluster "orders": CopyTagsToSnapshot=True, tags TEAM."""
    service: str = request.param
    client = moto_server.client(service)
    make_cluster(client, copy_tags=True, tags=TEAM_DICT)
    return service, client


def test_moto_create_cluster_snapshot_tags(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    # No Tags: the cluster's tags are copied (CopyTagsToSnapshot).
    c.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="none")
    assert tags_of(c, cluster_snapshot_arn("none")) == TEAM_DICT
    # Tags: only the request's tags, nothing copied (as on AWS).
    c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="tagged",
        Tags=[{"Key": "x", "Value": "1"}],
    )
    assert tags_of(c, cluster_snapshot_arn("tagged")) == {"x": "1"}
    # Tags=[]: moto copies nothing either (it tests `tags is not None`).
    c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="empty", Tags=[]
    )
    assert tags_of(c, cluster_snapshot_arn("empty")) == {}


def test_moto_cluster_without_copy_flag_passes_nothing_on(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    make_cluster(c, "plain", tags=TEAM_DICT)
    c.create_db_cluster_snapshot(DBClusterIdentifier="plain", DBClusterSnapshotIdentifier="p1")
    assert tags_of(c, cluster_snapshot_arn("p1")) == {}
    c.delete_db_cluster(DBClusterIdentifier="plain", FinalDBSnapshotIdentifier="p-final")
    assert tags_of(c, cluster_snapshot_arn("p-final")) == {}


def test_moto_copy_cluster_snapshot_tags(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="src",
        Tags=[{"Key": "x", "Value": "1"}],
    )

    def copy(target: str, **kw: Any) -> dict[str, str]:
        c.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="src", TargetDBClusterSnapshotIdentifier=target, **kw
        )
        return tags_of(c, cluster_snapshot_arn(target))

    # CopyTags=True, no Tags: the source snapshot's tags.
    assert copy("c1", CopyTags=True) == {"x": "1"}
    # CopyTags=True with Tags: only the request's tags (as on AWS).
    assert copy("c2", CopyTags=True, Tags=[{"Key": "y", "Value": "2"}]) == {"y": "2"}
    # CopyTags=True with Tags=[]: the source snapshot's tags.
    assert copy("c3", CopyTags=True, Tags=[]) == {"x": "1"}
    # QUIRK: no CopyTags, no Tags: moto gives the copy the tags of the source snapshot's
    # *cluster* (it has CopyTagsToSnapshot); AWS would give it none.
    assert copy("c4") == TEAM_DICT


def test_moto_final_cluster_snapshot_copies_cluster_tags(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    c.delete_db_cluster(DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="orders-final")
    snap = c.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="orders-final")[
        "DBClusterSnapshots"
    ][0]
    assert snap["SnapshotType"] == "manual"
    assert tags_of(c, snap["DBClusterSnapshotArn"]) == TEAM_DICT
    assert c.describe_db_clusters()["DBClusters"] == []


def test_moto_describe_results_tag_lists(cluster_client: tuple[str, Any]) -> None:
    service, c = cluster_client
    cluster = c.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]
    snap = c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="s"
    )["DBClusterSnapshot"]
    described = c.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="s")[
        "DBClusterSnapshots"
    ][0]
    assert cluster["CopyTagsToSnapshot"] is True
    if service == "rds":
        assert tag_dict(cluster["TagList"]) == TEAM_DICT
        assert tag_dict(snap["TagList"]) == TEAM_DICT
        assert tag_dict(described["TagList"]) == TEAM_DICT
    else:
        # Neptune's model has no TagList on DBCluster / DBClusterSnapshot: botocore drops it.
        assert "TagList" not in cluster
        assert "TagList" not in snap
        assert "TagList" not in described


def test_moto_tagging_and_sharing(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    arn = c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="s"
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    assert arn == cluster_snapshot_arn("s")
    c.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "b"}])
    c.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "env", "Value": "dev"}])
    c.remove_tags_from_resource(ResourceName=arn, TagKeys=["team"])
    assert tags_of(c, arn) == {"env": "dev", "a": "b"}
    result = c.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="s", AttributeName="restore", ValuesToAdd=["111122223333"]
    )["DBClusterSnapshotAttributesResult"]
    assert result["DBClusterSnapshotAttributes"] == [
        {"AttributeName": "restore", "AttributeValues": ["111122223333"]}
    ]


def test_moto_errors_and_identifier_case(cluster_client: tuple[str, Any]) -> None:
    _, c = cluster_client
    snap = c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="Mixed-Case"
    )["DBClusterSnapshot"]
    assert snap["DBClusterSnapshotIdentifier"] == "mixed-case"  # stored lowercased
    with pytest.raises(ClientError) as info:
        c.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="mixed-case"
        )
    assert info.value.response["Error"]["Code"] == "DBClusterSnapshotAlreadyExistsFault"
    with pytest.raises(ClientError) as info:
        c.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="nope")
    assert info.value.response["Error"]["Code"] == "DBClusterSnapshotNotFoundFault"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # QUIRK: an unknown snapshot ARN is not an error in moto's tagging calls.
    assert tags_of(c, cluster_snapshot_arn("nope")) == {}


def test_moto_db_instance_snapshots(moto_server: MotoServer) -> None:
    c = moto_server.client("rds")
    make_instance(c, "db", copy_tags=True, tags=TEAM_DICT)

    def snapshot(name: str, **kw: Any) -> dict[str, str]:
        arn = c.create_db_snapshot(DBInstanceIdentifier="db", DBSnapshotIdentifier=name, **kw)[
            "DBSnapshot"
        ]["DBSnapshotArn"]
        return tags_of(c, arn)

    def copy(target: str, **kw: Any) -> dict[str, str]:
        arn = c.copy_db_snapshot(
            SourceDBSnapshotIdentifier="tagged", TargetDBSnapshotIdentifier=target, **kw
        )["DBSnapshot"]["DBSnapshotArn"]
        return tags_of(c, arn)

    assert snapshot("none") == TEAM_DICT
    assert snapshot("tagged", Tags=[{"Key": "x", "Value": "1"}]) == {"x": "1"}
    # Unlike clusters, Tags=[] on CreateDBSnapshot still copies the instance's tags.
    assert snapshot("empty", Tags=[]) == TEAM_DICT
    assert copy("c1", CopyTags=True) == {"x": "1"}
    assert copy("c2", CopyTags=True, Tags=[{"Key": "y", "Value": "2"}]) == {"y": "2"}
    assert copy("c3", CopyTags=True, Tags=[]) == {"x": "1"}
    # QUIRK (as for clusters): no CopyTags gives the source *instance's* tags.
    assert copy("c4") == TEAM_DICT

    c.delete_db_instance(DBInstanceIdentifier="db", FinalDBSnapshotIdentifier="db-final")
    final = c.describe_db_snapshots(DBSnapshotIdentifier="db-final")["DBSnapshots"][0]
    assert tags_of(c, final["DBSnapshotArn"]) == TEAM_DICT


# --------------------------------------------------------------------------------------------
# Environment fixtures
# --------------------------------------------------------------------------------------------


def test_aws_env_is_dummy_and_isolated() -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in os.environ
    assert not any(name.startswith("RDS_GUARD_") for name in os.environ)
    assert not Path(os.environ["AWS_CONFIG_FILE"]).exists()
    assert not Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).exists()
    session = boto3.Session()
    assert session.get_credentials().access_key == "testing"
    assert session.region_name == "us-east-1"
    assert session.available_profiles == []


def test_the_moto_inprocess_fixture_answers_without_a_server(moto_inprocess: None) -> None:
    rds = boto3.client("rds")
    make_cluster(rds)
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]] == [
        "orders"
    ]


# --------------------------------------------------------------------------------------------
# The query-protocol parser
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "CreateDBClusterSnapshot",
            {"DBClusterIdentifier": "c", "DBClusterSnapshotIdentifier": "s", "Tags": TEAM},
        ),
        (
            "CreateDBClusterSnapshot",
            {"DBClusterIdentifier": "c", "DBClusterSnapshotIdentifier": "s", "Tags": []},
        ),
        (
            "CopyDBClusterSnapshot",
            {
                "SourceDBClusterSnapshotIdentifier": "a",
                "TargetDBClusterSnapshotIdentifier": "b",
                "CopyTags": True,
            },
        ),
        ("RemoveTagsFromResource", {"ResourceName": "arn", "TagKeys": ["a", "b"]}),
        (
            "ModifyDBClusterSnapshotAttribute",
            {
                "DBClusterSnapshotIdentifier": "s",
                "AttributeName": "restore",
                "ValuesToAdd": ["all"],
                "ValuesToRemove": [],
            },
        ),
        (
            "DescribeDBClusters",
            {"Filters": [{"Name": "engine", "Values": ["docdb", "x"]}], "MaxRecords": 20},
        ),
        ("DeleteDBCluster", {"DBClusterIdentifier": "c", "SkipFinalSnapshot": False}),
    ],
)
def test_parse_query_inverts_botocore_serializer(operation: str, params: dict[str, Any]) -> None:
    model = DocDBResponder.service_model().operation_model(operation)
    body = create_serializer("query").serialize_to_request(params, model)["body"]
    form = {k: str(v) for k, v in body.items()}
    assert parse_query(form, model.input_shape) == params


# --------------------------------------------------------------------------------------------
# The DocumentDB responder
# --------------------------------------------------------------------------------------------


@pytest.fixture
def docdb_client(docdb: DocDBResponder) -> Any:
    return docdb.client()


def test_docdb_clusters_snapshots_and_tags_round_trip(
    docdb: DocDBResponder, docdb_client: Any
) -> None:
    c = docdb_client
    cluster = c.create_db_cluster(
        DBClusterIdentifier="Orders", Engine="docdb", MasterUsername="admin", Tags=TEAM
    )["DBCluster"]
    assert cluster["DBClusterIdentifier"] == "orders"
    assert cluster["DBClusterArn"] == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:cluster:orders"
    assert cluster["CopyTagsToSnapshot"] is False
    assert "TagList" not in cluster
    assert tags_of(c, cluster["DBClusterArn"]) == TEAM_DICT

    snap = c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-manual-1",
        Tags=[{"Key": "x", "Value": "1"}],
    )["DBClusterSnapshot"]
    arn = snap["DBClusterSnapshotArn"]
    assert arn == cluster_snapshot_arn("orders-manual-1")
    assert snap["DBClusterIdentifier"] == "orders"
    assert snap["SnapshotType"] == "manual"
    assert tags_of(c, arn) == {"x": "1"}
    assert docdb.last_params("CreateDBClusterSnapshot")["Tags.Tag.1.Key"] == "x"

    copy = c.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=arn,
        TargetDBClusterSnapshotIdentifier="orders-copy",
        CopyTags=True,
    )["DBClusterSnapshot"]
    assert copy["SourceDBClusterSnapshotArn"] == arn
    assert tags_of(c, copy["DBClusterSnapshotArn"]) == {"x": "1"}

    described = c.describe_db_cluster_snapshots(DBClusterIdentifier="orders")
    assert [s["DBClusterSnapshotIdentifier"] for s in described["DBClusterSnapshots"]] == [
        "orders-manual-1",
        "orders-copy",
    ]
    assert [c["DBClusterIdentifier"] for c in c.describe_db_clusters()["DBClusters"]] == ["orders"]
    assert docdb.actions() == [
        "CreateDBCluster",
        "ListTagsForResource",
        "CreateDBClusterSnapshot",
        "ListTagsForResource",
        "CopyDBClusterSnapshot",
        "ListTagsForResource",
        "DescribeDBClusterSnapshots",
        "DescribeDBClusters",
    ]
    assert docdb.count("CreateDBClusterSnapshot") == 1
    assert docdb.count("CreateDBClusterSnapshot", service="docdb") == 1
    assert docdb.count("CreateDBClusterSnapshot", service="rds") == 0


def test_docdb_copy_tags_rules(docdb: DocDBResponder, docdb_client: Any) -> None:
    c = docdb_client
    c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb", Tags=TEAM)
    c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="src", Tags=TEAM
    )

    def copy(target: str, **kw: Any) -> dict[str, str]:
        c.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="src", TargetDBClusterSnapshotIdentifier=target, **kw
        )
        return docdb.tags(target)

    assert copy("c1", CopyTags=True) == TEAM_DICT
    assert copy("c2", CopyTags=True, Tags=[{"Key": "y", "Value": "2"}]) == {"y": "2"}
    assert copy("c3", CopyTags=True, Tags=[]) == TEAM_DICT
    assert copy("c4") == {}
    assert copy("c5", Tags=[{"Key": "y", "Value": "2"}]) == {"y": "2"}


def test_docdb_snapshot_inherits_only_with_copy_tags_to_snapshot(
    docdb: DocDBResponder, docdb_client: Any
) -> None:
    c = docdb_client
    c.create_db_cluster(DBClusterIdentifier="plain", Engine="docdb", Tags=TEAM)
    c.create_db_cluster_snapshot(DBClusterIdentifier="plain", DBClusterSnapshotIdentifier="p1")
    assert docdb.tags("p1") == {}

    cluster = c.create_db_cluster(
        DBClusterIdentifier="orders", Engine="docdb", Tags=TEAM, CopyTagsToSnapshot=True
    )["DBCluster"]
    assert cluster["CopyTagsToSnapshot"] is True
    c.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="o1")
    c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="o2",
        Tags=[{"Key": "x", "Value": "1"}],
    )
    assert docdb.tags("o1") == TEAM_DICT
    assert docdb.tags("o2") == {"x": "1"}

    c.modify_db_cluster(DBClusterIdentifier="orders", CopyTagsToSnapshot=False)
    c.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="o3")
    assert docdb.tags("o3") == {}


def test_docdb_tagging_and_sharing(docdb: DocDBResponder, docdb_client: Any) -> None:
    c = docdb_client
    c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    arn = c.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="s", Tags=TEAM
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    c.add_tags_to_resource(
        ResourceName=arn,
        Tags=[
            {"Key": "env", "Value": "dev"},
            {"Key": "a", "Value": ""},
            {"Key": "x", "Value": MARKUP},
        ],
    )
    c.remove_tags_from_resource(ResourceName=arn, TagKeys=["team", "absent"])
    assert tags_of(c, arn) == {"env": "dev", "a": "", "x": MARKUP}
    assert docdb.last_params("RemoveTagsFromResource")["TagKeys.member.1"] == "team"

    result = c.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="s",
        AttributeName="restore",
        ValuesToAdd=["111122223333", "all"],
    )["DBClusterSnapshotAttributesResult"]
    assert result == {
        "DBClusterSnapshotIdentifier": "s",
        "DBClusterSnapshotAttributes": [
            {"AttributeName": "restore", "AttributeValues": ["111122223333", "all"]}
        ],
    }
    assert (
        docdb.last_params("ModifyDBClusterSnapshotAttribute")["ValuesToAdd.AttributeValue.2"]
        == "all"
    )
    result = c.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="s", AttributeName="restore", ValuesToRemove=["all"]
    )["DBClusterSnapshotAttributesResult"]
    assert result["DBClusterSnapshotAttributes"][0]["AttributeValues"] == ["111122223333"]
    described = c.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier="s")
    assert described["DBClusterSnapshotAttributesResult"] == result

    deleted = c.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="s")["DBClusterSnapshot"]
    assert deleted["DBClusterSnapshotArn"] == arn
    assert c.describe_db_cluster_snapshots()["DBClusterSnapshots"] == []


def test_docdb_delete_cluster_final_snapshot(docdb: DocDBResponder, docdb_client: Any) -> None:
    c = docdb_client
    c.create_db_cluster(
        DBClusterIdentifier="orders", Engine="docdb", Tags=TEAM, CopyTagsToSnapshot=True
    )
    c.create_db_cluster(DBClusterIdentifier="plain", Engine="docdb", Tags=TEAM)
    c.create_db_cluster(DBClusterIdentifier="gone", Engine="docdb")

    with pytest.raises(ClientError) as info:
        c.delete_db_cluster(DBClusterIdentifier="gone")
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"

    deleted = c.delete_db_cluster(DBClusterIdentifier="orders", FinalDBSnapshotIdentifier="o-final")
    assert deleted["DBCluster"]["Status"] == "deleting"
    c.delete_db_cluster(DBClusterIdentifier="plain", FinalDBSnapshotIdentifier="p-final")
    c.delete_db_cluster(DBClusterIdentifier="gone", SkipFinalSnapshot=True)
    assert docdb.tags("o-final") == TEAM_DICT
    assert docdb.tags("p-final") == {}
    assert sorted(docdb.snapshots) == ["o-final", "p-final"]
    assert docdb.clusters == {}


def test_docdb_errors_come_back_as_aws_sends_them(docdb: DocDBResponder, docdb_client: Any) -> None:
    c = docdb_client
    c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    c.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="s")

    with pytest.raises(c.exceptions.DBClusterSnapshotAlreadyExistsFault) as info:
        c.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="S")
    error = info.value.response["Error"]
    assert error["Code"] == "DBClusterSnapshotAlreadyExistsFault"
    assert error["Type"] == "Sender"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["ResponseMetadata"]["RequestId"]

    with pytest.raises(ClientError) as info:
        c.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="s", TargetDBClusterSnapshotIdentifier="s"
        )
    assert info.value.response["Error"]["Code"] == "DBClusterSnapshotAlreadyExistsFault"

    not_found = [
        (
            lambda: c.create_db_cluster_snapshot(
                DBClusterIdentifier="no", DBClusterSnapshotIdentifier="x"
            ),
            "DBClusterNotFoundFault",
        ),
        (lambda: c.describe_db_clusters(DBClusterIdentifier="no"), "DBClusterNotFoundFault"),
        (
            lambda: c.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier="no", TargetDBClusterSnapshotIdentifier="x"
            ),
            "DBClusterSnapshotNotFoundFault",
        ),
        (
            lambda: c.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="no"),
            "DBClusterSnapshotNotFoundFault",
        ),
        (
            lambda: c.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="no"),
            "DBClusterSnapshotNotFoundFault",
        ),
        (
            lambda: c.list_tags_for_resource(ResourceName=cluster_snapshot_arn("no")),
            "DBClusterSnapshotNotFoundFault",
        ),
        (
            lambda: c.add_tags_to_resource(ResourceName=cluster_snapshot_arn("no"), Tags=TEAM),
            "DBClusterSnapshotNotFoundFault",
        ),
    ]
    for call, code in not_found:
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    with pytest.raises(ClientError) as info:
        c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    assert info.value.response["Error"]["Code"] == "DBClusterAlreadyExistsFault"
    with pytest.raises(ClientError) as info:
        c.create_db_cluster(DBClusterIdentifier="other", Engine="aurora-postgresql")
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        c.describe_db_instances()
    assert info.value.response["Error"]["Code"] == "InvalidAction"
    assert "DescribeDBInstances" in info.value.response["Error"]["Message"]
    # Every request that reached the responder is counted, failures included.
    assert docdb.count("CreateDBClusterSnapshot") == 3
    assert docdb.count("DescribeDBInstances") == 1


def test_docdb_after_call_fires_for_success_and_error(docdb_client: Any) -> None:
    c = docdb_client
    seen: list[tuple[str, int]] = []

    def after_call(event_name: str, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        seen.append((event_name, http_response.status_code))

    c.meta.events.register("after-call.docdb", after_call)
    c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    with pytest.raises(ClientError):
        c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    assert seen == [
        ("after-call.docdb.CreateDBCluster", 200),
        ("after-call.docdb.CreateDBCluster", 400),
    ]


def test_docdb_earlier_hooks_run_whatever_the_registration_order(
    docdb: DocDBResponder, docdb_client: Any
) -> None:
    # The responder is attached first (docdb.client()); hooks registered afterwards on
    # before-parameter-build / before-call still run before it answers in before-send.
    c = docdb_client
    order: list[str] = []

    def add_tag(params: dict[str, Any], **_: Any) -> None:
        order.append("before-parameter-build")
        params["Tags"] = [*params.get("Tags", []), {"Key": "added", "Value": "yes"}]

    def before_call(**_: Any) -> None:
        order.append("before-call")

    def after_call(**_: Any) -> None:
        order.append(f"after-call ({docdb.count('CreateDBCluster')} request)")

    c.meta.events.register("before-parameter-build.docdb.CreateDBCluster", add_tag)
    c.meta.events.register("before-call.docdb.CreateDBCluster", before_call)
    c.meta.events.register("after-call.docdb.CreateDBCluster", after_call)
    c.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    assert order == ["before-parameter-build", "before-call", "after-call (1 request)"]
    assert docdb.tags("orders") == {"added": "yes"}


def test_docdb_blocked_call_is_not_counted(docdb: DocDBResponder, docdb_client: Any) -> None:
    docdb_client.meta.events.register("before-parameter-build.docdb.CreateDBCluster", block)
    with pytest.raises(RuntimeError):
        docdb_client.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    assert docdb.count("CreateDBCluster") == 0
    assert docdb.actions() == []


def test_docdb_attach_to_sessions_reaches_later_clients(docdb: DocDBResponder) -> None:
    session = boto3.Session()
    docdb.attach(session)
    session.client("docdb").create_db_cluster(DBClusterIdentifier="a", Engine="docdb")
    core = botocore.session.Session()
    docdb.attach(core)
    docdb.attach(core)  # idempotent
    core.create_client("docdb", region_name="eu-west-1").create_db_cluster(
        DBClusterIdentifier="b", Engine="docdb"
    )
    assert docdb.count("CreateDBCluster") == 2
    # The ARN's region is the request's.
    assert docdb.clusters["b"].arn == f"arn:aws:rds:eu-west-1:{ACCOUNT_ID}:cluster:b"


def test_docdb_detach_stops_answering_for_that_client(docdb: DocDBResponder) -> None:
    client = docdb.client()
    client.describe_db_clusters()
    docdb.detach(client)
    # Nothing answers any more: the request would go to AWS. Stop it before it does.
    client.meta.events.register("before-send.docdb", block)
    with pytest.raises(RuntimeError):
        client.describe_db_clusters()
    assert docdb.count("DescribeDBClusters") == 1


def test_docdb_reset_forgets_clusters_and_requests(
    docdb: DocDBResponder, docdb_client: Any
) -> None:
    docdb_client.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    docdb.reset()
    assert docdb.actions() == []
    assert docdb_client.describe_db_clusters()["DBClusters"] == []


def test_docdb_responder_answers_under_mock_aws(moto_inprocess: None) -> None:
    # moto's own before-send stubber is registered on the bare "before-send" event; the
    # responder's "before-send.docdb" is more specific and so is asked first.
    responder = DocDBResponder()
    client = boto3.client("docdb")
    responder.attach(client)
    client.create_db_cluster(DBClusterIdentifier="orders", Engine="docdb")
    assert responder.count("CreateDBCluster") == 1

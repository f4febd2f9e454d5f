"""The guard's reads against answers that are not about what it asked: a Describe listing
another resource (first, or alone), an ARN of another resource, a tag listed twice (once as
a hold), a listing whose Marker comes round again. Each answer is forged at ``before-send``
of a real guarded client, which counts every operation it would send; moto answers only
what AWS answers, and a program's own handler can answer anything.

What must hold: the guard judges a call on the facts of the resource it names, or not at
all. An answer it cannot read as one about that resource leaves the facts unread, with a
reason that says why; in enforce mode a rule that needs them blocks the call, and nothing
is sent."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from servers import raw_response

import rds_guard
from rds_guard import aws
from rds_guard.core.calls import Unreadable

NAMESPACE = "http://rds.amazonaws.com/doc/2014-10-31/"
ACCOUNT_ARN = "arn:aws:rds:us-east-1:123456789012"
BACKUPS = """version = 1
[deletion]
minimum_age_days = 7
[deletion.hold_tags]
legal-hold = "true"
[audit]
enabled = false
"""
REQUIRED_TEAM = """version = 1
[tags]
required = ["team"]
[tags.defaults]
managed-by = "rds-guard"
[audit]
enabled = false
"""
Answer = bytes | Callable[[Any], bytes]


def document(operation: str, result: str) -> bytes:
    """The query API's answer to ``operation`` holding ``result``."""
    return (
        f'<?xml version="1.0"?><{operation}Response xmlns="{NAMESPACE}">'
        f"<{operation}Result>{result}</{operation}Result>"
        f"<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></{operation}Response>"
    ).encode()


def tag_list(*pairs: tuple[str, str]) -> str:
    tags = "".join(f"<Tag><Key>{key}</Key><Value>{value}</Value></Tag>" for key, value in pairs)
    return f"<TagList>{tags}</TagList>"


def cluster_snapshot(
    name: str,
    tags: str = "<TagList/>",
    arn_name: str | None = None,
    arn_type: str = "cluster-snapshot",
) -> str:
    """A year-old manual cluster snapshot as DescribeDBClusterSnapshots lists it (with no
    tags unless given; ``tags=""``: no TagList, as DocumentDB lists one), its ARN of
    ``arn_type`` naming ``arn_name`` (default: its own)."""
    return (
        f"<DBClusterSnapshot><DBClusterSnapshotIdentifier>{name}</DBClusterSnapshotIdentifier>"
        f"<DBClusterSnapshotArn>{ACCOUNT_ARN}:{arn_type}:{arn_name or name}"
        "</DBClusterSnapshotArn><SnapshotCreateTime>2025-01-01T00:00:00Z</SnapshotCreateTime>"
        f"<Status>available</Status><SnapshotType>manual</SnapshotType>{tags}</DBClusterSnapshot>"
    )


def cluster(name: str, *, copies: bool, tags: str) -> str:
    return (
        f"<DBCluster><DBClusterIdentifier>{name}</DBClusterIdentifier>"
        f"<DBClusterArn>{ACCOUNT_ARN}:cluster:{name}</DBClusterArn><Engine>aurora-postgresql"
        f"</Engine><CopyTagsToSnapshot>{str(copies).lower()}</CopyTagsToSnapshot>{tags}</DBCluster>"
    )


def forged(service: str, policy: str, answers: dict[str, Answer]) -> tuple[Any, list[str]]:
    """A client of a guarded session whose every request is answered at ``before-send``
    (``answers`` by operation, else an empty result), and the operations it sent."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    rds_guard.install(session, policy=rds_guard.Policy.from_toml(policy))
    client = session.client(service)
    sent: list[str] = []

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rpartition(".")[2]
        sent.append(operation)
        given = answers.get(operation, document(operation, ""))
        body = given(request) if callable(given) else given
        return raw_response(request.url, 200, body)

    client.meta.events.register_first(f"before-send.{service}", answer)
    return client, sent


DESCRIBE = "DescribeDBClusterSnapshots"
HELD = tag_list(("legal-hold", "true"))


@pytest.mark.parametrize(
    ("listed", "why"),
    [
        pytest.param(
            cluster_snapshot("snap-other") + cluster_snapshot("snap-a", HELD),
            "",  # read: the hold is found
            id="second",
        ),
        pytest.param(
            cluster_snapshot("snap-other"),
            "the answer to DescribeDBClusterSnapshots lists none for snap-a",
            id="another-alone",
        ),
        pytest.param(
            cluster_snapshot("SNAP-A") + cluster_snapshot("snap-a", HELD),
            "lists 2 items for snap-a",
            id="listed-twice",
        ),
        pytest.param(
            cluster_snapshot("snap-a", arn_name="snap-other"),
            "gives snap-a the ARN of another resource",
            id="another-arn",
        ),
        pytest.param(  # a DB snapshot of the same name: another resource
            cluster_snapshot("snap-a", arn_type="snapshot"),
            "gives snap-a the ARN of another resource",
            id="arn-of-another-type",
        ),
        pytest.param(
            cluster_snapshot("snap-a", tag_list(("legal-hold", "true"), ("legal-hold", "no"))),
            "the answer lists the tag legal-hold twice",
            id="hold-key-twice",
        ),
    ],
)
def test_a_delete_is_judged_on_the_snapshot_it_names_or_blocked(listed: str, why: str) -> None:
    """Before, the guard took the first item of the answer, and the tags of whatever ARN it
    gave, and the last of a key's values: the held snapshot was deleted. Now the item named
    is found (its name in any case, its ARN its own, each tag key once), else the snapshot's
    facts are unread, with the reason in words (no Python exception's name), and the delete
    is blocked, nothing sent."""
    client, sent = forged(
        "rds",
        BACKUPS,
        {DESCRIBE: document(DESCRIBE, f"<DBClusterSnapshots>{listed}</DBClusterSnapshots>")},
    )
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap-a")
    assert "DeleteDBClusterSnapshot" not in sent
    assert "deletion.hold" in [v.rule for v in caught.value.violations]
    messages = [v.message for v in caught.value.violations]
    if why:
        assert all(why in message for message in messages), messages
    else:  # the snapshot named is read, and its hold found
        assert not any("could not be read" in message for message in messages), messages
        assert any("legal-hold" in message for message in messages), messages


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(cluster_snapshot("snap-a", tags="", arn_name="snap-other"), id="another-name"),
        pytest.param(cluster_snapshot("snap-a", tags="", arn_type="snapshot"), id="another-type"),
    ],
)
def test_a_documentdb_delete_lists_tags_on_the_arn_of_the_snapshot_it_names(item: str) -> None:
    """DocumentDB's Describe carries no tags: they are listed on the item's ARN, which must be
    the snapshot's own. An ARN of another snapshot (not held), or of a DB snapshot of the
    same name, is not listed: blocked."""
    listed: list[str] = []

    def list_tags(request: Any) -> bytes:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else body
        arn = urllib.parse.parse_qs(text)["ResourceName"][0]
        listed.append(arn)
        held = arn.endswith(":cluster-snapshot:snap-a")
        return document("ListTagsForResource", HELD if held else tag_list())

    client, sent = forged(
        "docdb",
        BACKUPS,
        {
            DESCRIBE: document(DESCRIBE, f"<DBClusterSnapshots>{item}</DBClusterSnapshots>"),
            "ListTagsForResource": list_tags,
        },
    )
    with pytest.raises(rds_guard.PolicyViolation):
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap-a")
    assert "DeleteDBClusterSnapshot" not in sent
    assert listed == []


@pytest.mark.parametrize(
    "listed_tags",
    [
        pytest.param("", id="no-tag-list"),
        pytest.param("<TagList><Tag><Value>true</Value></Tag></TagList>", id="tag-without-key"),
        pytest.param(tag_list(("legal-hold", "true"), ("legal-hold", "no")), id="key-twice"),
    ],
)
@pytest.mark.parametrize("made", ["2025-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
def test_a_documentdb_snapshot_whose_tags_cannot_be_read_still_has_its_age_judged(
    listed_tags: str, made: str
) -> None:
    """The snapshot named is found, with when it was made; only its tags, listed with a call
    of their own, come back in a form that cannot be read as its tags. As when that listing
    is refused (docs/backups.md), the hold rule is the violation, with the reason in words,
    and the age is judged on the time read: an old snapshot breaks no age rule, a young one
    the age rule as it stands (not "could not be read"). Before, the odd listing left the
    time unread too."""
    item = cluster_snapshot("snap-a", tags="").replace("2025-01-01T00:00:00Z", made)
    client, sent = forged(
        "docdb",
        BACKUPS,
        {
            DESCRIBE: document(DESCRIBE, f"<DBClusterSnapshots>{item}</DBClusterSnapshots>"),
            "ListTagsForResource": document("ListTagsForResource", listed_tags),
        },
    )
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap-a")
    assert sent == [DESCRIBE, "ListTagsForResource"]
    violations = {v.rule: v.message for v in caught.value.violations}
    assert "the answer" in violations.pop("deletion.hold")
    if made.startswith("2025"):
        assert violations == {}
    else:
        assert list(violations) == ["deletion.too_young"]
        assert "it was made 2099-01-01T00:00:00Z" in violations["deletion.too_young"]


def test_a_snapshot_inherits_the_tags_of_the_cluster_it_names_only() -> None:
    """DescribeDBClusters listing another cluster first (its copy flag on, a team tag) and
    then the one named (copy flag off, no tags): AWS copies nothing, so the required team is
    missing and the call is blocked; the other cluster's team is never written into it."""
    listed = cluster("c-other", copies=True, tags=tag_list(("team", "stolen"))) + cluster(
        "c-a", copies=False, tags="<TagList/>"
    )
    client, sent = forged(
        "rds",
        REQUIRED_TEAM,
        {
            "DescribeDBClusters": document(
                "DescribeDBClusters", f"<DBClusters>{listed}</DBClusters>"
            )
        },
    )
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="c-a", DBClusterSnapshotIdentifier="c-a-1"
        )
    assert "CreateDBClusterSnapshot" not in sent
    assert [v.rule for v in caught.value.violations] == ["tags.required"]


def test_a_listing_whose_marker_comes_round_again_ends() -> None:
    """Reconcile's listing follows each Marker; one it was given before would page in a
    circle for ever: the listing ends with an `OddAnswer` saying so."""
    client = botocore.session.Session().create_client(
        "rds", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    pages: list[str] = []

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rpartition(".")[2]
        pages.append(operation)
        body = cluster_snapshot(f"snap-{len(pages)}") if operation == DESCRIBE else ""
        result = f"<DBClusterSnapshots>{body}</DBClusterSnapshots><Marker>again</Marker>"
        return raw_response(request.url, 200, document(operation, result))

    client.meta.events.register_first("before-send.rds", answer)
    with pytest.raises(aws.OddAnswer, match="gives a Marker it gave before"):
        aws.list_snapshots(client, "rds", with_tags=False)
    assert pages == [DESCRIBE, DESCRIBE]


@pytest.mark.parametrize(
    "listed",
    [
        "<DBClusterSnapshot><Engine>aurora</Engine></DBClusterSnapshot>",
        cluster_snapshot(""),
    ],
    ids=["none", "empty"],
)
def test_a_listed_snapshot_without_its_identifier_is_an_odd_listing(listed: str) -> None:
    """Reconcile's listing: a snapshot listed with no identifier (or an empty one) cannot be
    told from another, nor matched to a record: an `OddAnswer` naming it (it was a bare
    ``KeyError``, and reconcile's "unexpected KeyError")."""
    client = botocore.session.Session().create_client(
        "rds", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rpartition(".")[2]
        result = f"<DBClusterSnapshots>{listed}</DBClusterSnapshots>"
        return raw_response(request.url, 200, document(operation, result))

    client.meta.events.register_first("before-send.rds", answer)
    with pytest.raises(aws.OddAnswer, match="a snapshot with no DBClusterSnapshotIdentifier"):
        aws.list_snapshots(client, "rds", with_tags=False)


def test_a_listed_snapshot_whose_tags_cannot_be_read_leaves_the_listing_going() -> None:
    """Reconcile's listing: one snapshot whose TagList cannot be read as its tags (a key
    listed twice) is listed with its tags `Unreadable` and the answer's reason, and the
    listing goes on to the next snapshot and the next page (it ended the whole listing)."""
    client = botocore.session.Session().create_client(
        "rds", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    pages = [
        (
            cluster_snapshot("snap-a", tag_list(("team", "a"), ("team", "b")))
            + cluster_snapshot("snap-b", tag_list(("team", "b"))),
            "<Marker>next</Marker>",
        ),
        (cluster_snapshot("snap-c", tag_list(("team", "c"))), ""),
    ]

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rpartition(".")[2]
        body, marker = pages.pop(0) if operation == DESCRIBE and pages else ("", "")
        result = f"<DBClusterSnapshots>{body}</DBClusterSnapshots>{marker}"
        return raw_response(request.url, 200, document(operation, result))

    client.meta.events.register_first("before-send.rds", answer)
    listed = {s.identifier: s.tags for s in aws.list_snapshots(client, "rds")}
    assert listed["snap-a"] == Unreadable("the answer lists the tag team twice")
    assert (listed["snap-b"], listed["snap-c"]) == ({"team": "b"}, {"team": "c"})


FINAL_REQUIRED = """version = 1
[deletion]
final_snapshot = "required"
[audit]
enabled = false
"""


def instance(engine: str, status: str) -> bytes:
    """DescribeDBInstances listing db-a, of ``engine`` and ``status``."""
    item = (
        f"<DBInstance><DBInstanceIdentifier>db-a</DBInstanceIdentifier>"
        f"<DBInstanceArn>{ACCOUNT_ARN}:db:db-a</DBInstanceArn><Engine>{engine}</Engine>"
        f"<DBInstanceStatus>{status}</DBInstanceStatus></DBInstance>"
    )
    return document("DescribeDBInstances", f"<DBInstances>{item}</DBInstances>")


@pytest.mark.parametrize(
    ("engine", "status", "exempt"),
    [
        ("postgres", "failed", True),
        ("postgres", "incompatible-restore", True),
        ("postgres", "incompatible-network", True),
        ("custom-sqlserver-ee", "available", True),
        ("custom-oracle-ee", "available", True),
        ("postgres", "available", False),
        ("postgres", "storage-full", False),
    ],
)
def test_an_instance_aws_deletes_only_without_a_final_snapshot_is_exempt_as_described(
    engine: str, status: str, exempt: bool
) -> None:
    """docs/backups.md: an instance in a failure state, or of RDS Custom, is deleted by AWS
    only without a final snapshot: `SkipFinalSnapshot=True` goes under `final_snapshot =
    "required"`, as `DescribeDBInstances` gives its status and engine; any other is
    blocked, nothing sent."""
    client, sent = forged("rds", FINAL_REQUIRED, {"DescribeDBInstances": instance(engine, status)})

    def delete() -> None:
        client.delete_db_instance(
            DBInstanceIdentifier="db-a", SkipFinalSnapshot=True, DeleteAutomatedBackups=False
        )

    if exempt:
        delete()
        assert sent == ["DescribeDBInstances", "DeleteDBInstance"]
    else:
        with pytest.raises(rds_guard.PolicyViolation) as caught:
            delete()
        assert [v.rule for v in caught.value.violations] == ["deletion.final_snapshot"]
        assert sent == ["DescribeDBInstances"]

"""Canned RDS answers given from botocore's ``before-send`` event, as moto does.

Returning an `AWSResponse` from ``before-send`` skips only the socket: parameter build,
validation, every ``before-call`` handler, serialization, signing, parsing and ``after-call``
all run as against AWS. Bodies are built once; each call gets a fresh stream over them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse

from bench.common import ACCOUNT, CLUSTER_ARN, REGION, SNAPSHOT, SOURCE, SOURCE_TAGS

_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_REQUEST_ID = "5f1e7c0a-7d1b-4c5e-9a44-000000000000"


def _document(operation: str, result: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{operation}Response xmlns="{_NS}"><{operation}Result>{result}</{operation}Result>'
        f"<ResponseMetadata><RequestId>{_REQUEST_ID}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def create_cluster_snapshot_body(snapshot: str = SNAPSHOT, source: str = SOURCE) -> bytes:
    """A CreateDBClusterSnapshot answer naming ``snapshot``."""
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{snapshot}"
    return _document(
        "CreateDBClusterSnapshot",
        "<DBClusterSnapshot>"
        f"<DBClusterSnapshotIdentifier>{snapshot}</DBClusterSnapshotIdentifier>"
        f"<DBClusterIdentifier>{source}</DBClusterIdentifier>"
        f"<DBClusterSnapshotArn>{arn}</DBClusterSnapshotArn>"
        "<SnapshotCreateTime>2026-11-29T12:00:00.000Z</SnapshotCreateTime>"
        "<Engine>aurora-postgresql</Engine><EngineVersion>16.4</EngineVersion>"
        "<Status>creating</Status><Port>5432</Port><PercentProgress>0</PercentProgress>"
        "<SnapshotType>manual</SnapshotType><StorageEncrypted>true</StorageEncrypted>"
        "</DBClusterSnapshot>",
    )


def describe_clusters_body(
    tags: Sequence[tuple[str, str]] = SOURCE_TAGS, *, copy_tags: bool = True
) -> bytes:
    """A DescribeDBClusters answer: one cluster with CopyTagsToSnapshot and a TagList."""
    tag_xml = "".join(
        f"<Tag><Key>{escape(key)}</Key><Value>{escape(value)}</Value></Tag>" for key, value in tags
    )
    return _document(
        "DescribeDBClusters",
        "<DBClusters><DBCluster>"
        f"<DBClusterIdentifier>{SOURCE}</DBClusterIdentifier>"
        f"<DBClusterArn>{CLUSTER_ARN}</DBClusterArn>"
        "<Status>available</Status><Engine>aurora-postgresql</Engine>"
        "<EngineVersion>16.4</EngineVersion><Port>5432</Port>"
        f"<CopyTagsToSnapshot>{str(copy_tags).lower()}</CopyTagsToSnapshot>"
        f"<TagList>{tag_xml}</TagList>"
        "</DBCluster></DBClusters>",
    )


class _RawBody(io.BytesIO):
    """The raw body of an `AWSResponse`: botocore reads it through ``stream()``."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


class CannedResponder:
    """A ``before-send`` handler answering each operation with one fixed body.

    ``bodies`` maps an operation name to its XML answer. An operation it has no body for is
    left to botocore (None).
    """

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self._headers = {"Content-Type": "text/xml", "x-amzn-RequestId": _REQUEST_ID}

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        """Answer one request (botocore's ``before-send`` calling convention)."""
        operation = event_name.rsplit(".", 1)[-1]
        body = self.bodies.get(operation)
        if body is None:
            return None
        return AWSResponse(request.url, 200, dict(self._headers), _RawBody(body))

    def attach(self, client: Any) -> None:
        """Answer the rds requests of ``client``."""
        client.meta.events.register(
            "before-send.rds", self, unique_id=f"bench.canned.{id(self)}.{id(client)}"
        )


def responder(*, describe: bool = False) -> CannedResponder:
    """A responder for CreateDBClusterSnapshot (and DescribeDBClusters, when asked)."""
    bodies = {"CreateDBClusterSnapshot": create_cluster_snapshot_body()}
    if describe:
        bodies["DescribeDBClusters"] = describe_clusters_body()
    return CannedResponder(bodies)

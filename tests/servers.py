"""AWS stand-ins for rds_guard's integration tests.

Two fakes, both of which record every request that reaches them *by action*, so a test can
prove that a blocked call never sent the guarded operation:

- :class:`MotoServer`: moto's server on ``127.0.0.1`` over real HTTP, on a background thread
  of this process, behind a small WSGI middleware that records ``(service, action, params)``
  of every request before moto sees it. It serves ``rds`` and ``neptune``.
- :class:`DocDBResponder`: a DocumentDB fake (moto refuses the ``docdb`` engine). It answers
  botocore's ``before-send.docdb`` event with an ``AWSResponse`` carrying the XML the real
  Query-protocol service sends, so everything before ``before-send`` (parameter build,
  validation, ``before-call``) and after it (parsing, ``after-call``, ``ClientError``) runs
  exactly as against AWS.

Both expose the same read-out API (:class:`RequestLog`): ``count(action, service=None)``,
``actions()``, ``requests()``, ``last_params(action)`` and ``reset_counts()``.

rds, docdb and neptune requests are byte-for-byte the same on the wire (same signing name
``rds``, same API version, same body), so a server alone cannot tell them apart. Clients made
by :meth:`MotoServer.client` (or whose session/client went through :meth:`MotoServer.attach`)
add a ``X-Rds-Guard-Test-Service`` header naming botocore's service id; for any other client
the recorded service is the one in the request's SigV4 credential scope, i.e. ``"rds"``.
"""

from __future__ import annotations

import datetime as _dt
import io
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

__all__ = [
    "ACCOUNT_ID",
    "SERVICE_HEADER",
    "DocDBResponder",
    "MotoServer",
    "RecordedRequest",
    "RequestLog",
    "parse_query",
    "raw_response",
]

#: The account id moto uses, and the one the DocumentDB fake puts in its ARNs.
ACCOUNT_ID = "123456789012"

#: Header naming botocore's service id ("rds", "neptune", "docdb"), added on the way out by
#: clients tagged through :meth:`MotoServer.attach`, read by the counting middleware.
SERVICE_HEADER = "X-Rds-Guard-Test-Service"
_SERVICE_ENVIRON_KEY = "HTTP_" + SERVICE_HEADER.upper().replace("-", "_")
_TAG_HANDLER_ID = "tests.servers.tag-service"
_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# --------------------------------------------------------------------------------------------
# Request recording, shared by both fakes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it reached a fake: who it was for, what it asked, with which form."""

    service: str
    action: str
    params: Mapping[str, str] = field(default_factory=dict)
    """The flat Query-protocol form (``{"Tags.Tag.1.Key": "team", ...}``), Action included."""


class RequestLog:
    """Thread-safe, ordered record of the requests that reached a fake."""

    def __init__(self) -> None:
        self._log_lock = threading.Lock()
        self._log: list[RecordedRequest] = []

    def record(self, service: str, action: str, params: Mapping[str, str]) -> None:
        with self._log_lock:
            self._log.append(RecordedRequest(service, action, dict(params)))

    def requests(self) -> list[RecordedRequest]:
        """Every recorded request, oldest first."""
        with self._log_lock:
            return list(self._log)

    def count(self, action: str, service: str | None = None) -> int:
        """How many requests for ``action`` arrived (for ``service`` only, when given)."""
        return sum(
            1
            for r in self.requests()
            if r.action == action and (service is None or r.service == service)
        )

    def actions(self) -> list[str]:
        """The actions received, in order."""
        return [r.action for r in self.requests()]

    def last_params(self, action: str) -> dict[str, str]:
        """The flat form of the most recent ``action`` request; ``LookupError`` if none came."""
        for r in reversed(self.requests()):
            if r.action == action:
                return dict(r.params)
        raise LookupError(f"no {action} request was received (got {self.actions()})")

    def reset_counts(self) -> None:
        """Forget every recorded request."""
        with self._log_lock:
            self._log.clear()


def _form(body: bytes | str | None) -> dict[str, str]:
    """Decode a form-encoded body; blank values are kept (an empty list is ``Tags=``)."""
    if not body:
        return {}
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}


def _service_from_authorization(authorization: str | None) -> str | None:
    """The service of a SigV4 ``Authorization`` header's credential scope, if any."""
    if not authorization:
        return None
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part[len("Credential=") :].split("/")
            if len(scope) == 5 and scope[4] == "aws4_request":
                return scope[3].lower()
    return None


def _emitter_of(target: Any) -> Any:
    """The event emitter of a client, a ``boto3.Session`` or a ``botocore.session.Session``."""
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events
    if isinstance(target, botocore.session.Session):
        return target.get_component("event_emitter")
    events = getattr(target, "events", None)  # boto3.Session
    if events is not None:
        return events
    raise TypeError(f"cannot find an event emitter on {target!r}")


def _tag_service(request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
    """``before-send`` handler: name the botocore service id in a header for the middleware."""
    parts = event_name.split(".")
    if len(parts) >= 2:
        request.headers[SERVICE_HEADER] = parts[1]


# --------------------------------------------------------------------------------------------
# moto over real HTTP
# --------------------------------------------------------------------------------------------


def _route_presigned(environ: dict[str, Any]) -> None:
    """A presigned URL carries its SigV4 credential scope in the query, not in an
    Authorization header; AWS's front end routes it by that scope, moto's server only by the
    header. Hand moto the scope as a header, as AWS would read it (moto checks no signature)."""
    if environ.get("HTTP_AUTHORIZATION"):
        return
    credential = _form(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
    if credential:
        environ["HTTP_AUTHORIZATION"] = (
            f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=presigned"
        )


class _CountingMiddleware:
    """WSGI middleware: record ``(service, action, form)`` of each request, then pass it on.

    The body is read once and handed on to the wrapped app as a fresh ``BytesIO`` with the
    same ``CONTENT_LENGTH``. Requests to moto's own ``/moto-api`` are not recorded.
    """

    def __init__(self, app: WSGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = self._read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        _route_presigned(environ)
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            params = _form(environ.get("QUERY_STRING", ""))
            if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
                params.update(_form(body))
            action = params.get("Action")
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not action and "." in target:  # JSON protocols: "Service_2020.Action"
                action = target.rsplit(".", 1)[1]
            if action:
                self.log.record(self._service(environ), action, params)
        return self.app(environ, start_response)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH")
        if length:
            return bytes(stream.read(int(length)))
        if environ.get("wsgi.input_terminated"):
            return bytes(stream.read())
        return b""

    @staticmethod
    def _service(environ: dict[str, Any]) -> str:
        tagged = environ.get(_SERVICE_ENVIRON_KEY)
        if tagged:
            return str(tagged).lower()
        scoped = _service_from_authorization(environ.get("HTTP_AUTHORIZATION"))
        if scoped:
            return scoped
        host = str(environ.get("HTTP_HOST", ""))
        return host.split(".", 1)[0] if ".amazonaws.com" in host else "unknown"


class MotoServer(RequestLog):
    """moto's server on ``127.0.0.1:<free port>`` in a daemon thread, counting requests.

    The app is built as ``moto.server.ThreadedMotoServer`` builds it
    (``DomainDispatcherApplication(create_backend_app)`` served by werkzeug with moto's
    request handler), wrapped in the counting middleware.

    moto's backends are global to the process: this server shares state with
    ``moto.mock_aws`` in the same process. Do not use both in one test.
    """

    def __init__(self) -> None:
        super().__init__()
        from moto.server import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietRequestHandler(MotoRequestHandler):
            """moto's request handler without werkzeug's access log on stderr."""

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1",
            0,
            _CountingMiddleware(app, self),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        # No proxy, whatever the environment says: this must reach 127.0.0.1.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_state(self) -> None:
        """Wipe every moto backend (``POST /moto-api/reset``)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with self._opener.open(req, timeout=30) as resp:
            resp.read()

    def attach(self, target: Any) -> None:
        """Make requests from ``target`` name their botocore service (rds/neptune/docdb).

        ``target`` is a client, a ``boto3.Session`` or a ``botocore.session.Session``; on a
        session it reaches the clients created afterwards. Idempotent.
        """
        _emitter_of(target).register("before-send", _tag_service, unique_id=_TAG_HANDLER_ID)

    def client(
        self, service: str, region: str = "us-east-1", session: Any = None, **kw: Any
    ) -> Any:
        """A botocore client of ``service`` pointed at this server, with dummy credentials.

        ``session`` (a ``boto3.Session`` or ``botocore.session.Session``) is the session to
        create it from, e.g. one a guard was installed on; default: a fresh botocore session.
        """
        if session is None:
            session = botocore.session.Session()
        create = getattr(session, "create_client", None) or session.client
        kwargs: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": self.url,
            **_DUMMY_CREDENTIALS,
        }
        kwargs.update(kw)
        client = create(service, **kwargs)
        self.attach(client)
        return client

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# Query protocol, driven by botocore's service model
# --------------------------------------------------------------------------------------------


def _serialized_name(shape: Shape, default: str) -> str:
    return str(shape.serialization.get("name", default))


def parse_query(form: Mapping[str, str], shape: Shape | None, prefix: str = "") -> Any:
    """Turn a flat Query-protocol form back into the parameters botocore serialized.

    The inverse of ``botocore.serialize.QuerySerializer`` for the shapes rds/docdb/neptune
    use: structures, (non-flattened) lists, strings, booleans, integers and timestamps (kept
    as strings). An empty list (``Tags=``) comes back as ``[]``; an absent member is absent.
    """
    if shape is None:
        return {}
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = _serialized_name(member, name)
            key = f"{prefix}.{key}" if prefix else key
            if isinstance(member, StructureShape | ListShape):
                if key in form or any(k.startswith(key + ".") for k in form):
                    out[name] = parse_query(form, member, key)
            elif key in form:
                out[name] = parse_query(form, member, key)
        return out
    if isinstance(shape, ListShape):
        if form.get(prefix) == "":
            return []
        item = f"{prefix}.{_serialized_name(shape.member, 'member')}"
        items = []
        index = 1
        while f"{item}.{index}" in form or any(k.startswith(f"{item}.{index}.") for k in form):
            items.append(parse_query(form, shape.member, f"{item}.{index}"))
            index += 1
        return items
    raw = form[prefix]
    if shape.type_name == "boolean":
        return raw.lower() == "true"
    if shape.type_name in ("integer", "long"):
        return int(raw)
    return raw


def _xml_value(value: Any, shape: Shape) -> str:
    """XML for one value of ``shape``, element contents only."""
    if isinstance(shape, StructureShape):
        parts = []
        for name, val in value.items():
            if val is None:
                continue
            if name not in shape.members:
                raise KeyError(f"{shape.name} has no member {name!r}")
            member = shape.members[name]
            tag = _serialized_name(member, name)
            parts.append(f"<{tag}>{_xml_value(val, member)}</{tag}>")
        return "".join(parts)
    if isinstance(shape, ListShape):
        tag = _serialized_name(shape.member, "member")
        return "".join(f"<{tag}>{_xml_value(v, shape.member)}</{tag}>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return escape(str(value))


# --------------------------------------------------------------------------------------------
# DocumentDB fake
# --------------------------------------------------------------------------------------------


class DocDBFault(Exception):
    """An error the fake answers with: a Query-protocol ``ErrorResponse``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class DocDBCluster:
    """A DocumentDB cluster as the fake keeps it."""

    identifier: str
    arn: str
    engine: str = "docdb"
    tags: dict[str, str] = field(default_factory=dict)
    copy_tags_to_snapshot: bool = False
    created: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.UTC))
    master_username: str | None = None


@dataclass
class DocDBClusterSnapshot:
    """A DocumentDB cluster snapshot as the fake keeps it."""

    identifier: str
    arn: str
    cluster_identifier: str
    tags: dict[str, str] = field(default_factory=dict)
    snapshot_type: str = "manual"
    source_arn: str | None = None
    restore: list[str] = field(default_factory=list)
    created: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.UTC))


class _RawBody(io.BytesIO):
    """The raw body of an ``AWSResponse``: botocore reads it through ``stream()``."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def raw_response(
    url: str, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> AWSResponse:
    """An answer as botocore reads it off the wire, for a ``before-send`` handler to return:
    botocore parses it (an error status raises the service's error) and may retry it."""
    return AWSResponse(url, status, dict(headers or {}), _RawBody(body))  # type: ignore[arg-type]


def _query_response(request: AWSPreparedRequest, status: int, xml: str, rid: str) -> Any:
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": rid}
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode("utf-8")
    return raw_response(request.url, status, body, headers)


def query_answer(
    model: ServiceModel,
    request: AWSPreparedRequest,
    operation: OperationModel,
    result: dict[str, Any] | None,
    rid: str,
) -> Any:
    """The Query protocol's answer of ``operation`` carrying ``result``, for ``before-send``."""
    ns = model.metadata["xmlNamespace"]
    name = operation.name
    inner = ""
    if operation.output_shape is not None:
        wrapper = operation.output_shape.serialization.get("resultWrapper", f"{name}Result")
        inner = f"<{wrapper}>{_xml_value(result or {}, operation.output_shape)}</{wrapper}>"
    xml = (
        f'<{name}Response xmlns="{ns}">{inner}'
        f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>"
        f"</{name}Response>"
    )
    return _query_response(request, 200, xml, rid)


def query_fault(model: ServiceModel, request: AWSPreparedRequest, fault: Any, rid: str) -> Any:
    """The Query protocol's ``ErrorResponse`` of ``fault`` (its ``code``, ``message`` and
    ``status``), for ``before-send``."""
    ns = model.metadata["xmlNamespace"]
    kind = "Sender" if fault.status < 500 else "Receiver"
    xml = (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
        f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return _query_response(request, fault.status, xml, rid)


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class DocDBResponder(RequestLog):
    """In-memory DocumentDB (Query protocol) answering ``before-send.docdb``.

    State: clusters (identifier, ARN, tags, ``CopyTagsToSnapshot``) and cluster snapshots
    (identifier, ARN, tags, source cluster, ``restore`` attribute). Identifiers are stored
    lowercased, as AWS does. Answered actions are the keys of ``handlers``; any other action
    gets an ``InvalidAction`` error response. Every docdb request that reaches the responder
    is recorded (service ``"docdb"``), errors included.

    Tag semantics follow AWS:
    - CreateDBClusterSnapshot and a DeleteDBCluster final snapshot copy the cluster's tags
      only when the cluster has ``CopyTagsToSnapshot`` and the request carries no Tags.
    - CopyDBClusterSnapshot with ``CopyTags=True`` copies the source snapshot's tags only
      when the request carries no Tags.
    ``Tags=[]`` counts as carrying no Tags.

    Note: botocore's current docdb model does have ``CopyTagsToSnapshot`` on
    CreateDBCluster/ModifyDBCluster and in ``DBCluster`` (AWS added it in 2023); it defaults
    to false, as on AWS. The model has no ``TagList`` on ``DBCluster``/``DBClusterSnapshot``.
    """

    SERVICE = "docdb"
    _model: ServiceModel | None = None

    def __init__(self, region: str = "us-east-1", account_id: str = ACCOUNT_ID) -> None:
        super().__init__()
        self.region = region
        self.account_id = account_id
        self._lock = threading.RLock()
        self.clusters: dict[str, DocDBCluster] = {}
        self.snapshots: dict[str, DocDBClusterSnapshot] = {}
        self.handlers: dict[str, Callable[[dict[str, Any], str], dict[str, Any] | None]] = {
            "CreateDBCluster": self._create_db_cluster,
            "ModifyDBCluster": self._modify_db_cluster,
            "DescribeDBClusters": self._describe_db_clusters,
            "DeleteDBCluster": self._delete_db_cluster,
            "CreateDBClusterSnapshot": self._create_db_cluster_snapshot,
            "CopyDBClusterSnapshot": self._copy_db_cluster_snapshot,
            "DescribeDBClusterSnapshots": self._describe_db_cluster_snapshots,
            "DeleteDBClusterSnapshot": self._delete_db_cluster_snapshot,
            "ListTagsForResource": self._list_tags_for_resource,
            "AddTagsToResource": self._add_tags_to_resource,
            "RemoveTagsFromResource": self._remove_tags_from_resource,
            "ModifyDBClusterSnapshotAttribute": self._modify_db_cluster_snapshot_attribute,
            "DescribeDBClusterSnapshotAttributes": self._describe_snapshot_attributes,
        }

    # ---- wiring ---------------------------------------------------------------------------

    @classmethod
    def service_model(cls) -> ServiceModel:
        """botocore's docdb service model (loaded once)."""
        if cls._model is None:
            cls._model = botocore.session.get_session().get_service_model("docdb")
        return cls._model

    def attach(self, target: Any) -> None:
        """Answer docdb requests of ``target`` (a client, ``boto3.Session`` or botocore session).

        On a session it reaches only the clients created afterwards (a client copies its
        session's handlers when it is made). Idempotent per target.
        """
        _emitter_of(target).register("before-send.docdb", self, unique_id=self._handler_id)

    def detach(self, target: Any) -> None:
        """Stop answering for ``target`` (the same object given to :meth:`attach`)."""
        _emitter_of(target).unregister("before-send.docdb", self, unique_id=self._handler_id)

    @property
    def _handler_id(self) -> str:
        return f"tests.servers.docdb.{id(self)}"

    def client(self, region: str | None = None, session: Any = None, **kw: Any) -> Any:
        """A docdb client with dummy credentials, answered by this responder."""
        if session is None:
            session = botocore.session.Session()
        create = getattr(session, "create_client", None) or session.client
        kwargs: dict[str, Any] = {"region_name": region or self.region, **_DUMMY_CREDENTIALS}
        kwargs.update(kw)
        client = create("docdb", **kwargs)
        self.attach(client)
        return client

    def reset(self) -> None:
        """Forget all clusters, snapshots and recorded requests."""
        with self._lock:
            self.clusters.clear()
            self.snapshots.clear()
        self.reset_counts()

    # ---- read-outs for tests --------------------------------------------------------------

    def tags(self, identifier_or_arn: str) -> dict[str, str]:
        """The current tags of a cluster or cluster snapshot (by identifier or ARN)."""
        with self._lock:
            return dict(self._resource(identifier_or_arn).tags)

    # ---- the before-send handler ----------------------------------------------------------

    def __call__(self, request: AWSPreparedRequest, event_name: str = "", **_: Any) -> AWSResponse:
        """Answer one docdb request (botocore's ``before-send`` calling convention)."""
        form = _form(request.body if isinstance(request.body, bytes | str) else None)
        form.update(_form(urllib.parse.urlsplit(request.url).query))
        action = form.get("Action") or event_name.rsplit(".", 1)[-1]
        self.record(self.SERVICE, action, form)
        region = self._region_of(request)
        request_id = str(uuid.uuid4())
        handler = self.handlers.get(action)
        if handler is None:
            return self._error(
                request, DocDBFault("InvalidAction", f"DocDBResponder: no {action}"), request_id
            )
        operation = self.service_model().operation_model(action)
        params = parse_query(form, operation.input_shape)
        try:
            with self._lock:
                result = handler(params, region)
        except DocDBFault as fault:
            return self._error(request, fault, request_id)
        return self._ok(request, operation, result, request_id)

    def _region_of(self, request: AWSPreparedRequest) -> str:
        auth = request.headers.get("Authorization")
        if isinstance(auth, bytes):
            auth = auth.decode()
        if auth:
            for part in auth.replace(",", " ").split():
                if part.startswith("Credential="):
                    scope = part[len("Credential=") :].split("/")
                    if len(scope) == 5:
                        return scope[2]
        return self.region

    def _ok(
        self,
        request: AWSPreparedRequest,
        operation: OperationModel,
        result: dict[str, Any] | None,
        rid: str,
    ) -> Any:
        return query_answer(self.service_model(), request, operation, result, rid)

    def _error(self, request: AWSPreparedRequest, fault: DocDBFault, rid: str) -> Any:
        return query_fault(self.service_model(), request, fault, rid)

    # ---- state helpers --------------------------------------------------------------------

    def _arn(self, region: str, kind: str, identifier: str) -> str:
        return f"arn:aws:rds:{region}:{self.account_id}:{kind}:{identifier}"

    @staticmethod
    def _name(identifier_or_arn: str) -> str:
        return identifier_or_arn.rsplit(":", 1)[-1].lower()

    def _cluster(self, identifier_or_arn: str) -> DocDBCluster:
        cluster = self.clusters.get(self._name(identifier_or_arn))
        if cluster is None:
            raise DocDBFault(
                "DBClusterNotFoundFault", f"DBCluster {identifier_or_arn} not found.", 404
            )
        return cluster

    def _snapshot(self, identifier_or_arn: str) -> DocDBClusterSnapshot:
        snapshot = self.snapshots.get(self._name(identifier_or_arn))
        if snapshot is None:
            raise DocDBFault(
                "DBClusterSnapshotNotFoundFault",
                f"DBClusterSnapshot {identifier_or_arn} not found.",
                404,
            )
        return snapshot

    def _resource(self, identifier_or_arn: str) -> DocDBCluster | DocDBClusterSnapshot:
        if ":cluster-snapshot:" in identifier_or_arn:
            return self._snapshot(identifier_or_arn)
        if ":cluster:" in identifier_or_arn:
            return self._cluster(identifier_or_arn)
        if identifier_or_arn.startswith("arn:"):
            raise DocDBFault(
                "InvalidParameterValue", f"Unsupported resource ARN {identifier_or_arn}"
            )
        name = self._name(identifier_or_arn)
        if name in self.snapshots:
            return self.snapshots[name]
        return self._cluster(name)

    def _new_snapshot(
        self,
        region: str,
        identifier: str,
        cluster_identifier: str,
        tags: dict[str, str],
        source_arn: str | None = None,
    ) -> DocDBClusterSnapshot:
        name = identifier.lower()
        if name in self.snapshots:
            raise DocDBFault(
                "DBClusterSnapshotAlreadyExistsFault",
                f"Cluster snapshot already exists with identifier {identifier}",
            )
        snapshot = DocDBClusterSnapshot(
            identifier=name,
            arn=self._arn(region, "cluster-snapshot", name),
            cluster_identifier=cluster_identifier,
            tags=tags,
            source_arn=source_arn,
        )
        self.snapshots[name] = snapshot
        return snapshot

    @staticmethod
    def _cluster_out(cluster: DocDBCluster, status: str = "available") -> dict[str, Any]:
        return {
            "DBClusterIdentifier": cluster.identifier,
            "DBClusterArn": cluster.arn,
            "Status": status,
            "Engine": cluster.engine,
            "EngineVersion": "5.0.0",
            "Port": 27017,
            "MasterUsername": cluster.master_username,
            "StorageEncrypted": False,
            "DeletionProtection": False,
            "CopyTagsToSnapshot": cluster.copy_tags_to_snapshot,
            "ClusterCreateTime": cluster.created,
            "DbClusterResourceId": f"cluster-{cluster.identifier}",
        }

    @staticmethod
    def _snapshot_out(snapshot: DocDBClusterSnapshot) -> dict[str, Any]:
        return {
            "DBClusterSnapshotIdentifier": snapshot.identifier,
            "DBClusterIdentifier": snapshot.cluster_identifier,
            "DBClusterSnapshotArn": snapshot.arn,
            "SourceDBClusterSnapshotArn": snapshot.source_arn,
            "SnapshotCreateTime": snapshot.created,
            "Engine": "docdb",
            "EngineVersion": "5.0.0",
            "Status": "available",
            "Port": 27017,
            "SnapshotType": snapshot.snapshot_type,
            "PercentProgress": 100,
            "StorageEncrypted": False,
        }

    @staticmethod
    def _attributes_out(snapshot: DocDBClusterSnapshot) -> dict[str, Any]:
        return {
            "DBClusterSnapshotAttributesResult": {
                "DBClusterSnapshotIdentifier": snapshot.identifier,
                "DBClusterSnapshotAttributes": [
                    {"AttributeName": "restore", "AttributeValues": list(snapshot.restore)}
                ],
            }
        }

    # ---- actions --------------------------------------------------------------------------

    def _create_db_cluster(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        identifier = p["DBClusterIdentifier"]
        if p.get("Engine") != "docdb":
            raise DocDBFault("InvalidParameterValue", f"Invalid DB engine: {p.get('Engine')}")
        name = identifier.lower()
        if name in self.clusters:
            raise DocDBFault("DBClusterAlreadyExistsFault", f"DB Cluster {identifier} exists")
        cluster = DocDBCluster(
            identifier=name,
            arn=self._arn(region, "cluster", name),
            tags=_tag_dict(p.get("Tags")),
            copy_tags_to_snapshot=bool(p.get("CopyTagsToSnapshot", False)),
            master_username=p.get("MasterUsername"),
        )
        self.clusters[name] = cluster
        return {"DBCluster": self._cluster_out(cluster)}

    def _modify_db_cluster(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        cluster = self._cluster(p["DBClusterIdentifier"])
        if "CopyTagsToSnapshot" in p:
            cluster.copy_tags_to_snapshot = bool(p["CopyTagsToSnapshot"])
        return {"DBCluster": self._cluster_out(cluster)}

    def _describe_db_clusters(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        if p.get("DBClusterIdentifier"):
            clusters = [self._cluster(p["DBClusterIdentifier"])]
        else:
            clusters = list(self.clusters.values())
        return {"DBClusters": [self._cluster_out(c) for c in clusters]}

    def _delete_db_cluster(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        cluster = self._cluster(p["DBClusterIdentifier"])
        final = p.get("FinalDBSnapshotIdentifier")
        skip = bool(p.get("SkipFinalSnapshot", False))
        if skip and final:
            raise DocDBFault(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier can not be specified when deleting a cluster "
                "with SkipFinalSnapshot enabled.",
            )
        if not skip and not final:
            raise DocDBFault(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
            )
        if final:
            tags = dict(cluster.tags) if cluster.copy_tags_to_snapshot else {}
            self._new_snapshot(region, final, cluster.identifier, tags)
        del self.clusters[cluster.identifier]
        return {"DBCluster": self._cluster_out(cluster, status="deleting")}

    def _create_db_cluster_snapshot(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        cluster = self._cluster(p["DBClusterIdentifier"])
        if p.get("Tags"):
            tags = _tag_dict(p["Tags"])
        elif cluster.copy_tags_to_snapshot:
            tags = dict(cluster.tags)
        else:
            tags = {}
        snapshot = self._new_snapshot(
            region, p["DBClusterSnapshotIdentifier"], cluster.identifier, tags
        )
        return {"DBClusterSnapshot": self._snapshot_out(snapshot)}

    def _copy_db_cluster_snapshot(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        source = self._snapshot(p["SourceDBClusterSnapshotIdentifier"])
        if p.get("Tags"):
            tags = _tag_dict(p["Tags"])
        elif p.get("CopyTags"):
            tags = dict(source.tags)
        else:
            tags = {}
        snapshot = self._new_snapshot(
            region,
            p["TargetDBClusterSnapshotIdentifier"],
            source.cluster_identifier,
            tags,
            source_arn=source.arn,
        )
        return {"DBClusterSnapshot": self._snapshot_out(snapshot)}

    def _describe_db_cluster_snapshots(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        if p.get("DBClusterSnapshotIdentifier"):
            snapshots = [self._snapshot(p["DBClusterSnapshotIdentifier"])]
        else:
            snapshots = list(self.snapshots.values())
        if p.get("DBClusterIdentifier"):
            wanted = self._name(p["DBClusterIdentifier"])
            snapshots = [s for s in snapshots if s.cluster_identifier == wanted]
        if p.get("SnapshotType"):
            snapshots = [s for s in snapshots if s.snapshot_type == p["SnapshotType"]]
        return {"DBClusterSnapshots": [self._snapshot_out(s) for s in snapshots]}

    def _delete_db_cluster_snapshot(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        snapshot = self._snapshot(p["DBClusterSnapshotIdentifier"])
        del self.snapshots[snapshot.identifier]
        return {"DBClusterSnapshot": self._snapshot_out(snapshot)}

    def _list_tags_for_resource(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        return {"TagList": _tag_list(self._resource(p["ResourceName"]).tags)}

    def _add_tags_to_resource(self, p: dict[str, Any], region: str) -> None:
        self._resource(p["ResourceName"]).tags.update(_tag_dict(p.get("Tags")))

    def _remove_tags_from_resource(self, p: dict[str, Any], region: str) -> None:
        resource = self._resource(p["ResourceName"])
        for key in p.get("TagKeys", []):
            resource.tags.pop(key, None)

    def _modify_db_cluster_snapshot_attribute(
        self, p: dict[str, Any], region: str
    ) -> dict[str, Any]:
        snapshot = self._snapshot(p["DBClusterSnapshotIdentifier"])
        if p.get("AttributeName") != "restore":
            raise DocDBFault(
                "InvalidParameterValue", f"Invalid attribute name {p.get('AttributeName')}"
            )
        removed = set(p.get("ValuesToRemove", []))
        values = [v for v in snapshot.restore if v not in removed]
        for value in p.get("ValuesToAdd", []):
            if value not in values:
                values.append(value)
        snapshot.restore = values
        return self._attributes_out(snapshot)

    def _describe_snapshot_attributes(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        return self._attributes_out(self._snapshot(p["DBClusterSnapshotIdentifier"]))

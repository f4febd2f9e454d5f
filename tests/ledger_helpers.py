"""Helpers for the fleet ledger's tests: logs to ship, the ledger on the moto server, and
errors put in the way of its requests.

moto never throttles, never loses a reply and never answers S3's 409, and it does not
evaluate IAM: those are injected with botocore's own ``before-send`` event, which answers a
request (or fails it) before it leaves, exactly where a real network or service would.
Races are interleaved deterministically (a hook that runs at a chosen request), never left
to threads.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws import guarded_session, make_cluster
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from policies import LEDGER, write_policy
from servers import MotoServer, raw_response

import rds_guard
from rds_guard import audit
from rds_guard.audit.ledger import Clients, LedgerTable, Shipper
from rds_guard.audit.ledger.items import line_of, number
from rds_guard.audit.ledger.state import state_path
from rds_guard.audit.ledger.verify import verify_ledger

TABLE = "rds-guard-audit"
BUCKET = "rds-guard-checkpoints"
KEY_ALIAS = "alias/rds-guard-checkpoints"
ACCOUNT = "123456789012"
REGION = "us-east-1"
LEDGER_URL = f"dynamodb://{TABLE}?region={REGION}"
"""The ledger as the commands' ``--ledger`` names it."""


def write_log(
    path: Path,
    count: int,
    *,
    hmac_key: bytes | None = None,
    event: str = "requested",
    snapshot: str | None = "orders-daily-20261129",
    note: str = "",
) -> list[bytes]:
    """Append ``count`` records to the log at ``path``; returns every line of the file."""
    log = audit.AuditLog(path, fsync=False, hmac_key=hmac_key)
    try:
        for index in range(count):
            log.write(
                event,
                call=audit.new_call_id(),
                service="rds",
                operation="CreateDBClusterSnapshot",
                snapshot=snapshot,
                notes=[f"{note}{index}"] if note else [],
            )
    finally:
        log.close()
    return complete_lines(path)


def complete_lines(path: Path) -> list[bytes]:
    """The complete lines of a file."""
    data = path.read_bytes()
    return data.split(b"\n")[:-1] if data else []


def ledger_table(name: str = TABLE) -> LedgerTable:
    """The ledger's table on whatever AWS_ENDPOINT_URL names (the moto server), made unless
    it is there."""
    table = LedgerTable(Clients(REGION), name)
    if not table.exists():
        table.create()
    return table


def stream_of(table: LedgerTable, path: Path) -> str:
    """The stream a log ships to."""
    first = complete_lines(path)[0]
    return f"{ACCOUNT}/{REGION}/{audit.stream_id(first)}"


def stored_lines(table: LedgerTable, stream: str) -> list[bytes]:
    """The lines the ledger holds for ``stream``, in seq order."""
    return [line_of(item) or b"" for item in table.records(stream)]


def stored_seqs(table: LedgerTable, stream: str) -> list[int]:
    """The seqs the ledger holds for ``stream``."""
    return [number(item, "seq") or 0 for item in table.records(stream)]


def clone_log(log_path: Path, copy: Path) -> None:
    """A copy of the log (a cloned disk), its shipping state included."""
    shutil.copy(log_path, copy)
    if state_path(log_path).exists():
        shutil.copy(state_path(log_path), state_path(copy))


def ship(path: Path, table: LedgerTable, **kwargs: Any) -> Any:
    """One run of a new shipper (a new process, as far as the shipper knows)."""
    shipper = Shipper(path, table, **{k: v for k, v in kwargs.items() if k in ("workers", "batch")})
    try:
        return shipper.ship(**{k: v for k, v in kwargs.items() if k not in ("workers", "batch")})
    finally:
        shipper.close()


def put_raw(table: LedgerTable, item: dict[str, Any]) -> None:
    """Put an item unconditionally: what a writer holding only PutItem can do."""
    table.clients.dynamodb.put_item(TableName=table.name, Item=item)


def delete_item(table: LedgerTable, stream: str, seq: int) -> None:
    """Delete one item: what an account admin can do."""
    table.clients.dynamodb.delete_item(
        TableName=table.name, Key={"stream": {"S": stream}, "seq": {"N": str(seq)}}
    )


def item_at(table: LedgerTable, stream: str, seq: int) -> dict[str, Any]:
    """The item at ``(stream, seq)`` (it must exist)."""
    found = table.get(stream, seq)
    assert found is not None, f"no item at {stream} seq {seq}"
    return found


def reach_moto(
    server: MotoServer, monkeypatch: Any, attempts: int, retry_mode: str | None = None
) -> MotoServer:
    """Point every botocore client made from now on at ``server`` (``AWS_ENDPOINT_URL``),
    with ``attempts`` attempts per call (and botocore's ``retry_mode``, if given)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    if retry_mode is not None:
        monkeypatch.setenv("AWS_RETRY_MODE", retry_mode)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(attempts))
    return server


# --- errors in the way of requests ----------------------------------------------------------


def dynamodb_error(code: str, message: str = "injected", status: int = 400) -> AWSResponse:
    """An AWSResponse carrying a DynamoDB (JSON protocol) error."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
    return raw_response("https://dynamodb.invalid/", status, body.encode(), headers)


def s3_error(code: str, status: int, message: str = "injected") -> AWSResponse:
    """An AWSResponse carrying an S3 (XML) error."""
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return raw_response("https://s3.invalid/", status, body, {"Content-Type": "application/xml"})


def kms_error(code: str, message: str = "injected", status: int = 400) -> AWSResponse:
    """An AWSResponse carrying a KMS (JSON protocol) error."""
    body = json.dumps({"__type": code, "message": message})
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return raw_response("https://kms.invalid/", status, body.encode(), headers)


Hook = Callable[..., Any]


def on_send(client: Any, operation: str, hook: Hook) -> Callable[[], None]:
    """Run ``hook(request=..., **kwargs)`` before each ``operation`` request of ``client``
    leaves (its answer, if any, stands in for the service's); returns the way to remove it."""
    event = f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}"
    client.meta.events.register(event, hook, unique_id=f"test-{id(hook)}")
    return lambda: client.meta.events.unregister(event, unique_id=f"test-{id(hook)}")


def lose_replies(
    client: Any, operation: str, which: Callable[[dict[str, Any]], bool]
) -> Callable[[], None]:
    """Deliver each ``operation`` request whose JSON body ``which`` picks, then lose its
    reply (a read timeout): the service did it, the client does not know."""

    def hook(request: Any, **_: Any) -> None:
        body = json.loads(request.body or b"{}")
        if which(body):
            client._endpoint.http_session.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        return None

    return on_send(client, operation, hook)


def item_seq(body: dict[str, Any]) -> int:
    """The seq of the item a PutItem request body carries."""
    return int(body.get("Item", {}).get("seq", {}).get("N", "0"))


def item_event(body: dict[str, Any]) -> str | None:
    """The event of the item a PutItem request body carries."""
    value = body.get("Item", {}).get("event", {})
    return value.get("S") if isinstance(value, dict) else None


def run_before(
    client: Any,
    operation: str,
    which: Callable[[dict[str, Any]], bool],
    action: Callable[[], Any],
) -> Callable[[], None]:
    """Run ``action()`` once, just before the first ``operation`` request of ``client`` whose
    JSON body ``which`` picks leaves: a race interleaved at a chosen request. Returns the way
    to remove it."""
    ran = {"done": False}

    def hook(request: Any, **_: Any) -> None:
        if not ran["done"] and which(json.loads(request.body or b"{}")):
            ran["done"] = True
            action()
        return None

    return on_send(client, operation, hook)


def wait_until(check: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds (a hang detector)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what or "not there in time"
        time.sleep(0.05)


def ledger_findings(table: LedgerTable, **kwargs: Any) -> list[tuple[int, str]]:
    """``(line, reason)`` of each finding `verify_ledger` reports (``kwargs`` are its own)."""
    return [(finding.line, finding.reason) for finding in verify_ledger(table, **kwargs).findings]


def ledger_guard(aws: MotoServer, tmp_path: Path, **settings: str) -> tuple[Any, rds_guard.Guard]:
    """An rds client of a session guarded with the `LEDGER` policy (``settings`` set its
    ``[audit.ledger]`` keys, such as ``mode``), its cluster ``orders`` made, and the guard."""
    session, guard = guarded_session(write_policy(tmp_path, LEDGER, **settings), on=aws)
    rds = aws.client("rds", session=session)
    make_cluster(rds, "orders")
    return rds, guard


def snapshot(rds: Any, name: str) -> Any:
    """A snapshot of the cluster ``orders`` named ``name``, through ``rds``."""
    return rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name
    )

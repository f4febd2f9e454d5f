"""Per-call overhead: the same CreateDBClusterSnapshot on a bare client and on a guarded one.

Three in-process paths, each with bare and guarded calls interleaved one by one (the order
alternates on every pair) so that drift - frequency scaling, a neighbour's load, cache
warming - hits both sides alike:

- ``send``: a canned answer from botocore's ``before-send`` event (`bench.canned`): the whole
  pipeline runs (every guard hook, validation, serialization, signing, parsing) minus the
  socket.
- ``stub``: botocore's `Stubber`, the cheapest path. It answers in ``before-call.*.*``, before
  the request is created, so the guard's ``request-created`` handler never runs and no
  write-ahead record is written there: only the no-audit case is measured on it.
- ``moto``: moto's server over HTTP on 127.0.0.1, in a thread of this process.

Cases: ``floor`` (no-op handlers where the guard's go, as many: botocore's own dispatch
cost), ``a`` (guard, audit disabled), ``a+`` (as a, but the caller leaves the policy's tags to
the guard), ``b`` (audit, ``fsync = false``), ``c`` (audit, ``fsync = true``), ``d``
(inheritance: the caller sends no Tags, the guard reads the source's tags with
DescribeDBClusters, answered the same way, and writes the merged set).

Same bytes on the wire: before timing, one guarded call shows the parameters the guard
finally sends (`Capture`); the bare client sends exactly those, and the two request bodies
are compared byte for byte (the snapshot name aside on moto, where every call needs a new
one). A case whose requests differ raises: its ratio would not measure the guard alone.
"""

from __future__ import annotations

import copy
import gc
import importlib.util
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import botocore.session
from botocore.serialize import create_serializer
from botocore.stub import Stubber

import rds_guard
from bench import canned
from bench.common import (
    ACCOUNT,
    CALLER_TAGS,
    CREDENTIALS,
    POLICY_TAGS,
    REGION,
    ROOT,
    SNAPSHOT,
    SOURCE,
    SOURCE_TAGS,
    Stats,
    alternate,
    policy_text,
    summarize,
    tag_list,
)
from rds_guard.guard.hooks import EVERY_STAGES, LAST_EVENT, STAGES

OPERATION = "CreateDBClusterSnapshot"
GUARD_EVENTS = tuple(stage for stage, _ in STAGES)
"""The events the guard hooks under the operation's name (the floor's no-op handlers go on
them, on `EVERY_STAGES` under the service's name, and one last under `LAST_EVENT`, as the
guard's)."""
FLOOR_HANDLERS = len(GUARD_EVENTS) + len(EVERY_STAGES) + 1
"""How many handlers the guard puts on an rds client's guarded call, and the floor no-ops."""


@dataclass(frozen=True)
class Case:
    """One guard configuration and the call it is measured on."""

    name: str
    label: str
    guarded: bool = True
    audit: bool = False
    fsync: bool = False
    caller_sends: str = "all"
    """``all``: the caller's and the policy's tags; ``caller``: only the caller's; ``none``."""
    target: float | None = None


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("floor", f"{FLOOR_HANDLERS} no-op handlers (botocore's dispatch)", guarded=False),
        Case("a", "guard, audit disabled", target=1.05),
        Case("a+", "guard adds 3 tags, audit disabled", caller_sends="caller"),
        Case("b", "audit, fsync = false", audit=True, target=1.12),
        Case("c", "audit, fsync = true", audit=True, fsync=True),
        Case("d", "inheritance: reads the source, audit disabled", caller_sends="none"),
    )
}
"""Every case, by name."""

STUB_TARGETS = {"a": 1.15}
"""Targets on the stub path (the send path's are on the cases)."""


@dataclass(frozen=True)
class PairResult:
    """Bare and guarded per-call latency of one case on one path."""

    path: str
    case: Case
    bare: Stats
    guarded: Stats
    target: float | None
    body_bytes: int | None = None
    """Size of the request body both sides sent (checked identical), when one was built."""
    reads: int = 0
    """DescribeDBClusters requests the guarded call sent (counted on one call)."""
    read: Stats | None = None
    """The read alone: DescribeDBClusters on the bare client, timed alongside (case d)."""

    @property
    def ratio(self) -> float:
        """Guarded over bare, medians."""
        return self.guarded.median / self.bare.median

    @property
    def p90_ratio(self) -> float:
        """Guarded over bare, 90th percentiles."""
        return self.guarded.p90 / self.bare.p90

    @property
    def overhead_us(self) -> float:
        """What the guard adds to one call, in microseconds (median difference)."""
        return (self.guarded.median - self.bare.median) * 1e6

    @property
    def met(self) -> bool | None:
        """Whether the median ratio is within the target (None: no target)."""
        return None if self.target is None else self.ratio <= self.target


def caller_params(case: Case, snapshot: str = SNAPSHOT) -> dict[str, Any]:
    """The parameters the guarded client's caller passes (the bare client sends the
    guard's final ones: see `Capture`)."""
    params: dict[str, Any] = {
        "DBClusterIdentifier": SOURCE,
        "DBClusterSnapshotIdentifier": snapshot,
    }
    if case.caller_sends == "all":
        params["Tags"] = tag_list(CALLER_TAGS + POLICY_TAGS)
    elif case.caller_sends == "caller":
        params["Tags"] = tag_list(CALLER_TAGS)
    return params


def _noop(**_: Any) -> None:
    """A handler that does nothing: what botocore's dispatch alone costs."""


def rds_client(session: botocore.session.Session, **kwargs: Any) -> Any:
    """An rds client of ``session`` with the dummy credentials, in the benchmark's region."""
    return session.create_client("rds", region_name=REGION, **CREDENTIALS, **kwargs)


def equip(
    client: Any, case: Case, workdir: Path, tag: str, noop: Callable[..., Any] = _noop
) -> rds_guard.Guard | None:
    """Make ``client`` (botocore's or aiobotocore's) the guarded side of ``case``: a guard, or
    ``noop`` on each event the guard hooks; ``tag`` names the audit log."""
    if not case.guarded:
        for stage in GUARD_EVENTS:
            event = f"{stage}.rds.{OPERATION}"
            client.meta.events.register(event, noop, unique_id=f"bench.noop.{event}")
        for stage in EVERY_STAGES:  # and under the service's name, as `turned_handler`
            client.meta.events.register(f"{stage}.rds", noop, unique_id=f"bench.noop.{stage}")
        client.meta.events.register_last(LAST_EVENT, noop, unique_id="bench.noop.last")
        return None
    audit_path = workdir / f"overhead-{tag}-{case.name}.jsonl"
    audit_path.unlink(missing_ok=True)
    policy = rds_guard.Policy.from_toml(
        policy_text(audit_path, enabled=case.audit, fsync=case.fsync)
    )
    return rds_guard.install(client, policy)


def interleave(
    bare: Callable[[], object],
    guarded: Callable[[], object],
    calls: int,
    *,
    before: Callable[[], None] | None = None,
    extra: Sequence[Callable[[], object]] = (),
) -> list[list[float]]:
    """Time ``calls`` calls of each, one at a time, the order alternating (`alternate`).

    ``before`` runs before every call, untimed (a Stubber's response queue, say); ``extra``
    are further sides timed in the same rounds (the read alone, say). Returns the per-call
    times (seconds) of the bare side, the guarded side and each extra side.
    """
    clock = time.perf_counter_ns

    def timed(call: Callable[[], object]) -> Callable[[], float]:
        def sample() -> float:
            if before is not None:
                before()
            start = clock()
            call()
            return (clock() - start) / 1e9

        return sample

    gc.collect()
    return alternate([timed(side) for side in (bare, guarded, *extra)], calls)


class Capture:
    """What one client sends for the benchmarked operation, kept by two handlers that answer
    nothing: the final parameters, after every ``before-parameter-build`` handler (the
    guard's included), and every rds request body at ``before-send``.

    The handlers are added for one checking call and removed (`detach`) before timing.
    """

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events
        self._id = f"bench.capture.{id(self)}"
        self._protocol = client.meta.service_model.protocol
        self._model = client.meta.service_model.operation_model(OPERATION)
        self.final: list[dict[str, Any]] = []
        self.sent: list[tuple[str, bytes]] = []
        self._events.register_last(
            f"before-parameter-build.rds.{OPERATION}",
            self._keep_params,
            unique_id=f"{self._id}.params",
        )
        self._events.register_first(
            "before-send.rds", self._keep_body, unique_id=f"{self._id}.body"
        )

    def _keep_params(self, params: dict[str, Any], **_: Any) -> None:
        self.final.append(copy.deepcopy(params))

    def _keep_body(self, request: Any, event_name: str = "", **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        self.sent.append((event_name.rsplit(".", 1)[-1], body))

    def detach(self) -> None:
        """Remove the two handlers."""
        self._events.unregister(
            f"before-parameter-build.rds.{OPERATION}",
            self._keep_params,
            unique_id=f"{self._id}.params",
        )
        self._events.unregister("before-send.rds", self._keep_body, unique_id=f"{self._id}.body")

    def body(self) -> bytes:
        """The last request body of the operation, the snapshot name masked; when nothing
        was sent (the Stubber answers first), the final parameters as botocore serializes
        them."""
        params = self.final[-1]
        sent = [body for operation, body in self.sent if operation == OPERATION]
        if sent:
            body = sent[-1]
        else:
            request = create_serializer(self._protocol).serialize_to_request(params, self._model)
            body = repr(sorted(request["body"].items())).encode()
        name = str(params.get("DBClusterSnapshotIdentifier", ""))
        return body.replace(name.encode(), b"<name>") if name else body

    def reads(self) -> int:
        """DescribeDBClusters requests sent."""
        return sum(1 for operation, _ in self.sent if operation == "DescribeDBClusters")


def same_request(case: Case, bare: Capture, guarded: Capture) -> int:
    """The size of the request both sides sent; raises if the bodies differ."""
    bare_body, guarded_body = bare.body(), guarded.body()
    if bare_body != guarded_body:
        raise RuntimeError(
            f"case {case.name}: the bare and the guarded client sent different requests\n"
            f"  bare:    {bare_body!r}\n  guarded: {guarded_body!r}"
        )
    return len(bare_body)


@dataclass(frozen=True)
class Matched:
    """The bare side's parameters, matched to what the guard sends, and what the check saw."""

    params: dict[str, Any]
    body_bytes: int
    reads: int

    def named(self, snapshot: str) -> dict[str, Any]:
        """The bare parameters under another snapshot name."""
        return {**self.params, "DBClusterSnapshotIdentifier": snapshot}


def match_bare(
    case: Case,
    bare_client: Any,
    guarded_client: Any,
    names: Callable[[], str] = lambda: SNAPSHOT,
    *,
    before: Callable[[], None] | None = None,
) -> Matched:
    """One guarded call with the caller's parameters, then one bare call with the guard's
    final parameters; the two request bodies must be the same bytes."""
    captures = Capture(bare_client), Capture(guarded_client)
    try:
        if before is not None:
            before()
        guarded_client.create_db_cluster_snapshot(**caller_params(case, names()))
        final = captures[1].final[-1]
        if before is not None:
            before()
        bare_client.create_db_cluster_snapshot(**{**final, "DBClusterSnapshotIdentifier": names()})
        size = same_request(case, *captures)
    finally:
        for capture in captures:
            capture.detach()
    return Matched(final, size, captures[1].reads())


def send_case(case: Case, calls: int, warmup: int, workdir: Path) -> PairResult:
    """``case`` on the send path: canned answers from ``before-send``."""
    session = botocore.session.Session()
    bare_client, guarded_client = rds_client(session), rds_client(session)
    for client in (bare_client, guarded_client):
        canned.responder(describe=True).attach(client)
    guard = equip(guarded_client, case, workdir, "send")
    try:
        matched = match_bare(case, bare_client, guarded_client)
        guarded_params, bare_params = caller_params(case), matched.params

        def bare() -> object:
            return bare_client.create_db_cluster_snapshot(**bare_params)

        def guarded() -> object:
            return guarded_client.create_db_cluster_snapshot(**guarded_params)

        interleave(bare, guarded, warmup)
        bare_times, guarded_times = interleave(bare, guarded, calls)
    finally:
        if guard is not None:
            guard.uninstall()
    if case.caller_sends == "none" and matched.reads == 0:
        raise RuntimeError("case d: the guard never read the source")
    return PairResult(
        "send",
        case,
        summarize(bare_times),
        summarize(guarded_times),
        case.target,
        matched.body_bytes,
        matched.reads,
    )


def stub_response() -> dict[str, Any]:
    """The answer the stub path gives each create: the snapshot, creating."""
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{SNAPSHOT}"
    return {
        "DBClusterSnapshot": {
            "DBClusterSnapshotIdentifier": SNAPSHOT,
            "DBClusterIdentifier": SOURCE,
            "DBClusterSnapshotArn": arn,
            "Engine": "aurora-postgresql",
            "Status": "creating",
            "SnapshotType": "manual",
        },
        "ResponseMetadata": {"RequestId": "5f1e7c0a-7d1b-4c5e-9a44-000000000000"},
    }


def stub_case(case: Case, calls: int, warmup: int, workdir: Path) -> PairResult:
    """``case`` on the stub path: botocore's Stubber (no write-ahead record can run there).

    Nothing is sent, so the check compares the final parameters as botocore serializes them.
    """
    if case.audit:
        raise ValueError("the Stubber answers before the request is created: no audit cases")
    session = botocore.session.Session()
    bare_client, guarded_client = rds_client(session), rds_client(session)
    guard = equip(guarded_client, case, workdir, "stub")
    stubbers = Stubber(bare_client), Stubber(guarded_client)
    for stubber in stubbers:
        stubber.activate()
    response = stub_response()
    method = "create_db_cluster_snapshot"

    def queue() -> None:
        for stubber in stubbers:
            if not stubber._queue:
                stubber.add_response(method, dict(response))

    try:
        matched = match_bare(case, bare_client, guarded_client, before=queue)
        guarded_params, bare_params = caller_params(case), matched.params

        def bare() -> object:
            return bare_client.create_db_cluster_snapshot(**bare_params)

        def guarded() -> object:
            return guarded_client.create_db_cluster_snapshot(**guarded_params)

        interleave(bare, guarded, warmup, before=queue)
        bare_times, guarded_times = interleave(bare, guarded, calls, before=queue)
    finally:
        for stubber in stubbers:
            stubber.deactivate()
        if guard is not None:
            guard.uninstall()
    target = STUB_TARGETS.get(case.name)
    return PairResult(
        "stub",
        case,
        summarize(bare_times),
        summarize(guarded_times),
        target,
        matched.body_bytes,
        matched.reads,
    )


def load_test_servers() -> ModuleType:
    """tests/servers.py, imported by path (it is not part of the package)."""
    name = "rds_guard_bench_servers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "servers.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load tests/servers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def moto_server() -> Iterator[Any]:
    """moto's server on 127.0.0.1 in a thread of this process (tests/servers.py)."""
    server = load_test_servers().MotoServer()
    try:
        yield server
    finally:
        server.stop()


def moto_case(server: Any, case: Case, calls: int, warmup: int, workdir: Path) -> PairResult:
    """``case`` against moto over HTTP; every call names a new snapshot (moto refuses twins).

    In case d the read alone (DescribeDBClusters on the bare client) is timed in the same
    rounds: the round trip the inheritance adds.
    """
    server.reset_state()
    session = botocore.session.Session()
    bare_client = rds_client(session, endpoint_url=server.url)
    guarded_client = rds_client(session, endpoint_url=server.url)
    bare_client.create_db_cluster(
        DBClusterIdentifier=SOURCE,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="benchmark-password",
        CopyTagsToSnapshot=True,
        Tags=tag_list(SOURCE_TAGS),
    )
    guard = equip(guarded_client, case, workdir, "moto")
    numbers = itertools.count(1)

    def name() -> str:
        return f"{SOURCE}-manual-{next(numbers):08d}"

    def read() -> object:
        return bare_client.describe_db_clusters(DBClusterIdentifier=SOURCE)

    quota = {"MOTO_RDS_SNAPSHOT_LIMIT": str(10 * (calls + warmup) + 1000)}  # moto's default is 1000
    try:
        with mock.patch.dict(os.environ, quota):
            matched = match_bare(case, bare_client, guarded_client, name)
            given = caller_params(case)

            def bare() -> object:
                return bare_client.create_db_cluster_snapshot(**matched.named(name()))

            def guarded() -> object:
                return guarded_client.create_db_cluster_snapshot(
                    **{**given, "DBClusterSnapshotIdentifier": name()}
                )

            extra = (read,) if case.caller_sends == "none" else ()
            interleave(bare, guarded, warmup, extra=extra)
            bare_times, guarded_times, *read_times = interleave(bare, guarded, calls, extra=extra)
    finally:
        if guard is not None:
            guard.uninstall()
    return PairResult(
        "moto",
        case,
        summarize(bare_times),
        summarize(guarded_times),
        None,
        matched.body_bytes,
        matched.reads,
        summarize(read_times[0]) if read_times else None,
    )

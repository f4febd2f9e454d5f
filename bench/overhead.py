"""Per-call overhead: the same CreateDBClusterSnapshot on a bare client and on a guarded one.

Three in-process paths, each with bare and guarded calls interleaved one by one (the order
alternates on every pair) so that drift - frequency scaling, a neighbour's load, cache
warming - hits both sides alike:

- ``send``: a canned answer from botocore's ``before-send`` event (`bench.canned`): the whole
  pipeline runs (every guard hook, validation, serialization, signing, parsing) minus the
  socket.
- ``stub``: botocore's `Stubber`, the cheapest path. It answers in ``before-call.*.*``, before
  the guard's exact-name ``before-call`` handler, so the guard's write-ahead record is never
  written there: only the no-audit case is measured on it.
- ``moto``: moto's server over HTTP on 127.0.0.1, in a thread of this process.

Cases: ``floor`` (four no-op handlers on the events the guard hooks: botocore's own dispatch
cost), ``a`` (guard, audit disabled), ``a+`` (as a, but the caller leaves the policy's tags to
the guard, so the request grows by three tags), ``b`` (audit, ``fsync = false``), ``c``
(audit, ``fsync = true``), ``d`` (inheritance: the caller sends no Tags, the guard reads the
source's tags with DescribeDBClusters, answered the same way, and writes the merged set).
"""

from __future__ import annotations

import cProfile
import gc
import importlib.util
import itertools
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import botocore.session
from botocore.stub import Stubber

import rds_guard
from bench import canned
from bench.common import (
    CALLER_TAGS,
    POLICY_TAGS,
    REGION,
    ROOT,
    SNAPSHOT,
    SOURCE,
    SOURCE_TAGS,
    Stats,
    policy_text,
    summarize,
    tag_list,
)

OPERATION = "CreateDBClusterSnapshot"
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_MOTO_QUOTA = "MOTO_RDS_SNAPSHOT_LIMIT"
_GUARD_EVENTS = ("before-parameter-build", "before-call", "after-call", "after-call-error")


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
        Case("floor", "4 no-op handlers (botocore's dispatch)", guarded=False),
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


def _params(case: Case, snapshot: str = SNAPSHOT) -> dict[str, Any]:
    """The call's parameters; bare and guarded clients get the same ones."""
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


def _client(session: botocore.session.Session, **kwargs: Any) -> Any:
    return session.create_client("rds", region_name=REGION, **_CREDENTIALS, **kwargs)


def _equip(client: Any, case: Case, workdir: Path, tag: str) -> rds_guard.Guard | None:
    """Make ``client`` the guarded side of ``case``: a guard, or the no-op handlers."""
    if not case.guarded:
        for stage in _GUARD_EVENTS:
            event = f"{stage}.rds.{OPERATION}"
            client.meta.events.register(event, _noop, unique_id=f"bench.noop.{event}")
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
) -> tuple[list[float], list[float]]:
    """Time ``calls`` calls of each, one bare and one guarded at a time, alternating order.

    ``before`` runs before every call, untimed (a Stubber's response queue, say).
    Returns the per-call times (seconds) of the bare and of the guarded calls.
    """
    clock = time.perf_counter_ns
    bare_ns: list[int] = []
    guarded_ns: list[int] = []
    sides = ((bare, bare_ns), (guarded, guarded_ns))
    gc.collect()
    for i in range(calls):
        for call, samples in sides if i % 2 == 0 else sides[::-1]:
            if before is not None:
                before()
            start = clock()
            call()
            samples.append(clock() - start)
    return [ns / 1e9 for ns in bare_ns], [ns / 1e9 for ns in guarded_ns]


def send_case(case: Case, calls: int, warmup: int, workdir: Path) -> PairResult:
    """``case`` on the send path: canned answers from ``before-send``."""
    session = botocore.session.Session()
    bare_client, guarded_client = _client(session), _client(session)
    responders = canned.responder(describe=True), canned.responder(describe=True)
    responders[0].attach(bare_client)
    responders[1].attach(guarded_client)
    guard = _equip(guarded_client, case, workdir, "send")
    params = _params(case)
    try:

        def bare() -> object:
            return bare_client.create_db_cluster_snapshot(**params)

        def guarded() -> object:
            return guarded_client.create_db_cluster_snapshot(**params)

        interleave(bare, guarded, warmup)
        bare_times, guarded_times = interleave(bare, guarded, calls)
    finally:
        if guard is not None:
            guard.uninstall()
    if case.caller_sends == "none" and responders[1].sent.get("DescribeDBClusters", 0) == 0:
        raise RuntimeError("case d: the guard never read the source")
    return PairResult("send", case, summarize(bare_times), summarize(guarded_times), case.target)


def _stub_response() -> dict[str, Any]:
    arn = f"arn:aws:rds:{REGION}:123456789012:cluster-snapshot:{SNAPSHOT}"
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
    """``case`` on the stub path: botocore's Stubber (no write-ahead record can run there)."""
    if case.audit:
        raise ValueError("the Stubber skips the guard's before-call handler: no audit cases")
    session = botocore.session.Session()
    bare_client, guarded_client = _client(session), _client(session)
    guard = _equip(guarded_client, case, workdir, "stub")
    stubbers = Stubber(bare_client), Stubber(guarded_client)
    for stubber in stubbers:
        stubber.activate()
    response = _stub_response()
    method = "create_db_cluster_snapshot"
    params = _params(case)

    def queue() -> None:
        for stubber in stubbers:
            if not stubber._queue:
                stubber.add_response(method, dict(response))

    try:

        def bare() -> object:
            return bare_client.create_db_cluster_snapshot(**params)

        def guarded() -> object:
            return guarded_client.create_db_cluster_snapshot(**params)

        interleave(bare, guarded, warmup, before=queue)
        bare_times, guarded_times = interleave(bare, guarded, calls, before=queue)
    finally:
        for stubber in stubbers:
            stubber.deactivate()
        if guard is not None:
            guard.uninstall()
    target = STUB_TARGETS.get(case.name)
    return PairResult("stub", case, summarize(bare_times), summarize(guarded_times), target)


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
    """``case`` against moto over HTTP; every call names a new snapshot (moto refuses twins)."""
    server.reset_state()
    session = botocore.session.Session()
    bare_client = _client(session, endpoint_url=server.url)
    guarded_client = _client(session, endpoint_url=server.url)
    bare_client.create_db_cluster(
        DBClusterIdentifier=SOURCE,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="benchmark-password",
        CopyTagsToSnapshot=True,
        Tags=tag_list(SOURCE_TAGS),
    )
    guard = _equip(guarded_client, case, workdir, "moto")
    numbers = itertools.count(1)

    def call(client: Any) -> object:
        snapshot = f"{SOURCE}-manual-{next(numbers):08d}"
        return client.create_db_cluster_snapshot(**_params(case, snapshot))

    quota = os.environ.get(_MOTO_QUOTA)
    os.environ[_MOTO_QUOTA] = str(10 * (calls + warmup) + 1000)  # moto's default is 1000
    try:
        interleave(lambda: call(bare_client), lambda: call(guarded_client), warmup)
        bare_times, guarded_times = interleave(
            lambda: call(bare_client), lambda: call(guarded_client), calls
        )
    finally:
        if quota is None:
            os.environ.pop(_MOTO_QUOTA, None)
        else:
            os.environ[_MOTO_QUOTA] = quota
        if guard is not None:
            guard.uninstall()
    return PairResult("moto", case, summarize(bare_times), summarize(guarded_times), None)


@dataclass(frozen=True)
class ProfileLine:
    """One function of a profile: where it is, its own time and its share of the total."""

    function: str
    calls: int
    own_share: float
    cumulative_share: float


@dataclass(frozen=True)
class ProfileSummary:
    """cProfile of the guarded loop of one case on the send path."""

    case: Case
    calls: int
    guard_share: float
    """Share of the profiled time spent inside the guard's four handlers."""
    top_guard: Sequence[ProfileLine]
    top_overall: Sequence[ProfileLine]


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    for anchor in ("rds_guard", "botocore", "site-packages"):
        if anchor in path.parts:
            index = len(path.parts) - 1 - path.parts[::-1].index(anchor)
            return f"{'/'.join(path.parts[index:])}:{line}({name})"
    return f"{path.name}:{line}({name})"


_HANDLERS = ("before_parameter_build", "before_call", "after_call", "after_call_error")


def profile_case(case: Case, calls: int, workdir: Path, top: int = 8) -> ProfileSummary:
    """Profile ``calls`` guarded calls of ``case`` on the send path with cProfile."""
    session = botocore.session.Session()
    client = _client(session)
    canned.responder(describe=True).attach(client)
    guard = _equip(client, case, workdir, "profile")
    params = _params(case)
    for _ in range(min(calls, 200)):
        client.create_db_cluster_snapshot(**params)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for _ in range(calls):
            client.create_db_cluster_snapshot(**params)
        profiler.disable()
    finally:
        if guard is not None:
            guard.uninstall()
    stats: Any = cast(Any, pstats.Stats(profiler)).stats
    total = sum(entry[2] for entry in stats.values()) or 1.0
    in_guard = sum(
        entry[3]
        for key, entry in stats.items()
        if key[0].endswith(str(Path("rds_guard", "guard", "binding.py"))) and key[2] in _HANDLERS
    )

    def line(key: tuple[str, int, str]) -> ProfileLine:
        entry = stats[key]
        return ProfileLine(_where(key), int(entry[1]), entry[2] / total, entry[3] / total)

    by_own = sorted(stats, key=lambda key: stats[key][2], reverse=True)
    ours = [key for key in by_own if "rds_guard" in Path(key[0]).parts]
    return ProfileSummary(
        case,
        calls,
        in_guard / total,
        [line(key) for key in ours[:top]],
        [line(key) for key in by_own[:top]],
    )

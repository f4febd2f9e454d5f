"""Where a guarded call's time goes: cProfile of the guarded loop of one case, on the send or
stub path of `bench.overhead`, summarised as the share of the guard's handlers, each handler
and the `Guard` method doing its work, rds_guard's own time per file and per function, and the
functions that take the most time overall.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import botocore.session
from botocore.stub import Stubber

from bench import canned
from bench.overhead import Case, caller_params, equip, rds_client, stub_response
from rds_guard.guard.binding import ClientBinding
from rds_guard.guard.guard import Guard


@dataclass(frozen=True)
class ProfileLine:
    """One function (or file) of a profile: where, calls, own time and cumulative share."""

    function: str
    calls: int
    own_share: float
    cumulative_share: float


@dataclass(frozen=True)
class ProfileSummary:
    """cProfile of the guarded loop of one case on one path."""

    path: str
    case: Case
    calls: int
    guard_share: float
    """Share of the profiled time spent inside the guard's handlers (`HANDLERS`)."""
    steps: Sequence[ProfileLine]
    """Each handler and the guard's work it calls (`STEPS`), cumulative shares."""
    by_file: Sequence[ProfileLine]
    """rds_guard's own time per file."""
    top_guard: Sequence[ProfileLine]
    top_overall: Sequence[ProfileLine]


HANDLERS = ("before_parameter_build", "request_created", "after_call", "after_call_error")
"""The `ClientBinding` methods botocore calls: the guard's entry points."""

STEPS: tuple[tuple[type, str], ...] = (
    (ClientBinding, "before_parameter_build"),
    (Guard, "judge"),
    (ClientBinding, "request_created"),
    (Guard, "check_sent"),
    (ClientBinding, "after_call"),
    (Guard, "record_outcome"),
)
"""Each handler, then the `Guard` method doing its work: the profile's breakdown."""


def code_key(owner: type, name: str) -> tuple[str, int, str]:
    """The key cProfile files a method under, from the method itself: the filter follows
    the code wherever it moves (a renamed method fails here, loudly)."""
    code = getattr(owner, name).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    return f"{_file(filename)}:{line}({name})"


def _file(filename: str) -> str:
    path = Path(filename)
    for anchor in ("rds_guard", "botocore", "site-packages"):
        if anchor in path.parts:
            index = len(path.parts) - 1 - path.parts[::-1].index(anchor)
            return "/".join(path.parts[index:])
    return path.name


def _ours(filename: str) -> bool:
    return "rds_guard" in Path(filename).parts


def profile_case(
    case: Case, calls: int, workdir: Path, top: int = 8, *, path: str = "send"
) -> ProfileSummary:
    """Profile ``calls`` guarded calls of ``case`` with cProfile, on the send or stub path."""
    session = botocore.session.Session()
    client = rds_client(session)
    stubber: Stubber | None = None
    if path == "stub":
        stubber = Stubber(client)
        stubber.activate()
    else:
        canned.responder(describe=True).attach(client)
    guard = equip(client, case, workdir, f"profile-{path}")
    params = caller_params(case)
    response = stub_response()

    def queue(count: int) -> None:
        # before the profiler starts: botocore checks each queued answer against the output
        # shape, work the timed stub path leaves out too (`stub_case`)
        if stubber is not None:
            for _ in range(count):
                stubber.add_response("create_db_cluster_snapshot", dict(response))

    warmup = min(calls, 200)
    queue(warmup)
    for _ in range(warmup):
        client.create_db_cluster_snapshot(**params)
    queue(calls)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for _ in range(calls):
            client.create_db_cluster_snapshot(**params)
        profiler.disable()
    finally:
        if stubber is not None:
            stubber.deactivate()
        if guard is not None:
            guard.uninstall()
    return summarize_profile(path, case, calls, cast(Any, pstats.Stats(profiler)).stats, top)


def summarize_profile(
    path: str, case: Case, calls: int, stats: dict[Any, Any], top: int
) -> ProfileSummary:
    """The shares of one profile (``stats``: pstats' raw table)."""
    total = sum(entry[2] for entry in stats.values()) or 1.0
    handlers = {code_key(ClientBinding, name) for name in HANDLERS}
    in_guard = sum(stats[key][3] for key in handlers if key in stats)
    if in_guard == 0:
        raise RuntimeError(
            f"{path} ({case.name}): the profile holds none of the guard's handlers "
            f"{sorted(handlers)}: is the guard installed, or the filter stale?"
        )

    def line(key: tuple[str, int, str]) -> ProfileLine:
        entry = stats[key]
        return ProfileLine(_where(key), int(entry[1]), entry[2] / total, entry[3] / total)

    steps = []
    for owner, name in STEPS:
        key = code_key(owner, name)
        if key in stats:
            found = line(key)
            label = f"{owner.__name__}.{name} ({_file(key[0])})"
            steps.append(ProfileLine(label, found.calls, found.own_share, found.cumulative_share))
    files: dict[str, list[float]] = {}
    for key, entry in stats.items():
        if _ours(key[0]):
            own = files.setdefault(_file(key[0]), [0.0, 0.0])
            own[0] += entry[2]
            own[1] += entry[1]
    by_file = sorted(
        (
            ProfileLine(name, int(calls_), own / total, float("nan"))
            for name, (own, calls_) in files.items()
        ),
        key=lambda p: p.own_share,
        reverse=True,
    )
    by_own = sorted(stats, key=lambda key: stats[key][2], reverse=True)
    ours = [key for key in by_own if _ours(key[0])]
    return ProfileSummary(
        path,
        case,
        calls,
        in_guard / total,
        steps,
        by_file[:top],
        [line(key) for key in ours[:top]],
        [line(key) for key in by_own[:top]],
    )

"""Where a guarded call's added time goes, by botocore event, in wall time: the send path of
`bench.overhead` (same bytes on the wire), each client's emitter timed at every event it
emits, the bare and the guarded call alternated; no profiler, so nothing is inflated.

An event's time is its handlers' (botocore's own and the guard's); an event emitted from
inside another's handler is counted to itself, not to both. What is left of a call once its
events are taken out (``between``) is botocore's own code between them: serializing,
signing's arithmetic, parsing.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session

from bench import canned
from bench.overhead import (
    OPERATION,
    Case,
    caller_params,
    equip,
    interleave,
    match_bare,
    rds_client,
)
from rds_guard.guard.hooks import LAST_EVENT


@dataclass(frozen=True)
class EventCost:
    """One event's median time per call on each side, in microseconds."""

    event: str
    bare_us: float
    guarded_us: float

    @property
    def added_us(self) -> float:
        """What the guard adds at this event (difference of the medians)."""
        return self.guarded_us - self.bare_us


@dataclass(frozen=True)
class EventBreakdown:
    """The events of ``calls`` calls of each side of ``case``, in the order the guarded call
    ends them; ``between``: the rest of each call, outside every event."""

    case: Case
    calls: int
    events: Sequence[EventCost]
    between: EventCost
    total: EventCost
    control_between: EventCost
    """Between the events: the bare call against the control (the bare call with unrelated
    work at ``before-parameter-build``): what a handler's own work of that length does to
    botocore's."""
    control_work_us: float
    """How long the control's handler worked (its median)."""


class EventClock:
    """Times every event a client's emitter emits, by stage (``request-created``, say):
    installed on the emitter behind the client's aliaser, so that it sees the names the
    handlers are found under. `take` returns one call's times and starts the next."""

    def __init__(self, client: Any) -> None:
        emitter = client.meta.events._emitter  # the aliaser's: the names as handlers see them
        emit = emitter._emit
        self._times: dict[str, int] = {}
        self._inside: list[int] = []  # per open event: its nested events' time
        clock = time.perf_counter_ns

        def timed(event_name: str, kwargs: Any, stop_on_response: bool = False) -> Any:
            self._inside.append(0)
            start = clock()
            try:
                return emit(event_name, kwargs, stop_on_response)
            finally:
                spent = clock() - start
                nested = self._inside.pop()
                stage = event_name.partition(".")[0]
                self._times[stage] = self._times.get(stage, 0) + spent - nested
                if self._inside:
                    self._inside[-1] += spent

        emitter._emit = timed

    def take(self) -> dict[str, int]:
        """The nanoseconds per stage since the last take."""
        times, self._times = self._times, {}
        return times


def _timed_call(
    client: Any, params: dict[str, Any], into: list[dict[str, int]]
) -> Callable[[], object]:
    """One call of the benchmarked operation on ``client``, its events' times (`EventClock`)
    and its whole time (under ``""``) put in ``into``."""
    clock = EventClock(client)

    def sample() -> object:
        clock.take()
        start = time.perf_counter_ns()
        result = client.create_db_cluster_snapshot(**params)
        times = clock.take()
        times[""] = time.perf_counter_ns() - start  # the whole call
        into.append(times)
        return result

    return sample


def _median_us(samples: Sequence[dict[str, int]], stage: str) -> float:
    return statistics.median(times.get(stage, 0) for times in samples) / 1e3


def _between(times: dict[str, int]) -> int:
    return times[""] - sum(spent for stage, spent in times.items() if stage)


def _unrelated_work(nanoseconds: list[int]) -> Callable[..., None]:
    """A ``before-parameter-build`` handler doing work of no use (encoding and decoding JSON)
    for ``nanoseconds[0]``: the control of what a handler's own work does to the rest of
    the call, whatever that work is."""
    data = [{f"k{i}": list(range(20)), "text": "x" * 50} for i in range(3)]
    clock = time.perf_counter_ns

    def work(**_: Any) -> None:
        start = clock()
        while clock() - start < nanoseconds[0]:
            json.loads(json.dumps(data))

    return work


def measure(case: Case, calls: int, warmup: int, workdir: Path) -> EventBreakdown:
    """``case`` on the send path (canned answers from ``before-send``), by event; beside it,
    a control: the bare call with unrelated work at ``before-parameter-build`` for as long
    as the guard's judgement takes there (its median over the warm-up)."""
    session = botocore.session.Session()
    clients = [rds_client(session) for _ in range(3)]  # bare, guarded, control
    for client in clients:
        canned.responder(describe=True).attach(client)
    bare_client, guarded_client, control_client = clients
    work_ns = [0]
    control_client.meta.events.register(
        f"before-parameter-build.rds.{OPERATION}", _unrelated_work(work_ns)
    )
    guard = equip(guarded_client, case, workdir, "by-event")
    try:
        matched = match_bare(case, bare_client, guarded_client)
        bare_params, guarded_params = matched.params, caller_params(case)
        samples: tuple[list[dict[str, int]], ...] = ([], [], [])
        bare, guarded, control = (
            _timed_call(client, params, kept)
            for client, params, kept in zip(
                clients, (bare_params, guarded_params, bare_params), samples, strict=True
            )
        )
        # the warm-up, the control's handler idle: and the judgement timed for the control
        interleave(bare, guarded, max(warmup, 1), extra=[control])
        work_ns[0] = int(_median_us(samples[1], LAST_EVENT) * 1e3)
        for kept in samples:
            kept.clear()
        interleave(bare, guarded, calls, extra=[control])
    finally:
        if guard is not None:
            guard.uninstall()
    bare_times, guarded_times, control_times = samples
    stages = list(dict.fromkeys(stage for times in guarded_times for stage in times if stage))
    events = [
        EventCost(stage, _median_us(bare_times, stage), _median_us(guarded_times, stage))
        for stage in stages
    ]
    return EventBreakdown(
        case,
        calls,
        events,
        _between_cost("(between events)", bare_times, guarded_times),
        EventCost("the whole call", _median_us(bare_times, ""), _median_us(guarded_times, "")),
        _between_cost("(between events, control)", bare_times, control_times),
        _median_us(control_times, LAST_EVENT),
    )


def _between_cost(
    label: str, bare: Sequence[dict[str, int]], other: Sequence[dict[str, int]]
) -> EventCost:
    return EventCost(
        label,
        statistics.median(map(_between, bare)) / 1e3,
        statistics.median(map(_between, other)) / 1e3,
    )

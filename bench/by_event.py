"""Where a guarded call's added time goes, by botocore event, in wall time: the send path of
`bench.overhead` (same bytes on the wire), each client's emitter timed at every event it
emits, the bare and the guarded call alternated; no profiler, so nothing is inflated.

An event's time is its handlers' (botocore's own and the guard's); an event emitted from
inside another's handler is counted to itself, not to both. What is left of a call once its
events are taken out (``between``) is botocore's own code between them: serializing,
signing's arithmetic, parsing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session

from bench import canned
from bench.overhead import Case, caller_params, equip, interleave, match_bare, rds_client


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
    """The events of ``calls`` calls of each side of ``case``, in the order first emitted;
    ``between``: the rest of each call, outside every event."""

    case: Case
    calls: int
    events: Sequence[EventCost]
    between: EventCost
    total: EventCost


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


def _timed_call(call: Callable[[], object], clock: EventClock, into: list[dict[str, int]]) -> Any:
    def sample() -> object:
        clock.take()
        start = time.perf_counter_ns()
        result = call()
        times = clock.take()
        times[""] = time.perf_counter_ns() - start  # the whole call
        into.append(times)
        return result

    return sample


def _median_us(samples: Sequence[dict[str, int]], stage: str) -> float:
    return statistics.median(times.get(stage, 0) for times in samples) / 1e3


def _between(times: dict[str, int]) -> int:
    return times[""] - sum(spent for stage, spent in times.items() if stage)


def measure(case: Case, calls: int, warmup: int, workdir: Path) -> EventBreakdown:
    """``case`` on the send path (canned answers from ``before-send``), by event."""
    session = botocore.session.Session()
    bare_client, guarded_client = rds_client(session), rds_client(session)
    for client in (bare_client, guarded_client):
        canned.responder(describe=True).attach(client)
    guard = equip(guarded_client, case, workdir, "by-event")
    try:
        matched = match_bare(case, bare_client, guarded_client)
        bare_params, guarded_params = matched.params, caller_params(case)
        clocks = EventClock(bare_client), EventClock(guarded_client)
        samples: tuple[list[dict[str, int]], list[dict[str, int]]] = ([], [])
        sides = (
            _timed_call(
                lambda: bare_client.create_db_cluster_snapshot(**bare_params), clocks[0], samples[0]
            ),
            _timed_call(
                lambda: guarded_client.create_db_cluster_snapshot(**guarded_params),
                clocks[1],
                samples[1],
            ),
        )
        interleave(*sides, warmup)
        for kept in samples:
            kept.clear()
        interleave(*sides, calls)
    finally:
        if guard is not None:
            guard.uninstall()
    bare, guarded = samples
    stages = list(dict.fromkeys(stage for times in guarded for stage in times if stage))
    events = [
        EventCost(stage, _median_us(bare, stage), _median_us(guarded, stage)) for stage in stages
    ]
    between = EventCost(
        "(between events)",
        statistics.median(map(_between, bare)) / 1e3,
        statistics.median(map(_between, guarded)) / 1e3,
    )
    total = EventCost("the whole call", _median_us(bare, ""), _median_us(guarded, ""))
    return EventBreakdown(case, calls, events, between, total)

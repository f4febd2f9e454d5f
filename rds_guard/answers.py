"""A whole answer within a bound, for the botocore clients rds_guard makes itself (the fleet
ledger's, ``rds-guard reconcile``'s; never the application's).

botocore's read timeout bounds each wait for the next bytes, not the answer: an endpoint, or a
proxy in front of it, that sends a byte every few seconds holds a request for as long as it
goes on. Held so, a ledger's request kept the shipping lock: every ``required``-mode call then
waited ``lock_timeout`` and failed, and the shipping thread never shipped again. So each
request of these clients is sent by the client's own HTTP session in a thread of its own,
and given up once its answer, headers and body, has taken longer than the client's connect
and read timeouts together: `AnswerTimeout`, a botocore `ReadTimeoutError`, which botocore
retries as it retries one. The thread given up on is left to end with its connection (a
daemon: it never holds the process's exit; `MOST_HELD` of them at most, then a request is
given up at once); what it sent may still be done by the service, as with any read timeout.
A body botocore hands over as a stream (S3's GetObject) is read after the request, so its
reader bounds that read itself (`read_body`).

Where no thread may be started (a process forked where no at-fork hook ran:
`forks.forked_unseen`; the interpreter exiting), the request is sent in the calling thread,
as botocore sends it, bounded by the read timeout alone: an endpoint that trickles holds it
for as long as it trickles.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any, Generic, TypeVar

from botocore.exceptions import ReadTimeoutError

from .forks import forked_unseen

T = TypeVar("T")


class AnswerTimeout(ReadTimeoutError):  # type: ignore[misc]
    """No whole answer came within the client's connect and read timeouts together."""

    fmt = 'No whole answer within {seconds:g} s from endpoint URL: "{endpoint_url}"'


class BoundedSession:
    """A botocore HTTP session whose ``send`` gives up after ``seconds`` (see the module's
    text); anything else (``close``, which botocore's ``client.close()`` calls) is the wrapped
    session's."""

    def __init__(self, session: Any, seconds: float) -> None:
        self.session = session
        self.seconds = seconds

    def send(self, request: Any) -> Any:
        """The wrapped session's answer to ``request``, or `AnswerTimeout` past ``seconds``."""
        return within(self.seconds, functools.partial(self.session.send, request), request.url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


MOST_HELD = 32
"""How many requests given up on may still be held open at once in this process (each one a
thread and a connection of its own until the endpoint lets go); past it a request is not
sent but given up at once (`HeldOpen`): an endpoint that trickles for hours would otherwise
take every file descriptor the process may open."""

_held = 0  # requests given up on whose thread has not ended (`held_open`)
_held_lock = threading.Lock()


class HeldOpen(AnswerTimeout):
    """Not sent: `MOST_HELD` requests given up on are still held open."""

    fmt = (
        "Not sent: {held} requests given up on are still held open, the last by endpoint"
        ' URL: "{endpoint_url}"'
    )


def held_open() -> int:
    """How many requests given up on are still held open in this process."""
    return _held


class _Job(Generic[T]):
    """One request's work in its thread: its answer, and whether it was given up on."""

    __slots__ = ("answer", "given_up", "work")

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self.answer: Future[T] = Future()
        self.given_up = False


def within(seconds: float | None, work: Callable[[], T], url: str) -> T:
    """``work()`` in a thread of its own, given up after ``seconds`` (None: no bound, called
    here) with `AnswerTimeout` naming ``url``; the thread is left to end as ``work`` does
    (`held_open` counts it until then: past `MOST_HELD`, `HeldOpen` at once, nothing done).
    What ``work`` raises is raised as it raised it. Called here, unbounded, where no thread
    may be started."""
    global _held
    if seconds is None or forked_unseen():
        return work()
    if _held >= MOST_HELD:
        raise HeldOpen(endpoint_url=url, seconds=seconds, held=_held)
    job = _Job(work)
    thread = threading.Thread(target=_answer, args=(job,), name="rds-guard-send")
    thread.daemon = True
    try:
        thread.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        return work()
    wait([job.answer], seconds)
    with _held_lock:
        if not job.answer.done():
            job.given_up = True
            _held += 1
    if job.given_up:
        raise AnswerTimeout(endpoint_url=url, seconds=seconds)
    return job.answer.result()  # the answer, or what ``work`` raised


def _answer(job: _Job[T]) -> None:
    global _held
    try:
        result = job.work()
    except BaseException as exc:  # the caller's to raise, as if done in its own thread
        with _held_lock:
            job.answer.set_exception(exc)
            _held -= job.given_up
    else:
        with _held_lock:
            job.answer.set_result(result)
            _held -= job.given_up


def bound_of(client: Any) -> float | None:
    """The seconds a whole answer of ``client`` may take: its connect and read timeouts
    together (None: either unset)."""
    config = client.meta.config
    try:
        return float(config.connect_timeout) + float(config.read_timeout)
    except (TypeError, ValueError):
        return None


def read_body(client: Any, stream: Any, most: int) -> bytes:
    """Up to ``most`` bytes of a body ``client`` handed over as a ``stream`` (S3's
    GetObject), read to its end when shorter (botocore checks a body's checksum as it meets
    the end), then closed; within the client's bound (`bound_of`), as its request was:
    `AnswerTimeout` past it."""

    def whole() -> bytes:
        try:
            body = stream.read(most)
            if len(body) < most:
                stream.read()
            return bytes(body)
        finally:  # by the reader: closed from another thread, it would wait for the read
            stream.close()

    return within(bound_of(client), whole, str(client.meta.endpoint_url))


def bound_answers(client: Any) -> None:
    """Give each request of ``client`` (one rds_guard made) its whole answer within the
    client's connect and read timeouts together (`BoundedSession`)."""
    endpoint = getattr(client, "_endpoint", None)  # botocore's own, private: where it sends
    session = getattr(endpoint, "http_session", None)
    if endpoint is None or session is None or isinstance(session, BoundedSession):
        return
    seconds = bound_of(client)
    if seconds is not None:
        endpoint.http_session = BoundedSession(session, seconds)


__all__ = [
    "MOST_HELD",
    "AnswerTimeout",
    "BoundedSession",
    "HeldOpen",
    "bound_answers",
    "bound_of",
    "held_open",
    "read_body",
    "within",
]

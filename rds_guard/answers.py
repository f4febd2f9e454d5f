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
daemon: it never holds the process's exit); what it sent may still be done by the service,
as with any read timeout. A body botocore hands over as a stream (S3's GetObject) is read
after the request, so its reader bounds that read itself (`read_body`).

Where no thread may be started (a process forked where no at-fork hook ran:
`forks.forked_unseen`; the interpreter exiting), the request is sent in the calling thread,
as botocore sends it, bounded by the read timeout alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any, TypeVar

from botocore.exceptions import ReadTimeoutError

from .forks import forked_unseen

T = TypeVar("T")


class AnswerTimeout(ReadTimeoutError):  # type: ignore[misc]
    """No whole answer came within the client's connect and read timeouts together."""

    fmt = 'No whole answer within {seconds:g} s from endpoint URL: "{endpoint_url}"'


class BoundedSession:
    """A botocore HTTP session whose ``send`` gives up after ``seconds`` (see the module's
    text); anything else is the wrapped session's."""

    def __init__(self, session: Any, seconds: float) -> None:
        self.session = session
        self.seconds = seconds

    def send(self, request: Any) -> Any:
        """The wrapped session's answer to ``request``, or `AnswerTimeout` past ``seconds``."""
        return within(self.seconds, functools.partial(self.session.send, request), request.url)

    def close(self) -> None:
        """Close the wrapped session's connections (botocore's ``client.close()``)."""
        self.session.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def within(seconds: float | None, work: Callable[[], T], url: str) -> T:
    """``work()`` in a thread of its own, given up after ``seconds`` (None: no bound, called
    here) with `AnswerTimeout` naming ``url``; the thread is left to end as ``work`` does.
    What ``work`` raises is raised as it raised it. Called here, unbounded, where no thread
    may be started."""
    if seconds is None or forked_unseen():
        return work()
    answer: Future[T] = Future()
    thread = threading.Thread(target=_answer, args=(answer, work), name="rds-guard-send")
    thread.daemon = True
    try:
        thread.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        return work()
    wait([answer], seconds)
    if not answer.done():
        raise AnswerTimeout(endpoint_url=url, seconds=seconds)
    return answer.result()  # the answer, or what ``work`` raised


def _answer(answer: Future[T], work: Callable[[], T]) -> None:
    try:
        answer.set_result(work())
    except BaseException as exc:  # the caller's to raise, as if done in its own thread
        answer.set_exception(exc)


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
    seconds = bound_of(client)
    if endpoint is None or session is None or isinstance(session, BoundedSession):
        return
    if seconds is not None:
        endpoint.http_session = BoundedSession(session, seconds)


__all__ = ["AnswerTimeout", "BoundedSession", "bound_answers", "bound_of", "read_body", "within"]

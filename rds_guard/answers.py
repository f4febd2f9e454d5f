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
as with any read timeout.

Where no thread may be started (a process forked where no at-fork hook ran:
`forks.forked_unseen`; the interpreter exiting), the request is sent in the calling thread,
as botocore sends it, bounded by the read timeout alone.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from typing import Any

from botocore.exceptions import ReadTimeoutError

from .forks import forked_unseen


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
        if forked_unseen():
            return self.session.send(request)
        answer: Future[Any] = Future()
        thread = threading.Thread(
            target=_answer, args=(answer, self.session, request), name="rds-guard-send", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            return self.session.send(request)
        wait([answer], self.seconds)
        if not answer.done():
            raise AnswerTimeout(endpoint_url=request.url, seconds=self.seconds)
        return answer.result()  # the answer, or what sending raised, as botocore raises it

    def close(self) -> None:
        """Close the wrapped session's connections (botocore's ``client.close()``)."""
        self.session.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def _answer(answer: Future[Any], session: Any, request: Any) -> None:
    try:
        answer.set_result(session.send(request))
    except BaseException as exc:  # the caller's to raise, as if sent in its own thread
        answer.set_exception(exc)


def bound_answers(client: Any) -> None:
    """Give each request of ``client`` (one rds_guard made) its whole answer within the
    client's connect and read timeouts together (`BoundedSession`)."""
    endpoint = getattr(client, "_endpoint", None)  # botocore's own, private: where it sends
    session = getattr(endpoint, "http_session", None)
    if endpoint is None or session is None or isinstance(session, BoundedSession):
        return
    config = client.meta.config
    try:
        seconds = float(config.connect_timeout) + float(config.read_timeout)
    except (TypeError, ValueError):  # no bound set: none to give
        return
    endpoint.http_session = BoundedSession(session, seconds)


__all__ = ["AnswerTimeout", "BoundedSession", "bound_answers"]

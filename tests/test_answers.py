"""The clients rds_guard makes itself get each whole answer within their connect and read
timeouts together (`rds_guard.answers`): botocore's read timeout bounds each wait for bytes,
so an endpoint that sends a byte every few seconds held a request for as long as it went on.
Real HTTP on 127.0.0.1: a moto server, and a proxy in front of it that can trickle."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from ledger_helpers import wait_until
from network import Proxy, timed
from servers import MotoServer

from rds_guard.answers import MOST_HELD, AnswerTimeout, BoundedSession, HeldOpen, held_open
from rds_guard.audit.ledger.errors import describe_error
from rds_guard.clients import made_client

# connect 1 + read 2: each whole answer within 3 s; the trickle's byte every 0.3 s never lets
# the read timeout fire, with room for a loaded machine's scheduling
SETTINGS = {"connect_timeout": 1, "read_timeout": 2}
# where an answer is to come whole, room for a loaded machine's moto server to give it
PROMPT = {"connect_timeout": 10, "read_timeout": 10}


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[Proxy]:
    """A proxy in front of the moto server."""
    with Proxy(moto_server.url) as made:
        yield made


def _client(url: str, attempts: int = 1, settings: dict[str, int] = SETTINGS) -> Any:
    session = botocore.session.Session()
    config = Config(**settings, retries={"mode": "standard", "total_max_attempts": attempts})
    return made_client(
        session,
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=url,
        config=config,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_trickled_answer_is_given_up_past_the_clients_two_timeouts(proxy: Proxy) -> None:
    """The proxy answers with a status line, then a byte every 0.3 s: each wait is shorter
    than the 2 s read timeout, so botocore alone waits for ever. Given up after connect +
    read timeouts (3 s) per attempt, as a read timeout (retried: two attempts, two
    connections), saying why."""
    proxy.trickle.set()
    client = _client(proxy.url, attempts=2)
    error, seconds = timed(client.list_tables, 30)
    assert isinstance(error, AnswerTimeout)
    assert isinstance(error, ReadTimeoutError)  # what botocore retries, and callers catch
    assert f'No whole answer within 3 s from endpoint URL: "{proxy.url}/"' == str(error)
    assert proxy.trickled == 2  # botocore tried again, on a new connection
    assert 5.5 < seconds < 25  # two bounds of 3 s, and botocore's backoff between


def test_a_prompt_answer_is_the_services_own(proxy: Proxy, moto_server: MotoServer) -> None:
    """Through the bound, an answer is what botocore gives without it: moto's table list,
    the table made through it there, on the one client (its HTTP session bounded)."""
    client = _client(proxy.url, settings=PROMPT)
    assert isinstance(client._endpoint.http_session, BoundedSession)
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bare = moto_server.client("dynamodb")
    assert client.list_tables()["TableNames"] == bare.list_tables()["TableNames"] == ["t"]
    assert proxy.trickled == 0 and proxy.connections >= 1


def test_a_refused_connection_is_botocores_own_error() -> None:
    """Nothing listens: botocore's own `EndpointConnectionError`, raised as it raises it
    (from the sending thread), not a timeout."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}")
    error, seconds = timed(client.list_tables, 30)
    assert isinstance(error, EndpointConnectionError)
    assert not isinstance(error, AnswerTimeout)
    assert seconds < 10


def test_closing_the_client_closes_the_bounded_session(proxy: Proxy) -> None:
    """botocore's ``client.close()`` reaches the session under the bound: its connections
    are closed, and the next request opens a new one."""
    client = _client(proxy.url, settings=PROMPT)
    client.list_tables()
    before = proxy.connections
    client.close()
    client.list_tables()
    assert proxy.connections == before + 1


def test_requests_given_up_on_and_still_held_open_are_capped(
    proxy: Proxy, moto_server: MotoServer
) -> None:
    """Each request given up on keeps a thread and a connection until the endpoint lets go:
    one that trickles for hours would take every file descriptor of the process. Past
    `MOST_HELD` of them a request is given up at once, nothing sent (`HeldOpen`); once the
    endpoint lets go of them, requests go again."""
    wait_until(lambda: held_open() == 0, 30)  # another test's, let go by its endpoint
    proxy.trickle.set()
    client = _client(proxy.url)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.list_tables()
        except BaseException as exc:  # the test's to look at
            errors.append(exc)

    callers = [threading.Thread(target=call, daemon=True) for _ in range(MOST_HELD)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(30)
    assert len(errors) == MOST_HELD
    assert all(type(error) is AnswerTimeout for error in errors)
    assert held_open() == MOST_HELD
    connections = proxy.connections
    error, seconds = timed(client.list_tables, 30)
    assert isinstance(error, HeldOpen) and isinstance(error, ReadTimeoutError)
    assert f"Not sent: {MOST_HELD} requests given up on are still held open" in str(error)
    assert seconds < 2 and proxy.connections == connections  # not the 3 s bound
    proxy.close()  # the endpoint lets go: each thread ends with its connection
    wait_until(lambda: held_open() == 0, 30)
    with Proxy(moto_server.url) as healthy:
        assert _client(healthy.url, settings=PROMPT).list_tables()["TableNames"] == []


def test_an_endpoints_password_never_reaches_what_the_ledger_says_of_a_timeout(
    proxy: Proxy,
) -> None:
    """`AnswerTimeout` quotes the endpoint's URL whole, as botocore's read timeout does: a
    password in it is `[redacted]` in what the ledger writes into records and warnings
    (`describe_error`), as it is for botocore's own errors."""
    proxy.trickle.set()
    url = proxy.url.replace("http://", "http://ledgeruser:S3cretPw@")
    error, _ = timed(_client(url).list_tables, 30)
    assert isinstance(error, AnswerTimeout)
    assert "S3cretPw" in str(error)  # botocore's own wording, before redaction
    said = describe_error(error)
    assert "S3cretPw" not in said and "[redacted]" in said

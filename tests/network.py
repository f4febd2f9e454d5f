"""A TCP proxy on 127.0.0.1 in front of a server, which can be told to trickle: answer each
new connection's request with a status line, then one byte at a time, never ending the
answer, as a broken proxy or middlebox may (botocore's read timeout, which bounds each wait
for bytes, never fires); or to pass the server's answer on with its body a byte at a time."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from audit_helpers import call_with_timeout


class Proxy:
    """Forwards each connection to ``target`` (a URL), or trickles while ``trickle`` is set
    (a byte every ``gap`` seconds), or, while ``drip_body`` is set, forwards the request and
    passes the answer's head on whole and its body a byte every ``gap`` seconds. ``url`` is
    its own; ``connections``: those accepted; ``trickled``: those answered by trickling or
    dripping."""

    def __init__(self, target: str, gap: float = 0.3) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.gap = gap
        self.trickle = threading.Event()
        self.drip_body = threading.Event()
        self.connections = 0
        self.trickled = 0
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="test-proxy", daemon=True).start()

    def close(self) -> None:
        """Stop accepting, and close every connection (a trickle ends with it)."""
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._sockets.append(conn)
            serve = self._forward
            if self.trickle.is_set():
                serve = self._trickle
            elif self.drip_body.is_set():
                serve = self._drip
            serving = threading.Thread(target=serve, args=(conn,), name="test-proxy-conn")
            serving.daemon = True
            serving.start()

    def _trickle(self, conn: socket.socket) -> None:
        self.trickled += 1
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self._closed.wait(self.gap):
                conn.sendall(b"X")
        except OSError:
            return

    def _drip(self, conn: socket.socket) -> None:
        self.trickled += 1
        try:
            request = conn.recv(65536)
            upstream = socket.create_connection(self._target)
            self._sockets.append(upstream)
            upstream.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer and (data := upstream.recv(65536)):
                answer += data
            head, _, body = answer.partition(b"\r\n\r\n")
            conn.sendall(head + b"\r\n\r\n")
            while True:
                if not body:
                    body = upstream.recv(65536)
                if not body or self._closed.wait(self.gap):
                    return
                conn.sendall(body[:1])
                body = body[1:]
        except OSError:
            return

    def _forward(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target)
        except OSError:
            conn.close()
            return
        self._sockets.append(upstream)
        threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()
        _pipe(conn, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def timed(call: Callable[[], object], timeout: float) -> tuple[Exception | None, float]:
    """What ``call()`` raised (None: nothing) and the seconds it took; run by
    `call_with_timeout`, so that a hang fails the test."""
    started = time.monotonic()
    try:
        call_with_timeout(call, timeout)
    except AssertionError:  # the hang detector's
        raise
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started

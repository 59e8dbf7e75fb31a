"""The HTTP layer: a threaded server on 127.0.0.1 that hands each request to the issuer."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    """One parsed request, as the issuer sees it.

    Attributes:
        method: The HTTP method.
        path: The path, without the query string.
        query: The query string, without the ``?``.
        headers: The request headers, names in lower case.
        time: When the request arrived (Unix time).
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    time: float


@dataclass
class Reply:
    """What to send back.

    Attributes:
        status: Status code.
        headers: Headers, in order (``Content-Length`` is added).
        body: The body (not sent for ``HEAD`` and 304).
        delay: Seconds to wait before answering.
        drop: Close the connection without answering.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0
    drop: bool = False


App = Callable[[Request], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the second request
    # of a keep-alive connection waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: IssuerServer

    def version_string(self) -> str:
        return "jwkscache-LocalIssuer"

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, in the connection's own thread, never in accept().
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a test run's stderr is not the place for an access log."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        path, _, query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            time=time.time(),
        )
        try:
            reply = self.server.app(request)
        except Exception as exc:  # a bug in the kit: say so rather than hang up
            message = f"LocalIssuer error: {exc!r}".encode()
            reply = Reply(500, [("Content-Type", "text/plain; charset=utf-8")], message)
        if reply.delay > 0 and self.server.closing.wait(reply.delay):
            reply.drop = True
        if reply.drop:
            self.close_connection = True
            return
        try:
            self._write(reply)
        except OSError:  # the client gave up (timeout) or the server is closing
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        has_body = reply.status >= 200 and reply.status not in (204, 304)
        if has_body:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if has_body and self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve


class IssuerServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on ``127.0.0.1:0`` whose threads all stop on :meth:`stop`.

    Args:
        app: Turns each request into a reply.
        ssl_context: A server-side context to serve HTTPS, or ``None`` for HTTP.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, app: App, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(("127.0.0.1", 0), _Handler)
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalIssuer:{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection in its own daemon thread, tracked so :meth:`stop` can end it."""
        thread = threading.Thread(
            target=self._process,
            args=(request, client_address),
            daemon=True,
            name=f"LocalIssuer:{self.port}:{client_address[1]}",
        )
        with self._lock:
            if self.closing.is_set():
                self.shutdown_request(request)
                return
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _process(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that hang up or refuse the certificate are part of the tests."""

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, close the port, end open connections and wait for their threads.

        Args:
            timeout: The longest to wait for connection threads to finish.
        """
        self.closing.set()
        self.shutdown()
        self.server_close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for connection in connections:
            # The plain socket's shutdown, not TLS's: it wakes a thread blocked reading.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in [self._thread, *threads]:
            thread.join(max(0.0, deadline - time.monotonic()))


def status_text(status: int) -> str:
    """The reason phrase of a status code (``"Unknown"`` for an unregistered one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"

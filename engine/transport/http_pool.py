"""Keep-alive HTTP/1.1 connections for request/response calls: the client's and the prober's.

aiohttp's client machinery costs about 0.3 ms of CPU per request on the 2-core machine this is
measured on, as much as the rest of a client's share of an append (``bench/http_client_cost.py``
compares the two). Gate's own calls need none of what it adds (cookies, redirects, proxies,
compression), so they go over these connections: one request at a time per connection, the
answer parsed by httptools (llhttp, the parser aiohttp itself uses). WebSockets stay on aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import httptools


class HttpProtocolError(ConnectionError):
    """The server's answer is not HTTP/1.1 this client can read."""


class TlsRefused(ConnectionError):
    """A TLS server hung up on a new connection without answering its first request.

    asyncio reports the alert of a server that refused the client's certificate (TLS 1.3
    checks it after the handshake) as a plain end of the connection; this is that case.
    """


# Methods a request of which may be sent twice (RFC 9110, 9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A whole answer: status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, tls: bool = False) -> None:
        self.transport: asyncio.Transport | None = None
        self._tls = tls
        self._answered = False  # a whole answer came on this connection
        self.replied = False  # a byte of the answer to the current request came
        self._lost = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HttpResponse] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._headers_done = False
        self._keep_alive = False

    @property
    def closed(self) -> bool:
        """Whether the connection is closed or closing (the server may close an idle one)."""
        return self._lost or self.transport is None or self.transport.is_closing()

    @property
    def reusable(self) -> bool:
        """Whether the last exchange left the connection open for another request."""
        return self._keep_alive and not self.closed

    async def exchange(self, request: bytes) -> HttpResponse:
        """Send one whole request and wait for its whole answer."""
        assert self.transport is not None
        self._headers = {}
        self._body = []
        self._headers_done = self._keep_alive = self.replied = False
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        """Close the connection (a pending exchange fails)."""
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not an asyncio.Transport subclass on uvloop.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the stream cannot be trusted
            self.close()
            return
        self.replied = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpProtocolError(f"unreadable HTTP answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._waiter is None or self._waiter.done():
            return
        framed = {"content-length", "transfer-encoding"} & self._headers.keys()
        if self._headers_done and not framed:
            self._finish()  # a body delimited by the end of the connection (RFC 9112, 6.3)
        elif (
            # A reset is how the refusal's alert arrives when the client was still sending.
            (exc is None or isinstance(exc, ConnectionResetError))
            and self._tls
            and not self._answered
            and not self._headers_done
        ):
            self._fail(
                TlsRefused(
                    "the server hung up on the TLS connection before answering; it may want "
                    "a client certificate (--cert, --key)"
                )
            )
        else:
            self._fail(exc or ConnectionResetError("the server closed the connection"))

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._answered = True
        self._keep_alive = self._parser.should_keep_alive()
        self._finish()

    def _finish(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            status = self._parser.get_status_code()
            self._waiter.set_result(HttpResponse(status, self._headers, b"".join(self._body)))

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


class HttpPool:
    """Keep-alive connections to one ``host:port``, at most ``limit`` of them at once.

    A connection goes back to the pool only after a whole answer that lets it stay open; one
    whose request failed, timed out or was cancelled is closed, so no late answer can be taken
    for the next request's.
    """

    def __init__(
        self, host: str, port: int, *, limit: int = 64, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls  # https: verifies the server's certificate for ``host``
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._slots = asyncio.Semaphore(limit)

    async def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> HttpResponse:
        """Send ``method target`` (path and query) with ``body``; the whole answer.

        Raises ``OSError`` (``ConnectionError`` among them) when the server cannot be reached
        or drops the connection, ``ssl.SSLError`` when TLS fails (an untrusted certificate),
        ``HttpProtocolError`` for an answer that is not HTTP.
        """
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        # UTF-8, as aiohttp writes and reads header values: a token may not be ASCII.
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        async with self._slots:
            idle = self._take_idle()
            try:
                return await self._exchange(idle or await self._connect(), request)
            except ConnectionError as exc:
                # A server may close an idle keep-alive connection just as a request goes out
                # on it (its idle timeout): nothing was answered, and a request that can be
                # sent twice is sent again, once, on a new connection.
                if idle is None or idle.replied or isinstance(exc, HttpProtocolError):
                    raise
                if method not in _IDEMPOTENT:
                    raise
            return await self._exchange(await self._connect(), request)

    async def _exchange(self, conn: _Connection, request: bytes) -> HttpResponse:
        answered = False
        try:
            response = await conn.exchange(request)
            answered = True
        finally:
            if answered and conn.reusable:
                self._idle.append(conn)
            else:
                self._discard(conn)
        return response

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self._discard(conn)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: _Connection(self.tls is not None),
            self.host,
            self.port,
            ssl=self.tls,
            server_hostname=self.host if self.tls is not None else None,
        )
        self._open.add(conn)
        return conn

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    def close(self) -> None:
        """Close every connection; requests still waiting on one fail."""
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()

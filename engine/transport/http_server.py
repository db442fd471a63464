"""The HTTP listener of the gateway and of the nodes: aiohttp's, with time limits and JSON errors.

Time limits (``gateway.idleTimeout``, docs/ENGINE.md, "HTTP listeners"): aiohttp closes a
connection that has sent no whole request head within ``keepalive_timeout`` of its opening or of
its last answer, which covers idle keep-alive connections and headers trickled in (slowloris);
``read_json`` bounds a body the handler reads (408), and ``lingering_time`` one it leaves unread.
A request being served is never cut, so WebSockets and long polls stay open.

Requests the HTTP parser refuses (a line over 8,190 bytes, a garbled request line) never reach
the application and its error middleware: aiohttp answers them itself, in plain text. The
connection handler below answers them with the API's JSON error body instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from engine.config_model import LimitsConfig
from engine.protocol.errors import GateError
from engine.transport.http_common import error_response


def _parser_message(exc: BaseException | None) -> str:
    if isinstance(exc, LineTooLong):
        return f"a request line or header is longer than {exc.args[1]} bytes"
    if isinstance(exc, HttpProcessingError) and exc.message:
        # The parser's own words, without the echo of the client's bytes on further lines.
        return f"the request is not valid HTTP/1.1: {exc.message.splitlines()[0][:200]}"
    return "the request is not valid HTTP/1.1"


class _Connection(web.RequestHandler):
    """aiohttp's handler of one connection, answering its own errors with the JSON body."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's version logs the error and refuses once an answer has started: keep that.
        super().handle_error(request, status, exc, message)
        if status < 500:  # the parser's 400: handlers' failures are the error middleware's
            error = GateError("invalid_request", _parser_message(exc))
        else:
            error = GateError("internal", "internal error; see the server log")
        response = error_response(error)
        response.set_status(status)
        response.force_close()
        return response

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        # A body too slow to wait for (read_json): answer, then close without lingering to
        # drain the rest of it, which would give the client another idleTimeout.
        too_slow = resp.status == 408
        if too_slow:
            resp.force_close()
        answered = await super().finish_response(request, resp, start_time)
        if too_slow:
            self.force_close()
        return answered


class _Server(web.Server):
    """aiohttp's server, handing each connection to ``_Connection``."""

    def __init__(self, handler: Any, *, request_factory: Any, **kwargs: Any) -> None:
        super().__init__(handler, request_factory=request_factory, **kwargs)
        self._connection_kwargs = kwargs

    def __call__(self) -> web.RequestHandler:
        return _Connection(self, loop=asyncio.get_running_loop(), **self._connection_kwargs)


class HttpRunner(web.AppRunner):
    """Runs an application with the time limits and the JSON parser errors of this module."""

    def __init__(self, app: web.Application, idle_timeout: float, limits: LimitsConfig) -> None:
        super().__init__(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=idle_timeout,
            lingering_time=idle_timeout,
            # Header count and size: more is the parser's 400 (limits.maxHeaders, maxHeaderBytes).
            max_headers=limits.max_headers,
            max_field_size=limits.max_header_bytes,
            max_line_size=limits.max_header_bytes,
        )

    async def _make_server(self) -> web.Server:
        # AppRunner starts the application and builds aiohttp's server for it; ours replaces it.
        server = await super()._make_server()
        return _Server(
            server.request_handler, request_factory=server.request_factory, **self._kwargs
        )

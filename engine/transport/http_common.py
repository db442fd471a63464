"""HTTP pieces shared by the gateway and the nodes' own HTTP endpoints.

One error body for every failure (docs/API.md), auth and limits (engine/transport/auth.py and
limits.py), JSON in and out, and the read-only store routes, which both serve: the gateway
forwards the query to a node, a node answers it from its own applied state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from engine.config_model import ClusterConfig, Role
from engine.protocol.commands import MAX_INT
from engine.protocol.errors import GateError, invalid
from engine.protocol.json_input import loads_exact
from engine.transport.auth import RouteRoles, auth_middleware
from engine.transport.limits import (
    WEBSOCKETS,
    WebSocketCounts,
    close_websockets,
    limits_middleware,
)

log = logging.getLogger("gate.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QueryHandler = Callable[[web.Request, dict[str, Any], dict[str, int]], Awaitable[Any]]


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(
        body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers
    )


def error_response(err: GateError) -> web.Response:
    """The API's JSON error body for ``err``, with ``Retry-After`` on 429 and 503."""
    headers = None
    if err.status in (429, 503):
        headers = {"Retry-After": str(err.details.get("retry_after", 1))}
    return json_response({"error": err.to_dict()}, err.status, headers)


_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}

# How long a request body may take to arrive (``gateway.idleTimeout``), set by ``new_app``.
BODY_TIMEOUT = web.AppKey("body_timeout", float)


def new_app(config: ClusterConfig, roles: RouteRoles) -> web.Application:
    """An application with the error body, auth by ``roles`` (engine/transport/auth.py) and the
    limits of ``config`` (engine/transport/limits.py); no routes yet."""
    security = config.security
    app = web.Application(
        middlewares=[
            error_middleware,
            auth_middleware(security, roles),
            limits_middleware(config.limits, security.rate_limit),
        ],
        client_max_size=config.limits.max_request_bytes,
    )
    app[BODY_TIMEOUT] = config.gateway.idle_timeout
    app[WEBSOCKETS] = WebSocketCounts(config.limits)
    app.on_shutdown.append(close_websockets)
    return app


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error body; nothing escapes as an HTML page or a 500."""
    try:
        return await handler(request)
    except GateError as err:
        if err.code in ("not_leader", "stale"):
            # Internal codes never reach a client as such.
            err = GateError("unavailable", err.message)
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "invalid_request")
        message = exc.reason if exc.status != 405 else f"{request.method} is not allowed here"
        if exc.status == 413:
            message = "request body too large"
        elif exc.status == 404:
            message = f"no such endpoint: {request.method} {request.path}"
        response = error_response(GateError(code, message))
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods the resource takes
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(GateError("internal", "internal error; see the server log"))


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (400 when it is not valid JSON, 413 when it is too large).

    408 when the whole body has not arrived within ``BODY_TIMEOUT``: a client trickling its
    body, or announcing more than it sends, must not hold the connection and the handler.
    """
    if request.content.is_eof():
        # The whole body came with the head (most requests): reading it cannot wait, and a
        # timer per request is a measurable part of a small append's cost (bench/JOURNAL.md).
        raw = await request.read()
    else:
        timeout = request.app[BODY_TIMEOUT]
        try:
            async with asyncio.timeout(timeout):
                raw = await request.read()
        except TimeoutError:
            raise GateError(
                "request_timeout", f"the request body did not arrive within {timeout:g} s"
            ) from None
    if not raw:
        raise invalid("the request needs a JSON body")
    return loads_exact(raw)


def query_param(request: web.Request, name: str) -> str | None:
    """An optional query parameter; 400 naming it when it is given more than once."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise invalid(f"query parameter {name!r} is given {len(values)} times; give it once")
    return values[0] if values else None


def int_param(request: web.Request, name: str, *, minimum: int | None = None) -> int | None:
    """An optional integer query parameter; 400 naming it when it is not a whole number."""
    raw = query_param(request, name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"query parameter {name!r} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise invalid(f"query parameter {name!r} must be at least {minimum}, got {value}")
    if abs(value) > MAX_INT:
        raise invalid(f"query parameter {name!r} is out of range: {raw}")
    return value


def path_int(request: web.Request, name: str) -> int:
    """An integer path segment (e.g. a snapshot version)."""
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise invalid(f"{name} must not be negative, got {value}")
    if value > MAX_INT:
        raise invalid(f"{name} is out of range: {raw}")
    return value


def _drop_none(query: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in query.items() if v is not None}


def _stream_query(r: web.Request) -> dict[str, Any]:
    return _drop_none(
        {
            "kind": "stream",
            "store": r.match_info["store"],
            "stream": r.match_info["stream"],
            "from": int_param(r, "from", minimum=0),
            "count": int_param(r, "count"),
            "direction": query_param(r, "direction"),
        }
    )


def _all_query(r: web.Request) -> dict[str, Any]:
    return _drop_none(
        {
            "kind": "all",
            "store": r.match_info["store"],
            "from_position": int_param(r, "from_position", minimum=0),
            "count": int_param(r, "count"),
            "direction": query_param(r, "direction"),
        }
    )


def _snapshot_query(r: web.Request) -> dict[str, Any]:
    return {
        "kind": "snapshot",
        "store": r.match_info["store"],
        "source_uuid": r.match_info["source_uuid"],
        "stream_uuid": r.match_info["stream_uuid"],
        "version": path_int(r, "version"),
    }


def _snapshots_query(r: web.Request) -> dict[str, Any]:
    return _drop_none(
        {
            "kind": "snapshots",
            "store": r.match_info["store"],
            "source_uuid": query_param(r, "source_uuid") or None,
            "stream_uuid": query_param(r, "stream_uuid") or None,
        }
    )


# The read-only store API: path -> how a request becomes a read query (docs/ENGINE.md).
READ_ROUTES: list[tuple[str, Callable[[web.Request], dict[str, Any]]]] = [
    ("/api/stores", lambda r: {"kind": "stores"}),
    ("/api/stores/{store}", lambda r: {"kind": "store", "store": r.match_info["store"]}),
    ("/api/stores/{store}/streams", lambda r: {"kind": "streams", "store": r.match_info["store"]}),
    ("/api/stores/{store}/streams/{stream}/events", _stream_query),
    (
        "/api/stores/{store}/streams/{stream}/version",
        lambda r: {
            "kind": "version",
            "store": r.match_info["store"],
            "stream": r.match_info["stream"],
        },
    ),
    ("/api/stores/{store}/all", _all_query),
    ("/api/stores/{store}/snapshots", _snapshots_query),
    ("/api/stores/{store}/snapshots/{source_uuid}/{stream_uuid}/{version}", _snapshot_query),
]


# Every read route needs a reader's token.
READ_ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", path): "reader" for path, _ in READ_ROUTES
}


def add_read_routes(app: web.Application, serve: QueryHandler) -> None:
    """Register the read-only store routes; ``serve(request, query, freshness)`` answers.

    ``freshness`` holds the optional ``min_position`` (the client's last position in the store)
    and ``min_index`` (the log index of its last write of any kind) of a read-your-writes read.
    """
    for path, build in READ_ROUTES:

        async def handler(
            request: web.Request, build: Callable[[web.Request], dict[str, Any]] = build
        ) -> web.Response:
            query = build(request)
            freshness = {
                name: value
                for name in ("min_position", "min_index")
                if (value := int_param(request, name, minimum=0))
            }
            return json_response(await serve(request, query, freshness))

        app.router.add_get(path, handler)

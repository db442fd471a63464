"""Bearer tokens with roles on every HTTP listener, the gateway's and the nodes' (docs/API.md).

Each listener has one table, route (method, path template) -> the role it needs, or ``None`` for
the few routes open to anyone (``/health``, ``/ready``).  ``check_route_roles`` refuses an app
with a route the table does not name, so a new route cannot go without a role.  A request needs
``Authorization: Bearer <token>`` naming a known token (401 ``unauthorized`` otherwise) whose
role ranks at least the route's (403 ``forbidden``, naming the role needed, otherwise).  With no
token configured at all, every caller is an admin and ``/api/whoami`` says ``"auth": "none"``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from engine.config_model import ROLES, Role, SecurityConfig
from engine.protocol.errors import GateError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# (method, path template) -> the role the route needs; None: open to anyone.
RouteRoles = Mapping[tuple[str, str], Role | None]
# What a path no route matches needs (its 404 or 405): a token, so it tells nobody else anything.
UNMATCHED: Role = "reader"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: the token's name and role (``auth`` "none" when no token exists)."""

    name: str
    role: Role
    auth: Literal["token", "none"]

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


PRINCIPAL = web.RequestKey("principal", Principal)
ANONYMOUS_ADMIN = Principal("anonymous", "admin", "none")


class TokenTable:
    """The configured tokens, looked up in constant time whichever matches (or none)."""

    def __init__(self, security: SecurityConfig) -> None:
        self._tokens = [
            (f"Bearer {t.token}".encode(), Principal(t.name, t.role, "token"))
            for t in security.all_tokens
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def identify(self, authorization: str | None) -> Principal | None:
        """The holder of the ``Authorization`` header's token; None when it names none."""
        if not self._tokens:
            return ANONYMOUS_ADMIN
        given = (authorization or "").encode("utf-8", "surrogateescape")
        found = None
        # Every token is compared, whichever matches: the time says nothing about which.
        for expected, principal in self._tokens:
            if hmac.compare_digest(given, expected):
                found = principal
        return found


def route_key(request: web.Request) -> tuple[str, str] | None:
    """The request's (method, path template), HEAD as GET; None when no route matches."""
    route = request.match_info.route
    resource = route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    method = "GET" if route.method == "HEAD" else route.method
    return method, resource.canonical


def needed_role(request: web.Request, roles: RouteRoles) -> Role | None:
    key = route_key(request)
    return UNMATCHED if key is None else roles[key]


def auth_middleware(security: SecurityConfig, roles: RouteRoles) -> Middleware:
    """Identify the caller and hold them to the route's role (``request[PRINCIPAL]``)."""
    table = TokenTable(security)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        needed = needed_role(request, roles)
        if needed is None:
            return await handler(request)
        principal = table.identify(request.headers.get("Authorization"))
        if principal is None:
            raise GateError("unauthorized", "missing or unknown bearer token")
        if not principal.may(needed):
            key = route_key(request)
            what = f"{key[0]} {key[1]}" if key else request.path
            raise GateError(
                "forbidden",
                f"{what} needs the {needed} role; token {principal.name!r} is a {principal.role}",
                needed=needed,
                role=principal.role,
            )
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


def check_route_roles(app: web.Application, roles: RouteRoles) -> None:
    """Raise when a route of ``app`` has no role in ``roles``, or ``roles`` names no route."""
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    missing = sorted(routes - set(roles))
    extra = sorted(set(roles) - routes)
    if missing or extra:
        raise RuntimeError(f"routes without a role: {missing}; roles without a route: {extra}")


async def whoami(request: web.Request) -> web.Response:
    """``GET /api/whoami``: the caller's token name and role."""
    principal = request[PRINCIPAL]
    body = {"name": principal.name, "role": principal.role, "auth": principal.auth}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


WHOAMI_ROUTE = "/api/whoami"

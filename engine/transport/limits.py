"""Limits an attacker would push, on every HTTP listener (docs/ENGINE.md, "HTTP listeners").

- A per-token rate limit (``security.rateLimit``): a token bucket per token name, or per client
  address when no token is configured; an empty bucket answers 429 ``rate_limited`` with
  ``Retry-After``.
- WebSockets per client address (429 ``too_many_websockets``) and in all (503 ``unavailable``),
  counted while their handler runs, so a closed one frees its place at once.
- ``send_bounded``: a WebSocket message that waits longer than ``webSocketSendTimeout`` for a
  client that reads nothing closes the socket with 1013 (try again later), so a never-reading
  client holds at most the transport's buffer, never a growing queue.

(Request size and header count/size are aiohttp's, set from ``limits`` by ``new_app`` and
``HttpRunner``; the time limits are ``HttpRunner``'s.)
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.typedefs import Middleware

from engine.config_model import LimitsConfig, RateLimit
from engine.protocol.errors import GateError
from engine.transport.auth import PRINCIPAL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Buckets kept before the full (idle) ones are forgotten: a flood of client addresses cannot
# grow the table without bound.
MAX_BUCKETS = 10_000


class TokenBuckets:
    """One token bucket per key: ``burst`` requests at once, ``per_second`` on average."""

    def __init__(self, rate: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when there was one, else the seconds until there is."""
        now = self._clock()
        tokens, when = self._buckets.get(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - when) * self.rate.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate.per_second

    def _forget_full(self, now: float) -> None:
        burst, rate = float(self.rate.burst), self.rate.per_second
        for key, (tokens, when) in list(self._buckets.items()):
            if tokens + (now - when) * rate >= burst:
                del self._buckets[key]


class WebSocketCounts:
    """Open WebSockets of one listener, in all and per client address."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self.total = 0
        self.per_client: collections.Counter[str] = collections.Counter()

    def admit(self, client: str) -> None:
        """Count one more for ``client``, or raise the error that refuses it."""
        if self.total >= self.limits.max_websockets:
            raise GateError(
                "unavailable",
                f"this listener serves its maximum of {self.limits.max_websockets} WebSockets",
            )
        if self.per_client[client] >= self.limits.max_websockets_per_client:
            raise GateError(
                "too_many_websockets",
                f"{client} has {self.per_client[client]} WebSockets open here, the most one "
                f"client address may ({self.limits.max_websockets_per_client})",
                retry_after=1,
            )
        self.total += 1
        self.per_client[client] += 1

    def release(self, client: str) -> None:
        self.total -= 1
        self.per_client[client] -= 1
        if not self.per_client[client]:
            del self.per_client[client]


WEBSOCKETS = web.AppKey("websockets", WebSocketCounts)


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def limits_middleware(limits: LimitsConfig, rate: RateLimit | None) -> Middleware:
    """The rate limit and the WebSocket counts (after auth, which names the caller)."""
    buckets = TokenBuckets(rate) if rate is not None else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is None:  # an open route (/health, /ready): probes are not limited
            return await handler(request)
        client = request.remote or "?"
        if buckets is not None:
            key = principal.name if principal.auth == "token" else f"address {client}"
            wait = buckets.take(key)
            if wait > 0:
                raise GateError(
                    "rate_limited",
                    f"over the rate limit of {buckets.rate.per_second:g} requests/s "
                    f"(burst {buckets.rate.burst}); retry in {wait:.2f} s",
                    retry_after=max(1, math.ceil(wait)),
                )
        if not _is_upgrade(request):
            return await handler(request)
        counts = request.app[WEBSOCKETS]
        counts.admit(client)
        try:
            return await handler(request)
        finally:
            counts.release(client)

    return middleware


async def send_bounded(ws: web.WebSocketResponse, request: web.Request, text: str) -> None:
    """Send ``text``; close the socket with 1013 when the client has not taken it within
    ``limits.webSocketSendTimeout``.

    aiohttp's send waits while the transport's buffer is full, so a client that reads nothing
    holds the sender here, not a growing queue; after ``timeout`` it loses the connection.
    Raises ``ConnectionResetError`` then, as a send on a closed socket does.
    """
    timeout = request.app[WEBSOCKETS].limits.websocket_send_timeout
    try:
        async with asyncio.timeout(timeout):
            await ws.send_str(text)
    except TimeoutError:
        # The close frame would wait behind the unread data: drop the connection outright
        # (the socket records 1013 as its close code; the client sees the connection end).
        if request.transport is not None:
            request.transport.abort()
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"client too slow")
        raise ConnectionResetError("the client read nothing for too long") from None


async def drain_client(ws: web.WebSocketResponse) -> None:
    """Read and drop what a watching client sends, returning when it closes: a feed that
    only sends learns of the close this way, not on its next send."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break

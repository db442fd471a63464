"""The ``Backend`` port (engine/backends/port.py) served by Gate's own cluster.

A thin adapter: commands go through ``Router.write`` to the leader, reads through
``Router.read`` to a fresh node, subscription requests through ``Router.call_leader`` and
consumers through the ``ConsumerBridge``, exactly as the handlers called them before the port.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.backends.port import Written
from engine.config_model import ClusterConfig
from engine.gateway.leader_bridge import ConsumerBridge
from engine.gateway.routing import Router


class GateBackend:
    """Gate's cluster behind the port."""

    def __init__(self, config: ClusterConfig, router: Router) -> None:
        self.router = router
        self.consumers = ConsumerBridge(config, router)

    async def append(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def create_store(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def delete_store(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def put_snapshot(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def delete_snapshot(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def read(self, query: dict[str, Any], freshness: dict[str, int], wait_ms: int = 0) -> Any:
        return await self.router.read(query, freshness, wait_ms=wait_ms)

    async def put_subscription(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def delete_subscription(self, command: dict[str, Any]) -> Written:
        return await self.router.write(command)

    async def list_subscriptions(self, store: str) -> Any:
        return await self.router.call_leader({"op": "subscriptions", "store": store})

    async def replay_parked(self, store: str, name: str) -> Any:
        return await self.router.call_leader({"op": "replay_parked", "store": store, "name": name})

    async def consume(self, request: web.Request, store: str, name: str) -> web.WebSocketResponse:
        return await self.consumers.handle(request, store, name)

    async def close(self) -> None:
        """Nothing of its own: the router's pool is closed by the gateway's main."""

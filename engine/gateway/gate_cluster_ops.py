"""The cluster operations (engine/backends/port.py, ``ClusterOps``) on Gate's own nodes: each
asked of a node over TCP through the router, as the handlers did before the seam."""

from __future__ import annotations

from typing import Any

from engine.gateway.routing import Router
from engine.protocol.errors import GateError

NODE_LOG_TIMEOUT = 2.0  # seconds a node has to answer for its log before the gateway says 503
NODE_OP_TIMEOUT = 2.0  # seconds a node has to answer an isolate, heal or transfer


class GateClusterOps:
    """Gate's nodes do every operation."""

    unsupported: tuple[str, ...] = ()

    def __init__(self, router: Router) -> None:
        self.router = router

    def require(self, operation: str) -> None:
        """Every operation is Gate's own."""

    async def transfer(self, node_id: str) -> dict[str, Any]:
        msg = {"op": "transfer", "to": node_id}
        result = await self.router.on_leader(
            lambda leader, remaining: self.router.ask(leader, msg, min(remaining, NODE_OP_TIMEOUT)),
            what="hand leadership over",
        )
        if not isinstance(result, dict):
            raise GateError("internal", "the leader's answer to a transfer is not an object")
        return result

    async def node_log(self, node_id: str, after: int | None, limit: int | None) -> Any:
        if not self.router.pool.members.node(node_id).tcp.enabled:
            raise GateError("unavailable", f"{node_id} has no TCP endpoint to ask for its log")
        msg: dict[str, Any] = {"op": "log", "after": after, "limit": limit}
        try:
            return await self.router.ask(node_id, msg, NODE_LOG_TIMEOUT)
        except (TimeoutError, OSError):
            raise GateError(
                "unavailable", f"{node_id} does not answer (down, paused or unreachable)"
            ) from None

"""The port between the gateway's store handlers and an event engine.

Its language is the engine's protocol: the validated commands of engine/protocol/commands.py and
engine/protocol/definitions.py, and the read queries of docs/ENGINE.md ("Read queries"), so both
implementations answer the same bodies and raise the same ``GateError`` codes (a 409
``wrong_expected_version`` is one body whatever serves it).  A write answers its result and a
write index: the value of the ``Gate-Log-Index`` header, which a client may hand back as
``min_index`` for read-your-writes.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

# (the command's result, its write index)
Written = tuple[Any, int]


class Backend(Protocol):
    """What the gateway asks of the engine that stores the events."""

    async def append(self, command: dict[str, Any]) -> Written:
        """An ``append`` command: ``{"version", "position"}`` of its last event."""
        ...

    async def create_store(self, command: dict[str, Any]) -> Written:
        """A ``create_store`` command (``store_exists`` when it does)."""
        ...

    async def delete_store(self, command: dict[str, Any]) -> Written:
        """A ``delete_store`` command (``store_not_found`` when there is none)."""
        ...

    async def put_snapshot(self, command: dict[str, Any]) -> Written:
        """A ``snapshot_put`` command."""
        ...

    async def delete_snapshot(self, command: dict[str, Any]) -> Written:
        """A ``snapshot_delete`` command."""
        ...

    async def read(self, query: dict[str, Any], freshness: dict[str, int], wait_ms: int = 0) -> Any:
        """A read query's answer.  ``freshness`` holds the client's ``min_index`` and
        ``min_position``; ``wait_ms`` makes a forward ``all`` read a long poll (the observers'
        live tail, engine/gateway/observers.py)."""
        ...

    async def put_subscription(self, command: dict[str, Any]) -> Written:
        """A subscription ``put`` command (engine/protocol/definitions.py)."""
        ...

    async def delete_subscription(self, command: dict[str, Any]) -> Written:
        """A subscription ``delete`` command."""
        ...

    async def list_subscriptions(self, store: str) -> Any:
        """``{"subscriptions": [...]}`` of a store."""
        ...

    async def replay_parked(self, store: str, name: str) -> Any:
        """Put a subscription's parked events back in its queue."""
        ...

    async def consume(self, request: web.Request, store: str, name: str) -> web.WebSocketResponse:
        """Serve a consumer's WebSocket (raises before upgrading when it cannot be served)."""
        ...

    async def close(self) -> None:
        """Release connections (gateway shutdown)."""
        ...


# The cluster operations a backend may not have (``ClusterOps.require``), as the consoles know
# them from ``unsupported`` in the cluster view (docs/API.md, "Cluster").
OPERATIONS = ("transfer", "node_log", "membership", "isolate", "links", "tempo", "trace", "inside")


class ClusterOps(Protocol):
    """The operations on the cluster's nodes beyond their processes (engine/gateway/app.py's
    cluster handlers), picked at start with the backend: Gate's nodes are asked over TCP, a
    JetStream cluster through its API.  What a backend cannot do it refuses at once with
    ``not_supported_by_backend`` (501), so a handler never waits on a server that cannot answer.
    """

    @property
    def unsupported(self) -> tuple[str, ...]:
        """The ``OPERATIONS`` this backend refuses."""
        ...

    def require(self, operation: str) -> None:
        """Raise ``not_supported_by_backend`` when ``operation`` is one it refuses."""
        ...

    async def transfer(self, node_id: str) -> dict[str, Any]:
        """Hand the leadership over to ``node_id``: the fields of the 202 answer past
        ``node_id``, ``action`` and ``accepted``."""
        ...

    async def node_log(self, node_id: str, after: int | None, limit: int | None) -> Any:
        """A page of ``node_id``'s log (docs/API.md, "Node log")."""
        ...

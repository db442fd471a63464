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

"""The cluster operations (engine/backends/port.py, ``ClusterOps``) on a JetStream cluster.

A transfer moves the leadership of every store's stream to the named server with JetStream's
stream leader stepdown and a preferred server (``$JS.API.STREAM.LEADER.STEPDOWN.<stream>``,
nats-server 2.11+): those leaders take the writes.  The meta leader stays: its stepdown is an
API of the system account, which the gateway's connection is not.  The rest (node log,
membership, link cuts and faults, tempo, message trace) are Gate's own machinery, refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.backends.jetstream.backend import JetStreamBackend
from engine.backends.jetstream.wire import JetStreamError
from engine.protocol.errors import GateError

_WHY = {
    "node_log": "a nats-server's log is its own (the gateway's supervisor appends it to "
    "dataDir/logs/<node>.log), not served through the gateway",
    "membership": "the servers are the config's: JetStream's peers are not changed through Gate",
    "isolate": "link cuts are Gate's own transport's; nats-server routes have none",
    "links": "link faults are Gate's own transport's; nats-server routes have none",
    "tempo": "nats-servers keep their own timing (no tempo)",
    "trace": "the message trace records Gate's Raft messages; nats-servers expose none",
    "inside": "a nats-server's Raft state is not exposed to Gate: only its own nodes' inside is",
}


def refusal(operation: str) -> GateError:
    """The one-line error of an operation this backend does not have."""
    return GateError("not_supported_by_backend", f"backend jetstream: {_WHY[operation]}")


class JetStreamClusterOps:
    """Transfer through stream leader stepdowns; every other operation refused."""

    unsupported: tuple[str, ...] = tuple(_WHY)

    def __init__(
        self, backend: JetStreamBackend, streams: Callable[[], list[dict[str, Any]]]
    ) -> None:
        self.backend = backend
        # The stores' streams and their leaders, as the last monitoring round saw them.
        self._streams = streams

    def require(self, operation: str) -> None:
        if operation in _WHY:
            raise refusal(operation)

    async def transfer(self, node_id: str) -> dict[str, Any]:
        """Ask each stream led elsewhere to step down in favour of ``node_id``."""
        moved: dict[str, str | None] = {}
        for stream in self._streams():
            name, leader = stream["stream"], stream.get("leader")
            if leader == node_id:
                continue
            try:
                await self.backend.api(
                    f"STREAM.LEADER.STEPDOWN.{name}",
                    {"placement": {"preferred": node_id}},
                    f"move {name}'s leader to {node_id}",
                )
            except JetStreamError as exc:
                if await self._leader(name) == node_id:
                    continue  # it took over since the last monitoring round
                # E.g. the server is not a current replica of the stream: it cannot take over.
                raise GateError(
                    "node_down", f"{node_id} cannot lead {name}: {exc.description}"
                ) from None
            moved[name] = leader
        previous = next(iter(moved.values()), None)
        return {"from": previous, "streams": moved, "already_leader": not moved}

    async def _leader(self, stream: str) -> str | None:
        info = await self.backend.api(f"STREAM.INFO.{stream}", {}, f"look {stream} up")
        leader = info.get("cluster", {}).get("leader")
        return leader if isinstance(leader, str) else None

    async def node_log(self, node_id: str, after: int | None, limit: int | None) -> Any:
        raise refusal("node_log")
